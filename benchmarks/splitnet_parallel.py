"""Inference throughput of unsplit and split WRNs on one and two devices/processes (Table 5).

Modes, all on random inputs with random weights and equal-size random groups (the timing does
not depend on what the weights learned, only on the group sizes):

* unsplit, 1 process — the baseline;
* unsplit, 2 processes — its layers cut in two halves of equal FLOPs, successive batches
  pipelined through them (the paper's "layers split across GPUs");
* split, 1 process — the split network alone (fewer FLOPs);
* split, 1 process × 2 devices — :class:`MultiDeviceSplitNet` on ["cpu", "cpu"] (threads);
* split, 2 processes — :func:`distributed_logits` over gloo: rank 0 runs the trunk and
  broadcasts the features, each rank runs its branches, rank 0 gathers the logits.

Every process uses one intra-op thread, so "2 processes" means two of this machine's cores.
Run ``python benchmarks/splitnet_parallel.py`` (spawns the gloo processes itself) or, for the
distributed modes only, ``torchrun --nproc-per-node 2 benchmarks/splitnet_parallel.py``.
``--record`` stores the table in data/results/splitnet/parallel/ (or $COMPANION_RESULTS_DIR),
where the SplitNet chapter's Table 5 reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import torch.distributed as dist

from companion.paper import reported
from companion.results import record_run
from companion.splitnet.assignment import SplitAssignments, balanced_groups
from companion.splitnet.counting import count_cost
from companion.splitnet.parallel import (
    MultiDeviceSplitNet,
    balanced_cut,
    distributed_logits,
    init_from_environment,
    launch_local,
    pipelined_logits,
)
from companion.splitnet.split import SplitWideResNet, split_network
from companion.splitnet.wrn import WideResNet

NAMES = {"1-1-4": "FC split", "1-2-2": "shallow split", "2-2-2": "deep split", "2-4-4": "hierarchical split"}


def build(args: argparse.Namespace) -> tuple[WideResNet, dict[str, SplitWideResNet], list[torch.Tensor]]:
    """The unsplit WRN, its splits and the input batches (all seeded)."""
    torch.manual_seed(0)
    network = WideResNet(args.depth, args.width, args.classes, 3).eval()
    splits = {}
    for tree in args.trees:
        assignments = SplitAssignments(network, tree)
        groups = balanced_groups(assignments, torch.Generator().manual_seed(0))
        splits[tree] = split_network(network, assignments, groups).eval()
    generator = torch.Generator().manual_seed(1)
    batches = [torch.randn(args.batch, 3, args.image, args.image, generator=generator)
               for _ in range(args.batches)]
    return network, splits, batches


@torch.no_grad()
def seconds(model: torch.nn.Module, batches: list[torch.Tensor], repeats: int) -> float:
    """Wall time of one pass over ``batches`` after one warm-up batch: the fastest of
    ``repeats`` passes (on a shared machine the slower ones measure the other work)."""
    model(batches[0])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for x in batches:
            model(x)
        times.append(time.perf_counter() - start)
    return min(times)


@torch.no_grad()
def distributed_seconds(rank: int, world: int, args: argparse.Namespace) -> dict[str, float]:
    """The two-process modes; every rank calls this, rank 0's clock is returned."""
    network, splits, batches = build(args)
    cut = balanced_cut(network, (3, args.image, args.image))
    timings = {}

    def timed(name: str, run) -> None:
        run(batches[:1])  # warm-up
        times = []
        for _ in range(args.repeats):
            dist.barrier()
            start = time.perf_counter()
            run(batches)
            dist.barrier()
            times.append(time.perf_counter() - start)
        timings[name] = min(times)

    timed("unsplit", lambda xs: pipelined_logits(network, xs, cut))
    for tree, split in splits.items():
        timed(tree, lambda xs, split=split: [distributed_logits(split, x if rank == 0 else None) for x in xs])
    return timings


def _spawned(rank: int, world: int, args: argparse.Namespace, out: str) -> None:
    timings = distributed_seconds(rank, world, args)
    if rank == 0:
        Path(out).write_text(json.dumps(timings))


def measure(args: argparse.Namespace) -> pd.DataFrame:
    """Every mode's time per image and speed-up over the unsplit network on one process."""
    torch.set_num_threads(1)
    network, splits, batches = build(args)
    images = args.batch * args.batches
    shape = (3, args.image, args.image)
    rows = [{"network": "baseline", "tree": "1-1-1", "mode": "1 process", "processes": 1,
             "seconds": seconds(network, batches, args.repeats), "gflops": count_cost(network, shape).flops / 1e9}]
    for tree, split in splits.items():
        gflops = count_cost(split, shape).flops / 1e9
        rows.append({"network": NAMES.get(tree, tree), "tree": tree, "mode": "1 process",
                     "processes": 1, "seconds": seconds(split, batches, args.repeats), "gflops": gflops})
        spread = MultiDeviceSplitNet(split, ["cpu", "cpu"])
        rows.append({"network": NAMES.get(tree, tree), "tree": tree, "mode": "1 process, 2 devices (threads)",
                     "processes": 1, "seconds": seconds(spread, batches, args.repeats), "gflops": gflops})
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "timings.json")
        launch_local(_spawned, 2, args, out, threads=1)
        timings = json.loads(Path(out).read_text())
    rows.append({"network": "baseline, layers split", "tree": "1-1-1", "mode": "2 processes, pipelined",
                 "processes": 2, "seconds": timings["unsplit"], "gflops": rows[0]["gflops"]})
    for tree in splits:
        rows.append({"network": NAMES.get(tree, tree), "tree": tree, "mode": "2 processes (gloo)",
                     "processes": 2, "seconds": timings[tree], "gflops": count_cost(splits[tree], shape).flops / 1e9})
    table = pd.DataFrame(rows)
    table["images_per_s"] = images / table["seconds"]
    table["speedup"] = table["images_per_s"] / table.loc[0, "images_per_s"]
    return table


def with_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Add the paper's two-GPU speed-up for the same network (Table 5)."""
    paper = reported("splitnet_table5")
    paper = paper[paper["devices"] == 2].drop_duplicates("tree").set_index("tree")["speedup"]
    table = table.copy()
    table["paper_speedup_2gpu"] = [paper.get(tree) if processes == 2 or "devices" in mode else None
                                   for tree, processes, mode in zip(table["tree"], table["processes"], table["mode"])]
    return table


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--width", type=int, default=2, help="WRN widening factor (8 in the paper)")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--image", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3, help="passes per mode; the fastest counts")
    parser.add_argument("--trees", type=lambda text: text.split(","), default=["1-2-2", "2-2-2", "2-4-4"])
    parser.add_argument("--record", action="store_true", help="store the table as a run record")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    if "RANK" in os.environ:  # started by torchrun: the distributed modes only
        torch.set_num_threads(1)
        init_from_environment("gloo")
        timings = distributed_seconds(dist.get_rank(), dist.get_world_size(), args)
        if dist.get_rank() == 0:
            print(json.dumps({name: args.batch * args.batches / s for name, s in timings.items()}, indent=1))
        dist.destroy_process_group()
        return
    start = time.perf_counter()
    table = with_paper(measure(args))
    shown = table.drop(columns=["seconds"]).round({"gflops": 3, "images_per_s": 1, "speedup": 2})
    print(f"WRN-{args.depth}-{args.width}, {args.image}×{args.image} inputs, batch {args.batch}, "
          f"{args.batches} batches, 1 thread per process, fastest of {args.repeats} passes")
    print(shown.to_string(index=False))
    if args.record:
        params = {"profile": "cpu", "depth": args.depth, "width": args.width, "classes": args.classes,
                  "image": args.image, "batch": args.batch, "batches": args.batches, "repeats": args.repeats,
                  "threads_per_process": 1, "cpu_count": os.cpu_count()}
        path = record_run("splitnet/parallel", params, table.to_dict("records"),
                          wall_time_s=time.perf_counter() - start, device="cpu")
        print(f"recorded {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
