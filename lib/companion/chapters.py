"""The book's chapters: each has a notebook and a settings module (its settings class, PROFILES, GRID)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import ModuleType

import pandas as pd

from companion.config import ChapterSettings, from_notebook

#: chapter name → module holding its PROFILES (settings instances) and GRID (the notebook is notebooks/<name>.ipynb)
CHAPTERS: dict[str, str] = {
    "data": "companion.data.settings",
    "vlae": "companion.vlae.settings",
    "splitnet": "companion.splitnet.settings",
    "vhcr": "companion.vhcr.settings",
    "ppca": "companion.ppca.settings",
}

#: chapter name → module declaring its paper's claims (``CLAIMS``) and deciding them
#: (``findings(scale, runs=None)``); the data chapter makes no claim
EVIDENCE: dict[str, str] = {
    "vlae": "companion.vlae.evidence",
    "splitnet": "companion.splitnet.evidence",
    "vhcr": "companion.vhcr.evidence",
    "ppca": "companion.ppca.evidence",
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


def profiles_of(chapter: str) -> dict[str, ChapterSettings]:
    """The profiles of ``chapter``: profile name → its settings."""
    return settings_module(chapter).PROFILES


def parameter_table(chapter: str) -> pd.DataFrame:
    """Every parameter of ``chapter`` with its value in each profile."""
    profiles = profiles_of(chapter)
    names = [name for name in next(iter(profiles.values())).parameters() if name != "profile"]
    rows = [{"parameter": name, **{f'profile="{profile}"': format_parameter(getattr(values, name))
                                   for profile, values in profiles.items()}} for name in names]
    return pd.DataFrame(rows).set_index("parameter")


def chapter_parameters(chapter: str) -> list[str]:
    """The parameters ``chapter``'s notebook takes (its ``parameters`` cell)."""
    return sorted(next(iter(profiles_of(chapter).values())).parameters())


def chapter_settings(chapter: str, namespace: Mapping[str, object]) -> ChapterSettings:
    """The settings of ``chapter``'s notebook from the names of its ``parameters`` cell
    (:func:`companion.config.from_notebook`; an unknown name stops the notebook, naming it).
    Call it first thing after the ``parameters`` cell. It also checks that the run's record can
    be written (:func:`companion.results.check_writable`), so a read-only or full results folder
    stops the notebook before it trains, not after."""
    from companion.results import check_writable

    settings = from_notebook(profiles_of(chapter), namespace)
    check_writable()
    return settings
