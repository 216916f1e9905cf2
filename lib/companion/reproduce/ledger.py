"""The ledger: one JSON file per run saying what became of it, so sweeps can resume.

Entries live in ``<results>/_reproduce/ledger/<chapter>/<key>.json`` (three levels down, so
:func:`companion.results.load_records` never mistakes them for run records) and are written
atomically by whichever process runs the run: a worker on this machine or a Slurm job. A run
is *complete* when its entry says ``done`` (or ``unfiled``, once its outputs were moved where the
entry says), names the same code version, and its executed notebook and records are all still
there; such runs are skipped.

Statuses: ``submitted`` (queued on Slurm), ``running``, ``done``, ``failed`` (with the error),
``interrupted`` (stopped by Ctrl-C or a signal), ``unfiled`` (finished, but the results folder
could not take its outputs: they stay in its staging folder, and the error says where to move
them; a sweep refuses to run it again while they are there).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from companion.reproduce.plan import Run
from companion.results import atomic_write_text, check_writable

FOLDER = "_reproduce"


class SweepRunning(RuntimeError):
    """Another sweep holds the results folder."""


def move_instructions(moves: Sequence[tuple[Path, Path]]) -> str:
    """How to file outputs by hand: "move A to B, C to D"."""
    return "move " + ", ".join(f"{source} to {target}" for source, target in moves)


class Ledger:
    """The state of every run of the sweeps that write to one results folder."""

    def __init__(self, results_dir: Path) -> None:
        self.results_dir = Path(results_dir)
        self.root = self.results_dir / FOLDER

    def entry_path(self, run: Run) -> Path:
        """The JSON file holding ``run``'s entry."""
        return self.root / "ledger" / run.chapter / f"{run.key}.json"

    def staging_dir(self, run: Run) -> Path:
        """Scratch folder where ``run`` writes until it has finished."""
        return self.root / "staging" / f"{run.chapter}-{run.key}"

    def staged_records(self, run: Run) -> list[tuple[Path, Path]]:
        """The records in ``run``'s staging folder, each with the path it is filed at (the same
        path under the results folder)."""
        staged = self.staging_dir(run) / "results"
        return [(record, self.results_dir / record.relative_to(staged))
                for record in sorted(staged.rglob("*.json"))]

    def unfiled_outputs(self, run: Run) -> list[tuple[Path, Path]]:
        """What ``run`` left in its staging folder when the results folder could not take it (its
        records, and the executed notebook of an ``unfiled`` run), each with where it belongs."""
        moves = self.staged_records(run)
        executed = self.staging_dir(run) / "executed.ipynb"
        if executed.exists() and (moves or (self.read(run) or {}).get("status") == "unfiled"):
            moves.append((executed, self.notebook_path(run)))
        return moves

    def check_writable(self, chapters: Iterable[str]) -> None:
        """Raise :class:`~companion.results.ResultsFolderError`, naming the folder, when the
        records, notebooks or ledger entries of ``chapters`` could not be written: a sweep checks
        it before it runs anything."""
        instead = "give --results-dir another folder"
        check_writable(self.results_dir, instead)
        folders = [self.root, self.root / "ledger", self.root / "staging", self.root / "checkpoints"]
        for chapter in chapters:
            folders += [self.root / "ledger" / chapter, self.results_dir / chapter,
                        self.results_dir / chapter / "notebooks"]
        for folder in folders:
            if folder.exists() or folder.is_symlink():
                check_writable(folder, instead)

    def notebook_path(self, run: Run, *, failed: bool = False) -> Path:
        """Where ``run``'s executed notebook is kept (failed runs apart from finished ones)."""
        if failed:
            return self.root / "failed" / run.chapter / f"{run.key}.ipynb"
        return self.results_dir / run.chapter / "notebooks" / f"{run.key}.ipynb"

    def checkpoint_dir(self, run: Run) -> Path:
        """Where ``run``'s models keep their checkpoints until it is done (kept across its
        attempts; a new code version starts afresh)."""
        return self.root / "checkpoints" / f"{run.chapter}-{run.key}-{run.code_version}"

    @contextmanager
    def sweep_lock(self) -> Iterator[None]:
        """Hold the results folder for one sweep: a second sweep on the same folder stops at
        once (:class:`SweepRunning`, naming the holder's process) instead of running the same
        runs again. The lock is the operating system's (``flock``), released when the sweep
        ends, however it ends."""
        path = self.root / "sweep.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+", encoding="utf-8") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as error:
                handle.seek(0)
                holder = handle.read().strip() or "unknown"
                raise SweepRunning(f"another sweep (process {holder}) is running on {self.results_dir}; "
                                   "wait for it, or give this one another --results-dir") from error
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def slurm_dir(self) -> Path:
        """Folder of submitit's job scripts, pickles and logs."""
        return self.root / "slurm"

    def read(self, run: Run) -> dict[str, Any] | None:
        """``run``'s entry, or None when it never started (or its file is damaged)."""
        path = self.entry_path(run)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except json.JSONDecodeError:
            return None

    def write(self, run: Run, **fields: Any) -> dict[str, Any]:
        """Replace ``run``'s entry by its identity plus ``fields``; return the entry."""
        entry = {"chapter": run.chapter, "key": run.key, "parameters": run.parameters,
                 "label": run.label, "code_version": run.code_version, **fields}
        text = json.dumps(entry, indent=1, sort_keys=True, default=str) + "\n"
        atomic_write_text(self.entry_path(run), text)
        return entry

    def is_complete(self, run: Run) -> bool:
        """Whether ``run`` finished with this code version and its outputs are all present."""
        entry = self.read(run)
        if not entry or entry.get("status") not in ("done", "unfiled") \
                or entry.get("code_version") != run.code_version:
            return False
        outputs = [entry.get("notebook"), *entry.get("records", [])]
        return all(path and (self.results_dir / path).exists() for path in outputs)

    def recorded(self, run: Run) -> bool:
        """Whether a record of ``run`` (same chapter and resolved parameters) is in the results
        folder, e.g. committed to data/results by an earlier sweep: the book already shows it."""
        if not run.record_key:
            return False
        for path in (self.results_dir / run.chapter).glob(f"*-{run.record_key}.json"):
            try:
                if json.loads(path.read_text(encoding="utf-8")).get("key") == run.record_key:
                    return True
            except json.JSONDecodeError:
                continue
        return False

    def is_done(self, run: Run) -> bool:
        """Whether a sweep skips ``run``: complete in the ledger, or recorded."""
        return self.is_complete(run) or self.recorded(run)

    def state(self, run: Run) -> str:
        """What a sweep will do with ``run``, in words (the dry-run table's column)."""
        entry = self.read(run)
        if self.is_complete(run):
            return "done: skip"
        if self.recorded(run):
            return "recorded: skip"
        if entry is None:
            return "to run"
        if entry.get("status") == "done" and entry.get("code_version") != run.code_version:
            return "done with other code: rerun"
        if entry.get("status") == "done":
            return "outputs missing: rerun"
        if entry.get("status") == "failed":
            return f"failed before ({entry.get('error', '')[:60]}): retry"
        if entry.get("status") == "unfiled":
            return "finished, outputs not filed: move them as its ledger entry says"
        if entry.get("status") in ("submitted", "running") and entry.get("executor") == "slurm":
            return f"{entry['status']} in Slurm job {entry.get('job_id')}: follow if queued, else rerun"
        return f"{entry.get('status')} before: rerun"
