"""What one optimiser step costs: seconds, FLOPs and memory, measured by the training loop.

When ``$COMPANION_STEP_COST_FILE`` names a file, every call of :func:`companion.training.train`
measures its steps with a :class:`StepCostMeter` and appends one JSON line to that file (a
rehearsal, ``python -m companion.reproduce --rehearse``, sets it per run):

- ``flops_per_step``: the floating-point operations of the first step (forward, backward and
  optimiser update), counted by :class:`torch.utils.flop_counter.FlopCounterMode` (matrix
  products and convolutions, which dominate every model of the book; on CUDA, cuDNN's fused
  GRUs are not counted, so FLOPs are measured on the CPU);
- ``seconds_per_step``: the median wall time of the steps after the first (which is counted
  and warms up; a call of one step reports that one);
- ``operators_per_step``: the tensor operators (aten calls) of the first step, each of which
  is about one kernel launch on a GPU: what bounds the step time of small models there;
- ``activation_bytes``: the tensors autograd saved for the backward pass in the first step
  (distinct storages, parameters left out), and ``state_bytes``: parameters, gradients and
  optimiser state after it: together what the step needs on a GPU, whatever the device;
- ``peak_rss_bytes``: the process's peak resident memory during the call (Linux), and on CUDA
  ``peak_cuda_bytes``, the most memory torch's allocator held.

Without the variable the loop measures nothing and runs exactly as before.
"""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from time import perf_counter
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

#: environment variable naming the JSON-lines file each training call appends its step costs to
STEP_COST_FILE_VARIABLE = "COMPANION_STEP_COST_FILE"

#: timed steps kept per call (their median is reported)
_TIMED_STEPS = 50


def _status_bytes(field: str) -> int | None:
    """A ``/proc/self/status`` memory field (``VmHWM``, ``VmRSS``) in bytes; None off Linux."""
    with suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return None


def _reset_peak_rss() -> None:
    """Reset the process's peak resident memory to its current size (Linux ≥ 4.0; else no-op)."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def tensor_bytes(tensors: Any) -> int:
    """Bytes of the distinct storages of ``tensors`` (an iterable of tensors)."""
    storages = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        storages[(tensor.device, storage.data_ptr())] = storage.nbytes()
    return sum(storages.values())


def state_bytes(model: nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Bytes of the model's parameters and buffers, their gradients and the optimiser's state."""
    tensors = [*model.parameters(), *model.buffers()]
    tensors += [p.grad for p in model.parameters() if p.grad is not None]
    tensors += [value for state in optimizer.state.values() for value in state.values()
                if isinstance(value, torch.Tensor)]
    return tensor_bytes(tensors)


class OperatorCount(TorchDispatchMode):
    """Counts the aten operators run inside it (``count``)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.count += 1
        return func(*args, **(kwargs or {}))


class StepCostMeter:
    """Measures the optimiser steps of one training call and appends them to ``path``."""

    def __init__(self, path: Path | str, *, description: str, epochs: int, model: nn.Module,
                 optimizer: torch.optim.Optimizer, device: torch.device) -> None:
        self.path = Path(path)
        self.description, self.epochs = description, epochs
        self.model, self.optimizer, self.device = model, optimizer, device
        self.steps = 0
        self.seconds: list[float] = []
        self.flops: int | None = None
        self.operators: int | None = None
        self.activation_bytes: int | None = None
        self._parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
        _reset_peak_rss()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    @classmethod
    def from_environment(cls, **fields: Any) -> StepCostMeter | None:
        """A meter writing to ``$COMPANION_STEP_COST_FILE``, or None when it is not set."""
        path = os.environ.get(STEP_COST_FILE_VARIABLE)
        return cls(path, **fields) if path else None

    def _synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    @contextmanager
    def step(self) -> Iterator[None]:
        """Wrap one optimiser step (forward, backward, update): every step is timed, the first
        one's FLOPs and saved tensors are counted."""
        self._synchronize()
        started = perf_counter()
        if self.steps == 0:
            saved: dict[tuple[torch.device, int], int] = {}  # sizes only: holding the tensors would keep them alive

            def pack(tensor: torch.Tensor) -> torch.Tensor:
                storage = tensor.untyped_storage()
                if storage.data_ptr() not in self._parameters:
                    saved[(tensor.device, storage.data_ptr())] = storage.nbytes()
                return tensor

            counter, operators = FlopCounterMode(display=False), OperatorCount()
            with counter, operators, torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
                yield
            self.flops, self.operators = int(counter.get_total_flops()), operators.count
            self.activation_bytes = sum(saved.values())
        else:
            yield
        self._synchronize()
        if len(self.seconds) < _TIMED_STEPS:
            self.seconds.append(perf_counter() - started)
        self.steps += 1

    def seconds_per_step(self) -> float | None:
        """The median time of the steps after the first (which also warms up and is counted),
        or the first's when it was the only one."""
        later = self.seconds[1:] or self.seconds
        return statistics.median(later) if later else None

    def summary(self, steps_per_epoch: float | None) -> dict[str, Any]:
        """The call's measurements (see the module's docstring)."""
        return {
            "description": self.description, "epochs": self.epochs, "steps": self.steps,
            "steps_per_epoch": steps_per_epoch, "device": str(self.device),
            "flops_per_step": self.flops, "operators_per_step": self.operators,
            "activation_bytes": self.activation_bytes,
            "state_bytes": state_bytes(self.model, self.optimizer),
            "seconds_per_step": self.seconds_per_step(),
            "timed_steps": len(self.seconds), "peak_rss_bytes": _status_bytes("VmHWM"),
            "peak_cuda_bytes": (torch.cuda.max_memory_allocated(self.device)
                                if self.device.type == "cuda" else None),
        }

    def write(self, steps_per_epoch: float | None) -> None:
        """Append :meth:`summary` as one JSON line to the meter's file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps(self.summary(steps_per_epoch)) + "\n")
