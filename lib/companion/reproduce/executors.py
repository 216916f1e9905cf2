"""Where runs execute: a pool of processes on this machine, or a Slurm cluster via submitit.

Both executors take :class:`Task` objects (a run and its attempt number), call
:func:`~companion.reproduce.execution.execute_run` for each, and hand back finished tasks with
their ledger entries from :meth:`Executor.wait`. Each run writes its own ledger entry where it runs, so
runs that finish after the command was stopped still count.
"""

from __future__ import annotations

import concurrent.futures as futures
import logging
import multiprocessing
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from companion.reproduce.execution import describe_error, execute_run, now
from companion.reproduce.ledger import Ledger
from companion.reproduce.plan import Run


@dataclass(frozen=True)
class Task:
    """A run's attempt (1 for the first try)."""

    run: Run
    attempt: int = 1


class Executor(Protocol):
    """What :func:`companion.reproduce.sweep.sweep` asks of an executor."""

    name: str

    def submit(self, tasks: list[Task]) -> None:
        """Start ``tasks`` (an executor may queue them)."""

    def adopt(self, task: Task, entry: dict[str, Any]) -> bool:
        """Follow a run an earlier sweep left queued or running; False if it is not alive."""

    def active(self) -> int:
        """How many tasks are submitted and not yet handed back by :meth:`wait`."""

    def wait(self, timeout: float) -> list[tuple[Task, dict[str, Any]]]:
        """Tasks finished within ``timeout`` seconds, each with its ledger entry."""

    def stop(self) -> list[Task]:
        """Stop waiting (after an interruption); return tasks that keep running elsewhere."""

    def close(self) -> None:
        """Release the executor's resources once the sweep is over."""


def _crash_entry(ledger: Ledger, task: Task, error: BaseException, executor: str) -> dict[str, Any]:
    """File in the ledger a run whose worker or job died before it could file itself."""
    summary, trace = describe_error(error)
    return ledger.write(task.run, status="failed", error=summary, traceback=trace,
                        attempt=task.attempt, executor=executor, finished=now())


class LocalExecutor:
    """Runs on this machine in ``jobs`` worker processes (each executes one notebook at a time)."""

    name = "local"

    def __init__(self, results_dir: Path, jobs: int = 1) -> None:
        if jobs < 1:
            raise ValueError(f"--jobs {jobs}: give at least 1 worker")
        self.ledger = Ledger(results_dir)
        self.pool = futures.ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn"))
        self.pending: dict[futures.Future, Task] = {}

    def submit(self, tasks: list[Task]) -> None:
        for task in tasks:
            future = self.pool.submit(execute_run, task.run, str(self.ledger.results_dir),
                                      task.attempt, self.name)
            self.pending[future] = task

    def adopt(self, task: Task, entry: dict[str, Any]) -> bool:
        return False

    def active(self) -> int:
        return len(self.pending)

    def wait(self, timeout: float) -> list[tuple[Task, dict[str, Any]]]:
        done, _ = futures.wait(list(self.pending), timeout=timeout,
                               return_when=futures.FIRST_COMPLETED)
        finished = []
        for future in done:
            task = self.pending.pop(future)
            try:
                entry = future.result()
            except Exception as error:  # the worker died: file the run as failed
                entry = _crash_entry(self.ledger, task, error, self.name)
            finished.append((task, entry))
        return finished

    def stop(self) -> list[Task]:
        # The pool has no public way to end a running task: terminate its worker processes.
        processes = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=10)
        self.pending.clear()
        return []

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def slurm_minutes(text: str) -> int:
    """Minutes in a Slurm time limit: M, M:S, H:M:S, D-H, D-H:M or D-H:M:S (seconds round up)."""
    days, dash, clock = text.strip().rpartition("-")
    fields = clock.split(":")
    if not all(f.isdigit() for f in [*fields, *([days] if dash else [])]) or len(fields) > 3:
        raise ValueError(f"--time-limit {text!r}: give minutes (90), H:MM:SS or D-HH:MM:SS")
    numbers = [int(f) for f in fields]
    if dash:  # D-H, D-H:M, D-H:M:S
        hours, minutes, seconds = (numbers + [0, 0])[:3]
        total = int(days) * 24 * 60 + hours * 60 + minutes + (seconds > 0)
    elif len(numbers) == 3:  # H:M:S
        total = numbers[0] * 60 + numbers[1] + (numbers[2] > 0)
    else:  # M or M:S
        total = numbers[0] + (len(numbers) == 2 and numbers[1] > 0)
    if total < 1:
        raise ValueError(f"--time-limit {text!r} is shorter than a minute")
    return total


class ResumableRun:
    """:func:`execute_run` as a Slurm job that submitit requeues at its time limit.

    Slurm warns the job (SIGUSR2) a little before the limit; submitit then calls
    :meth:`checkpoint` and requeues the same call, which resumes the chapter's models from
    the checkpoints they wrote under ``$COMPANION_CHECKPOINT_DIR`` (at most one epoch lost).
    """

    def __call__(self, run: Run, results_dir: str, attempt: int, executor: str) -> dict[str, Any]:
        return execute_run(run, results_dir, attempt, executor)

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        """The call to requeue: the same run again."""
        import submitit

        return submitit.helpers.DelayedSubmission(self, *args, **kwargs)


def signal_delay_seconds(time_limit_min: int) -> int:
    """How long before the time limit Slurm warns a job so it can be requeued: submitit's 90 s,
    but at most a quarter of a short limit (a one-minute limit would otherwise be warned at
    its start)."""
    return max(10, min(90, time_limit_min * 60 // 4))


@dataclass(frozen=True)
class SlurmOptions:
    """Resources asked of Slurm for each run (one array task per run)."""

    partition: str | None = None
    time_limit_min: int = 60
    gpus_per_job: int = 0
    cpus_per_job: int = 1
    mem_gb: float | None = None
    array_parallelism: int = 256
    setup: tuple[str, ...] = ()
    extra: tuple[tuple[str, str], ...] = ()
    max_requeues: int = 10


def _no_sacct_noise(record: logging.LogRecord) -> bool:
    """Drop submitit's "Bypassing sacct error" lines: a run's outcome is read from its result
    file and its ledger entry, not from sacct (clusters without accounting have no sacct)."""
    return "Bypassing sacct error" not in record.getMessage()


class SlurmExecutor:
    """Submits runs to Slurm with submitit: one array job per batch of tasks."""

    name = "slurm"

    def __init__(self, results_dir: Path, options: SlurmOptions, poll_s: float = 10.0) -> None:
        import submitit

        self.ledger = Ledger(results_dir)
        self.poll_s = poll_s
        self.folder = self.ledger.slurm_dir()
        parameters: dict[str, Any] = {
            "name": "companion-reproduce",
            "timeout_min": options.time_limit_min,
            "slurm_signal_delay_s": signal_delay_seconds(options.time_limit_min),
            "cpus_per_task": options.cpus_per_job,
            "tasks_per_node": 1,
            "nodes": 1,
            "slurm_array_parallelism": options.array_parallelism,
        }
        if options.partition:
            parameters["slurm_partition"] = options.partition
        if options.mem_gb:
            parameters["mem_gb"] = options.mem_gb
        if options.setup:
            parameters["slurm_setup"] = list(options.setup)
        if options.extra:
            parameters["slurm_additional_parameters"] = dict(options.extra)
        # runs of chapters that train nothing go in array jobs that ask for no GPU
        self.executors = {}
        for uses_gpu in (True, False):
            executor = submitit.AutoExecutor(folder=self.folder / "%j", cluster="slurm",
                                             slurm_max_num_timeout=options.max_requeues)
            gpus = {"gpus_per_node": options.gpus_per_job} if uses_gpu and options.gpus_per_job else {}
            executor.update_parameters(**parameters, **gpus)
            self.executors[uses_gpu] = executor
        self.jobs: dict[Any, Task] = {}
        logging.getLogger("submitit").addFilter(_no_sacct_noise)

    def submit(self, tasks: list[Task]) -> None:
        submitted = []
        for uses_gpu, executor in self.executors.items():
            group = [task for task in tasks if task.run.uses_gpu == uses_gpu]
            if not group:
                continue
            with executor.batch():
                submitted += [(task, executor.submit(ResumableRun(), task.run,
                                                     str(self.ledger.results_dir),
                                                     task.attempt, self.name))
                              for task in group]
        for task, job in submitted:
            self.jobs[job] = task
            entry = self.ledger.read(task.run) or {}
            if entry.get("job_id") == job.job_id:
                continue  # the job has already started and filed itself
            self.ledger.write(task.run, status="submitted", attempt=task.attempt,
                              executor=self.name, job_id=job.job_id, started=now())

    def adopt(self, task: Task, entry: dict[str, Any]) -> bool:
        import submitit

        job_id = entry.get("job_id")
        if entry.get("executor") != self.name or entry.get("status") not in ("submitted", "running") \
                or not job_id:
            return False
        queued = subprocess.run(["squeue", "-h", "-j", str(job_id), "-o", "%i"],
                                capture_output=True, text=True)
        if queued.returncode != 0 or not queued.stdout.strip():
            return False
        job = submitit.SlurmJob(folder=self.folder / "%j", job_id=str(job_id))
        self.jobs[job] = Task(task.run, int(entry.get("attempt", 1)))
        return True

    def active(self) -> int:
        return len(self.jobs)

    def wait(self, timeout: float) -> list[tuple[Task, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        while True:
            finished = []
            for job in [job for job in self.jobs if job.done()]:
                task = self.jobs.pop(job)
                try:
                    entry = job.result()
                except Exception as error:  # the job died (time limit, node failure, ...)
                    entry = _crash_entry(self.ledger, task, error, self.name)
                else:
                    if entry.get("status") != "unfiled":  # that job could not write the folder either
                        self.ledger.write(task.run, **entry)  # in case "submitted" overwrote it
                finished.append((task, entry))
            if finished or time.monotonic() >= deadline:
                return finished
            time.sleep(min(self.poll_s, max(0.0, deadline - time.monotonic())))

    def stop(self) -> list[Task]:
        left = list(self.jobs.values())
        self.jobs.clear()
        return left

    def close(self) -> None:
        self.jobs.clear()
