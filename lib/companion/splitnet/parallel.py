"""Model-parallel inference of split networks: one process with several devices, or several
processes with torch.distributed.

A split network's branches share nothing above the trunk, so they can run at the same time on
different devices and only the trunk's features (one broadcast) and the logits (one gather)
cross between them. Both ways here compute exactly the logits of the network on one device:

* :class:`MultiDeviceSplitNet` — one process: the trunk on the first device, each branch on
  its device, the branches launched concurrently from threads (CUDA kernels are asynchronous
  anyway; on CPU the threads are what runs them side by side), logits gathered in class order.
* :func:`distributed_logits` — one rank per group of branches (gloo on CPU, NCCL on GPUs):
  rank 0 runs the trunk and broadcasts the features, every rank runs its branches, rank 0
  gathers the logits. Start the processes with ``torchrun --nproc-per-node N`` (then call
  :func:`init_from_environment`) or from Python with :func:`launch_local`.

:func:`pipelined_logits` is the paper's other baseline, an *unsplit* network cut into two
halves on two ranks, which can only gain by pipelining successive batches.
"""

from __future__ import annotations

import os
import socket
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch import multiprocessing

from companion.splitnet.counting import layer_costs
from companion.splitnet.split import SplitWideResNet
from companion.splitnet.wrn import WideResNet


class PhaseClock:
    """Wall time spent in each named phase (trunk, send, branches, wait, ...), summed over
    batches: where a model-parallel mode's time goes. ``with clock("trunk"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start


def _phase(clock: PhaseClock | None, phase: str):
    """``clock(phase)``, or a context that measures nothing when there is no clock."""
    return clock(phase) if clock is not None else _no_clock()


@contextmanager
def _no_clock() -> Iterator[None]:
    yield


def branch_placement(branches: int, workers: int) -> list[int]:
    """Worker of each branch: contiguous runs of near-equal length (branch order = worker order)."""
    workers = min(workers, branches)
    return [index * workers // branches for index in range(branches)]


def _run_branches(branches: Sequence[nn.Module], features: torch.Tensor, grad: bool) -> list[torch.Tensor]:
    with torch.set_grad_enabled(grad):  # grad mode is per thread: carry the caller's over
        return [branch(features) for branch in branches]


class MultiDeviceSplitNet(nn.Module):
    """A split network spread over ``devices`` in one process (the modules are moved, not copied).

    Args:
        split: the split network.
        devices: e.g. ["cuda:0", "cuda:1"], or ["cpu", "cpu"] to run two branches side by side
            on the CPU; the trunk and the gathered logits live on the first.
    """

    def __init__(self, split: SplitWideResNet, devices: Sequence[str | torch.device]) -> None:
        super().__init__()
        self.devices = [torch.device(device) for device in devices]
        self.placement = branch_placement(len(split.branches), len(self.devices))
        self.trunk = split.trunk.to(self.devices[0])
        self.branches = nn.ModuleList(
            branch.to(self.devices[worker]) for branch, worker in zip(split.branches, self.placement)
        )
        self.register_buffer("class_position", split.class_position.to(self.devices[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x.to(self.devices[0]))
        workers = sorted(set(self.placement))
        grad = torch.is_grad_enabled()
        with ThreadPoolExecutor(max_workers=len(workers)) as pool:
            futures = [
                pool.submit(_run_branches,
                            [b for b, w in zip(self.branches, self.placement) if w == worker],
                            features.to(self.devices[worker], non_blocking=True), grad)
                for worker in workers
            ]
            parts = [part.to(self.devices[0]) for future in futures for part in future.result()]
        return torch.cat(parts, dim=1).index_select(1, self.class_position)

    def pipelined(self, batches: Sequence[torch.Tensor], clock: PhaseClock | None = None) -> list[torch.Tensor]:
        """The logits of each of ``batches``, the batches overlapped: while the other devices'
        threads run their branches on batch k, this thread runs the first device's branches on
        batch k and then the trunk on batch k + 1. ``clock`` (optional) sums the time this
        thread spends in the trunk, its branches and waiting for the others."""
        own = [branch for branch, worker in zip(self.branches, self.placement) if worker == 0]
        others = sorted(set(self.placement) - {0})
        grad = torch.is_grad_enabled()
        outputs: list[torch.Tensor] = []
        pending: tuple[list[torch.Tensor], list[Future]] | None = None
        with ThreadPoolExecutor(max_workers=max(len(others), 1)) as pool:
            for x in batches:
                with _phase(clock, "trunk"):
                    features = self.trunk(x.to(self.devices[0]))
                futures = [pool.submit(_run_branches,
                                       [b for b, w in zip(self.branches, self.placement) if w == worker],
                                       features.to(self.devices[worker], non_blocking=True), grad)
                           for worker in others]
                if pending is not None:
                    outputs.append(self._collect(*pending, clock))
                with _phase(clock, "branches"):
                    mine = _run_branches(own, features, grad)
                pending = (mine, futures)
            if pending is not None:
                outputs.append(self._collect(*pending, clock))
        return outputs

    def _collect(self, mine: list[torch.Tensor], futures: list[Future], clock: PhaseClock | None) -> torch.Tensor:
        with _phase(clock, "wait"):
            parts = mine + [part.to(self.devices[0]) for future in futures for part in future.result()]
        return torch.cat(parts, dim=1).index_select(1, self.class_position)


def distributed_logits(split: SplitWideResNet, x: torch.Tensor | None,
                       device: str | torch.device = "cpu") -> torch.Tensor | None:
    """Logits of ``split`` computed by every rank of the default process group (rank 0 returns
    them, the others None).

    Rank 0 runs the trunk on ``x`` and broadcasts the features (shape first); rank r runs the
    branches :func:`branch_placement` gives it; the logits, padded to a common width, are
    gathered on rank 0 and put back in class order. Every rank holds the same ``split``.
    """
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(device)
    placement = branch_placement(len(split.branches), world)
    if rank == 0:
        features = split.trunk(x.to(device)).contiguous()
        shape = torch.tensor(features.shape, device=device)
    else:
        shape = torch.empty(4, dtype=torch.long, device=device)
    dist.broadcast(shape, src=0)
    if rank != 0:
        features = torch.empty(tuple(shape.tolist()), device=device)
    dist.broadcast(features, src=0)
    widths = [0] * world
    for branch, worker in zip(split.branches, placement):
        widths[worker] += len(branch.classes)
    mine = [branch(features) for branch, worker in zip(split.branches, placement) if worker == rank]
    padded = features.new_zeros(features.shape[0], max(widths))
    if mine:
        local = torch.cat(mine, dim=1)
        padded[:, :local.shape[1]] = local
    if rank != 0:
        dist.gather(padded, dst=0)
        return None
    received = [torch.empty_like(padded) for _ in range(world)]
    dist.gather(padded, received, dst=0)
    return split.gather_logits([part[:, :width] for part, width in zip(received, widths) if width])


def _logit_widths(split: SplitWideResNet, placement: list[int], world: int) -> list[int]:
    widths = [0] * world
    for branch, worker in zip(split.branches, placement):
        widths[worker] += len(branch.classes)
    return widths


def pipelined_split_logits(split: SplitWideResNet, batches: Sequence[torch.Tensor] | int,
                           device: str | torch.device = "cpu",
                           clock: PhaseClock | None = None) -> list[torch.Tensor] | None:
    """Logits of ``split`` for each batch, computed by every rank of the default process group
    with successive batches overlapped (rank 0 returns them in batch order, the others None).

    Rank 0 runs the trunk on batch k, sends the features to every other rank without waiting,
    runs its own branches on them, and only then collects batch k − 1's logits from the
    others, so it goes on to batch k + 1's trunk while they work on batch k: each batch costs
    rank 0 the trunk plus its share of the branches, and the transfers overlap with compute.
    Rank 0 passes the batches; the others pass them too or just their number. ``clock``
    (optional) sums this rank's time in trunk, send, branches and wait (idle on a transfer).
    """
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device(device)
    placement = branch_placement(len(split.branches), world)
    mine = [branch for branch, worker in zip(split.branches, placement) if worker == rank]
    widths = _logit_widths(split, placement, world)
    count = batches if isinstance(batches, int) else len(batches)
    if rank != 0:
        sent = []  # (tensor, request): a tensor must live until its send completes
        for _ in range(count):
            with _phase(clock, "wait"):
                shape = torch.empty(4, dtype=torch.long, device=device)
                dist.recv(shape, src=0)
                features = torch.empty(tuple(shape.tolist()), device=device)
                dist.recv(features, src=0)
            with _phase(clock, "branches"):
                logits = torch.cat([branch(features) for branch in mine], dim=1).contiguous()
            with _phase(clock, "send"):
                sent.append((logits, dist.isend(logits, dst=0)))
        with _phase(clock, "wait"):
            for _, request in sent:
                request.wait()
        return None
    outputs: list[torch.Tensor] = []
    pending = None
    for x in batches:
        with _phase(clock, "trunk"):
            features = split.trunk(x.to(device)).contiguous()
        with _phase(clock, "send"):
            shape = torch.tensor(features.shape, device=device)
            sends = [(shape, features, dist.isend(shape, dst=other), dist.isend(features, dst=other))
                     for other in range(1, world)]
            receives = [(other, features.new_empty(features.shape[0], widths[other]))
                        for other in range(1, world) if widths[other]]
            receives = [(buffer, dist.irecv(buffer, src=other)) for other, buffer in receives]
        with _phase(clock, "branches"):
            own = [branch(features) for branch in mine]
        if pending is not None:
            outputs.append(_gather_pipelined(split, *pending, clock))
        pending = (own, receives, sends)
    if pending is not None:
        outputs.append(_gather_pipelined(split, *pending, clock))
    return outputs


def _gather_pipelined(split: SplitWideResNet, own: list[torch.Tensor], receives: list, sends: list,
                      clock: PhaseClock | None) -> torch.Tensor:
    """One batch's logits on rank 0: its own branches' and the received ones, in class order."""
    with _phase(clock, "wait"):
        for _, request in receives:
            request.wait()
        for *_, shape_request, features_request in sends:
            shape_request.wait()
            features_request.wait()
    return split.gather_logits(own + [buffer for buffer, _ in receives])


def sequential_layers(network: WideResNet) -> list[nn.Module]:
    """The network as a chain of modules: stem, every residual block, classifier head."""
    return [network.stem, *[block for stage in network.stages for block in stage], network.head]


def balanced_cut(network: WideResNet, input_shape: Sequence[int]) -> int:
    """Index into :func:`sequential_layers` where cutting into two halves best balances FLOPs."""
    costs = layer_costs(network, input_shape)
    names = ["stem"] + [f"stages.{s}.{b}" for s, stage in enumerate(network.stages)
                        for b in range(len(stage))] + ["head"]
    flops = [int(costs.loc[(costs["layer"] == name) | costs["layer"].str.startswith(name + "."),
                           "flops"].sum()) for name in names]
    total = sum(flops)
    return min(range(1, len(flops)), key=lambda cut: max(sum(flops[:cut]), total - sum(flops[:cut])))


def pipelined_logits(network: WideResNet, batches: Sequence[torch.Tensor], cut: int,
                     device: str | torch.device = "cpu") -> list[torch.Tensor] | None:
    """An unsplit network cut in two across ranks 0 and 1; successive batches overlap.

    Rank 0 runs the layers before ``cut`` and sends each batch's activations on (without
    waiting), rank 1 receives and runs the rest and returns the logits of every batch (rank 0
    returns None). Only ranks 0 and 1 take part.
    """
    rank = dist.get_rank()
    layers = sequential_layers(network)
    first, second = nn.Sequential(*layers[:cut]), nn.Sequential(*layers[cut:])
    device = torch.device(device)
    if rank == 0:
        sent = []  # (tensors, requests): the tensors must live until their sends complete
        for x in batches:
            hidden = first(x.to(device)).contiguous()
            shape = torch.tensor(hidden.shape, device=device)
            sent.append(((shape, hidden), [dist.isend(shape, dst=1), dist.isend(hidden, dst=1)]))
        for _, requests in sent:
            for request in requests:
                request.wait()
        return None
    if rank != 1:
        return None
    outputs = []
    for _ in batches:
        shape = torch.empty(4, dtype=torch.long, device=device)
        dist.recv(shape, src=0)
        hidden = torch.empty(tuple(shape.tolist()), device=device)
        dist.recv(hidden, src=0)
        outputs.append(second(hidden))
    return outputs


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _loopback_interface() -> str | None:
    names = [name for _, name in socket.if_nameindex()]
    return next((name for name in ("lo", "lo0") if name in names), None)


def init_from_environment(backend: str = "gloo") -> None:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, MASTER_*)."""
    if backend == "gloo" and os.environ.get("MASTER_ADDR") in ("127.0.0.1", "localhost"):
        interface = _loopback_interface()
        if interface:
            os.environ.setdefault("GLOO_SOCKET_IFNAME", interface)
    dist.init_process_group(backend)


def _spawned(rank: int, world: int, port: int, backend: str, threads: int,
             task: Callable[..., None], args: tuple[Any, ...]) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(threads)
    init_from_environment(backend)
    try:
        task(rank, world, *args)
    finally:
        dist.destroy_process_group()


def launch_local(task: Callable[..., None], world: int, *args: Any, backend: str = "gloo",
                 threads: int = 1) -> None:
    """Run ``task(rank, world, *args)`` in ``world`` fresh processes joined in a process group
    on 127.0.0.1 (a free port), each with ``threads`` intra-op threads; waits for all of them.

    ``task`` must be importable (a module-level function), as processes are spawned, not forked.
    """
    multiprocessing.spawn(_spawned, args=(world, free_port(), backend, threads, task, args),
                          nprocs=world, join=True)
