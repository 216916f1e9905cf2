"""``python -m companion.reproduce``: run every chapter's grid here or on a Slurm cluster.

Examples::

    python -m companion.reproduce --dry-run
    python -m companion.reproduce --chapters data --jobs 2
    python -m companion.reproduce --profile paper --chapters vlae --seeds 0-2 \\
        --executor slurm --partition gpu --gpus-per-job 1 --time-limit 12:00:00 --device cuda
    python -m companion.reproduce --profile paper --rehearse     # a few steps of every paper run
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from companion.reproduce.executors import LocalExecutor, SlurmExecutor, SlurmOptions, slurm_minutes
from companion.reproduce.ledger import Ledger, SweepRunning
from companion.reproduce.plan import (ChapterSpec, Run, expand, parse_assignments, parse_seeds,
                                      plan_table, registered_chapters, subgrids)
from companion.reproduce.sweep import exit_code, sweep
from companion.results import ResultsFolderError, checkout_state, load_records, stored_results_dir


def parser() -> argparse.ArgumentParser:
    """The command's options."""
    p = argparse.ArgumentParser(
        prog="python -m companion.reproduce",
        description="Expand each chapter's GRID into papermill runs of its notebook and execute "
                    "them, skipping runs that already have a complete result.")
    what = p.add_argument_group("what to run")
    what.add_argument("--chapters", help="comma-separated chapters (default: every chapter "
                      "with a notebook and a GRID)")
    what.add_argument("--profile", default="cpu", help="profile whose grid is run: cpu, cpu-long or paper "
                      "(default: cpu)")
    what.add_argument("--seeds", help="seeds, e.g. 0,1,2 or 0-4 (default: the grid's, else 0)")
    what.add_argument("--only", action="append", default=[], metavar="KEY=VALUE[,VALUE]",
                      help="keep the runs whose grid parameter KEY has one of these values; "
                      "repeat for several parameters")
    what.add_argument("--device", help="device parameter given to every run (default: the "
                      "notebooks' 'auto': CUDA when present)")
    what.add_argument("--data-dir", help="data_dir parameter given to every run (folder of the "
                      "full data sets)")
    what.add_argument("--force", action="store_true", help="run again even runs already done")
    what.add_argument("--dry-run", action="store_true", help="print the plan and exit")
    what.add_argument("--rehearse", action="store_true", help="with --profile paper: run every "
                      "planned paper run (one seed per grid point unless --seeds) at paper sizes for a "
                      "few steps on small data in the official formats, into a scratch folder "
                      "(default .scratch/rehearsal), and print what each step costs and an estimate "
                      "of the full runs' GPU time (companion.reproduce.rehearsal)")
    what.add_argument("--gpu-utilisation", type=float, default=None, metavar="FRACTION",
                      help="--rehearse: fraction of the GPUs' float32 peak the estimate assumes "
                      "(default: 0.3)")
    what.add_argument("--allow-dirty", action="store_true", help="record cpu-long or paper evidence "
                      "from a checkout with uncommitted changes (each record then keeps the diff's hash)")
    how = p.add_argument_group("how to run")
    how.add_argument("--executor", choices=["local", "slurm"], default="local",
                     help="local: worker processes on this machine; slurm: one array job per "
                     "batch through submitit (default: local)")
    how.add_argument("--jobs", type=int, default=1, help="local: runs at once (default: 1)")
    how.add_argument("--retries", type=int, default=1,
                     help="times a failed run is tried again (default: 1)")
    how.add_argument("--results-dir", type=Path, help="where records, executed notebooks and "
                     "the ledger go (default: $COMPANION_RESULTS_DIR, else data/results)")
    how.add_argument("--no-progress", action="store_true", help="no progress bar")
    slurm = p.add_argument_group("slurm executor")
    slurm.add_argument("--partition", help="Slurm partition (default: the cluster's default)")
    slurm.add_argument("--time-limit", default="60", help="per run: minutes, H:MM:SS or "
                       "D-HH:MM:SS (default: 60)")
    slurm.add_argument("--max-requeues", type=int, default=10,
                       help="times a run stopped at its time limit is requeued; it resumes "
                       "from its checkpoints (default: 10)")
    slurm.add_argument("--gpus-per-job", type=int, default=0, help="GPUs per run (default: 0)")
    slurm.add_argument("--cpus-per-job", type=int, default=1, help="CPUs per run (default: 1)")
    slurm.add_argument("--mem-gb", type=float, help="memory per run in GB")
    slurm.add_argument("--array-parallelism", type=int, default=256,
                       help="array tasks running at once (default: 256)")
    slurm.add_argument("--slurm-setup", action="append", default=[], metavar="COMMAND",
                       help="shell line run before each job, e.g. 'module load cuda'; repeatable")
    slurm.add_argument("--slurm-option", action="append", default=[], metavar="KEY=VALUE",
                       help="any other #SBATCH option, e.g. account=abc or qos=high; repeatable")
    slurm.add_argument("--poll-seconds", type=float, default=10.0,
                       help="how often the queue is checked (default: 10)")
    return p


def plan_runs(args: argparse.Namespace, chapters: Mapping[str, ChapterSpec]) -> list[Run]:
    """Every run the options select, chapter by chapter."""
    names = ([c.strip() for c in args.chapters.split(",") if c.strip()] if args.chapters else
             [name for name, spec in chapters.items() if args.profile in spec.grid])
    unknown = [name for name in names if name not in chapters]
    if unknown:
        raise ValueError(f"--chapters: {unknown} cannot run; chapters with a notebook and a "
                         f"GRID: {sorted(chapters)}")
    only = parse_assignments(args.only, "--only")
    axes = {name for c in names for grids in chapters[c].grid.values()
            for grid in subgrids(grids) for name in grid} | {"seed"}
    if set(only) - axes:
        raise ValueError(f"--only {sorted(set(only) - axes)}: no chosen chapter has such a grid "
                         f"parameter; grid parameters: {sorted(axes)}")
    seeds = parse_seeds(args.seeds) if args.seeds else None
    fixed = {name: value for name, value in (("device", args.device), ("data_dir", args.data_dir))
             if value is not None}
    runs = []
    for name in names:
        runs.extend(expand(chapters[name], args.profile, seeds=seeds, only=only, fixed=fixed))
    return runs


def make_executor(args: argparse.Namespace, folder: Path) -> LocalExecutor | SlurmExecutor:
    """The executor the options ask for."""
    if args.executor == "local":
        return LocalExecutor(folder, jobs=args.jobs)
    options = SlurmOptions(
        partition=args.partition, time_limit_min=slurm_minutes(args.time_limit),
        gpus_per_job=args.gpus_per_job, cpus_per_job=args.cpus_per_job, mem_gb=args.mem_gb,
        array_parallelism=args.array_parallelism, setup=tuple(args.slurm_setup),
        max_requeues=args.max_requeues,
        extra=tuple((k, v[-1]) for k, v in parse_assignments(args.slurm_option,
                                                                "--slurm-option").items()))
    return SlurmExecutor(folder, options, poll_s=args.poll_seconds)


#: Profiles whose records are the book's evidence, recorded only from committed code.
EVIDENCE_PROFILES = ("cpu-long", "paper")


def refuse_dirty_evidence(args: argparse.Namespace) -> None:
    """Stop a sweep of evidence profiles from a checkout with uncommitted changes (ValueError),
    unless ``--allow-dirty`` was given."""
    commit, diff = checkout_state()
    if args.profile in EVIDENCE_PROFILES and diff and not args.allow_dirty:
        raise ValueError(f"the checkout has uncommitted changes ({commit}, diff {diff}); "
                         f"{args.profile!r} records are evidence and must name the commit that made "
                         "them: commit first, or pass --allow-dirty (records then keep the diff's hash)")


def rehearse_command(args: argparse.Namespace, chapters: Mapping[str, ChapterSpec]) -> int:
    """``--rehearse``: rehearse the paper runs the options select, print the cost table and
    say where the report is; 0 when every run passed, 1 when some failed, 2 on bad options."""
    from companion.reproduce import rehearsal

    folder = (args.results_dir or rehearsal.default_folder()).resolve()
    try:
        if args.profile != "paper":
            raise ValueError(f"--rehearse rehearses the paper profile; give --profile paper, not {args.profile!r}")
        if args.executor != "local":
            raise ValueError("--rehearse runs on this machine (--jobs N); run it on a GPU node itself "
                             "to rehearse there (--device cuda)")
        if folder == Path(stored_results_dir()).resolve():
            raise ValueError(f"--results-dir {folder}: a rehearsal's records are not evidence; give another folder")
        utilisation = args.gpu_utilisation if args.gpu_utilisation is not None else rehearsal.GPU_UTILISATION
        if not 0 < utilisation <= 1:
            raise ValueError(f"--gpu-utilisation {utilisation}: give a fraction in (0, 1]")
        runs = plan_runs(args, chapters)  # checks --chapters, --only and --seeds
        names = list(dict.fromkeys(run.chapter for run in runs))
        seeds = parse_seeds(args.seeds) if args.seeds else None
        only = parse_assignments(args.only, "--only")
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            summary, table, _ = rehearsal.rehearse(
                chapters, names, folder, device=args.device or "cpu", seeds=seeds, only=only,
                jobs=args.jobs, progress=not args.no_progress, utilisation=utilisation)
        finally:
            signal.signal(signal.SIGTERM, previous)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with pd.option_context("display.max_rows", None, "display.width", 250, "display.max_colwidth", 70):
        print(summary.to_string(index=False))
        print()
        print(rehearsal.format_table(table).to_string(index=False))
    print("\n" + rehearsal.assumptions(utilisation))
    print(f"\nreport: {folder / 'cost.md'} (and cost.csv, calls.csv); records and notebooks in {folder}")
    return exit_code(summary)


def _interrupt(signum: int, frame: object) -> None:
    """Turn SIGTERM into KeyboardInterrupt, so a killed sweep stops cleanly and says so."""
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: Sequence[str] | None = None, chapters: Mapping[str, ChapterSpec] | None = None) -> int:
    """Run the command; return its exit status (0 all done, 1 some failed, 130 interrupted).

    ``chapters`` replaces the book's chapters (tests pass their own notebooks).
    """
    args = parser().parse_args(argv)
    missing: dict[str, str] = {}
    if chapters is None:
        chapters, missing = registered_chapters()
    if args.rehearse:
        return rehearse_command(args, chapters)
    folder = (args.results_dir or Path(os.environ.get("COMPANION_RESULTS_DIR") or stored_results_dir())).resolve()
    ledger = Ledger(folder)
    try:
        if args.retries < 0:
            raise ValueError(f"--retries {args.retries}: give 0 or more")
        runs = plan_runs(args, chapters)
        if not args.dry_run:
            refuse_dirty_evidence(args)
            ledger.check_writable({run.chapter for run in runs})
        executor = None if args.dry_run else make_executor(args, folder)
    except (ValueError, ResultsFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if missing and not args.chapters:
        print("left out: " + "; ".join(f"{c} ({why})" for c, why in missing.items()), file=sys.stderr)
    with pd.option_context("display.max_rows", None, "display.width", 200,
                           "display.max_colwidth", 70):
        if args.dry_run:
            states = [ledger.state(run) if not args.force else "to run" for run in runs]
            records = [record for chapter in {run.chapter for run in runs}
                       for record in load_records(chapter, folder)]
            table = plan_table(runs, states, records)
            if args.profile == "paper" and len(table):
                from companion.reproduce.rehearsal import estimate_text, estimates_file, load_estimates

                estimates = load_estimates()
                table["GPU estimate (rehearsal)"] = [estimate_text(run, estimates) for run in runs]
                print(f"GPU estimates from a rehearsal (--rehearse), {estimates_file()}: estimates, "
                      "not measurements; their assumptions are on the book's Reproduce page")
            todo = sum(not s.endswith(": skip") for s in states)
            print(f"{len(runs)} runs, {todo} to run, {len(runs) - todo} done; results in {folder}")
            print(table.to_string(index=False) if len(table) else "(no runs)")
            return 0
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            with ledger.sweep_lock():
                summary = sweep(runs, executor, ledger, retries=args.retries, force=args.force,
                                progress=not args.no_progress)
        except SweepRunning as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except ResultsFolderError as error:  # it says where a finished run's outputs are kept
            print(f"error: {error}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGTERM, previous)
            executor.close()
        counts = summary["status"].value_counts()
        print(", ".join(f"{n} {status}" for status, n in counts.items()) + f"; results in {folder}")
        print(summary.to_string(index=False) if len(summary) else "(no runs)")
    return exit_code(summary)


if __name__ == "__main__":
    sys.exit(main())
