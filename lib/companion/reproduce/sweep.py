"""A sweep: skip finished runs, execute the others with retries, and summarise what happened."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

import pandas as pd
from tqdm import tqdm

from companion.reproduce.executors import Executor, Task
from companion.reproduce.ledger import Ledger, move_instructions
from companion.reproduce.plan import Run
from companion.results import ResultsFolderError

#: Columns of the summary table.
COLUMNS = ["chapter", "parameters", "key", "status", "attempts", "wall_time_s", "error"]


def _row(run: Run, status: str, attempts: int = 0, entry: dict[str, Any] | None = None) -> dict:
    entry = entry or {}
    return {"chapter": run.chapter, "parameters": run.label, "key": run.key, "status": status,
            "attempts": attempts, "wall_time_s": entry.get("wall_time_s"),
            "error": entry.get("error", "") if status != "done" else ""}


def sweep(
    runs: Sequence[Run],
    executor: Executor,
    ledger: Ledger,
    *,
    retries: int = 1,
    force: bool = False,
    progress: bool = True,
    stream: TextIO = sys.stderr,
) -> pd.DataFrame:
    """Execute the runs that have no complete result; return the summary table.

    A failed run is submitted again up to ``retries`` times; a run an earlier sweep left in the
    Slurm queue with the same code is followed rather than submitted again. On Ctrl-C (or SIGTERM turned into
    KeyboardInterrupt by the caller) local workers are stopped, runs queued on Slurm keep
    going, and the summary marks the unfinished runs ``interrupted`` (``still queued`` on
    Slurm); their ledger entries let the next sweep pick them up.

    A finished run whose outputs the results folder cannot take (read-only, full) stops the
    sweep: the executor is stopped and :class:`~companion.results.ResultsFolderError` says where
    the outputs were kept and where to move them. Until they are moved (or deleted), a later
    sweep refuses to run that run again, which would write over them.
    """
    rows: dict[str, dict] = {}
    todo: list[Run] = []
    for run in runs:
        if not force and ledger.is_done(run):
            rows[run.key] = _row(run, "skipped", 0, ledger.read(run))
        else:
            todo.append(run)
            rows[run.key] = _row(run, "not started")
    bar = tqdm(total=len(todo), unit="run", desc="reproduce", file=stream, disable=not progress,
               dynamic_ncols=True)
    failures = 0
    try:
        fresh = []
        for run in todo:
            entry = ledger.read(run)
            if entry and entry.get("code_version") == run.code_version \
                    and executor.adopt(Task(run), entry):
                bar.write(f"following {run.chapter} {run.label}: still in Slurm job {entry['job_id']}",
                          file=stream)
            else:
                fresh.append(Task(run))
        unfiled = [move for task in fresh for move in ledger.unfiled_outputs(task.run)]
        if unfiled:
            raise ResultsFolderError(
                f"outputs of earlier runs were never filed into {ledger.results_dir} (it could not take "
                f"them, or the run was killed): {move_instructions(unfiled)}, or delete them to run those "
                "runs again, then run the sweep again")
        executor.submit(fresh)
        while executor.active():
            for task, entry in executor.wait(timeout=1.0):
                run = task.run
                status = entry.get("status", "failed")
                if status == "failed" and task.attempt <= retries:
                    bar.write(f"failed {run.chapter} {run.label} (attempt {task.attempt}): "
                              f"{entry.get('error')}; retrying", file=stream)
                    executor.submit([Task(run, task.attempt + 1)])
                    continue
                rows[run.key] = _row(run, status, task.attempt, entry)
                if status == "unfiled":
                    executor.stop()
                    raise ResultsFolderError(entry.get("error"))
                if status != "done":
                    failures += 1
                    bar.write(f"{status} {run.chapter} {run.label}: {entry.get('error')}", file=stream)
                bar.set_postfix(failed=failures, refresh=False)
                bar.update(1)
            bar.refresh()
    except KeyboardInterrupt:
        queued = {task.run.key for task in executor.stop()}
        for run in todo:
            if rows[run.key]["status"] != "not started":
                continue
            if run.key in queued:
                rows[run.key] = _row(run, "still queued", 0, ledger.read(run))
            elif ledger.is_complete(run):
                rows[run.key] = _row(run, "done", 1, ledger.read(run))
            else:
                entry = ledger.write(run, **{**(ledger.read(run) or {}), "status": "interrupted",
                                             "error": "the sweep was stopped before it finished"})
                rows[run.key] = _row(run, "interrupted", entry.get("attempt", 0), entry)
    finally:
        bar.close()
    return pd.DataFrame([rows[run.key] for run in runs], columns=COLUMNS)


def exit_code(summary: pd.DataFrame) -> int:
    """0 when every run is done or skipped, 130 when interrupted, 1 when some failed."""
    statuses = set(summary["status"])
    if statuses & {"interrupted", "still queued", "not started"}:
        return 130
    return 1 if statuses - {"done", "skipped"} else 0
