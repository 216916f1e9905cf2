"""The plan of a sweep: each chapter's grid expanded into runs, and the table that shows it.

A chapter declares ``GRID = {profile: {parameter: [values, ...]}}`` next to its ``PROFILES``
(or, for a profile whose runs are not one product, a list of such grids: their union, e.g. the
Gaussian data sets plus the Bernoulli one). A sweep takes the grid of one profile, adds a ``seed`` axis (``--seeds``, else the grid's own
``seed`` values, else seed 0), keeps the runs ``--only`` selects and makes one :class:`Run` per
point of the Cartesian product: one papermill execution of the chapter's notebook.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

import companion
from companion.paths import repository_root
from companion.results import run_key

#: Library folders left out of the code version (this package only schedules runs).
_NOT_CODE = ("reproduce",)


@dataclass(frozen=True)
class ChapterSpec:
    """What a sweep needs to know about a chapter: its notebook, grid and parameter check.

    ``uses_gpu`` is False for a chapter that trains nothing (a Slurm sweep asks no GPU for it).

    ``library`` is the folder of Python sources that, with the notebook's code cells, make up
    the code version of its runs (default: the whole ``companion`` package).
    """

    name: str
    notebook: Path
    grid: Mapping[str, Mapping[str, Sequence[Any]]]
    settings: Callable[..., dict[str, Any]] | None = None
    library: Path | None = None
    uses_gpu: bool = True


@dataclass(frozen=True)
class Run:
    """One papermill execution of a chapter notebook with fixed parameters."""

    chapter: str
    notebook: str
    parameters: dict[str, Any] = field(hash=False)
    code_version: str
    axes: tuple[str, ...] = ()
    record_key: str = ""
    uses_gpu: bool = True

    @property
    def key(self) -> str:
        """Stable hash of the chapter and its parameters (the same run → the same key)."""
        return run_key(self.chapter, self.parameters)

    @property
    def label(self) -> str:
        """The grid values of the run, e.g. ``dataset=digits seed=0``."""
        return " ".join(f"{name}={self.parameters[name]}" for name in self.axes)


def registered_chapters(root: Path | None = None) -> tuple[dict[str, ChapterSpec], dict[str, str]]:
    """Chapters of :data:`companion.chapters.CHAPTERS` a sweep can run, and why others cannot.

    Returns ``(specs, missing)``: ``missing`` maps a chapter to the reason it is left out (no
    settings module yet, no ``GRID``, or no notebook).
    """
    # Imported here, not at the top: chapters import torch, which workers need not load.
    from companion.chapters import CHAPTERS, available_chapters, settings_module

    root = root or repository_root()
    present = set(available_chapters())
    specs, missing = {}, {}
    for name in CHAPTERS:
        notebook = root / "notebooks" / f"{name}.ipynb"
        if name not in present:
            missing[name] = f"no module {CHAPTERS[name]}"
            continue
        module = settings_module(name)
        if not hasattr(module, "GRID"):
            missing[name] = f"{CHAPTERS[name]} has no GRID"
        elif not notebook.exists():
            missing[name] = f"no notebook {notebook.relative_to(root)}"
        else:
            specs[name] = ChapterSpec(name, notebook, module.GRID, partial(recorded_settings, module.PROFILES),
                                      uses_gpu=getattr(module, "USES_GPU", True))
    return specs, missing


def recorded_settings(profiles: Mapping[str, Any], **given: Any) -> dict[str, Any]:
    """The parameters a run with ``given`` records (its settings' ``record()``)."""
    from companion.config import resolve

    return resolve(profiles, **given).record()


def code_version(notebook: Path, library: Path | None = None) -> str:
    """Hash of the code a run executes: the library's sources and the notebook's code cells.

    ``library`` defaults to the ``companion`` package. Outputs and prose of the notebook, and
    this scheduling package, do not count, so re-executing a notebook or editing its text
    keeps finished runs valid.
    """
    digest = hashlib.sha256()
    package = Path(library or Path(companion.__file__).parent).resolve()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] in _NOT_CODE:
            continue
        digest.update(str(relative).encode() + b"\0" + path.read_bytes() + b"\0")
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            source = cell["source"]
            digest.update(("".join(source) if isinstance(source, list) else source).encode() + b"\0")
    return digest.hexdigest()[:12]


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"0,1,2"``, ``"0-4"`` (inclusive) or a mix such as ``"0-2,7"``."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        first, dash, last = part.partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError(f"--seeds {text!r}: give non-negative integers such as 0,1,2 or 0-4")
        span = range(int(first), int(last if dash else first) + 1)
        if not span:
            raise ValueError(f"--seeds {text!r}: the range {part} is empty")
        seeds.extend(s for s in span if s not in seeds)
    if not seeds:
        raise ValueError("--seeds is empty; give e.g. 0,1,2 or 0-4")
    return seeds


def parse_assignments(items: Iterable[str], option: str) -> dict[str, list[str]]:
    """``["dataset=digits,mnist5k", "seed=0"]`` → ``{"dataset": ["digits", "mnist5k"], ...}``."""
    parsed: dict[str, list[str]] = {}
    for item in items:
        name, equals, values = item.partition("=")
        if not equals or not name.strip() or not values.strip():
            raise ValueError(f"{option} {item!r}: write KEY=VALUE (several values: KEY=V1,V2)")
        parsed.setdefault(name.strip(), []).extend(v.strip() for v in values.split(",") if v.strip())
    return parsed


def matches(value: Any, text: str) -> bool:
    """Whether a grid ``value`` is the one written as ``text`` on the command line."""
    if str(value) == text:
        return True
    try:
        return json.loads(text) == value
    except json.JSONDecodeError:
        return False


def expand(
    spec: ChapterSpec,
    profile: str,
    *,
    seeds: Sequence[int] | None = None,
    only: Mapping[str, Sequence[str]] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> list[Run]:
    """The runs of ``spec``'s grid for ``profile``.

    ``seeds`` replaces the grid's seed axis; ``only`` keeps the runs whose parameter takes one
    of the given values (a chapter whose grid lacks that parameter gives no runs); ``fixed``
    adds parameters given to every run (``device``, ``data_dir``). Every run's parameters are
    checked with the chapter's ``settings`` before anything runs.
    """
    if profile not in spec.grid:
        raise ValueError(f"chapter {spec.name!r} has no grid for profile {profile!r}; "
                         f"valid values: {sorted(spec.grid)}")
    grids = subgrids(spec.grid[profile])
    for name, wanted in (only or {}).items():
        values = [value for grid in grids for value in grid.get(name, [])]
        if values and not any(matches(value, text) for value in values for text in wanted):
            raise ValueError(f"--only {name}={','.join(wanted)}: chapter {spec.name!r} has no such "
                             f"value in its {profile!r} grid; valid values: {values}")
    runs: dict[str, Run] = {}
    for grid in grids:
        for run in _expand_grid(spec, profile, grid, seeds=seeds, only=only, fixed=fixed):
            runs.setdefault(run.key, run)
    return list(runs.values())


def subgrids(grid: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Sequence[Any]]]
             ) -> list[Mapping[str, Sequence[Any]]]:
    """A profile's grid as a list of product grids (one, unless the chapter gives several)."""
    return [grid] if isinstance(grid, Mapping) else list(grid)


def _expand_grid(spec: ChapterSpec, profile: str, grid: Mapping[str, Sequence[Any]], *,
                 seeds: Sequence[int] | None, only: Mapping[str, Sequence[str]] | None,
                 fixed: Mapping[str, Any] | None) -> list[Run]:
    """The runs of one product grid (see :func:`expand`)."""
    axes = {name: list(values) for name, values in grid.items()}
    if seeds is not None:
        axes["seed"] = list(seeds)
    axes.setdefault("seed", [0])
    axes["seed"] = axes.pop("seed")
    for name, wanted in (only or {}).items():
        if name not in axes:
            return []
        axes[name] = [value for value in axes[name] if any(matches(value, text) for text in wanted)]
    notebook = Path(spec.notebook).resolve()
    version = code_version(notebook, spec.library)
    fixed = dict(fixed or {})
    runs: dict[str, Run] = {}
    for point in itertools.product(*axes.values()):
        parameters = {"profile": profile, **dict(zip(axes, point)), **fixed}
        record_key = ""
        if spec.settings is not None:
            checked = {k: v for k, v in parameters.items() if k != "device"}
            try:
                resolved = spec.settings(**checked)
            except ValueError as error:  # ParameterError, or any value the chapter refuses
                raise ValueError(f"chapter {spec.name!r}, run {parameters}: {error}") from error
            # the key the notebook's record will carry: its resolved parameters (the device
            # as given, since CUDA may be missing where the sweep is planned)
            record_key = run_key(spec.name, {**resolved, "device": parameters.get("device", "auto")})
        run = Run(spec.name, str(notebook), parameters, version, tuple(axes), record_key,
                  spec.uses_gpu)
        runs.setdefault(run.key, run)  # a value listed twice in the grid runs once
    return list(runs.values())


def estimated_seconds(run: Run, records: Sequence[Mapping[str, Any]]) -> float | None:
    """How long ``run`` will take, from the wall times recorded with runs of its chapter and
    profile: its own record's if there is one, else the median of the others, scaled by the
    run's ``epochs`` over theirs when the chapter has that parameter; None without records."""
    alike = [record for record in records if record.get("chapter") == run.chapter
             and record.get("profile") == run.parameters.get("profile")
             and record.get("wall_time_s")]
    own = [record["wall_time_s"] for record in alike if record.get("key") == run.record_key]
    if own:
        return float(own[-1])
    if not alike:
        return None
    epochs = run.parameters.get("epochs") or _resolved_epochs(alike)
    per_run = [record["wall_time_s"] * (epochs / record["params"]["epochs"])
               if epochs and record["params"].get("epochs") else record["wall_time_s"]
               for record in alike]
    return float(pd.Series(per_run).median())


def _resolved_epochs(records: Sequence[Mapping[str, Any]]) -> int | None:
    values = {record["params"].get("epochs") for record in records}
    return values.pop() if len(values) == 1 else None


def format_duration(seconds: float | None) -> str:
    """``seconds`` as a reader would write a Slurm time limit: "45 s", "12 min", "3.5 h"."""
    if seconds is None:
        return "no record yet"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def plan_table(runs: Sequence[Run], states: Sequence[str],
               records: Sequence[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """The dry-run table: one row per run with its grid values, what a sweep would do and how
    long it is expected to take (from the recorded runs of its chapter and profile)."""
    rows = [{"chapter": run.chapter, "key": run.key, "parameters": run.label, "state": state,
             "estimate": format_duration(estimated_seconds(run, records))}
            for run, state in zip(runs, states)]
    return pd.DataFrame(rows, columns=["chapter", "key", "parameters", "state", "estimate"])


def planned_runs(chapter: str, profile: str) -> list[Run]:
    """The runs of ``chapter``'s ``profile`` grid."""
    specs, missing = registered_chapters()
    if chapter not in specs:
        raise ValueError(f"chapter {chapter!r} cannot be planned: {missing.get(chapter, 'unknown')}")
    return expand(specs[chapter], profile)


def planned_keys(chapter: str, profile: str) -> set[str]:
    """The record keys of ``chapter``'s ``profile`` grid: the parameters of every planned run."""
    return {run.record_key for run in planned_runs(chapter, profile)}


def planned_records(chapter: str, profile: str) -> pd.DataFrame:
    """The committed records of ``chapter``'s ``profile`` grid (:func:`companion.results.load_runs`
    rows): only runs whose settings equal a planned run's in every field, so a run made by hand
    with other settings, wherever it was recorded, never joins the evidence."""
    from companion.results import load_runs

    return load_runs(chapter, profile=profile, keys=planned_keys(chapter, profile))


def coverage(chapter: str, profile: str, directory: Path | None = None) -> pd.DataFrame:
    """Which runs of ``chapter``'s ``profile`` grid are recorded: one row per planned run (its
    grid values, whether a record with its parameters exists, that record's wall time, NaN
    when none, and the commit that made it), so a chapter can say how much of its evidence has
    landed, what it cost, from which code, and a sweep stopped half-way shows as such."""
    from companion.results import load_records, unique_records

    records = {record["key"]: record for record in unique_records(load_records(chapter, directory))}
    runs = planned_runs(chapter, profile)
    found = [records.get(run.record_key) for run in runs]
    return pd.DataFrame({"run": [run.label for run in runs],
                         "recorded": [record is not None for record in found],
                         "wall_time_s": [float(record["wall_time_s"]) if record else float("nan")
                                         for record in found],
                         "commit": [record["commit"] if record else "" for record in found]})


def coverage_sentence(planned: pd.DataFrame, profile: str) -> str:
    """How many planned runs (rows of :func:`coverage`) have a record, which are missing, the
    wall time the recorded ones report, and the commits that made them (flagging records made
    from uncommitted code). A run resumed from its checkpoints reports only its last stretch, so
    the total is a lower bound."""
    done = planned[planned["recorded"]]
    sentence = f"{len(done)} of the {len(planned)} planned {profile} runs are recorded"
    missing = planned.loc[~planned["recorded"], "run"].tolist()
    sentence += f" (not yet: {', '.join(missing)})" if missing else ""
    if done.empty:
        return sentence + "."
    minutes = done["wall_time_s"] / 60
    commits = list(dict.fromkeys(done["commit"]))
    dirty = int(done["commit"].str.endswith("+dirty").sum())
    shown = ", ".join(commit[:8] + (" (dirty)" if commit.endswith("+dirty") else "") for commit in commits)
    made = (f"made at one commit, {shown}" if len(commits) == 1 else
            f"made at {len(commits)} different commits ({shown})")
    if dirty:
        made += f"; {dirty} of the {len(done)} from uncommitted code (dirty)"
    return (sentence + f"; wall time per run {minutes.min():.0f}–{minutes.max():.0f} min, "
            f"{format_duration(float(done['wall_time_s'].sum()))} in all (a run resumed from its "
            f"checkpoints reports only its last stretch); {made}.")
