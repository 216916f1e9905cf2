"""The one training loop every chapter uses.

:func:`train` runs epochs of optimiser steps on a model whose loss a chapter supplies, and
handles what every method needs the same way: seeding and deterministic kernels, device
placement, gradient clipping, a progress bar when a person is watching, a stop with the step
named when the loss is NaN or infinite, atomic checkpoints (model, optimiser, scheduler, every
RNG state, epoch, step and history) and automatic resume from the last one, and a history of
per-step and per-epoch metrics as pandas DataFrames (each epoch's row has the ``seconds`` it
took, training and evaluation; the rows of epochs before a resume keep the times measured then).

Resuming gives exactly the run that was never interrupted, provided ``batches(epoch)`` depends
only on the epoch (use :func:`companion.data.batches`, which seeds its shuffle per epoch).
"""

from __future__ import annotations

import hashlib
import os
import random
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from companion.step_cost import StepCostMeter

CHECKPOINT_NAME = "checkpoint.pt"
#: environment variable naming the folder where the chapters keep their training checkpoints
CHECKPOINT_DIR_VARIABLE = "COMPANION_CHECKPOINT_DIR"

LossOutput = torch.Tensor | Mapping[str, torch.Tensor]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed Python, NumPy and torch (all devices) and, if asked, use deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def use_threads(count: int) -> None:
    """Use ``count`` intra-op CPU threads from now on (0 keeps torch's choice).

    The chapters' CPU models are small: one thread is often faster than two, which spend their
    time waiting for each other, and a fixed count keeps floating-point sums reproducible.
    """
    if count:
        torch.set_num_threads(count)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run a block with ``count`` intra-op CPU threads (0 keeps torch's choice), then restore."""
    previous = torch.get_num_threads()
    use_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def checkpoint_folder(name: str) -> Path | None:
    """Where a chapter checkpoints the model (or phase) ``name``: a sub-folder of
    ``$COMPANION_CHECKPOINT_DIR`` when that is set (``python -m companion.reproduce`` sets it
    for each run; set it yourself for a long run by hand), else None (no checkpoints).

    A notebook killed half-way and run again with the same parameters then resumes every model
    where its last checkpoint left it and skips the finished ones.
    """
    root = os.environ.get(CHECKPOINT_DIR_VARIABLE)
    return Path(root).expanduser() / name if root else None


#: Parameters that say where or how fast a run trains, not what it trains (a checkpoint may
#: be resumed with other values, e.g. on a GPU after a CPU start).
_PLACEMENT = ("device", "data_dir", "threads", "devices")


def checkpoint_fingerprint(params: Mapping[str, Any], **which: Any) -> dict[str, Any]:
    """What identifies a chapter's training run in its checkpoints: its parameters less those
    that say where or how fast it trains (device, data_dir, threads, devices), plus ``which``
    (the model or phase and its own settings)."""
    return {**{name: value for name, value in params.items() if name not in _PLACEMENT},
            **which}


def tensor_digest(tensor: torch.Tensor) -> str:
    """A short hash of ``tensor``'s values: names the data a model trains on in its checkpoint
    fingerprint when the parameters alone do not fix them."""
    values = tensor.detach().cpu().contiguous()
    return hashlib.sha256(str(values.dtype).encode() + str(tuple(values.shape)).encode()
                          + values.numpy().tobytes()).hexdigest()[:12]


def move_to(batch: Any, device: torch.device | str) -> Any:
    """``batch`` with every tensor in it (nested in tuples, lists, dicts) moved to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {key: move_to(value, device) for key, value in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [move_to(value, device) for value in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch


@dataclass
class TrainState:
    """Where training is: handed to the loss and to callbacks."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    epoch: int = 0
    step: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainResult:
    """Histories of a run: ``steps`` (one row per logged step) and ``epochs`` (one per epoch,
    with the ``seconds`` that epoch took to train and evaluate)."""

    steps: pd.DataFrame
    epochs: pd.DataFrame


def _rng_state() -> dict[str, Any]:
    name, keys, position, has_gauss, cached = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(position),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    numpy_state = state["numpy"]
    np.random.set_state((
        "MT19937", numpy_state["keys"].numpy().astype(np.uint32), numpy_state["pos"],
        numpy_state["has_gauss"], numpy_state["cached"],
    ))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: Mapping[str, Any]) -> None:
    """Save ``payload`` with torch.save atomically and durably: after a crash or a power cut
    the file is the old checkpoint or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            torch.save(dict(payload), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`train` (tensors and plain containers only)."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        raise RuntimeError(f"checkpoint {path} cannot be read ({error}); delete it to start over") from error


class CheckpointMismatchError(ValueError):
    """A checkpoint was written by a run with other parameters than the one resuming it."""


def _plain(fingerprint: Mapping[str, Any]) -> dict[str, Any]:
    """``fingerprint`` as plain values a weights-only checkpoint can hold (others as text)."""
    def plain(value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, Mapping):
            return {str(key): plain(item) for key, item in value.items()}
        return str(value)
    return {str(key): plain(value) for key, value in fingerprint.items()}


def check_fingerprint(path: Path, saved: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Raise :class:`CheckpointMismatchError` if ``saved`` and ``current`` differ, naming how."""
    current = _plain(current)
    differences = [f"{name}: checkpoint {saved.get(name)!r}, this run {current.get(name)!r}"
                   for name in sorted(set(saved) | set(current))
                   if saved.get(name) != current.get(name)]
    if differences:
        raise CheckpointMismatchError(
            f"checkpoint {path} belongs to another run ({'; '.join(differences)}); "
            "delete it or use another checkpoint folder")


def _as_metrics(output: LossOutput) -> dict[str, torch.Tensor]:
    if isinstance(output, torch.Tensor):
        return {"loss": output}
    if "loss" not in output:
        raise KeyError(f"the loss function must return a 'loss' entry; it returned {sorted(output)}")
    return dict(output)


def train(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any, TrainState], LossOutput],
    batches: Callable[[int], Iterable[Any]],
    *,
    epochs: int,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    device: torch.device | str = "cpu",
    grad_clip: float | None = None,
    evaluate: Callable[[nn.Module, int], Mapping[str, float]] | None = None,
    evaluate_every: int = 1,
    after_step: Sequence[Callable[[TrainState], None]] = (),
    checkpoint_dir: Path | str | None = None,
    checkpoint_every: int = 1,
    fingerprint: Mapping[str, Any] | None = None,
    extras: Mapping[str, list[Any]] | None = None,
    log_every: int = 1,
    progress: bool | None = None,
    description: str = "train",
) -> TrainResult:
    """Train ``model`` for ``epochs`` epochs and return its metric histories.

    Args:
        model: the model, already on ``device``.
        loss_fn: ``loss_fn(model, batch, state)`` → the loss tensor, or a dict with a ``loss``
            entry and any other scalar metrics to log.
        batches: ``batches(epoch)`` → the epoch's batches; tensors in them are moved to ``device``.
        epochs: number of passes.
        optimizer, scheduler: the scheduler (if any) steps once per epoch.
        grad_clip: clip the global gradient norm to this value.
        evaluate: ``evaluate(model, epoch)`` → metrics added to the epoch's row (model in eval
            mode; wrap in ``torch.no_grad`` yourself if the evaluation needs no gradients).
        evaluate_every: evaluate every this many epochs, and always after the last one.
        after_step: callbacks run after every optimiser step.
        checkpoint_dir: where ``checkpoint.pt`` is written every ``checkpoint_every`` epochs and
            at the end; if a checkpoint is already there, training resumes from it (a finished
            one returns at once with its histories).
        fingerprint: what the run is (its parameters), saved with each checkpoint; resuming
            from a checkpoint whose fingerprint differs raises :class:`CheckpointMismatchError`
            naming the differences.
        extras: lists a caller fills during training (e.g. snapshots taken by ``evaluate``),
            saved with each checkpoint and refilled in place on resume.
        log_every: keep every this-many-th step in the step history.
        progress: show a progress bar; ``None`` shows one only when stderr is a terminal.
    """
    if epochs < 0:
        raise ValueError(f"epochs={epochs} must be ≥ 0")
    device = torch.device(device)
    state = TrainState(model=model, optimizer=optimizer)
    step_rows: list[dict[str, float]] = []
    epoch_rows: list[dict[str, float]] = []
    checkpoint = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if checkpoint is not None and checkpoint.exists():
        # on the CPU: generator states must stay CPU byte tensors; load_state_dict moves the
        # model's and the optimiser's tensors to the device of the parameters
        saved = load_checkpoint(checkpoint, map_location="cpu")
        check_fingerprint(checkpoint, saved.get("fingerprint", {}), fingerprint or {})
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        _set_rng_state(saved["rng"])
        state.epoch, state.step = saved["epoch"], saved["step"]
        for name, values in (extras or {}).items():
            values[:] = saved["extras"][name]
        step_rows, epoch_rows = list(saved["step_history"]), list(saved["epoch_history"])

    def write_checkpoint() -> None:
        save_checkpoint(checkpoint, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else {},
            "rng": _rng_state(), "epoch": state.epoch, "step": state.step,
            "step_history": step_rows, "epoch_history": epoch_rows,
            "fingerprint": _plain(fingerprint or {}),
            "extras": {name: list(values) for name, values in (extras or {}).items()},
        })

    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=epochs, initial=state.epoch, desc=description, disable=not show, leave=False)
    # measures the steps' cost only when $COMPANION_STEP_COST_FILE is set (a rehearsal)
    meter = StepCostMeter.from_environment(description=description, epochs=epochs, model=model,
                                           optimizer=optimizer, device=device)
    first_epoch = state.epoch
    while state.epoch < epochs:
        started = perf_counter()
        model.train()
        sums: dict[str, float] = {}
        count = 0
        for batch in batches(state.epoch):
            batch = move_to(batch, device)
            with meter.step() if meter is not None else nullcontext():
                metrics = _as_metrics(loss_fn(model, batch, state))
                loss_value = metrics["loss"].item()
                if not np.isfinite(loss_value):
                    raise NonFiniteLossError(
                        f"loss is {loss_value} at step {state.step} (epoch {state.epoch}); "
                        "lower the learning rate or check the data for NaN/inf"
                    )
                optimizer.zero_grad(set_to_none=True)
                metrics["loss"].backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
            values = {name: float(value.detach()) for name, value in metrics.items()}
            state.metrics = values
            for name, value in values.items():
                sums[name] = sums.get(name, 0.0) + value
            count += 1
            if state.step % log_every == 0:
                step_rows.append({"epoch": state.epoch, "step": state.step, **values})
            state.step += 1
            for callback in after_step:
                callback(state)
        if scheduler is not None:
            scheduler.step()
        row: dict[str, float] = {"epoch": state.epoch, "steps": state.step}
        row.update({name: total / max(count, 1) for name, total in sums.items()})
        last = state.epoch + 1 == epochs
        if evaluate is not None and ((state.epoch + 1) % evaluate_every == 0 or last):
            model.eval()
            row.update(evaluate(model, state.epoch))
        row["seconds"] = perf_counter() - started
        epoch_rows.append(row)
        state.epoch += 1
        bar.update(1)
        bar.set_postfix(loss=f"{row.get('loss', float('nan')):.4g}")
        if checkpoint is not None and (state.epoch % checkpoint_every == 0 or last):
            write_checkpoint()
    bar.close()
    if meter is not None:
        meter.write(meter.steps / (state.epoch - first_epoch) if state.epoch > first_epoch else None)
    model.eval()
    return TrainResult(steps=pd.DataFrame(step_rows), epochs=pd.DataFrame(epoch_rows))
