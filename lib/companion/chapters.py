"""The book's chapters: each has a notebook and a settings module (PROFILES, GRID, settings)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

import pandas as pd

from companion.config import COMMON, ParameterError

#: chapter name → module holding its PROFILES, GRID and settings() (the notebook is notebooks/<name>.ipynb)
CHAPTERS: dict[str, str] = {
    "data": "companion.data.settings",
    "vlae": "companion.vlae.settings",
    "splitnet": "companion.splitnet.settings",
    "vhcr": "companion.vhcr.settings",
    "ppca": "companion.ppca.settings",
}


def settings_module(chapter: str) -> ModuleType:
    """The settings module of ``chapter`` (ValueError naming the chapters for an unknown one)."""
    if chapter not in CHAPTERS:
        raise ValueError(f"unknown chapter {chapter!r}; chapters: {sorted(CHAPTERS)}")
    return importlib.import_module(CHAPTERS[chapter])


def available_chapters() -> list[str]:
    """Chapters whose settings module exists in this version of the library."""
    present = []
    for chapter in CHAPTERS:
        try:
            settings_module(chapter)
        except ModuleNotFoundError:
            continue
        present.append(chapter)
    return present


def format_parameter(value: object) -> str:
    """A parameter value as a reader would type it (floats to 4 significant digits)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_parameter(item) for item in value) + "]"
    return repr(value)


def parameter_table(chapter: str) -> pd.DataFrame:
    """Every parameter of ``chapter`` with its value in each profile."""
    profiles = settings_module(chapter).PROFILES
    names = list(COMMON[1:]) + [n for n in profiles["cpu"] if n not in COMMON]
    common_defaults = {"seed": 0, "device": "auto", "data_dir": None}
    rows = []
    for name in names:
        row = {"parameter": name}
        for profile, values in profiles.items():
            value = values.get(name, common_defaults.get(name))
            row[f'profile="{profile}"'] = format_parameter(value)
        rows.append(row)
    return pd.DataFrame(rows).set_index("parameter")


#: names IPython puts in a notebook's namespace before any cell runs
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def chapter_parameters(chapter: str) -> list[str]:
    """The parameters ``chapter``'s notebook takes (its ``parameters`` cell)."""
    profiles = settings_module(chapter).PROFILES
    return sorted(set(COMMON) | {name for values in profiles.values() for name in values})


def reject_unknown_parameters(chapter: str, namespace: Mapping[str, object]) -> None:
    """Stop a notebook whose namespace holds a value that is not a parameter of ``chapter``:
    papermill only warns about ``-p stepz 8`` and runs the defaults, which would then be
    recorded as a valid run. Call it first thing after the ``parameters`` cell."""
    known = set(chapter_parameters(chapter))
    unknown = sorted(
        name for name, value in namespace.items()
        if not name.startswith("_") and name not in _IPYTHON_NAMES and name not in known
        and not isinstance(value, ModuleType) and not callable(value))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown} for the chapter {chapter!r}; "
                             f"its parameters: {sorted(known)}")
