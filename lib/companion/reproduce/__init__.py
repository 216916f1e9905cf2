"""Reproduce every chapter's grid of runs: ``python -m companion.reproduce``.

:mod:`~companion.reproduce.plan` expands each chapter's ``GRID`` into runs (papermill
executions of the chapter notebook with fixed parameters); :mod:`~companion.reproduce.execution`
executes one run and files its outputs; :mod:`~companion.reproduce.ledger` remembers each
run's state in ``<results>/_reproduce/`` so a sweep can be stopped and started again;
:mod:`~companion.reproduce.executors` runs them on this machine (a process pool) or on a
Slurm cluster (submitit); :mod:`~companion.reproduce.sweep` drives a sweep with retries, a
progress bar and a summary.
"""

from companion.reproduce.plan import ChapterSpec, Run, expand, registered_chapters
from companion.reproduce.sweep import sweep

__all__ = ["ChapterSpec", "Run", "expand", "registered_chapters", "sweep"]
