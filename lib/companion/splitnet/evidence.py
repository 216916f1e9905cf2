"""The chapter's evidence from recorded runs: are the class groups learned from the data, and do
learned groups beat random ones?

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
:func:`cross_seed_table` (do different seeds find the same grouping?), :func:`learned_vs_random_tests`
(SplitNet against SplitNet-R per seed and pooled over seeds, with McNemar's and the paired
bootstrap's p-values) and :func:`verdict` (the sentence those numbers support).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch

from companion.evidence import MIN_SEEDS
from companion.splitnet import diagnostics
from companion.splitnet.significance import mcnemar_exact, paired_bootstrap

#: Record columns that hold coded partitions or per-image results (not for display).
CODED_COLUMNS = ("initial_partition", "class_partition", "classifier_partition", "test_correct")

#: p-value below which a test is called significant.
SIGNIFICANCE_LEVEL = 0.05


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
                       resamples: int = 10000) -> pd.DataFrame:
    """``first_model`` against ``second_model`` of the same runs on the same test images, per
    seed and pooled over seeds (see :func:`learned_vs_random_tests`); the columns keep the
    names "SplitNet" (first) and "SplitNet-R" (second)."""
    columns = ["dataset", "groups", "seed", "SplitNet", "SplitNet-R", "difference", "only_SplitNet_right",
               "only_SplitNet-R_right", "p_McNemar", "low", "high", "p_bootstrap"]
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
            rows.append(_comparison_row(dataset, groups, str(key[2]), first[index], second[index], resamples))
        pooled = _comparison_row(dataset, groups, f"all {len(seeds)}", first, second, resamples)
        pooled.update(only_SplitNet_right=np.nan, **{"only_SplitNet-R_right": np.nan}, p_McNemar=np.nan)
        rows.append(pooled)
    return pd.DataFrame(rows, columns=columns)


def pooled_seeds(row: pd.Series) -> int:
    """How many seeds a pooled row of :func:`paired_model_tests` ("all N") pools."""
    return int(str(row["seed"]).split()[1])


def learned_vs_random_verdict(row: pd.Series, min_seeds: int = MIN_SEEDS) -> str:
    """The verdict on "learned groups beat random ones" from a pooled row of
    :func:`learned_vs_random_tests`: reproduced when the paired bootstrap over test images
    (seeds pooled) gives p < 0.05 with SplitNet's error the lower, not reproduced when p < 0.05
    the other way, inconclusive otherwise or with fewer than ``min_seeds`` seeds."""
    if pooled_seeds(row) < min_seeds or not row["p_bootstrap"] < SIGNIFICANCE_LEVEL:
        return "inconclusive"
    return "reproduced" if row["difference"] < 0 else "not reproduced"


def same_error_verdict(row: pd.Series, margin: float, min_seeds: int = MIN_SEEDS) -> str:
    """The verdict on "the split costs about no error" from a pooled row of
    :func:`paired_model_tests` (SplitNet against the baseline): reproduced when the 95% interval
    of the error difference lies below ``margin`` points (the paper's worst increase), not
    reproduced when it lies above, inconclusive when it straddles it or with too few seeds."""
    if pooled_seeds(row) < min_seeds:
        return "inconclusive"
    if row["high"] < margin:
        return "reproduced"
    return "not reproduced" if row["low"] > margin else "inconclusive"


def _comparison_row(dataset: str, groups: str, seed: str, first: torch.Tensor, second: torch.Tensor,
                    resamples: int) -> dict[str, Any]:
    """One row of :func:`learned_vs_random_tests` for per-image results (one run or runs × images)."""
    bootstrap = paired_bootstrap(first, second, resamples)
    mcnemar = mcnemar_exact(first, second)
    return {"dataset": dataset, "groups": groups, "seed": seed,
            "SplitNet": 100.0 * (1 - first.float().mean().item()),
            "SplitNet-R": 100.0 * (1 - second.float().mean().item()),
            "difference": bootstrap.difference, "only_SplitNet_right": mcnemar.only_first_right,
            "only_SplitNet-R_right": mcnemar.only_second_right, "p_McNemar": mcnemar.p_value,
            "low": bootstrap.low, "high": bootstrap.high, "p_bootstrap": bootstrap.p_value}


def verdict(tests: pd.DataFrame, planned: int) -> str:
    """The sentence the pooled rows of :func:`learned_vs_random_tests` support, for a grid of
    ``planned`` runs: which groups did better, by how much, and whether the test decides it."""
    pooled = tests[tests["seed"].astype(str).str.startswith("all")] if len(tests) else tests
    if not len(pooled):
        return (f"None of the {planned} planned runs has been recorded yet, so the comparison "
                "of learned with random groups is still open.")
    sentences = []
    for _, row in pooled.iterrows():
        seeds = int(str(row["seed"]).split()[1])
        numbers = (f"SplitNet {row['SplitNet']:.2f}% against SplitNet-R {row['SplitNet-R']:.2f}% "
                   f"(difference {row['difference']:+.2f} points, 95% interval "
                   f"[{row['low']:+.2f}, {row['high']:+.2f}], paired bootstrap p = {row['p_bootstrap']:.3f})")
        decided = learned_vs_random_verdict(row)
        if decided == "reproduced":
            finding = "**reproduced**: learned groups beat random ones"
        elif decided == "not reproduced":
            finding = "**not reproduced**: random groups beat learned ones"
        elif seeds < MIN_SEEDS:
            finding = f"**inconclusive**: {seeds} seed(s), {MIN_SEEDS} needed"
        else:
            finding = ("**inconclusive**: the difference is within what resampling the test images "
                       "produces, so learned groups are not shown to beat random ones")
        sentences.append(f"On {row['dataset']} with the tree {row['groups']}, over {seeds} seed(s): "
                         f"{numbers} — {finding}.")
    landed = int(pooled["seed"].map(lambda text: int(str(text).split()[1])).sum())
    if landed < planned:
        sentences.append(f"Recorded so far: {landed} of the {planned} planned runs.")
    return " ".join(sentences)


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
