"""Chapter parameters: profiles, overrides and validation.

Every chapter declares a table of profiles (``"cpu"``: minutes on a 2-core CPU; ``"paper"``:
the paper's sizes, for GPUs). A notebook's papermill ``parameters`` cell sets every parameter
to ``None`` except the common ones; :func:`resolve` fills each ``None`` from the chosen profile,
so any single value given with ``papermill -p NAME VALUE`` wins over the profile.

Bad values raise :class:`ParameterError`, whose message names the parameter and the valid
values, so a notebook stops in its first cells.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from companion.paths import repository_root

#: The largest seed every generator takes (NumPy's seeds are 32-bit).
MAX_SEED = 2**32 - 1

#: Parameters every chapter accepts, whatever its profile.
COMMON = ("profile", "seed", "device", "data_dir")


class ParameterError(ValueError):
    """A chapter parameter has a value the chapter cannot use."""


def resolve(
    profiles: Mapping[str, Mapping[str, Any]], profile: str, **given: Any
) -> dict[str, Any]:
    """Merge a profile's values with the parameters given (``None`` means "the profile's").

    ``given`` holds every chapter parameter, common ones included. Returns a plain dict with
    every parameter set; unknown parameters and profiles raise :class:`ParameterError`.
    """
    if profile not in profiles:
        raise ParameterError(
            f"profile={profile!r} is not a profile of this chapter; valid values: {sorted(profiles)}"
        )
    defaults = dict(profiles[profile])
    known = set(defaults) | set(COMMON)
    unknown = sorted(set(given) - known)
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}; valid parameters: {sorted(known)}")
    merged = {name: value for name, value in defaults.items()}
    merged.update({name: value for name, value in given.items() if value is not None})
    merged["profile"] = profile
    merged.setdefault("seed", 0)
    merged.setdefault("device", "auto")
    merged.setdefault("data_dir", None)
    check_int("seed", merged["seed"], minimum=0, maximum=MAX_SEED)
    check_device(merged["device"])
    return merged


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``; otherwise raise naming the valid values."""
    choices = list(choices)
    if value not in choices:
        raise ParameterError(f"{name}={value!r} is not valid; valid values: {choices}")
    return value


def check_choices(name: str, values: Sequence[Any] | str, choices: Iterable[Any]) -> list[Any]:
    """Each of ``values`` (a list, or a comma-separated string) must be one of ``choices``."""
    if isinstance(values, str):
        values = [v.strip() for v in values.split(",") if v.strip()]
    values = list(values)
    if not values:
        raise ParameterError(f"{name} is empty; choose from {list(choices)}")
    choices = list(choices)
    for value in values:
        if value not in choices:
            raise ParameterError(f"{name} contains {value!r}; valid values: {choices}")
    return values


def check_int(name: str, value: Any, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` must be an integer ≥ ``minimum`` (and ≤ ``maximum``; booleans are not integers)."""
    bounds = f"≥ {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParameterError(f"{name}={value!r} must be an integer {bounds}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ParameterError(f"{name}={value!r} must be an integer {bounds}")
    return value


def check_ints(name: str, values: Sequence[int] | int, minimum: int = 1) -> list[int]:
    """A non-empty list of integers ≥ ``minimum`` (a single integer becomes a list of one)."""
    if isinstance(values, int) and not isinstance(values, bool):
        values = [values]
    values = list(values)
    if not values:
        raise ParameterError(f"{name} is empty; give at least one integer ≥ {minimum}")
    return [check_int(name, value, minimum) for value in values]


def check_float(
    name: str, value: Any, minimum: float = 0.0, maximum: float = float("inf"), *, open_min: bool = False
) -> float:
    """``value`` must be a real number in [minimum, maximum] (or (minimum, maximum])."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{name}={value!r} must be a number")
    low_ok = value > minimum if open_min else value >= minimum
    if not (low_ok and value <= maximum) or value != value:
        bracket = "(" if open_min else "["
        raise ParameterError(f"{name}={value!r} must lie in {bracket}{minimum}, {maximum}]")
    return float(value)


def check_device(device: str) -> str:
    """``device`` must be "auto", "cpu", "cuda" or "cuda:N" and, for CUDA, must exist here."""
    valid = "valid values: 'auto', 'cpu', 'cuda', 'cuda:N'"
    if not isinstance(device, str):
        raise ParameterError(f"device={device!r} is not valid; {valid}")
    if device in ("auto", "cpu"):
        return device
    if device == "cuda" or device.startswith("cuda:"):
        index = device.partition(":")[2]
        if index and not index.isdigit():
            raise ParameterError(f"device={device!r} is not valid; {valid}")
        if not torch.cuda.is_available():
            raise ParameterError(
                f"device={device!r} was asked for but CUDA is not available on this machine; "
                "use device='cpu' or 'auto'"
            )
        if index and int(index) >= torch.cuda.device_count():
            raise ParameterError(
                f"device={device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return device
    raise ParameterError(f"device={device!r} is not valid; {valid}")


def resolve_device(device: str = "auto") -> torch.device:
    """The torch device for a validated ``device`` parameter ("auto" picks CUDA when present)."""
    check_device(device)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_devices(devices: Sequence[str]) -> list[torch.device]:
    """The torch devices of a list of validated ``device`` parameters, one per worker: "auto" at
    position i picks CUDA device i modulo the GPUs present (so ``["auto", "auto"]`` spreads over
    two GPUs where there are two), else the CPU."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [torch.device(f"cuda:{position % count}") if device == "auto" and count else resolve_device(device)
            for position, device in enumerate(devices)]


def data_root(data_dir: str | Path | None = None) -> Path:
    """Folder holding the full data sets: ``data_dir``, else $COMPANION_DATA_DIR, else data/external."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    if os.environ.get("COMPANION_DATA_DIR"):
        return Path(os.environ["COMPANION_DATA_DIR"]).expanduser()
    return repository_root() / "data" / "external"
