"""Inference throughput of unsplit and split WRNs on one and two devices/processes (Table 5).

Modes, all on random inputs with random weights and equal-size random groups (the timing does
not depend on what the weights learned, only on the group sizes):

* unsplit, 1 process — the baseline;
* unsplit, 2 processes — its layers cut in two halves of equal FLOPs, successive batches
  pipelined through them (the paper's "layers split across GPUs");
* split, 1 process — the split network alone (fewer FLOPs);
* split, 1 process × 2 devices — :class:`MultiDeviceSplitNet` on ["cpu", "cpu"] (threads),
  batch by batch (``forward``) and pipelined across batches (``pipelined``);
* split, 2 processes — over gloo, batch by batch (:func:`distributed_logits`: rank 0 runs the
  trunk and broadcasts the features, each rank runs its branches, rank 0 gathers the logits)
  and pipelined across batches (:func:`pipelined_split_logits`: rank 0 runs batch k + 1's
  trunk while rank 1 runs its branches on batch k), so that both split modes and the
  layer-split baseline are measured the same way.

``ideal`` is the speed-up the FLOP split allows: the unsplit FLOPs over the FLOPs of the
busiest worker (the first runs the trunk and its branches). Every process uses one intra-op
thread, so "2 processes" means two of this machine's cores. ``--breakdown`` also prints where
each worker's time goes (trunk, send, branches, wait) in the pipelined modes.
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
from typing import Any

import pandas as pd
import torch
import torch.distributed as dist

from companion.paper import reported
from companion.results import record_run
from companion.splitnet.assignment import SplitAssignments, balanced_groups
from companion.splitnet.counting import count_cost
from companion.splitnet.parallel import (
    MultiDeviceSplitNet,
    PhaseClock,
    balanced_cut,
    branch_placement,
    distributed_logits,
    init_from_environment,
    launch_local,
    pipelined_logits,
    pipelined_split_logits,
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
def distributed_seconds(rank: int, world: int, args: argparse.Namespace) -> dict[str, Any]:
    """The two-process modes; every rank calls this. Rank 0's clock gives the times; each
    rank's phase breakdown of the pipelined split modes is returned too."""
    network, splits, batches = build(args)
    cut = balanced_cut(network, (3, args.image, args.image))
    timings: dict[str, Any] = {"breakdown": {}}

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
        timed(f"{tree} pipelined", lambda xs, split=split: pipelined_split_logits(split, xs))
        clock = PhaseClock()
        pipelined_split_logits(split, batches, clock=clock)
        timings["breakdown"][tree] = dict(clock.seconds)
    return timings


def _spawned(rank: int, world: int, args: argparse.Namespace, out: str) -> None:
    timings = distributed_seconds(rank, world, args)
    Path(f"{out}.{rank}").write_text(json.dumps(timings))


def ideal_speedup(network: WideResNet, split: SplitWideResNet, shape: tuple[int, ...], workers: int) -> float:
    """Unsplit FLOPs over the busiest worker's: the trunk and its branches on the first worker,
    the other branches spread as :func:`branch_placement` places them."""
    trunk = count_cost(split.trunk, shape).flops
    with torch.no_grad():
        features = split.trunk(torch.zeros(1, *shape)).shape[1:]
    load = [0] * workers
    load[0] += trunk
    for branch, worker in zip(split.branches, branch_placement(len(split.branches), workers)):
        load[worker] += count_cost(branch, tuple(features)).flops
    return count_cost(network, shape).flops / max(load)


def measure(args: argparse.Namespace) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every mode's time per image and speed-up over the unsplit network on one process, and
    the phase breakdown of the pipelined modes (seconds per pass, per worker)."""
    torch.set_num_threads(1)
    network, splits, batches = build(args)
    images = args.batch * args.batches
    shape = (3, args.image, args.image)
    rows = [{"network": "baseline", "tree": "1-1-1", "mode": "1 process", "processes": 1,
             "seconds": seconds(network, batches, args.repeats), "gflops": count_cost(network, shape).flops / 1e9,
             "ideal": 1.0}]
    breakdown = []
    for tree, split in splits.items():
        gflops = count_cost(split, shape).flops / 1e9
        ideal = ideal_speedup(network, split, shape, 2)
        rows.append({"network": NAMES.get(tree, tree), "tree": tree, "mode": "1 process",
                     "processes": 1, "seconds": seconds(split, batches, args.repeats), "gflops": gflops,
                     "ideal": ideal_speedup(network, split, shape, 1)})
        spread = MultiDeviceSplitNet(split, ["cpu", "cpu"])
        rows.append({"network": NAMES.get(tree, tree), "tree": tree, "mode": "1 process, 2 devices (threads)",
                     "processes": 1, "seconds": seconds(spread, batches, args.repeats), "gflops": gflops,
                     "ideal": ideal})
        rows.append({"network": NAMES.get(tree, tree), "tree": tree,
                     "mode": "1 process, 2 devices (threads), pipelined", "processes": 1,
                     "seconds": seconds_pipelined(spread, batches, args.repeats), "gflops": gflops,
                     "ideal": ideal})
        clock = PhaseClock()
        with torch.no_grad():
            spread.pipelined(batches, clock)
        breakdown.append({"tree": tree, "mode": "threads, pipelined", "worker": "thread 0",
                          **clock.seconds})
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "timings.json")
        launch_local(_spawned, 2, args, out, threads=1)
        timings = json.loads(Path(f"{out}.0").read_text())
        other = json.loads(Path(f"{out}.1").read_text())
    rows.append({"network": "baseline, layers split", "tree": "1-1-1", "mode": "2 processes, pipelined",
                 "processes": 2, "seconds": timings["unsplit"], "gflops": rows[0]["gflops"],
                 "ideal": 2.0})
    for tree in splits:
        gflops = count_cost(splits[tree], shape).flops / 1e9
        ideal = ideal_speedup(network, splits[tree], shape, 2)
        rows.append({"network": NAMES.get(tree, tree), "tree": tree, "mode": "2 processes (gloo)",
                     "processes": 2, "seconds": timings[tree], "gflops": gflops, "ideal": ideal})
        rows.append({"network": NAMES.get(tree, tree), "tree": tree, "mode": "2 processes (gloo), pipelined",
                     "processes": 2, "seconds": timings[f"{tree} pipelined"], "gflops": gflops, "ideal": ideal})
        for rank, source in enumerate((timings, other)):
            breakdown.append({"tree": tree, "mode": "processes, pipelined", "worker": f"rank {rank}",
                              **source["breakdown"][tree]})
    table = pd.DataFrame(rows)
    table["images_per_s"] = images / table["seconds"]
    table["speedup"] = table["images_per_s"] / table.loc[0, "images_per_s"]
    table["of_ideal"] = table["speedup"] / table["ideal"]
    return table, pd.DataFrame(breakdown).fillna(0.0)


@torch.no_grad()
def seconds_pipelined(model: MultiDeviceSplitNet, batches: list[torch.Tensor], repeats: int) -> float:
    """As :func:`seconds`, for the pipelined pass over all ``batches`` at once."""
    model.pipelined(batches[:1])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.pipelined(batches)
        times.append(time.perf_counter() - start)
    return min(times)


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
    parser.add_argument("--breakdown", action="store_true", help="print the phase breakdown too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    if "RANK" in os.environ:  # started by torchrun: the distributed modes only
        torch.set_num_threads(1)
        init_from_environment("gloo")
        timings = distributed_seconds(dist.get_rank(), dist.get_world_size(), args)
        if dist.get_rank() == 0:
            print(json.dumps({name: args.batch * args.batches / s for name, s in timings.items()
                              if name != "breakdown"}, indent=1))
        dist.destroy_process_group()
        return
    start = time.perf_counter()
    table, breakdown = measure(args)
    table = with_paper(table)
    shown = table.drop(columns=["seconds"]).round({"gflops": 3, "images_per_s": 1, "speedup": 2,
                                                   "ideal": 2, "of_ideal": 2})
    print(f"WRN-{args.depth}-{args.width}, {args.image}×{args.image} inputs, batch {args.batch}, "
          f"{args.batches} batches, 1 thread per process, fastest of {args.repeats} passes")
    print(shown.to_string(index=False))
    if args.breakdown:
        print("\nwhere the time of one pipelined pass goes (seconds per worker):")
        print(breakdown.round(3).to_string(index=False))
    if args.record:
        params = {"profile": "cpu", "depth": args.depth, "width": args.width, "classes": args.classes,
                  "image": args.image, "batch": args.batch, "batches": args.batches, "repeats": args.repeats,
                  "threads_per_process": 1, "cpu_count": os.cpu_count()}
        path = record_run("splitnet/parallel", params, table.to_dict("records"),
                          wall_time_s=time.perf_counter() - start, device="cpu")
        print(f"recorded {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
