"""The chapter's evidence from recorded runs: the paper's claims (:data:`CLAIMS`), their findings
(:func:`findings`, decided by :func:`companion.evidence.decide`), and the diagnostics behind them:
are the class groups learned from the data, and do learned groups beat random ones?

A run's record keeps, beside the errors, what the tests need (as short strings, one character
per class or per test image, so a record stays readable JSON):

* the SplitNet row: ``initial_partition`` (each class's arg-max group under the random initial
  logits), ``class_partition`` (its group after the grouping phase, the one the cut uses) and
  ``kept_from_init``;
* the baseline row: ``classifier_partition``, the grouping its classifier implies
  (:func:`~companion.splitnet.diagnostics.balanced_partition` of its weight rows);
* every model row: ``test_correct``, "1" or "0" for each test image.

From those: :func:`grouping_table` (per run: classes kept from the initial arg-max against the
1/G a random grouping keeps; agreement with the baseline's grouping against random groupings),
:func:`cross_seed_table` (do different seeds find the same grouping?) and
:func:`learned_vs_random_tests` (SplitNet against SplitNet-R per seed and pooled over seeds, with
McNemar's and the paired bootstrap's p-values).

The accuracy claims are tested on paired test predictions, seeds pooled (a paired bootstrap over
test images). A run tests them only if the cut leaves a network to fine-tune: when the cut
costs more than :data:`CUT_COST_LIMIT` points of test error in the mean over seeds (the error
right after the cut against the error at the end of the grouping phase, both recorded), the
fine-tuning retrains a destroyed network and neither accuracy claim of that setting is tested.
Learned against random groups is tested only where SplitNet and SplitNet-R train as many epochs
at each learning rate and weight decay from their common start
(:data:`~companion.splitnet.settings.ARM_PHASES`), so that the groups are the only difference.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

import numpy as np
import pandas as pd
import torch

from companion import paper, results
from companion.config import resolve
from companion.evidence import EFFECT, MEASUREMENT, Claim, Decision, Finding
from companion.reproduce.plan import planned_records
from companion.splitnet import diagnostics
from companion.splitnet.settings import ARM_PHASES, PROFILES, Schedule, SplitNetSettings, schedules
from companion.splitnet.significance import mcnemar_exact, margin_p, paired_bootstrap

#: Record columns that hold coded partitions or per-image results (not for display).
CODED_COLUMNS = ("initial_partition", "class_partition", "classifier_partition", "test_correct")

#: The most test error (points, mean over seeds) the cut may cost before fine-tuning for a run to
#: test the accuracy claims: the paper's cut costs little because the grouping phase has driven
#: the off-block weights to zero; a cut that costs tens of points leaves a network the
#: fine-tuning retrains rather than a split of the trained one.
CUT_COST_LIMIT = 10.0

#: The share of the paper's speed-up a CPU measurement must reach to reproduce it.
SPEED_SHARE = 0.9

PAPER = "SplitNet (ICML 2017)"


def _paper_numbers() -> dict[str, Any]:
    """The paper's numbers the claims quote (Tables 1, 2 and 5)."""
    table1, table2 = paper.reported("splitnet_table1"), paper.reported("splitnet_table2")
    table5 = paper.reported("splitnet_table5")
    splits = table2[table2["tree"].isin(["1-2-2", "2-2-2", "2-4-4"])]
    baseline_error = float(table2.loc[table2["tree"] == "1-1-1", "error_pct"].iloc[0])
    versus = table1[table1["method"].isin(["SplitNet", "R"])].pivot_table(
        index="split", columns="method", values="error_pct", aggfunc="first")
    return {"worst_increase": float((splits["error_pct"] - baseline_error).max()),
            "fewest_reduced": float(splits["params_reduced_pct"].min()),
            "most_reduced": float(splits["params_reduced_pct"].max()),
            "learned_wins": int((versus["R"] > versus["SplitNet"]).sum()), "splits": len(versus),
            "deep_speedup": float(table5.loc[(table5["tree"] == "2-2-2") & (table5["devices"] == 2),
                                             "speedup"].iloc[0])}


_REPORTED = _paper_numbers()
#: The non-inferiority margin of "about the same error", the paper's worst error increase (points).
MARGIN = _REPORTED["worst_increase"]
#: The paper's speed-up of the deep split on two GPUs.
PAPER_SPEEDUP = _REPORTED["deep_speedup"]

SAME_ERROR = Claim(
    "splitnet/same-error", PAPER, "SplitNet cuts parameters at about the same error",
    f"{_REPORTED['fewest_reduced']:.1f}–{_REPORTED['most_reduced']:.1f}% fewer parameters, error "
    f"{MARGIN:+.2f} points at worst (WRN-16-8, CIFAR-100; Kim et al. 2017, Table 2)",
    f"non-inferiority on paired test predictions, seeds pooled: the two-sided paired-bootstrap p "
    f"that SplitNet's error exceeds the baseline's by exactly +{MARGIN:.2f} points (the paper's worst "
    f"increase), the effect being the margin less our increase; not tested where the cut costs more "
    f"than {CUT_COST_LIMIT:g} points")
LEARNED_BEATS_RANDOM = Claim(
    "splitnet/learned-beats-random", PAPER, "learned groups beat random groups (SplitNet vs SplitNet-R)",
    f"learned better in {_REPORTED['learned_wins']} of {_REPORTED['splits']} splits "
    "(WRN-16-8, CIFAR-100; Kim et al. 2017, Table 1)",
    "two-sided paired bootstrap over test images, seeds pooled; not tested where the cut costs more "
    f"than {CUT_COST_LIMIT:g} points or SplitNet-R trains after its cut otherwise than SplitNet")
DEEP_SPLIT_SPEEDUP = Claim(
    "splitnet/deep-split-speedup", PAPER, f"a deep split runs {PAPER_SPEEDUP:.2f}× faster on 2 devices",
    f"{PAPER_SPEEDUP:.2f}× on 2 TITAN X GPUs (Kim et al. 2017, Table 5)",
    f"the fastest pass of the pipelined deep split on two CPU processes ≥ {SPEED_SHARE:g} × the "
    "paper's speed-up (a CPU timing of a GPU claim)", MEASUREMENT)
#: The paper's claims as this chapter decides them, declared once (see :mod:`companion.evidence`).
CLAIMS: tuple[Claim, ...] = (SAME_ERROR, LEARNED_BEATS_RANDOM, DEEP_SPLIT_SPEEDUP)


def encode_partition(partition: torch.Tensor) -> str:
    """Group labels (< 10) as a string of digits, class 0 first: [0, 1, 1] → "011"."""
    labels = torch.as_tensor(partition).flatten().tolist()
    if labels and max(labels) > 9:
        raise ValueError(f"{max(labels) + 1} groups: a partition code holds at most 10 groups")
    return "".join(str(int(label)) for label in labels)


def decode_partition(code: str) -> torch.Tensor:
    """The inverse of :func:`encode_partition`."""
    return torch.tensor([int(character) for character in code], dtype=torch.long)


def encode_correct(correct: torch.Tensor) -> str:
    """Per-image correctness as "1"/"0" characters."""
    return "".join("1" if value else "0" for value in torch.as_tensor(correct).flatten().tolist())


def decode_correct(code: str) -> torch.Tensor:
    """The inverse of :func:`encode_correct`."""
    return torch.tensor([character == "1" for character in code], dtype=torch.bool)


def groups_of(code: str) -> list[list[int]]:
    """The classes of each group of a coded partition: "0110" → [[0, 3], [1, 2]]."""
    partition = decode_partition(code)
    return [torch.nonzero(partition == group).flatten().tolist() for group in range(int(partition.max()) + 1)]


def describe_partition(code: str, canonical: bool = False) -> str:
    """The groups of a coded partition as sets of classes: "0110" → "{0, 3} | {1, 2}"; with
    ``canonical`` ordered by their smallest class, so that relabellings read alike."""
    groups = sorted(groups_of(code)) if canonical else groups_of(code)
    return " | ".join("{" + ", ".join(str(k) for k in group) + "}" for group in groups)


def grouping_record(initial: torch.Tensor, final: torch.Tensor) -> dict[str, Any]:
    """What a SplitNet row records about its grouping phase, from the class assignments (G×K
    probabilities or logits) before and after it."""
    return {"initial_partition": encode_partition(diagnostics.class_partition(initial)),
            "class_partition": encode_partition(diagnostics.class_partition(final)),
            "kept_from_init": diagnostics.fraction_kept_from_init(initial, final)}


def pilot_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per baseline and procedure of the grouping pilot (``benchmarks/splitnet_grouping.py``: a
    trained baseline, several random initialisations of the assignment logits from it): the
    classes each initialisation kept from its initial arg-max, the agreement of every pair of
    initialisations' final partitions (fraction of classes and adjusted Rand index: 1 when all
    reach the same partition, ≈ 0.64 and 0 for random 5 + 5 partitions), each one's agreement
    with the baseline classifier's grouping, and the distinct partitions reached."""
    rows = []
    ordered = runs.sort_values("baseline_seed", kind="stable")
    for (baseline_seed, procedure), frame in ordered.groupby(["baseline_seed", "procedure"], sort=False):
        partitions = [decode_partition(code) for code in frame["class_partition"]]
        pairs = list(itertools.combinations(partitions, 2))
        rows.append({
            "baseline seed": baseline_seed,
            "procedure": procedure,
            "initialisations": len(frame),
            "kept_from_init": ", ".join(f"{value:.1f}" for value in frame["kept_from_init"]),
            "agreement between initialisations": ", ".join(
                f"{diagnostics.partition_agreement(a, b):.1f}" for a, b in pairs),
            "ARI": ", ".join(f"{diagnostics.adjusted_rand_index(a, b):.2f}" for a, b in pairs),
            "agree_baseline": ", ".join(f"{value:.1f}" for value in frame["agree_baseline"]),
            "learned groups": "; ".join(dict.fromkeys(describe_partition(code, canonical=True)
                                                      for code in frame["class_partition"])),
        })
    return pd.DataFrame(rows)


def _seed_rows(runs: pd.DataFrame, model: str) -> pd.DataFrame:
    """``model``'s rows, one per run, with its data set, tree and seed."""
    rows = runs[runs["model"] == model]
    return rows.set_index(["param_dataset", "groups", "param_seed"]).sort_index()


def grouping_table(runs: pd.DataFrame, draws: int = 2000) -> pd.DataFrame:
    """Per SplitNet run: the fraction of classes kept from the initial arg-max (a grouping that
    ignores the initialisation keeps 1/G on average: each class lands in its initial group with
    probability 1/G when the G groups are balanced), and the agreement of the learned grouping
    with the one the same run's baseline classifier implies, beside the mean agreement of random
    groupings of the same sizes and the share of those that agree at least as well (p)."""
    columns = ["dataset", "groups", "seed", "learned groups", "baseline's groups", "kept_from_init",
               "random_kept", "agree_baseline", "random_agree_baseline", "p_baseline"]
    if not len(runs) or "class_partition" not in runs:
        return pd.DataFrame(columns=columns)
    learned = _seed_rows(runs, "SplitNet").dropna(subset=["class_partition"])
    baseline = _seed_rows(runs, "baseline")
    rows = []
    for key, row in learned.iterrows():
        final = decode_partition(row["class_partition"])
        initial = decode_partition(row["initial_partition"])
        groups = int(final.max()) + 1
        entry = dict(zip(columns[:3], key))
        entry.update({"learned groups": describe_partition(row["class_partition"]),
                      "kept_from_init": float((final == initial).float().mean()), "random_kept": 1.0 / groups})
        reference = baseline["classifier_partition"].get(key) if "classifier_partition" in baseline else None
        if isinstance(reference, str):
            entry["baseline's groups"] = describe_partition(reference)
            comparison = diagnostics.compare_with_reference(final, decode_partition(reference), draws)
            entry.update(agree_baseline=comparison.agreement, random_agree_baseline=comparison.random_mean,
                         p_baseline=comparison.p_value)
        rows.append(entry)
    return pd.DataFrame(rows, columns=columns)


def cross_seed_table(runs: pd.DataFrame, draws: int = 2000) -> pd.DataFrame:
    """Per pair of seeds of the same data set and tree: how well their learned class partitions
    agree (fraction of classes under the best relabelling, and the adjusted Rand index), the
    mean agreement of random groupings of the same sizes with the second, and the share of those
    that agree at least as well (p). Groups learned from the data agree across seeds; groups
    that only echo each seed's random initial logits agree as random ones do."""
    columns = ["dataset", "groups", "seeds", "agreement", "ARI", "random_agreement", "p"]
    if not len(runs) or "class_partition" not in runs:
        return pd.DataFrame(columns=columns)
    learned = _seed_rows(runs, "SplitNet").dropna(subset=["class_partition"])
    rows = []
    for (dataset, groups), frame in learned.groupby(level=["param_dataset", "groups"]):
        partitions = {seed: decode_partition(code)
                      for (_, _, seed), code in frame["class_partition"].items()}
        for first, second in itertools.combinations(sorted(partitions), 2):
            comparison = diagnostics.compare_with_reference(partitions[first], partitions[second], draws)
            rows.append({"dataset": dataset, "groups": groups, "seeds": f"{first} vs {second}",
                         "agreement": comparison.agreement,
                         "ARI": diagnostics.adjusted_rand_index(partitions[first], partitions[second]),
                         "random_agreement": comparison.random_mean, "p": comparison.p_value})
    return pd.DataFrame(rows, columns=columns)


def learned_vs_random_tests(runs: pd.DataFrame, resamples: int = 10000) -> pd.DataFrame:
    """SplitNet against SplitNet-R on the same test images: per seed, both errors, the
    difference (negative: learned groups better), McNemar's exact p and the paired bootstrap's
    95% interval and p; then one row per data set and tree pooling the seeds: mean errors, the
    mean difference and the bootstrap over test images of that mean (an image is resampled with
    all its seeds, since every seed is scored on the same images)."""
    return paired_model_tests(runs, "SplitNet", "SplitNet-R", resamples)


def paired_model_tests(runs: pd.DataFrame, first_model: str, second_model: str,
                       resamples: int = 10000, margin: float | None = None) -> pd.DataFrame:
    """``first_model`` against ``second_model`` of the same runs on the same test images, per
    seed and pooled over seeds (see :func:`learned_vs_random_tests`); the columns keep the
    names "SplitNet" (first) and "SplitNet-R" (second). With a ``margin`` (points), a column
    ``p_margin`` holds the two-sided p that the first's error exceeds the second's by exactly the
    margin (:func:`~companion.splitnet.significance.margin_p`)."""
    columns = ["dataset", "groups", "seed", "SplitNet", "SplitNet-R", "difference", "only_SplitNet_right",
               "only_SplitNet-R_right", "p_McNemar", "low", "high", "p_bootstrap"]
    columns += [] if margin is None else ["p_margin"]
    if not len(runs) or "test_correct" not in runs:
        return pd.DataFrame(columns=columns)
    learned = _seed_rows(runs, first_model).dropna(subset=["test_correct"])
    random = _seed_rows(runs, second_model).dropna(subset=["test_correct"])
    keys = learned.index.intersection(random.index)
    rows = []
    for (dataset, groups), _ in pd.Series(0, index=keys).groupby(level=[0, 1]):
        seeds = [key for key in keys if key[:2] == (dataset, groups)]
        first = torch.stack([decode_correct(learned.loc[key, "test_correct"]) for key in seeds])
        second = torch.stack([decode_correct(random.loc[key, "test_correct"]) for key in seeds])
        for index, key in enumerate(seeds):
            rows.append(_comparison_row(dataset, groups, str(key[2]), first[index], second[index], resamples,
                                        margin))
        pooled = _comparison_row(dataset, groups, f"all {len(seeds)}", first, second, resamples, margin)
        pooled.update(only_SplitNet_right=np.nan, **{"only_SplitNet-R_right": np.nan}, p_McNemar=np.nan)
        rows.append(pooled)
    return pd.DataFrame(rows, columns=columns)


def _pooled_seeds(row: pd.Series) -> int:
    """How many seeds a pooled row of :func:`paired_model_tests` ("all N") pools."""
    return int(str(row["seed"]).split()[1])


def _comparison_row(dataset: str, groups: str, seed: str, first: torch.Tensor, second: torch.Tensor,
                    resamples: int, margin: float | None = None) -> dict[str, Any]:
    """One row of :func:`paired_model_tests` for per-image results (one run or runs × images)."""
    bootstrap = paired_bootstrap(first, second, resamples)
    mcnemar = mcnemar_exact(first, second)
    extra = {} if margin is None else {"p_margin": margin_p(first, second, margin, resamples)}
    return {**extra, "dataset": dataset, "groups": groups, "seed": seed,
            "SplitNet": 100.0 * (1 - first.float().mean().item()),
            "SplitNet-R": 100.0 * (1 - second.float().mean().item()),
            "difference": bootstrap.difference, "only_SplitNet_right": mcnemar.only_first_right,
            "only_SplitNet-R_right": mcnemar.only_second_right, "p_McNemar": mcnemar.p_value,
            "low": bootstrap.low, "high": bootstrap.high, "p_bootstrap": bootstrap.p_value}


def summary_of_groupings(grouping: pd.DataFrame, cross_seed: pd.DataFrame) -> Mapping[str, float]:
    """Means of the grouping diagnostics over runs and pairs of seeds (NaN where none)."""
    def mean(frame: pd.DataFrame, column: str) -> float:
        return float(frame[column].astype(float).mean()) if len(frame) else float("nan")

    return {"kept_from_init": mean(grouping, "kept_from_init"), "random_kept": mean(grouping, "random_kept"),
            "agree_baseline": mean(grouping, "agree_baseline"),
            "random_agree_baseline": mean(grouping, "random_agree_baseline"),
            "cross_seed_agreement": mean(cross_seed, "agreement"),
            "random_cross_seed_agreement": mean(cross_seed, "random_agreement"),
            "cross_seed_ARI": mean(cross_seed, "ARI")}


def recorded_settings(row: Mapping[str, Any]) -> SplitNetSettings:
    """The settings a run recorded, from one of its :func:`~companion.results.load_runs` rows
    (``param_*`` columns; parameters a record predates take its profile's value)."""
    names = set(SplitNetSettings.parameters())
    defaults = {field.name: field.default for field in fields(SplitNetSettings)}
    given = {}
    for column, value in row.items():
        name = str(column).removeprefix("param_")
        if not str(column).startswith("param_") or name not in names or _missing(value):
            continue
        value = value.item() if isinstance(value, np.generic) else value
        if isinstance(defaults[name], int) and not isinstance(defaults[name], bool) and isinstance(value, float):
            value = int(value)  # a column of integers with gaps is read as floats
        given[name] = value
    return resolve(PROFILES, **given)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _setting_rows(runs: pd.DataFrame, dataset: str, groups: str) -> pd.DataFrame:
    """The SplitNet rows of one data set and tree, one per seed (with their ``param_*`` columns)."""
    rows = _seed_rows(runs, "SplitNet").reset_index()
    return rows[(rows["param_dataset"] == dataset) & (rows["groups"] == groups)]


def cut_cost_problem(runs: pd.DataFrame, dataset: str, groups: str, limit: float = CUT_COST_LIMIT) -> str:
    """Why the SplitNet runs of ``dataset`` and ``groups`` cannot test an accuracy claim: the
    cut costs more than ``limit`` points of test error before fine-tuning in the mean over
    seeds (or the records do not keep the errors before and right after it); empty if it does
    not."""
    rows = _setting_rows(runs, dataset, groups)
    if not {"error_at_split", "grouping_error"} <= set(rows) or rows[["error_at_split", "grouping_error"]].isna().any().any():
        return "the records do not keep the test error before and right after the cut"
    costs = rows["error_at_split"] - rows["grouping_error"]
    if costs.mean() <= limit:
        return ""
    per_seed = ", ".join(f"{cost:+.1f} (seed {seed})" for seed, cost in zip(rows["param_seed"], costs))
    return (f"the cut costs {per_seed} points of test error before fine-tuning, {costs.mean():.1f} "
            f"in the mean, more than the {limit:g}-point limit: fine-tuning retrains a destroyed network")


def arms_problem(runs: pd.DataFrame, dataset: str, groups: str) -> str:
    """Why SplitNet and SplitNet-R of ``dataset`` and ``groups`` differ in more than their groups:
    in a recorded run, the two do not train as many epochs at each learning rate and weight decay
    from their common start (:data:`~companion.splitnet.settings.ARM_PHASES`, the phases'
    :func:`~companion.splitnet.settings.schedules`); empty if they do."""
    rows = _setting_rows(runs, dataset, groups)
    for _, row in rows.iterrows():
        phases = schedules(recorded_settings(row))
        training = {model: _epochs_at(phases[name] for name in names) for model, names in ARM_PHASES.items()}
        if training["SplitNet"] != training["SplitNet-R"]:
            described = "; ".join(
                f"{model} " + ", then ".join(f"{epochs} epochs at learning rate {lr:g}, weight decay {decay:g}"
                                             for (lr, decay), epochs in spent.items())
                for model, spent in training.items())
            return (f"SplitNet and SplitNet-R train otherwise, not only in their groups (seed {row['param_seed']}: "
                    f"{described})")
    return ""


def _epochs_at(phases: Iterable[Schedule]) -> dict[tuple[float, float], int]:
    """Epochs trained at each (learning rate, weight decay), in the order first reached."""
    spent: dict[tuple[float, float], int] = {}
    for phase in phases:
        if phase.epochs:
            spent[(phase.lr, phase.weight_decay)] = spent.get((phase.lr, phase.weight_decay), 0) + phase.epochs
    return spent


def accuracy_findings(scale: str, runs: pd.DataFrame, resamples: int = 10000) -> list[Finding]:
    """The two accuracy claims on ``runs`` (one scale), one finding each per data set and tree:
    SplitNet against the baseline (non-inferiority, :data:`MARGIN`) and against SplitNet-R."""
    found = []
    same = paired_model_tests(runs, "SplitNet", "baseline", resamples, margin=MARGIN)
    versus = learned_vs_random_tests(runs, resamples)
    for _, row in _pooled(same).iterrows():
        dataset, groups = row["dataset"], row["groups"]
        reduced = runs.loc[(runs["model"] == "SplitNet") & (runs["param_dataset"] == dataset)
                           & (runs["groups"] == groups), "params_reduced_pct"].mean()
        found.append(Finding(
            SAME_ERROR, scale, f"{dataset}, {groups}", _pooled_seeds(row), MARGIN - row["difference"],
            p_value=row["p_margin"], untested=cut_cost_problem(runs, dataset, groups),
            caveat=_scale_caveat(runs, dataset, groups),
            detail=f"{reduced:.0f}% fewer parameters; {_numbers(row, 'baseline')}, p = "
                   f"{row['p_margin']:.2g} against the +{MARGIN:.2f}-point margin (two-sided)"))
    for _, row in _pooled(versus).iterrows():
        dataset, groups = row["dataset"], row["groups"]
        untested = "; ".join(problem for problem in (cut_cost_problem(runs, dataset, groups),
                                                     arms_problem(runs, dataset, groups)) if problem)
        found.append(Finding(
            LEARNED_BEATS_RANDOM, scale, f"{dataset}, {groups}", _pooled_seeds(row), -row["difference"],
            p_value=row["p_bootstrap"], untested=untested, caveat=_scale_caveat(runs, dataset, groups),
            detail=f"{_numbers(row, 'SplitNet-R')}, p = {row['p_bootstrap']:.2g}"))
    return found


def _scale_caveat(runs: pd.DataFrame, dataset: str, groups: str) -> str:
    """How the runs of ``dataset`` and ``groups`` differ from the paper's setting (empty for its own)."""
    rows = _setting_rows(runs, dataset, groups)
    if not len(rows):
        return ""
    ours = recorded_settings(rows.iloc[0])
    reference = PROFILES["paper"]
    if (ours.dataset, ours.depth, ours.width) == (reference.dataset, reference.depth, reference.width):
        return ""
    return (f"{ours.dataset}, WRN-{ours.depth}-{ours.width}, {ours.epochs} + {ours.finetune_epochs} epochs, "
            f"not the paper's {reference.dataset}, WRN-{reference.depth}-{reference.width}, "
            f"{reference.epochs} + {reference.finetune_epochs}")


def _pooled(tests: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`paired_model_tests` that pool the seeds."""
    return tests[tests["seed"].astype(str).str.startswith("all")] if len(tests) else tests


def _numbers(row: pd.Series, other: str) -> str:
    return (f"SplitNet − {other} error {row['difference']:+.2f} points, 95% interval "
            f"[{row['low']:+.2f}, {row['high']:+.2f}] over {_pooled_seeds(row)} seeds "
            "(paired bootstrap over test images)")


def speed_findings(scale: str, benchmarks: pd.DataFrame) -> list[Finding]:
    """The speed-up claim on each benchmark record of ``scale`` (:mod:`companion.splitnet.speed`,
    ``splitnet/parallel``): the pipelined deep split on two CPU processes against the paper's
    speed-up on two GPUs. Records of the earlier benchmark (no ``workers`` column) are left out."""
    if not len(benchmarks) or "workers" not in benchmarks:
        return []
    deep = benchmarks[(benchmarks["profile"] == scale) & benchmarks["workers"].notna()
                      & (benchmarks["tree"] == "2-2-2") & (benchmarks["mode"] == "2 processes, pipelined")]
    return [Finding(DEEP_SPLIT_SPEEDUP, scale,
                    f"WRN-{row['param_depth']}-{row['param_width']}, batch {row['param_batch']}, 2 CPU processes",
                    1, effect=row["speedup"],
                    detail=f"{row['speedup']:.2f}× pipelined ({row['speedup'] / row['ideal']:.2f} of the FLOP ideal)",
                    passed=bool(row["speedup"] >= SPEED_SHARE * PAPER_SPEEDUP),
                    caveat="timed on 2 CPU processes, the paper on 2 TITAN X GPUs")
            for _, row in deep.iterrows()]


def findings(scale: str, runs: pd.DataFrame | None = None, *,
             benchmarks: pd.DataFrame | None = None) -> list[Finding]:
    """Every claim of :data:`CLAIMS` at ``scale``: the accuracy claims on ``runs`` (by default the
    committed records of that profile's planned runs, so records of earlier settings are not
    pooled), the speed-up on ``benchmarks`` (by default the committed ``splitnet/parallel``
    records)."""
    if runs is None:
        runs = planned_records("splitnet", scale)
    if benchmarks is None:
        benchmarks = results.load_runs("splitnet/parallel")
    return accuracy_findings(scale, runs) + speed_findings(scale, benchmarks)


def decisions_sentence(decisions: Iterable[Decision]) -> str:
    """The decisions as the chapter's prose quotes them: per claim and setting, the verdict, the
    numbers and, where the claim is not tested, why."""
    sentences = [f"{decision.claim.sentence} ({decision.finding.setting}, {decision.finding.seeds} seed(s)): "
                 f"**{decision.verdict}** — {decision.finding.detail}"
                 + (f"; {decision.reason}" if decision.reason else "") + "."
                 for decision in decisions if decision.claim.kind == EFFECT]
    return " ".join(sentences) if sentences else "No run of this scale has been recorded yet."
