"""Run records: what each run measured, with everything needed to trust and redo it.

A record is one JSON file ``<chapter>/<run_id>.json`` holding the chapter, the parameters, the
profile, the device, library versions, the git commit, wall time, date and the metrics (a list
of rows, e.g. one per model). Records are written atomically (temporary file + rename) so a
crash never leaves half a file.

Writes go to :func:`results_dir`: ``$COMPANION_RESULTS_DIR`` when set, else the scratch folder
``.scratch/results`` of the checkout, so a notebook run by hand (papermill, the book build, the
tests) never changes the evidence. The evidence store ``data/results`` is written by a sweep
(``python -m companion.reproduce``, which files each finished run's records there) or by a run
asked to (``COMPANION_RESULTS_DIR=data/results``). Chapters' tables read the committed store with
:func:`load_runs`, so a paper-scale run recorded there appears in the book after a rebuild.

A record names the commit its run *started* from (a sweep passes it to the notebook in
``$COMPANION_RUN_COMMIT``) and, when the checkout had uncommitted changes, the hash of that diff.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from companion.paths import repository_root

#: Distributions whose versions a record keeps; the library's own is installed under this
#: distinctive name (``companion`` on PyPI is an unrelated package) and imported as ``companion``.
_VERSIONED = ("torch", "numpy", "scipy", "pandas", "scikit-learn", "companion-splitnet-vhcr-vlae")


#: Environment variables through which a sweep tells a run's record where the run started.
RUN_COMMIT_VARIABLE, RUN_DIFF_VARIABLE = "COMPANION_RUN_COMMIT", "COMPANION_RUN_DIFF"


def results_dir() -> Path:
    """Folder records are written to ($COMPANION_RESULTS_DIR, else the checkout's
    .scratch/results: a run outside a sweep records to scratch unless asked)."""
    if os.environ.get("COMPANION_RESULTS_DIR"):
        return Path(os.environ["COMPANION_RESULTS_DIR"]).expanduser()
    return repository_root() / ".scratch" / "results"


def stored_results_dir() -> Path:
    """The committed store of records that the book's tables read: data/results."""
    return repository_root() / "data" / "results"


class ResultsFolderError(OSError):
    """The folder records go to cannot be written (read-only, full, or not a folder)."""


def check_writable(folder: Path | None = None,
                   instead: str = "set COMPANION_RESULTS_DIR to another folder") -> Path:
    """Make sure records can be written to ``folder`` (default :func:`results_dir`) before a run
    trains, so that no result is lost at its end: raises :class:`ResultsFolderError` naming the
    folder, the reason and what to do (``instead``: how to record elsewhere)."""
    folder = Path(folder or results_dir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
            pass
    except OSError as error:
        raise ResultsFolderError(f"records cannot be written to {folder} ({error.strerror or error}); "
                                 f"free space there, make it writable, or {instead}") from error
    return folder


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one (an
    error names the path)."""
    try:
        _atomic_write_text(path, text)
    except OSError as error:
        raise ResultsFolderError(f"could not write {path}: {error.strerror or error}") from error


def _atomic_write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes the file private; records are shared
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def library_versions() -> dict[str, str]:
    """Versions of Python and the libraries a result depends on."""
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str:
    """The checkout's commit (with "+dirty" when tracked code changed), or "unknown" outside git."""
    return checkout_state()[0]


def checkout_state() -> tuple[str, str | None]:
    """The checkout's commit (``+dirty`` when tracked files changed) and, when dirty, the
    SHA-256 of ``git diff HEAD`` (first 12 digits), so a record made from uncommitted code
    names the code it ran; ("unknown", None) outside git. The results store ``data/results``
    does not count: a sweep's own records and ledger entries are not code."""
    root = repository_root()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        diff = subprocess.run(["git", "diff", "HEAD", "--", ".", ":(exclude)data/results"],
                              cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", None
    if not diff:
        return commit, None
    return commit + "+dirty", hashlib.sha256(diff).hexdigest()[:12]


def run_key(chapter: str, params: Mapping[str, Any]) -> str:
    """A short stable hash of a chapter and its parameters (the same run → the same key)."""
    text = json.dumps({"chapter": chapter, "params": params}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


#: How many significant digits a recorded metric keeps (far above any run-to-run noise, far
#: below the 17 digits of a float's repr, whose last ones differ from one CPU to another).
SIGNIFICANT_DIGITS = 6


def significant(value: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """``value`` with every float in it (nested in mappings and lists) rounded to ``digits``
    significant digits; other values unchanged."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, Mapping):
        return {key: significant(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [significant(item, digits) for item in value]
    return value


def record_run(
    chapter: str,
    params: Mapping[str, Any],
    metrics: Sequence[Mapping[str, Any]] | Mapping[str, Any],
    *,
    wall_time_s: float,
    device: str,
    directory: Path | None = None,
) -> Path:
    """Write one run's record and return its path.

    ``metrics`` is one row (a mapping) or several (e.g. one per model); ``params`` are the
    chapter's resolved parameters, ``profile`` among them.
    """
    rows = [dict(metrics)] if isinstance(metrics, Mapping) else [dict(row) for row in metrics]
    rows = [significant(row) for row in rows]
    now = datetime.now(timezone.utc)
    key = run_key(chapter, params)
    commit, diff = checkout_state()
    if os.environ.get(RUN_COMMIT_VARIABLE):  # a sweep: the commit the run started from
        commit, diff = os.environ[RUN_COMMIT_VARIABLE], os.environ.get(RUN_DIFF_VARIABLE) or None
    record = {
        "chapter": chapter,
        "run_id": f"{now:%Y%m%dT%H%M%S%fZ}-{key}",
        "key": key,
        "params": dict(params),
        "profile": params.get("profile"),
        "device": device,
        "versions": library_versions(),
        "commit": commit,
        **({"diff": diff} if diff else {}),
        "wall_time_s": round(float(wall_time_s), 3),
        "date": now.isoformat(timespec="seconds"),
        "metrics": rows,
    }
    folder = (directory or results_dir()) / chapter
    path = folder / f"{record['run_id']}.json"
    atomic_write_text(path, json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
    return path


def load_records(chapter: str | None = None, directory: Path | None = None) -> list[dict[str, Any]]:
    """All records of ``chapter`` (or of every chapter), oldest first."""
    root = directory or stored_results_dir()
    pattern = f"{chapter}/*.json" if chapter else "*/*.json"
    records = []
    for path in sorted(root.glob(pattern)):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except json.JSONDecodeError as error:
            raise ValueError(f"results record {path} is not valid JSON: {error}") from error
    return sorted(records, key=lambda record: record["run_id"])


def unique_records(records: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``records`` with one record per run key (the newest): a run made again never counts
    twice. Records are ordered oldest first."""
    newest: dict[str, Mapping[str, Any]] = {}
    for record in sorted(records, key=lambda record: record["run_id"]):
        key = record.get("key") or run_key(record["chapter"], record["params"])
        newest.pop(key, None)
        newest[key] = record
    return sorted(newest.values(), key=lambda record: record["run_id"])


def load_runs(chapter: str, directory: Path | None = None, *, profile: str | None = None,
              keys: Collection[str] | None = None) -> pd.DataFrame:
    """One row per metrics row of every recorded run of ``chapter``, with its parameters.

    A run recorded twice (same parameters) counts once, its newest record; ``profile`` keeps
    only that profile's runs, so CPU-default, ``cpu-long`` and paper-scale evidence stay apart;
    ``keys`` only the records with those parameter keys (e.g. a sweep's planned runs,
    :func:`companion.reproduce.plan.planned_keys`, leaving out records of earlier settings).
    Columns: run_id, profile, device, date, commit, wall_time_s, every parameter (prefixed
    ``param_``) and every metric. Empty (with those bookkeeping columns) when nothing is recorded.
    """
    rows = []
    records = unique_records(load_records(chapter, directory))
    for record in records:
        if profile is not None and record["profile"] != profile:
            continue
        if keys is not None and record["key"] not in keys:
            continue
        base = {
            "run_id": record["run_id"],
            "profile": record["profile"],
            "device": record["device"],
            "date": record["date"],
            "commit": record["commit"],
            "wall_time_s": record["wall_time_s"],
        }
        base.update({f"param_{name}": value for name, value in record["params"].items()})
        for metric_row in record["metrics"]:
            rows.append({**base, **metric_row})
    columns = ["run_id", "profile", "device", "date", "commit", "wall_time_s"]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=columns)


def with_this_run(chapter: str, runs: pd.DataFrame, params: Mapping[str, Any],
                  rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``runs`` (from :func:`load_runs`) plus this run's ``rows``, unless a recorded run already
    has the same parameters: what a chapter's tables show, recorded or not."""
    key = run_key(chapter, params)
    if "run_id" in runs and runs["run_id"].astype(str).str.endswith(key).any():
        return runs
    this = pd.DataFrame([{"run_id": f"this-run-{key}", "profile": params["profile"],
                          **{f"param_{name}": value for name, value in params.items()}, **row}
                         for row in rows])
    return pd.concat([runs, this], ignore_index=True) if len(runs) else this


class Stopwatch:
    """Wall time of a block: ``with Stopwatch() as clock: ...; clock.seconds``."""

    def __enter__(self) -> "Stopwatch":
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
