"""Are SplitNet's class groups learned from the data? Measures on class partitions.

A class partition is a length-K tensor of group labels (class k is in group ``labels[k]``); a
class assignment q ∈ [0,1]^{G×K} (or its logits) gives one by its arg-max over groups.

* :func:`fraction_kept_from_init`: how many classes end in the group their random initial
  logits gave them (1.0: the grouping phase learned nothing about the classes).
* :func:`partition_agreement`: the fraction of classes two partitions place alike under the
  best one-to-one relabelling of the groups — a number that reads directly ("8 of 10 classes
  agree"), and the one that matters for a split network, whose branches are unordered.
* :func:`adjusted_rand_index`: the pair-counting agreement corrected for chance (Hubert &
  Arabie 1985): 1 for equal partitions, 0 in expectation for random ones of the same sizes,
  whatever the sizes — the chance-free companion of the first, since random balanced
  partitions of 10 classes into 2 already agree on 0.64 of the classes on average.
* :func:`balanced_partition`: the grouping a trained unsplit network implies, a balanced
  k-means of its classifier's (centred, normalised) weight rows.
* :func:`compare_with_reference`: a learned grouping's agreement with a reference grouping,
  against the agreements of random groupings of the same sizes.
* :func:`cross_group_confusion` and :func:`confusion_percentile`: a diagnostic with resolution.
  The unsplit baseline's soft confusion (mean predicted probability of class j on images of
  class i) puts a number on every partition: the share of its confusion between groups. Classes
  a network confuses belong together, so a grouping that follows the data keeps that share
  low; its rank among *all* partitions of the same sizes (:func:`partitions_of_sizes`: 126 for
  10 classes into 5 + 5) says how far — learned groups that are semantic sit in the top few
  per cent, random ones anywhere.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment


def class_partition(assignment: torch.Tensor) -> torch.Tensor:
    """Each class's arg-max group from a G×K assignment (probabilities or logits)."""
    return assignment.detach().argmax(dim=0).cpu()


def fraction_kept_from_init(initial: torch.Tensor, final: torch.Tensor) -> float:
    """The fraction of classes whose final arg-max group is their initial one (G×K assignments,
    probabilities or logits: the softmax over groups keeps the arg-max)."""
    return (class_partition(initial) == class_partition(final)).float().mean().item()


def contingency(first: torch.Tensor, second: torch.Tensor) -> np.ndarray:
    """n_gh = #{classes in group g of ``first`` and group h of ``second``}."""
    first, second = np.asarray(first), np.asarray(second)
    if first.shape != second.shape:
        raise ValueError(f"partitions of {first.shape} and {second.shape} classes cannot be compared")
    table = np.zeros((first.max() + 1, second.max() + 1), dtype=np.int64)
    np.add.at(table, (first, second), 1)
    return table


def partition_agreement(first: torch.Tensor, second: torch.Tensor) -> float:
    """max over one-to-one group matchings π of Σ_g n_{g,π(g)} / K (the best relabelling)."""
    table = contingency(first, second)
    rows, columns = linear_sum_assignment(table, maximize=True)
    return float(table[rows, columns].sum() / table.sum())


def adjusted_rand_index(first: torch.Tensor, second: torch.Tensor) -> float:
    """ARI = (Σ C(n_gh,2) − E) / (½(Σ C(a_g,2) + Σ C(b_h,2)) − E), E = Σ C(a_g,2) Σ C(b_h,2) / C(K,2)."""
    table = contingency(first, second)
    pairs = (table * (table - 1) // 2).sum()
    first_pairs = sum(math.comb(int(count), 2) for count in table.sum(axis=1))
    second_pairs = sum(math.comb(int(count), 2) for count in table.sum(axis=0))
    expected = first_pairs * second_pairs / math.comb(int(table.sum()), 2)
    maximum = (first_pairs + second_pairs) / 2
    if maximum == expected:  # both partitions trivial (one group, or all singletons)
        return 1.0
    return float((pairs - expected) / (maximum - expected))


def balanced_sizes(classes: int, groups: int) -> list[int]:
    """Group sizes as :func:`~companion.splitnet.assignment.balanced_groups` makes them."""
    return torch.bincount(torch.arange(classes) * groups // classes, minlength=groups).tolist()


def random_partitions(sizes: list[int], draws: int, generator: torch.Generator) -> torch.Tensor:
    """``draws`` × K uniformly random partitions with groups of the given ``sizes``."""
    ordered = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    return torch.stack([ordered[torch.randperm(len(ordered), generator=generator)] for _ in range(draws)])


def balanced_partition(points: torch.Tensor, groups: int, restarts: int = 20,
                       generator: torch.Generator | None = None, iterations: int = 100) -> torch.Tensor:
    """Balanced k-means of the rows of ``points`` (K×D, e.g. classifier weight rows): groups of
    :func:`balanced_sizes`, minimising Σ_k ‖x_k − c_{g(k)}‖² over ``restarts`` seeded starts.

    The rows are centred (the mean row is what every class shares) and scaled to unit length,
    so classes group by the direction of their weights. Each step assigns classes to group slots
    optimally (Hungarian algorithm), so the sizes always hold.
    """
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    centred = points.detach().double().cpu() - points.detach().double().cpu().mean(dim=0)
    rows = (centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-12)).numpy()
    slots = np.repeat(np.arange(groups), balanced_sizes(len(rows), groups))
    best, best_cost = None, math.inf
    for _ in range(restarts):
        labels = slots[torch.randperm(len(rows), generator=generator).numpy()]
        for _ in range(iterations):
            centres = np.stack([rows[labels == g].mean(axis=0) for g in range(groups)])
            distances = ((rows[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)  # K×G
            classes, slot = linear_sum_assignment(distances[:, slots])
            updated = np.empty_like(labels)
            updated[classes] = slots[slot]
            if np.array_equal(updated, labels):
                break
            labels = updated
        cost = sum(((rows[labels == g] - rows[labels == g].mean(axis=0)) ** 2).sum() for g in range(groups))
        if cost < best_cost - 1e-12:
            best, best_cost = labels, cost
    return torch.from_numpy(best)


@dataclass(frozen=True)
class ReferenceComparison:
    """A learned grouping against a reference: its agreement, the agreements of the groupings of
    the same sizes, and the share of those at least as high (a one-sided p-value)."""

    agreement: float
    random_agreements: torch.Tensor
    p_value: float

    @property
    def random_mean(self) -> float:
        """The agreement random groupings reach on average."""
        return self.random_agreements.mean().item()


def compare_with_reference(learned: torch.Tensor, reference: torch.Tensor, draws: int = 2000,
                           generator: torch.Generator | None = None) -> ReferenceComparison:
    """:func:`partition_agreement` of ``learned`` with ``reference``, and its distribution over
    the groupings of ``learned``'s group sizes (:func:`reference_partitions`: all of them for 10
    classes, e.g. the 126 of 5 + 5, else ``draws`` random ones); p = the share of those that
    agree at least as well (exact when enumerated: 26/126 for 0.8 with 5 + 5)."""
    sizes = torch.bincount(learned).tolist()
    observed = partition_agreement(learned, reference)
    candidates, _ = reference_partitions(sizes, draws, generator)
    random = torch.tensor([partition_agreement(partition, reference) for partition in candidates])
    p_value = float((random >= observed - 1e-12).float().mean())
    return ReferenceComparison(observed, random, p_value)


def canonical(partition: torch.Tensor | np.ndarray) -> tuple[int, ...]:
    """A partition's labels renamed in order of first appearance (groups are unordered):
    (1, 1, 0, 2) → (0, 0, 1, 2)."""
    names: dict[int, int] = {}
    return tuple(names.setdefault(int(label), len(names)) for label in np.asarray(partition))


def partition_count(sizes: list[int]) -> int:
    """How many unordered partitions of ``sum(sizes)`` classes have these group sizes:
    K! / Π n_g! / Π m_s! (m_s: how many groups share size s)."""
    count = math.factorial(sum(sizes))
    for size in sizes:
        count //= math.factorial(size)
    for repeats in np.unique(sizes, return_counts=True)[1]:
        count //= math.factorial(int(repeats))
    return count


def partitions_of_sizes(sizes: list[int]) -> torch.Tensor:
    """Every partition of ``sum(sizes)`` classes into unordered groups of the given sizes, one
    per row in :func:`canonical` form (e.g. 126 for sizes [5, 5])."""
    classes = sum(sizes)
    found: set[tuple[int, ...]] = set()

    def place(labels: list[int], remaining: list[int]) -> None:
        if len(labels) == classes:
            found.add(canonical(np.array(labels)))
            return
        for group, left in enumerate(remaining):
            if left:
                remaining[group] -= 1
                place(labels + [group], remaining)
                remaining[group] += 1

    place([], list(sizes))
    return torch.tensor(sorted(found))


#: Up to this many partitions of a grouping's sizes are enumerated; beyond (CIFAR-100's 100
#: classes), :func:`reference_partitions` draws random ones.
ENUMERATION_LIMIT = 10000


def reference_partitions(sizes: list[int], draws: int = 2000, generator: torch.Generator | None = None
                         ) -> tuple[torch.Tensor, bool]:
    """The partitions a grouping of ``sizes`` is ranked among: all of them when there are at
    most :data:`ENUMERATION_LIMIT` (exact), else ``draws`` random ones; and whether exact."""
    if partition_count(sizes) <= ENUMERATION_LIMIT:
        return partitions_of_sizes(sizes), True
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    return random_partitions(sizes, draws, generator), False


def cross_group_confusion(confusion: np.ndarray | torch.Tensor, partition: torch.Tensor) -> float:
    """The share of a soft confusion matrix's off-diagonal mass between different groups:
    Σ_{g(i) ≠ g(j)} C_ij / Σ_{i ≠ j} C_ij."""
    matrix = np.asarray(confusion, dtype=float).copy()
    np.fill_diagonal(matrix, 0.0)
    labels = np.asarray(partition)
    between = labels[:, None] != labels[None, :]
    return float(matrix[between].sum() / matrix.sum())


@dataclass(frozen=True)
class Percentile:
    """Where a partition ranks among the partitions of its group sizes by a score: its score,
    the share of partitions scoring at least as well (ties count: a one-sided p-value under
    "the grouping is a random one of these sizes"), their mean score, how many were compared and
    whether that was all of them (:func:`reference_partitions`)."""

    score: float
    share: float
    mean: float
    partitions: int
    exact: bool


def confusion_percentile(confusion: np.ndarray | torch.Tensor, partition: torch.Tensor) -> Percentile:
    """:func:`cross_group_confusion` of ``partition`` and the share of all partitions of its
    group sizes whose cross-group confusion is at most as low (0.01: the best 1%; about 0.5 on
    average for a random partition)."""
    labels = torch.as_tensor(partition)
    candidates, exact = reference_partitions(torch.bincount(labels).tolist())
    scores = np.array([cross_group_confusion(confusion, candidate) for candidate in candidates])
    score = cross_group_confusion(confusion, labels)
    return Percentile(score, float((scores <= score + 1e-12).mean()), float(scores.mean()), len(candidates), exact)
