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

A run tests the accuracy claims only if the cut leaves a network to fine-tune: when the cut
costs more than :data:`CUT_COST_LIMIT` points of test error in the mean over seeds (the error
right after the cut against the error at the end of the grouping phase, both recorded), the
fine-tuning retrains a destroyed network and neither accuracy claim of that setting is tested.
Learned against random groups is tested only against the matched control: SplitNet-R run through
SplitNet's pipeline with its assignment frozen to random groups
(:data:`~companion.splitnet.settings.ARM_PHASES`), so that the groups are the only difference.
Both accuracy claims take seeds as the unit (a paired t-test over per-seed differences); the
per-seed McNemar and bootstrap tests of :func:`learned_vs_random_tests` test two networks on
one test set, not the method.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from companion import paper, results
from companion.config import resolve
from companion.evidence import EFFECT, MEASUREMENT, Claim, Decision, Finding, paired_finding
from companion.reproduce.plan import planned_records
from companion.splitnet import diagnostics
from companion.splitnet.settings import PROFILES, SplitNetSettings
from companion.splitnet.significance import mcnemar_exact, paired_bootstrap

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
            "baseline_error": baseline_error,
            "fewest_reduced": float(splits["params_reduced_pct"].min()),
            "most_reduced": float(splits["params_reduced_pct"].max()),
            "learned_wins": int((versus["R"] > versus["SplitNet"]).sum()), "splits": len(versus),
            "deep_speedup": float(table5.loc[(table5["tree"] == "2-2-2") & (table5["devices"] == 2),
                                             "speedup"].iloc[0])}


_REPORTED = _paper_numbers()
#: The paper's worst error increase of a split over the unsplit WRN-16-8 (points, Table 2).
MARGIN = _REPORTED["worst_increase"]
#: The non-inferiority margin of "about the same error", relative to the baseline's error.
#: It is the paper's worst increase over its baseline's error (+0.52 on 24.28%, so 2.1%); on a
#: baseline at 2% error it allows +0.04 points.
RELATIVE_MARGIN = MARGIN / _REPORTED["baseline_error"]
#: The paper's speed-up of the deep split on two GPUs.
PAPER_SPEEDUP = _REPORTED["deep_speedup"]

SAME_ERROR = Claim(
    "splitnet/same-error", PAPER, "SplitNet cuts parameters at about the same error",
    f"{_REPORTED['fewest_reduced']:.1f}–{_REPORTED['most_reduced']:.1f}% fewer parameters, error "
    f"{MARGIN:+.2f} points at worst (WRN-16-8, CIFAR-100; Kim et al. 2017, Table 2)",
    f"non-inferiority with seeds as the unit: per seed, the margin ({100 * RELATIVE_MARGIN:.1f}% of that "
    f"seed's baseline error, the paper's worst increase relative to its baseline) less SplitNet's error "
    f"increase over the baseline; a two-sided paired t-test over seeds that its mean is zero; not "
    f"tested where the cut costs more than {CUT_COST_LIMIT:g} points",
    quote="SplitNet: learning to semantically split deep networks for parameter reduction and model "
          "parallelization", unit="points of error (margin less increase)", errata=("errata-splitnet",))
LEARNED_BEATS_RANDOM = Claim(
    "splitnet/learned-beats-random", PAPER, "learned groups beat random groups (SplitNet vs SplitNet-R)",
    f"learned better in {_REPORTED['learned_wins']} of {_REPORTED['splits']} splits "
    "(WRN-16-8, CIFAR-100; Kim et al. 2017, Table 1)",
    "seeds as the unit: per seed SplitNet-R's error less SplitNet's, a two-sided paired t-test over "
    f"seeds; not tested where the cut costs more than {CUT_COST_LIMIT:g} points or SplitNet-R is not "
    "SplitNet's pipeline with the assignment frozen to random groups",
    quote="Split layers into a tree structure through learning", unit="points of test error", errata=("errata-splitnet",))
DEEP_SPLIT_SPEEDUP = Claim(
    "splitnet/deep-split-speedup", PAPER, f"a deep split runs {PAPER_SPEEDUP:.2f}× faster on 2 devices",
    f"{PAPER_SPEEDUP:.2f}× on 2 TITAN X GPUs (Kim et al. 2017, Table 5)",
    f"the fastest pass of the pipelined deep split on two CPU processes ≥ {SPEED_SHARE:g} × the "
    "paper's speed-up (a CPU timing of a GPU claim)", MEASUREMENT,
    quote="Place branches on separate GPUs for efficient parallelization")
#: The paper's claims as this chapter decides them, declared once (see :mod:`companion.evidence`).
CLAIMS: tuple[Claim, ...] = (SAME_ERROR, LEARNED_BEATS_RANDOM, DEEP_SPLIT_SPEEDUP)


def section(finding: Finding) -> str:
    """The label of the chapter's section that decides ``finding`` (the summary links to it)."""
    if finding.claim.key == DEEP_SPLIT_SPEEDUP.key:
        return "splitnet-table-5"
    return "splitnet-evidence-cpu-long" if finding.scale == "cpu-long" else "splitnet-decisions"


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
    with the baseline classifier's grouping, the distinct partitions reached and, where the pilot
    measured it, the off-block weight share before the cut and what the cut cost."""
    rows = []
    if "seed" in runs:  # an initialisation piloted twice (in two records) counts once, the newest
        runs = runs.drop_duplicates(subset=["baseline_seed", "procedure", "seed"], keep="last")
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
            **_pilot_cut(frame),
        })
    return pd.DataFrame(rows)


def _pilot_cut(frame: pd.DataFrame) -> dict[str, str]:
    """The cut columns of :func:`pilot_summary` (records of the pilot that measured the cut): per
    initialisation, the off-block share of squared weights before it (%) and what it cost
    (points; "no cut" where a group was left empty)."""
    if "off_block_mass" not in frame:
        return {"off-block % before the cut": "not measured", "cut cost (points)": "not measured"}
    costs = [f"{cut - grouping:+.1f}" if not _missing(cut) else "no cut"
             for cut, grouping in zip(frame["error_at_split"], frame["grouping_error"])]
    return {"off-block % before the cut": ", ".join(f"{100 * value:.1f}" for value in frame["off_block_mass"]),
            "cut cost (points)": ", ".join(costs)}


def _seed_rows(runs: pd.DataFrame, model: str) -> pd.DataFrame:
    """``model``'s rows, one per run, with its data set, tree and seed."""
    rows = runs[runs["model"] == model]
    return rows.set_index(["param_dataset", "groups", "param_seed"]).sort_index()


def grouping_table(runs: pd.DataFrame) -> pd.DataFrame:
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
            comparison = diagnostics.compare_with_reference(final, decode_partition(reference))
            entry.update(agree_baseline=comparison.agreement, random_agree_baseline=comparison.random_mean,
                         p_baseline=comparison.p_value)
        rows.append(entry)
    return pd.DataFrame(rows, columns=columns)


def cut_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run and grouped arm (SplitNet, SplitNet-R): the test error at the end of the grouping
    phase, the share of the split layers' squared weights between groups just before the cut
    (mean and largest over layers), the error right after the cut, what the cut cost, and the
    error after fine-tuning. A cut that costs a few points splits a trained network; one that
    costs tens of points leaves the fine-tuning to rebuild it."""
    columns = ["dataset", "groups", "seed", "model", "grouping_error", "off_block_mass", "off_block_max",
               "error_at_split", "cut_cost", "test_error"]
    if not len(runs) or "error_at_split" not in runs:
        return pd.DataFrame(columns=columns)
    arms = runs[runs["model"].isin(["SplitNet", "SplitNet-R"])].dropna(subset=["error_at_split"])
    table = arms.rename(columns={"param_dataset": "dataset", "param_seed": "seed"}).reindex(columns=columns)
    table["cut_cost"] = table["error_at_split"] - table["grouping_error"]
    return table.sort_values(["dataset", "groups", "seed", "model"]).reset_index(drop=True)


def confusion_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per run: how much of the baseline's soft confusion (the ``soft_confusion`` of its record)
    each grouping puts between groups — SplitNet's learned groups, SplitNet-R's random ones and
    the baseline classifier's own k-means grouping — and that grouping's rank among all
    groupings of its sizes (:func:`~companion.splitnet.diagnostics.confusion_percentile`; top:
    the share at most as confused, 1/126 for the best of 10 classes into 5 + 5, about one half on
    average for a random grouping)."""
    columns = ["dataset", "groups", "seed", "grouping", "classes", "cross-group confusion", "top", "partitions"]
    if not len(runs) or "soft_confusion" not in runs:
        return pd.DataFrame(columns=columns)
    baseline = _seed_rows(runs, "baseline")
    sources = {"SplitNet (learned)": (_seed_rows(runs, "SplitNet"), "class_partition"),
               "SplitNet-R (random)": (_seed_rows(runs, "SplitNet-R"), "class_partition"),
               "baseline classifier (k-means)": (baseline, "classifier_partition")}
    rows = []
    for key, confusion in baseline["soft_confusion"].dropna().items():
        for name, (frame, column) in sources.items():
            code = frame[column].get(key) if column in frame else None
            if not isinstance(code, str):
                continue
            ranked = diagnostics.confusion_percentile(np.asarray(confusion), decode_partition(code))
            rows.append({"dataset": key[0], "groups": key[1], "seed": key[2], "grouping": name,
                         "classes": describe_partition(code), "cross-group confusion": ranked.score,
                         "top": ranked.share, "partitions": ranked.partitions})
    return pd.DataFrame(rows, columns=columns)


def cross_seed_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per pair of seeds of the same data set and tree: how well their learned class partitions
    agree (fraction of classes under the best relabelling, and the adjusted Rand index), the
    mean agreement of all groupings of the same sizes with the second, and the share of those
    that agree at least as well (p: 26/126 for 0.8 with 10 classes into 5 + 5). Groups learned from the data agree across seeds; groups
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
            comparison = diagnostics.compare_with_reference(partitions[first], partitions[second])
            rows.append({"dataset": dataset, "groups": groups, "seeds": f"{first} vs {second}",
                         "agreement": comparison.agreement,
                         "ARI": diagnostics.adjusted_rand_index(partitions[first], partitions[second]),
                         "random_agreement": comparison.random_mean, "p": comparison.p_value})
    return pd.DataFrame(rows, columns=columns)


def learned_vs_random_tests(runs: pd.DataFrame, resamples: int = 10000) -> pd.DataFrame:
    """SplitNet against SplitNet-R on the same test images, one row per seed (one pair of
    networks): both errors, the difference (negative: learned groups better), McNemar's exact p
    and the paired bootstrap's 95% interval and p — each a test of two networks on these images,
    not of the method; the test over seeds is :func:`accuracy_findings`'."""
    columns = ["dataset", "groups", "seed", "SplitNet", "SplitNet-R", "difference", "only_SplitNet_right",
               "only_SplitNet-R_right", "p_McNemar", "low", "high", "p_bootstrap"]
    if not len(runs) or "test_correct" not in runs:
        return pd.DataFrame(columns=columns)
    learned = _seed_rows(runs, "SplitNet").dropna(subset=["test_correct"])
    random = _seed_rows(runs, "SplitNet-R").dropna(subset=["test_correct"])
    rows = []
    for dataset, groups, seed in learned.index.intersection(random.index):
        first = decode_correct(learned.loc[(dataset, groups, seed), "test_correct"])
        second = decode_correct(random.loc[(dataset, groups, seed), "test_correct"])
        bootstrap, mcnemar = paired_bootstrap(first, second, resamples), mcnemar_exact(first, second)
        rows.append({"dataset": dataset, "groups": groups, "seed": seed,
                     "SplitNet": 100.0 * (1 - first.float().mean().item()),
                     "SplitNet-R": 100.0 * (1 - second.float().mean().item()),
                     "difference": bootstrap.difference, "only_SplitNet_right": mcnemar.only_first_right,
                     "only_SplitNet-R_right": mcnemar.only_second_right, "p_McNemar": mcnemar.p_value,
                     "low": bootstrap.low, "high": bootstrap.high, "p_bootstrap": bootstrap.p_value})
    return pd.DataFrame(rows, columns=columns)


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
    the records' SplitNet-R was not SplitNet's pipeline with a frozen random assignment (it
    records no cut of its own: records made before the matched control); empty if it was. (The
    matched arms train alike by construction: :data:`~companion.splitnet.settings.ARM_PHASES`.)"""
    control = runs[(runs["model"] == "SplitNet-R") & (runs["param_dataset"] == dataset) & (runs["groups"] == groups)]
    if "error_at_split" not in control or control["error_at_split"].isna().any():
        return ("SplitNet-R of these records was cut along random groups at the start and trained as a "
                "split network, not grouped, cut and fine-tuned as SplitNet was (records made before "
                "the matched control)")
    return ""


def seed_errors(runs: pd.DataFrame, dataset: str, groups: str) -> pd.DataFrame:
    """Test error (%) per seed (rows) and model (columns) of one data set and tree."""
    chosen = runs[(runs["param_dataset"] == dataset) & (runs["groups"] == groups)]
    return chosen.pivot_table(index="param_seed", columns="model", values="test_error", aggfunc="first")


def seed_level_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per data set, tree and seed: the baseline's, SplitNet's and SplitNet-R's errors, learned
    minus random (negative: the learned groups are better), SplitNet's increase over the baseline
    and the non-inferiority margin of that seed (:data:`RELATIVE_MARGIN` of its baseline error)."""
    columns = ["dataset", "groups", "seed", "baseline", "SplitNet", "SplitNet-R", "learned − random",
               "SplitNet − baseline", "margin"]
    rows = []
    if not len(runs):
        return pd.DataFrame(rows, columns=columns)
    for (dataset, groups), _ in runs.groupby(["param_dataset", "groups"]):
        errors = seed_errors(runs, dataset, groups)
        if not {"baseline", "SplitNet", "SplitNet-R"} <= set(errors):
            continue
        for seed, row in errors.dropna(subset=["baseline", "SplitNet", "SplitNet-R"]).iterrows():
            rows.append({"dataset": dataset, "groups": groups, "seed": int(seed), "baseline": row["baseline"],
                         "SplitNet": row["SplitNet"], "SplitNet-R": row["SplitNet-R"],
                         "learned − random": row["SplitNet"] - row["SplitNet-R"],
                         "SplitNet − baseline": row["SplitNet"] - row["baseline"],
                         "margin": RELATIVE_MARGIN * row["baseline"]})
    return pd.DataFrame(rows, columns=columns)


def accuracy_findings(scale: str, runs: pd.DataFrame) -> list[Finding]:
    """The two accuracy claims on ``runs`` (one scale), one finding each per data set and tree,
    with seeds as the unit (:func:`seed_level_table`, a paired t-test over seeds): SplitNet
    against the baseline (non-inferiority, :data:`RELATIVE_MARGIN`) and against SplitNet-R."""
    found = []
    table = seed_level_table(runs)
    for (dataset, groups), frame in table.groupby(["dataset", "groups"]):
        setting, caveat = f"{dataset}, {groups}", _scale_caveat(runs, dataset, groups)
        cut = cut_cost_problem(runs, dataset, groups)
        reduced = runs.loc[(runs["model"] == "SplitNet") & (runs["param_dataset"] == dataset)
                           & (runs["groups"] == groups), "params_reduced_pct"].mean()
        increase = frame["SplitNet − baseline"]
        same = paired_finding(SAME_ERROR, scale, setting, list(frame["margin"] - increase), untested=cut,
                              caveat=caveat)
        found.append(replace(same, detail=(
            f"{reduced:.0f}% fewer parameters; SplitNet − baseline error {increase.mean():+.2f} ± "
            f"{increase.std():.2f} points over {len(frame)} seeds against a margin of "
            f"+{frame['margin'].mean():.2f} ({100 * RELATIVE_MARGIN:.1f}% of the baseline's "
            f"{frame['baseline'].mean():.2f}%), p = {same.p_value:.2g} (paired t over seeds)")))
        untested = "; ".join(problem for problem in (cut, arms_problem(runs, dataset, groups)) if problem)
        difference = frame["learned − random"]
        versus = paired_finding(LEARNED_BEATS_RANDOM, scale, setting, list(-difference), untested=untested,
                                caveat=caveat)
        found.append(replace(versus, detail=(
            f"SplitNet − SplitNet-R error {difference.mean():+.2f} ± {difference.std():.2f} points over "
            f"{len(frame)} seeds (learned better in {int((difference < 0).sum())}, random in "
            f"{int((difference > 0).sum())}), p = {versus.p_value:.2g} (paired t over seeds)")))
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
