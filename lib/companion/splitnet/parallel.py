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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch import multiprocessing

from companion.splitnet.counting import layer_costs
from companion.splitnet.split import SplitWideResNet
from companion.splitnet.wrn import WideResNet


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
