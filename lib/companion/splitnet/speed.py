"""Inference throughput of unsplit and split WRNs on one and two workers (the paper's Table 5).

Modes, all on random inputs with random weights and equal-size random groups (the timing does
not depend on what the weights learned, only on the group sizes):

* unsplit, 1 worker — the baseline every speed-up is relative to;
* unsplit, 2 processes — its layers cut in two halves of equal FLOPs, successive batches
  pipelined through them (the paper's "layers split across GPUs");
* split, 1 worker — the split network alone (fewer FLOPs);
* split, 1 process × 2 devices — :class:`~companion.splitnet.parallel.MultiDeviceSplitNet`,
  batch by batch (``forward``) and pipelined across batches (``pipelined``);
* split, 2 processes — batch by batch
  (:func:`~companion.splitnet.parallel.distributed_logits`) and pipelined across batches
  (:func:`~companion.splitnet.parallel.pipelined_split_logits`), so that both split modes and
  the layer-split baseline are measured the same way.

``ideal`` is the speed-up the FLOP split allows: the unsplit FLOPs over the FLOPs of the
busiest worker (the first runs the trunk and its branches). On CPUs ("cpu" devices) every
process uses one intra-op thread, so two processes are two cores; on GPUs give two CUDA
devices, and the processes use NCCL.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import torch.distributed as dist

from companion.config import resolve_devices
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
    launch_local,
    pipelined_logits,
    pipelined_split_logits,
)
from companion.splitnet.split import SplitWideResNet, split_network
from companion.splitnet.wrn import WideResNet

#: The paper's names of the split trees of Table 5.
NAMES = {"1-1-4": "FC split", "1-2-2": "shallow split", "2-2-2": "deep split", "2-4-4": "hierarchical split"}


@dataclass(frozen=True)
class SpeedSettings:
    """What Table 5 measures: a WRN-``depth``-``width`` on ``image``-pixel inputs, ``batches``
    batches of ``batch`` images, the fastest of ``repeats`` passes, on ``devices`` (two)."""

    depth: int = 16
    width: int = 2
    classes: int = 100
    image: int = 32
    batch: int = 100
    batches: int = 6
    repeats: int = 3
    trees: tuple[str, ...] = ("1-2-2", "2-2-2", "2-4-4")
    devices: tuple[str, ...] = field(default=("cpu", "cpu"))

    def __post_init__(self) -> None:
        if len(self.devices) != 2:
            raise ValueError(f"devices={list(self.devices)}: Table 5 compares two workers; give two devices")
        kinds = {torch.device(device).type for device in self.devices}
        if kinds - {"cpu", "cuda"} or len(kinds) != 1:
            raise ValueError(f"devices={list(self.devices)}: give two 'cpu' or two 'cuda:N' devices")

    @property
    def on_gpu(self) -> bool:
        """Whether the workers are CUDA devices (NCCL between processes)."""
        return torch.device(self.devices[0]).type == "cuda"


def build(settings: SpeedSettings) -> tuple[WideResNet, dict[str, SplitWideResNet], list[torch.Tensor]]:
    """The unsplit WRN, its splits and the input batches, on the CPU (all seeded)."""
    torch.manual_seed(0)
    network = WideResNet(settings.depth, settings.width, settings.classes, 3).eval()
    splits = {}
    for tree in settings.trees:
        assignments = SplitAssignments(network, tree)
        groups = balanced_groups(assignments, torch.Generator().manual_seed(0))
        splits[tree] = split_network(network, assignments, groups).eval()
    generator = torch.Generator().manual_seed(1)
    batches = [torch.randn(settings.batch, 3, settings.image, settings.image, generator=generator)
               for _ in range(settings.batches)]
    return network, splits, batches


def _synchronize(devices: Sequence[str]) -> None:
    for device in devices:
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize(device)


@torch.no_grad()
def fastest_pass(run: Callable[[list[torch.Tensor]], Any], batches: list[torch.Tensor], repeats: int,
                 devices: Sequence[str] = ("cpu",)) -> float:
    """Wall time of ``run(batches)`` after a one-batch warm-up: the fastest of ``repeats``
    passes (on a shared machine the slower ones measure the other work)."""
    run(batches[:1])
    times = []
    for _ in range(repeats):
        _synchronize(devices)
        start = time.perf_counter()
        run(batches)
        _synchronize(devices)
        times.append(time.perf_counter() - start)
    return min(times)


@torch.no_grad()
def distributed_seconds(rank: int, world: int, settings: SpeedSettings) -> dict[str, Any]:
    """The two-process modes; every rank calls this (rank r on ``settings.devices[r]``). Rank
    0's clock gives the times; each rank's phase breakdown of the pipelined split modes too."""
    device = settings.devices[rank]
    network, splits, batches = build(settings)
    network, batches = network.to(device), [x.to(device) for x in batches]
    cut = balanced_cut(network, (3, settings.image, settings.image))
    timings: dict[str, Any] = {"breakdown": {}}

    def timed(name: str, run: Callable[[list[torch.Tensor]], Any]) -> None:
        run(batches[:1])  # warm-up
        times = []
        for _ in range(settings.repeats):
            dist.barrier()
            start = time.perf_counter()
            run(batches)
            _synchronize([device])
            dist.barrier()
            times.append(time.perf_counter() - start)
        timings[name] = min(times)

    timed("unsplit", lambda xs: pipelined_logits(network, xs, cut, device))
    for tree, split in splits.items():
        split = split.to(device)
        timed(tree, lambda xs, split=split: [distributed_logits(split, x if rank == 0 else None, device)
                                             for x in xs])
        timed(f"{tree} pipelined", lambda xs, split=split: pipelined_split_logits(split, xs, device))
        clock = PhaseClock()
        pipelined_split_logits(split, batches, device, clock=clock)
        timings["breakdown"][tree] = dict(clock.seconds)
    return timings


def _spawned(rank: int, world: int, settings: SpeedSettings, out: str) -> None:
    if settings.on_gpu:
        torch.cuda.set_device(settings.devices[rank])
    Path(f"{out}.{rank}").write_text(json.dumps(distributed_seconds(rank, world, settings)))


def ideal_speedup(network: WideResNet, split: SplitWideResNet, shape: tuple[int, ...], workers: int) -> float:
    """Unsplit FLOPs over the busiest worker's: the trunk and its branches on the first worker,
    the other branches spread as :func:`~companion.splitnet.parallel.branch_placement` places them."""
    trunk = count_cost(split.trunk, shape).flops
    with torch.no_grad():
        features = tuple(split.trunk(torch.zeros(1, *shape)).shape[1:])
    load = [0] * workers
    load[0] += trunk
    for branch, worker in zip(split.branches, branch_placement(len(split.branches), workers)):
        load[worker] += count_cost(branch, features).flops
    return count_cost(network, shape).flops / max(load)


def measure(settings: SpeedSettings) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every mode's throughput and speed-up over the unsplit network on one worker, with the
    ideal speed-up of its FLOP split; and where each worker's time goes in the pipelined modes
    (seconds per pass)."""
    if not settings.on_gpu:
        torch.set_num_threads(1)
    first = settings.devices[0]
    network, splits, batches = build(settings)
    shape = (3, settings.image, settings.image)
    cpu_costs = {tree: (count_cost(split, shape).flops / 1e9, ideal_speedup(network, split, shape, 2),
                        ideal_speedup(network, split, shape, 1)) for tree, split in splits.items()}
    unsplit_gflops = count_cost(network, shape).flops / 1e9
    on_first, unsplit = [x.to(first) for x in batches], network.to(first)
    rows = [{"network": "baseline", "tree": "1-1-1", "mode": "1 worker", "workers": 1,
             "seconds": fastest_pass(lambda xs: [unsplit(x) for x in xs], on_first,
                                     settings.repeats, [first]),
             "gflops": unsplit_gflops, "ideal": 1.0}]
    breakdown = []
    for tree, split in splits.items():
        gflops, ideal, alone = cpu_costs[tree]
        name = NAMES.get(tree, tree)
        single = split.to(first)
        rows.append({"network": name, "tree": tree, "mode": "1 worker", "workers": 1,
                     "seconds": fastest_pass(lambda xs: [single(x) for x in xs], on_first,
                                             settings.repeats, [first]),
                     "gflops": gflops, "ideal": alone})
        spread = MultiDeviceSplitNet(split, list(settings.devices))
        rows.append({"network": name, "tree": tree, "mode": "1 process, 2 devices", "workers": 2,
                     "seconds": fastest_pass(lambda xs: [spread(x) for x in xs], on_first,
                                             settings.repeats, settings.devices),
                     "gflops": gflops, "ideal": ideal})
        rows.append({"network": name, "tree": tree, "mode": "1 process, 2 devices, pipelined", "workers": 2,
                     "seconds": fastest_pass(spread.pipelined, on_first, settings.repeats, settings.devices),
                     "gflops": gflops, "ideal": ideal})
        clock = PhaseClock()
        with torch.no_grad():
            spread.pipelined(on_first, clock)
        breakdown.append({"tree": tree, "mode": "devices, pipelined", "worker": "main thread", **clock.seconds})
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "timings.json")
        launch_local(_spawned, 2, settings, out, backend="nccl" if settings.on_gpu else "gloo", threads=1)
        timings = [json.loads(Path(f"{out}.{rank}").read_text()) for rank in range(2)]
    rows.append({"network": "baseline, layers split", "tree": "1-1-1", "mode": "2 processes, pipelined",
                 "workers": 2, "seconds": timings[0]["unsplit"], "gflops": unsplit_gflops, "ideal": 2.0})
    for tree in splits:
        gflops, ideal, _ = cpu_costs[tree]
        for mode, key in (("2 processes", tree), ("2 processes, pipelined", f"{tree} pipelined")):
            rows.append({"network": NAMES.get(tree, tree), "tree": tree, "mode": mode, "workers": 2,
                         "seconds": timings[0][key], "gflops": gflops, "ideal": ideal})
        for rank, source in enumerate(timings):
            breakdown.append({"tree": tree, "mode": "processes, pipelined", "worker": f"rank {rank}",
                              **source["breakdown"][tree]})
    table = pd.DataFrame(rows)
    table["images_per_s"] = settings.batch * settings.batches / table["seconds"]
    table["speedup"] = table["images_per_s"] / table.loc[0, "images_per_s"]
    table["of_ideal"] = table["speedup"] / table["ideal"]
    return with_paper(table), pd.DataFrame(breakdown).fillna(0.0)


def with_paper(table: pd.DataFrame) -> pd.DataFrame:
    """Add the paper's two-GPU speed-up of the same split (Table 5) to the two-worker rows."""
    paper = reported("splitnet_table5")
    paper = paper[paper["devices"] == 2].drop_duplicates("tree").set_index("tree")["speedup"]
    table = table.copy()
    table["paper_speedup_2gpu"] = [paper.get(tree) if workers == 2 else None
                                   for tree, workers in zip(table["tree"], table["workers"])]
    return table


def gpu_pair(devices: Sequence[str]) -> tuple[str, str] | None:
    """The two GPUs a run with these ``devices`` measures Table 5 on: two distinct CUDA devices
    once "auto" is resolved (:func:`~companion.config.resolve_devices`), else None."""
    resolved = [str(device) for device in resolve_devices(devices)]
    if len(resolved) == 2 and len(set(resolved)) == 2 and all(d.startswith("cuda") for d in resolved):
        return resolved[0], resolved[1]
    return None


def record(settings: SpeedSettings, table: pd.DataFrame, wall_time_s: float,
           directory: Path | None = None) -> Path:
    """Store a :func:`measure` table as a run record of ``splitnet/parallel``, where the
    chapter's Table 5 reads it."""
    return record_run("splitnet/parallel", record_parameters(settings), table.to_dict("records"),
                      wall_time_s=wall_time_s, device=",".join(settings.devices), directory=directory)


def measure_and_record(settings: SpeedSettings, directory: Path | None = None) -> Path:
    """:func:`measure` the Table 5 modes and :func:`record` the table (a chapter run on GPUs)."""
    start = time.perf_counter()
    table, _ = measure(settings)
    return record(settings, table, time.perf_counter() - start, directory)


def record_parameters(settings: SpeedSettings) -> dict[str, Any]:
    """The parameters a Table 5 record carries."""
    return {"profile": "paper" if settings.on_gpu else "cpu", **{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()},
            "threads_per_process": 1, "cpu_count": os.cpu_count()}
