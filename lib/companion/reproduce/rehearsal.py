"""A rehearsal of the paper profile on this machine, and what the full runs will cost on GPUs.

``python -m companion.reproduce --profile paper --rehearse`` runs every planned paper run (one
seed per grid point unless ``--seeds`` says otherwise: seeds change no shape) through papermill
exactly as a sweep would — the paper's model and batch sizes, its data set read from files in
the official formats — but on small data sets written in those formats
(:mod:`companion.data.fixtures`), for a few optimiser steps of every phase (:data:`REHEARSALS`
gives each chapter's papermill overrides), with its records filed into a scratch results folder
(default ``.scratch/rehearsal``, never ``data/results``). Device ``cpu`` by default; on a GPU
node ``--device cuda`` runs the same rehearsal there.

Every training call of a rehearsed run measures its steps (:mod:`companion.step_cost`). From
them, per run, :func:`cost_table` gives the seconds per step and peak memory here, the FLOPs per
step, the steps of the full paper run, and an *estimate* of its GPU time: the full run's
training FLOPs at :data:`GPU_UTILISATION` of each named GPU's float32 peak (:data:`GPUS`),
and the GPU memory its steps need (parameters, gradients, optimiser state and the tensors saved
for backward). What is not a training step (data loading, evaluation, figures) is not in the
estimate; the rehearsal's wall time shows what it cost at fixture size.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from companion.paths import repository_root
from companion.reproduce.execution import STEP_COST_DIR_VARIABLE, step_cost_file
from companion.reproduce.plan import ChapterSpec, Run, expand, subgrids

#: Float32 peaks in FLOP/s of the GPUs the estimate names.
#: CUDA cores, no tensor cores, since PyTorch computes float32 matrix products in full float32 unless told otherwise (cuDNN
#: convolutions may use TF32 on these GPUs, which would make SplitNet faster than estimated).
GPUS: dict[str, float] = {"A100": 19.5e12, "H100 SXM": 66.9e12}

#: The fraction of that peak the estimate assumes a run sustains.
GPU_UTILISATION = 0.3

#: Seconds each tensor operator costs a GPU step beyond its FLOPs.
#: PyTorch's eager dispatch and a kernel launch, about 10 µs; it bounds the steps of small models (VLAE's MLPs).
LAUNCH_SECONDS = 10e-6

#: Training examples of each full data set a paper run trains on (before a chapter's own subset):
#: the official training splits; Cornell's 83,097 conversations, 80% of them for training as
#: :func:`companion.vhcr.corpora.split_conversations` splits them; Ubuntu's training dialogues as
#: VHRED (Serban et al. 2017), whose split the VHCR authors follow, counts them.
FULL_TRAIN_EXAMPLES: dict[str, int] = {
    "mnist": 60000, "fashion_mnist": 60000, "omniglot": 24345, "svhn": 73257, "cifar10": 50000,
    "cifar100": 50000, "cornell": 66477, "ubuntu": 448833,
}

#: A phase of a rehearsed run, matched by its training call's ``description``, else its epochs.
PhaseKey = str | int


@dataclass(frozen=True)
class Rehearsal:
    """How a chapter is rehearsed and how its measurements scale to the full paper run.

    ``overrides``: papermill parameters that make a paper run a rehearsal (a few steps of each
    phase, evaluation on a few examples); the sizes of models and batches stay the paper's.
    ``phases(rehearsed, paper)``: for each training call, keyed by its description or its
    epochs in the rehearsal, the epochs of that call in the full run and how many such calls
    the full run makes per call of the rehearsal. ``train_examples(paper)``: the training
    examples of the full run's epochs, None when the rehearsal trains on as many (its measured
    steps per epoch are then the full run's).
    """

    overrides: Mapping[str, Any]
    #: whether the chapter reads data files (it is then given the fixtures as ``data_dir``)
    reads_data: bool = True
    phases: Callable[[Any, Any], dict[PhaseKey, tuple[int, float]]] = lambda rehearsed, paper: {}
    train_examples: Callable[[Any], int | None] = lambda paper: None
    #: smaller still, for the test that rehearses one run per chapter (tests/test_reproduce_rehearsal.py)
    test_overrides: Mapping[str, Any] = field(default_factory=dict)


def _splitnet_phases(rehearsed: Any, paper: Any) -> dict[PhaseKey, tuple[int, float]]:
    from companion.splitnet.settings import schedules

    full = schedules(paper)
    return {phase: (full[phase].epochs, 1.0) for phase in schedules(rehearsed)}


def _distinct(pairs: Sequence[tuple[int, int, float]]) -> dict[PhaseKey, tuple[int, float]]:
    """{rehearsed epochs: (paper epochs, repeats)}; two phases rehearsed with the same number of
    epochs could not be told apart, so that raises ValueError."""
    phases: dict[PhaseKey, tuple[int, float]] = {}
    for rehearsed, paper, repeats in pairs:
        if rehearsed in phases and phases[rehearsed] != (paper, repeats):
            raise ValueError(f"two phases are rehearsed for {rehearsed} epochs: give them different counts")
        phases[rehearsed] = (paper, repeats)
    return phases


#: Each chapter's rehearsal, the parameters that cap its paper runs and its training phases.
REHEARSALS: dict[str, Rehearsal] = {
    # reads and shows the data set: nothing to cap
    "data": Rehearsal({}),
    # one replicate per grid cell (seeds), a few L-BFGS iterations and epochs, at the paper's
    # sizes (it generates its data: as many examples as the paper profile's)
    "ppca": Rehearsal(
        {"seeds": 1, "lbfgs_iterations": 5, "sgd_epochs": 2, "nonlinear_epochs": 1, "nonlinear_seeds": 1},
        reads_data=False, phases=lambda r, p: _distinct([(r.sgd_epochs, p.sgd_epochs, p.seeds / r.seeds),
                                (r.nonlinear_epochs, p.nonlinear_epochs, p.nonlinear_seeds / r.nonlinear_seeds)]),
        test_overrides={"norm_ratios": [1.0, 3.0], "examples": 2000}),
    # one batch of 90 per epoch, one epoch of each phase (the decays need more epochs: none)
    "splitnet": Rehearsal(
        {"train_images": 90, "epochs": 1, "finetune_epochs": 1, "lr_decay_at": [], "finetune_lr_decay_at": []},
        phases=_splitnet_phases, train_examples=lambda p: min(p.train_images or FULL_TRAIN_EXAMPLES[p.dataset],
                                        FULL_TRAIN_EXAMPLES[p.dataset])),
    # one batch of 80 conversations per model, the likelihood on one test conversation; the
    # fixture's 20,000 words each occur about once, so every word counts (min_count 1)
    "vhcr": Rehearsal(
        {"train_conversations": 80, "eval_conversations": 1, "epochs": 1, "min_count": 1},
        phases=lambda r, p: _distinct([(r.epochs, p.epochs, 1.0)]),
        train_examples=lambda p: FULL_TRAIN_EXAMPLES[p.dataset],
        test_overrides={"models": ["vhcr_ud"]}),
    # two batches of 128 per epoch (the fixture's 256 images), two epochs per model, one for
    # the figures' 2-D models; the inference-gap decomposition on 2 images (300 optimiser steps
    # per image and model: on 100, the rehearsal's slowest part)
    "vlae": Rehearsal(
        {"epochs": 2, "figure_epochs": 1, "gap_examples": 2},
        phases=lambda r, p: _distinct([(r.epochs, p.epochs, 1.0), (r.figure_epochs, p.figure_epochs, 1.0)]),
        train_examples=lambda p: FULL_TRAIN_EXAMPLES[p.dataset],
        test_overrides={"models": ["vae", "vlae"]}),
}


def estimates_file() -> Path:
    """The committed estimates of the paper runs, ``data/rehearsal/paper.csv``: a rehearsal's
    ``cost.csv``, copied there, read by ``--dry-run`` and the book's Reproduce page."""
    return repository_root() / "data" / "rehearsal" / "paper.csv"


def grid_point(run: Run) -> str:
    """``run``'s grid values without its seed (seeds change no cost), e.g. ``groups=2-2-2``."""
    return " ".join(f"{name}={run.parameters[name]}" for name in run.axes if name != "seed")


def load_estimates(path: Path | None = None) -> pd.DataFrame:
    """The committed cost table (:func:`estimates_file`); empty when there is none."""
    path = path or estimates_file()
    return pd.read_csv(path, keep_default_na=False, na_values=[""]) if path.exists() else pd.DataFrame()


def estimates_page() -> tuple[pd.DataFrame, str]:
    """The committed estimates as the Reproduce page shows them (one row per grid point) and
    their assumptions; an empty table and a sentence saying so when none is committed."""
    estimates = load_estimates()
    if estimates.empty:
        return estimates, f"No rehearsal is committed yet ({estimates_file().relative_to(repository_root())})."
    shown = format_table(estimates).drop(columns="run")
    shown.insert(1, "grid point", estimates["grid_point"])
    return shown, assumptions(float(estimates["gpu_utilisation"].iloc[0]))


def estimate_text(run: Run, estimates: pd.DataFrame) -> str:
    """The estimate of ``run``'s grid point in a few words ("A100 12 h, H100 SXM 3.6 h, 14 GiB"),
    "not rehearsed" when the table has no row for it."""
    if estimates.empty:
        return "not rehearsed"
    found = estimates[(estimates["chapter"] == run.chapter) & (estimates["grid_point"] == grid_point(run))]
    if found.empty:
        return "not rehearsed"
    row = found.iloc[-1]
    if not row["calls"]:
        return "trains nothing"
    hours = ", ".join(f"{gpu} {row[f'{gpu}_h']:.2g} h" for gpu in GPUS)
    return f"{hours}, {row['gpu_memory_gib']:.2g} GiB (est.)"


def default_folder() -> Path:
    """The rehearsal's scratch results folder: ``.scratch/rehearsal`` of the checkout."""
    return repository_root() / ".scratch" / "rehearsal"


def rehearsal_runs(spec: ChapterSpec, data_dir: Path, *, device: str = "cpu",
                   seeds: Sequence[int] | None = None, only: Mapping[str, Sequence[str]] | None = None,
                   for_test: bool = False) -> list[Run]:
    """The rehearsed runs of ``spec``'s paper grid: each planned run (one seed per grid point
    unless ``seeds`` are given) with the chapter's overrides, ``device`` and the fixtures in
    ``data_dir``. ``for_test`` adds the chapter's test overrides (fewer models or cells)."""
    rehearsal = REHEARSALS[spec.name]
    if seeds is None:
        seeds = [min(grid.get("seed", [0])[0] for grid in subgrids(spec.grid["paper"]))]
    fixed = {"device": device, **({"data_dir": str(data_dir)} if rehearsal.reads_data else {}),
             **rehearsal.overrides,
             **(rehearsal.test_overrides if for_test else {})}
    return expand(spec, "paper", seeds=seeds, only=only, fixed=fixed)


def read_calls(run: Run, folder: Path) -> list[dict[str, Any]]:
    """The training calls ``run`` measured (:mod:`companion.step_cost`), none if it trained nothing."""
    path = step_cost_file(run, folder)
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _settings(run: Run, **changes: Any) -> Any:
    """The resolved settings of ``run`` (its parameters with ``changes``; None drops one)."""
    from companion.chapters import settings_module
    from companion.config import resolve

    given = {k: v for k, v in {**run.parameters, **changes}.items() if k != "profile" and v is not None}
    return resolve(settings_module(run.chapter).PROFILES, "paper", **given)


def full_run_calls(run: Run, calls: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """Each measured call of ``run`` beside what it becomes in the full paper run: its epochs,
    steps per epoch, steps and how many times the full run makes it."""
    rehearsal = REHEARSALS[run.chapter]
    rehearsed = _settings(run, device=None, data_dir=None)
    paper = _settings(run, device=None, data_dir=None,
                      **{name: None for name in {**rehearsal.overrides, **rehearsal.test_overrides}})
    phases = rehearsal.phases(rehearsed, paper)
    examples = rehearsal.train_examples(paper)
    rows = []
    for call in calls:
        key = call["description"] if call["description"] in phases else call["epochs"]
        if key not in phases:
            raise ValueError(f"{run.chapter}: a training call ({call['description']!r}, {call['epochs']} epochs) "
                             f"matches no phase of its rehearsal; phases: {sorted(map(str, phases))}")
        epochs, repeats = phases[key]
        per_epoch = math.ceil(examples / paper.batch_size) if examples else call["steps_per_epoch"] or 0
        rows.append({**call, "full_epochs": epochs, "full_steps_per_epoch": per_epoch,
                     "full_steps": epochs * per_epoch, "repeats": repeats})
    return pd.DataFrame(rows)


def run_cost(run: Run, calls: pd.DataFrame, *, utilisation: float = GPU_UTILISATION,
             gpus: Mapping[str, float] = GPUS, launch_seconds: float = LAUNCH_SECONDS) -> dict[str, Any]:
    """One row of the cost table: ``run``'s measured steps and the estimate of its full run,
    whose GPU time is FLOPs / (``utilisation`` × peak) + operators × ``launch_seconds``."""
    row: dict[str, Any] = {"chapter": run.chapter, "run": run.label, "grid_point": grid_point(run)}
    if calls.empty:
        return {**row, "calls": 0, "cpu_s_per_step": None, "flops_per_step": None, "full_steps": 0,
                "peak_rss_gib": None, "gpu_memory_gib": None, "cpu_full_run_h": None,
                **{f"{gpu}_h": None for gpu in gpus}}
    steps = calls["full_steps"] * calls["repeats"]
    flops = float((calls["flops_per_step"] * steps).sum())
    seconds = float((calls["seconds_per_step"] * steps).sum())
    total = float(steps.sum())
    launches = float((calls["operators_per_step"].fillna(0) * steps).sum()) * launch_seconds
    gib = 2.0 ** 30
    return {**row, "calls": len(calls), "cpu_s_per_step": seconds / total if total else None,
            "flops_per_step": flops / total if total else None, "full_steps": int(total),
            "peak_rss_gib": float(calls["peak_rss_bytes"].max()) / gib,
            "gpu_memory_gib": float((calls["state_bytes"] + calls["activation_bytes"]).max()) / gib,
            "cpu_full_run_h": seconds / 3600,
            **{f"{gpu}_h": (flops / (utilisation * peak) + launches) / 3600 for gpu, peak in gpus.items()}}


def cost_table(runs: Sequence[Run], folder: Path, *, utilisation: float = GPU_UTILISATION
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-run cost table and the per-call measurements behind it (:func:`full_run_calls`)."""
    rows, details = [], []
    for run in runs:
        calls = full_run_calls(run, read_calls(run, folder))
        rows.append({**run_cost(run, calls, utilisation=utilisation), "gpu_utilisation": utilisation})
        if not calls.empty:
            details.append(calls.assign(chapter=run.chapter, run=run.label))
    return pd.DataFrame(rows), (pd.concat(details, ignore_index=True) if details else pd.DataFrame())


def assumptions(utilisation: float = GPU_UTILISATION) -> str:
    """What the estimate assumes, in a few lines printed beside the table."""
    peaks = ", ".join(f"{gpu} {peak / 1e12:.1f} TFLOP/s" for gpu, peak in GPUS.items())
    sizes = ", ".join(f"{count:,} ({name})" for name, count in FULL_TRAIN_EXAMPLES.items())
    return (f"ESTIMATE, not a measurement. GPU hours = the full paper run's training FLOPs (FLOPs of one "
            f"step, counted on this CPU by torch's FlopCounterMode, times the full run's steps) at "
            f"{utilisation:.0%} of float32 peak ({peaks}), plus {LAUNCH_SECONDS * 1e6:.0f} µs per tensor "
            f"operator of every step (dispatch and kernel launch); evaluation, data loading and figures "
            f"are left out. "
            f"GPU memory = parameters, gradients, optimiser state and the tensors saved for backward of "
            f"the largest step, without the CUDA context (about 0.5 GiB) or the data set. "
            f"Full-run steps assume training sets of {sizes}. s/step and peak memory "
            f"are this machine's, at the paper's model and batch sizes.")


def format_table(table: pd.DataFrame) -> pd.DataFrame:
    """The cost table as printed: rounded, units in the column names."""
    shown = pd.DataFrame({
        "chapter": table["chapter"], "run": table["run"],
        "s/step (this CPU)": table["cpu_s_per_step"].map(lambda v: "" if pd.isna(v) else f"{v:.3g}"),
        "peak RSS GiB": table["peak_rss_gib"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
        "GFLOP/step": table["flops_per_step"].map(lambda v: "" if pd.isna(v) else f"{v / 1e9:.4g}"),
        "full-run steps": table["full_steps"],
        "GPU memory GiB (est.)": table["gpu_memory_gib"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
    })
    for gpu in GPUS:
        shown[f"{gpu} h (est.)"] = table[f"{gpu}_h"].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    return shown


def write_report(table: pd.DataFrame, calls: pd.DataFrame, summary: pd.DataFrame, folder: Path,
                 utilisation: float = GPU_UTILISATION) -> Path:
    """Write ``cost.csv``, ``calls.csv`` and ``cost.md`` (the table, the runs' statuses and the
    assumptions) into ``folder``; return the Markdown file's path."""
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "cost.csv", index=False)
    calls.to_csv(folder / "calls.csv", index=False)
    statuses = summary[["chapter", "parameters", "status", "wall_time_s", "error"]]
    text = ("# Paper runs rehearsed: what they cost\n\n" + assumptions(utilisation) + "\n\n"
            + format_table(table).to_markdown(index=False) + "\n\n## The rehearsal's runs\n\n"
            + statuses.to_markdown(index=False) + "\n")
    path = folder / "cost.md"
    path.write_text(text, encoding="utf-8")
    return path


def rehearse(chapters: Mapping[str, ChapterSpec], names: Sequence[str], folder: Path, *,
             device: str = "cpu", seeds: Sequence[int] | None = None,
             only: Mapping[str, Sequence[str]] | None = None, jobs: int = 1, progress: bool = True,
             utilisation: float = GPU_UTILISATION, for_test: bool = False
             ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Rehearse the paper runs of chapters ``names`` into ``folder`` (fixtures, ledger,
    records, executed notebooks, step costs); return the sweep's summary, the cost table and
    the per-call measurements, and write the report (:func:`write_report`)."""
    from companion.data.fixtures import write_fixtures
    from companion.reproduce.executors import LocalExecutor
    from companion.reproduce.ledger import Ledger
    from companion.reproduce.sweep import sweep

    unknown = sorted(set(names) - set(REHEARSALS))
    if unknown:
        raise ValueError(f"no rehearsal for chapter(s) {unknown}; rehearsed chapters: {sorted(REHEARSALS)}")
    folder = Path(folder).resolve()
    data_dir = write_fixtures(folder / "data")
    runs = [run for name in names
            for run in rehearsal_runs(chapters[name], data_dir, device=device, seeds=seeds, only=only,
                                      for_test=for_test)]
    costs = folder / "step_costs"
    previous = os.environ.get(STEP_COST_DIR_VARIABLE)
    os.environ[STEP_COST_DIR_VARIABLE] = str(costs)
    executor = LocalExecutor(folder, jobs=jobs)
    try:
        summary = sweep(runs, executor, Ledger(folder), retries=0, force=True, progress=progress)
    finally:
        executor.close()
        if previous is None:
            os.environ.pop(STEP_COST_DIR_VARIABLE, None)
        else:
            os.environ[STEP_COST_DIR_VARIABLE] = previous
    table, calls = cost_table(runs, costs, utilisation=utilisation)
    write_report(table, calls, summary, folder, utilisation)
    return summary, table, calls
