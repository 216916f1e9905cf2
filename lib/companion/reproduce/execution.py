"""One run, start to finish: execute the notebook with papermill and file its outputs.

:func:`execute_run` is what a local worker process or a Slurm job calls. The notebook writes
into a staging folder (its results records go there through ``$COMPANION_RESULTS_DIR``); only
when it has finished are the records and the executed notebook moved into the results folder
and the ledger entry set to ``done``. A run stopped half-way therefore leaves no record behind,
and a finished one is never lost: when the results folder cannot take its outputs (read-only,
full) they stay in the staging folder and the entry, ``unfiled``, says where to move them.
Errors are caught and filed in the ledger with the cell's exception; only an interruption
(Ctrl-C, a signal) propagates.

The chapters checkpoint every model they train under ``$COMPANION_CHECKPOINT_DIR``, which
points at the run's folder of checkpoints (kept across attempts, one per code version, removed
when the run is done): a run killed at a time limit and tried again resumes where it stopped.

When ``$COMPANION_STEP_COST_DIR`` is set (a rehearsal sets it), each run's training calls also
append what their steps cost to ``<that folder>/<chapter>-<key>.jsonl``
(:mod:`companion.step_cost`).
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import time
import traceback
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

from companion.reproduce.ledger import Ledger, move_instructions
from companion.reproduce.plan import Run
from companion.results import RUN_COMMIT_VARIABLE, RUN_DIFF_VARIABLE, checkout_state
from companion.step_cost import STEP_COST_FILE_VARIABLE
from companion.training import CHECKPOINT_DIR_VARIABLE

#: environment variable naming the folder where each run's step costs go (a rehearsal's)
STEP_COST_DIR_VARIABLE = "COMPANION_STEP_COST_DIR"

#: Lines of a failed run's traceback (or kernel log) kept in its ledger entry.
_TAIL = 40


def now() -> str:
    """The current UTC time in ISO format, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables (read by the notebook's kernel) for the block, then restore."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Send this process's standard error (inherited by the kernel) to ``path``."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(path, "ab") as log:
        os.dup2(log.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def slurm_job_id() -> str | None:
    """The Slurm job running this process, as squeue names it (``123`` or ``123_4``), if any."""
    if os.environ.get("SLURM_ARRAY_JOB_ID"):
        return f"{os.environ['SLURM_ARRAY_JOB_ID']}_{os.environ['SLURM_ARRAY_TASK_ID']}"
    return os.environ.get("SLURM_JOB_ID")


def describe_error(error: BaseException) -> tuple[str, str]:
    """A one-line summary of a run's error and its traceback's last lines."""
    import papermill

    if isinstance(error, papermill.PapermillExecutionError):
        summary = f"{error.ename}: {error.evalue} (cell {error.exec_count})"
        lines = "\n".join(error.traceback).splitlines()
    else:
        summary = f"{type(error).__name__}: {error}"
        lines = traceback.format_exception(error)
        lines = "".join(lines).splitlines()
    return summary.strip(), "\n".join(lines[-_TAIL:])


def _interrupted(error: BaseException) -> bool:
    """Whether ``error`` means the run was stopped rather than broken."""
    import papermill

    if isinstance(error, (KeyboardInterrupt, SystemExit)):
        return True
    return isinstance(error, papermill.PapermillExecutionError) and error.ename == "KeyboardInterrupt"


def _move(source: Path, target: Path) -> None:
    """Move ``source`` to ``target``; on failure leave no partial new ``target`` behind and
    raise an OSError whose filename is ``target``."""
    existed = target.exists()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source, target)
    except OSError as error:
        if source.exists() and not existed:
            with suppress(OSError):
                target.unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror or str(error), str(target)) from error


def _unfiled(run: Run, ledger: Ledger, error: OSError, filed: list[str], **fields: Any) -> dict[str, Any]:
    """The entry of a finished run whose outputs the results folder could not take (``filed``:
    the records it took): the others stay in the run's staging folder, and the error (one line)
    names them, where they go and what to do. The entry lists every output where it belongs, so
    once they are moved there the run is complete."""
    staged = ledger.staged_records(run)
    kept = [*staged, (ledger.staging_dir(run) / "executed.ipynb", ledger.notebook_path(run))]
    message = (f"{run.chapter} {run.label} finished, but {error.filename} cannot be written "
               f"({error.strerror}); what it made is kept: free space in {ledger.results_dir} or make it "
               f"writable, then {move_instructions(kept)} and run the sweep again")
    records = filed + [str(target.relative_to(ledger.results_dir)) for _, target in staged]
    fields = {**fields, "status": "unfiled", "error": message, "records": records,
              "notebook": str(ledger.notebook_path(run).relative_to(ledger.results_dir))}
    try:
        return ledger.write(run, **fields)
    except OSError:  # the ledger lives in the same folder
        return {"chapter": run.chapter, "key": run.key, "parameters": run.parameters, "label": run.label,
                "code_version": run.code_version, **fields}


def step_cost_file(run: Run, folder: Path | str) -> Path:
    """Where ``run``'s training calls append their step costs in a rehearsal's ``folder``."""
    return Path(folder) / f"{run.chapter}-{run.key}.jsonl"


def _measurement(run: Run) -> dict[str, str]:
    """The kernel's step-cost file when this process measures steps (else nothing); a file
    left by an earlier attempt is removed, so the file holds this attempt's calls only."""
    folder = os.environ.get(STEP_COST_DIR_VARIABLE)
    if not folder:
        return {}
    path = step_cost_file(run, folder)
    path.unlink(missing_ok=True)
    return {STEP_COST_FILE_VARIABLE: str(path)}


def execute_run(run: Run, results_dir: str, attempt: int = 1, executor: str = "local") -> dict[str, Any]:
    """Execute ``run``'s notebook, file its outputs under ``results_dir`` and return its entry."""
    import papermill

    ledger = Ledger(Path(results_dir))
    staging = ledger.staging_dir(run)
    shutil.rmtree(staging, ignore_errors=True)
    (staging / "results").mkdir(parents=True)
    executed = staging / "executed.ipynb"
    commit, diff = checkout_state()
    identity = {"attempt": attempt, "executor": executor, "host": socket.gethostname(),
                "job_id": slurm_job_id(), "commit": commit, "started": now()}
    ledger.write(run, status="running", **identity)
    start = time.perf_counter()
    try:
        with _environment(COMPANION_RESULTS_DIR=str(staging / "results"),
                          **{CHECKPOINT_DIR_VARIABLE: str(ledger.checkpoint_dir(run)),
                             RUN_COMMIT_VARIABLE: commit, RUN_DIFF_VARIABLE: diff or "",
                             **_measurement(run)}), \
                _stderr_to(staging / "kernel.log"):
            papermill.execute_notebook(
                run.notebook, str(executed), parameters=run.parameters,
                cwd=str(Path(run.notebook).parent), progress_bar=False, log_output=False,
            )
    except BaseException as error:  # filed in the ledger; interruptions propagate
        summary, trace = describe_error(error)
        kernel_log = (staging / "kernel.log").read_text(errors="replace").splitlines()[-_TAIL:]
        failed_notebook = None
        if executed.exists():
            target = ledger.notebook_path(run, failed=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(executed, target)
            failed_notebook = str(target.relative_to(ledger.results_dir))
        entry = ledger.write(
            run, status="interrupted" if _interrupted(error) else "failed", error=summary,
            traceback=trace, kernel_log="\n".join(kernel_log), notebook=failed_notebook,
            wall_time_s=round(time.perf_counter() - start, 1), finished=now(), **identity)
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, (KeyboardInterrupt, SystemExit)):
            raise  # Ctrl-C, or submitit leaving a job it has requeued at its time limit
        return entry
    records = []
    notebook = ledger.notebook_path(run)
    try:
        for record, target in ledger.staged_records(run):
            _move(record, target)
            records.append(str(target.relative_to(ledger.results_dir)))
        _move(executed, notebook)
    except OSError as error:
        return _unfiled(run, ledger, error, records, wall_time_s=round(time.perf_counter() - start, 1),
                        finished=now(), **identity)
    shutil.rmtree(ledger.checkpoint_dir(run), ignore_errors=True)
    entry = ledger.write(
        run, status="done", records=records, notebook=str(notebook.relative_to(ledger.results_dir)),
        wall_time_s=round(time.perf_counter() - start, 1), finished=now(), **identity)
    shutil.rmtree(staging, ignore_errors=True)
    return entry
