"""Chapter parameters: typed settings, profiles, overrides and validation.

Every chapter declares its parameters once, as a frozen dataclass (a subclass of
:class:`ChapterSettings`), and its profiles as instances of it (``"cpu"``: minutes on a 2-core
CPU; ``"cpu-long"``: the recorded evidence; ``"paper"``: the paper's sizes, for GPUs). A
notebook's papermill ``parameters`` cell sets every parameter to ``None`` except the common
ones; :func:`from_notebook` fills each ``None`` from the chosen profile, so any single value
given with ``papermill -p NAME VALUE`` wins over the profile.

Bad values raise :class:`ParameterError`, whose message names the parameter and the valid
values, so a notebook stops in its first cells.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar, TypeVar

import torch

from companion.paths import repository_root

#: The largest seed every generator takes (NumPy's seeds are 32-bit).
MAX_SEED = 2**32 - 1


class ParameterError(ValueError):
    """A chapter parameter has a value the chapter cannot use."""


class UnusedParameterWarning(UserWarning):
    """A parameter was given a value that the run does not use (it is recorded all the same)."""


def warn_unused(name: str, value: Any, why: str) -> None:
    """Say that ``name=value`` is not used by this run, and why: never accepted silently."""
    warnings.warn(f"{name}={value!r} is not used: {why}", UnusedParameterWarning, stacklevel=3)


@dataclass(frozen=True, kw_only=True)
class ChapterSettings:
    """A chapter's parameters, typed and validated once.

    Each chapter subclasses it with one field per parameter of its notebook and declares its
    profiles as instances (``PROFILES = {"cpu": cpu, "paper": replace(cpu, profile="paper", …)}``).
    Construction validates (:meth:`validate`, called by ``__post_init__``) and may normalise a
    value (a comma-separated string to a tuple, say) with :meth:`normalise`; a bad value raises
    :class:`ParameterError` naming the parameter and the valid values.
    """

    profile: str = "cpu"
    seed: int = 0
    device: str = "auto"
    data_dir: str | None = None

    #: Parameters added after runs were recorded, with the value those runs had implicitly.
    #: A run's record (and so its key) holds such a parameter only when it differs from that
    #: value, so the earlier records still match the runs they are.
    ADDED_LATER: ClassVar[dict[str, Any]] = {}

    def __post_init__(self) -> None:
        check_int("seed", self.seed, minimum=0, maximum=MAX_SEED)
        check_device(self.device)
        if self.data_dir is not None and not isinstance(self.data_dir, (str, os.PathLike)):
            raise ParameterError(f"data_dir={self.data_dir!r} must be a folder's path or None")
        self.validate()

    def validate(self) -> None:
        """Check (and normalise) the chapter's own parameters; subclasses override it."""

    def normalise(self, name: str, value: Any) -> None:
        """Replace a field's value by its validated form (for :meth:`validate`)."""
        object.__setattr__(self, name, value)

    @classmethod
    def parameters(cls) -> tuple[str, ...]:
        """Every parameter of the chapter, common ones first: its notebook's ``parameters`` cell."""
        return tuple(field.name for field in fields(cls))

    def record(self) -> dict[str, Any]:
        """The parameters as a run record keeps them (tuples as lists): what a run's key hashes.
        A parameter of :attr:`ADDED_LATER` at its earlier implicit value is left out."""
        return {name: list(value) if isinstance(value, tuple) else value
                for name, value in ((name, getattr(self, name)) for name in self.parameters())
                if not (name in self.ADDED_LATER and value == self.ADDED_LATER[name])}


SettingsT = TypeVar("SettingsT", bound=ChapterSettings)


def resolve(profiles: Mapping[str, SettingsT], profile: str = "cpu", **given: Any) -> SettingsT:
    """The profile's settings with every parameter given (``None`` means "the profile's").

    Unknown parameters and profiles raise :class:`ParameterError` naming the valid ones.
    """
    if profile not in profiles:
        raise ParameterError(
            f"profile={profile!r} is not a profile of this chapter; valid values: {sorted(profiles)}"
        )
    chosen = profiles[profile]
    known = set(chosen.parameters())
    unknown = sorted(set(given) - known)
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}; valid parameters: {sorted(known)}")
    return replace(chosen, profile=profile,
                   **{name: value for name, value in given.items() if value is not None})


#: names IPython puts in a notebook's namespace before any cell runs
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def from_notebook(profiles: Mapping[str, SettingsT], namespace: Mapping[str, Any]) -> SettingsT:
    """A notebook's settings, read from the names its ``parameters`` cell (and papermill's
    injected cell) defined: every parameter of the chapter, ``None`` for "the profile's".

    Any other value in the namespace stops the notebook: papermill only warns about a
    misspelled ``-p stepz 8`` and would run — and record — the defaults. Call it right after the
    ``parameters`` cell, before any import.
    """
    known = next(iter(profiles.values())).parameters()
    unknown = sorted(
        name for name, value in namespace.items()
        if not name.startswith("_") and name not in _IPYTHON_NAMES and name not in known
        and not isinstance(value, ModuleType) and not callable(value))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}; valid parameters: {sorted(known)}")
    given = {name: namespace[name] for name in known if name in namespace}
    return resolve(profiles, given.pop("profile", "cpu"), **given)


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


def check_float(
    name: str, value: Any, minimum: float = 0.0, maximum: float = float("inf"), *, open_min: bool = False
) -> float:
    """``value`` must be a finite real number in [minimum, maximum] (or (minimum, maximum])."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"{name}={value!r} must be a number")
    if not math.isfinite(value):
        raise ParameterError(f"{name}={value!r} must be a finite number")
    low_ok = value > minimum if open_min else value >= minimum
    if not (low_ok and value <= maximum):
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
