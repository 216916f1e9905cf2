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
"""

from __future__ import annotations

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
    """A learned grouping against a reference: its agreement, the agreements of random groupings
    of the same sizes, and the share of those at least as high (a one-sided p-value)."""

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
    ``draws`` random groupings with ``learned``'s group sizes; p = (1 + #{random ≥ observed}) /
    (1 + draws)."""
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    sizes = torch.bincount(learned).tolist()
    observed = partition_agreement(learned, reference)
    random = torch.tensor([partition_agreement(partition, reference)
                           for partition in random_partitions(sizes, draws, generator)])
    p_value = (1 + int((random >= observed - 1e-12).sum())) / (1 + draws)
    return ReferenceComparison(observed, random, p_value)
