"""Diagnostics of learned class groups, against hand-counted and closed-form answers."""

import math

import numpy as np

import pytest
import torch

from companion.splitnet import diagnostics
from companion.splitnet.assignment import LOGIT_INIT_STD


def _assignment(labels, groups):
    """A G×K soft assignment whose arg-max groups are ``labels``."""
    probabilities = torch.full((groups, len(labels)), 0.1 / (groups - 1))
    probabilities[torch.tensor(labels), torch.arange(len(labels))] = 0.9
    return probabilities


def test_assignments_that_never_moved_keep_every_class():
    initial = torch.randn(2, 10, generator=torch.Generator().manual_seed(0)) * LOGIT_INIT_STD
    assert diagnostics.fraction_kept_from_init(initial, initial.clone()) == 1.0
    # probabilities and logits give the same arg-max
    assert diagnostics.fraction_kept_from_init(initial, torch.softmax(initial, dim=0)) == 1.0


def test_a_known_regrouping_keeps_the_classes_that_did_not_move():
    initial = _assignment([0, 0, 0, 1, 1, 1, 2, 2, 2, 2], 3)
    final = _assignment([0, 1, 0, 1, 1, 0, 2, 2, 0, 2], 3)  # classes 1, 5 and 8 moved
    assert diagnostics.fraction_kept_from_init(initial, final) == pytest.approx(7 / 10)


def test_relabelled_groups_agree_fully():
    first = torch.tensor([0, 0, 1, 1, 2, 2])
    swapped = torch.tensor([1, 1, 0, 0, 2, 2])
    assert diagnostics.partition_agreement(first, swapped) == 1.0
    assert diagnostics.adjusted_rand_index(first, swapped) == pytest.approx(1.0)


def test_agreement_of_hand_made_partitions():
    first = torch.tensor([0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
    second = torch.tensor([1, 1, 1, 1, 0, 0, 0, 0, 0, 1])  # swapped labels, classes 4 and 9 exchanged
    assert diagnostics.partition_agreement(first, second) == pytest.approx(8 / 10)
    # contingency [[1, 4], [4, 1]]: Σ C(n,2) = 12, rows and columns 2·C(5,2) = 20, C(10,2) = 45
    expected = 20 * 20 / 45
    assert diagnostics.adjusted_rand_index(first, second) == pytest.approx((12 - expected) / (20 - expected))


def test_random_balanced_partitions_agree_as_the_hypergeometric_law_says():
    # two groups of 5: m = |A0 ∩ B0| ~ Hypergeometric(10, 5, 5), P(m) = C(5,m)² / C(10,5);
    # the best relabelling places max(2m, 10 − 2m) classes alike
    exact = sum(math.comb(5, m) ** 2 / math.comb(10, 5) * max(2 * m, 10 - 2 * m) / 10 for m in range(6))
    assert exact == pytest.approx(162 / 252)
    generator = torch.Generator().manual_seed(0)
    pairs = diagnostics.random_partitions([5, 5], 4000, generator).view(2000, 2, 10)
    agreements = torch.tensor([diagnostics.partition_agreement(a, b) for a, b in pairs])
    standard_error = agreements.std().item() / math.sqrt(len(agreements))
    assert agreements.mean().item() == pytest.approx(exact, abs=4 * standard_error)
    # the adjusted Rand index is 0 in expectation for random partitions of fixed sizes
    indices = torch.tensor([diagnostics.adjusted_rand_index(a, b) for a, b in pairs])
    assert indices.mean().item() == pytest.approx(0.0, abs=4 * indices.std().item() / math.sqrt(len(indices)))


def test_random_partitions_have_the_given_sizes():
    partitions = diagnostics.random_partitions([4, 3, 3], 50, torch.Generator().manual_seed(1))
    assert all(torch.bincount(p).tolist() == [4, 3, 3] for p in partitions)
    assert diagnostics.balanced_sizes(10, 3) == [4, 3, 3]


def _two_clusters(generator):
    """Ten classifier rows: classes 1, 3, 4, 7, 8 point one way, the others the opposite way."""
    members = torch.tensor([0, 1, 0, 1, 1, 0, 0, 1, 1, 0])
    direction = torch.randn(16, generator=generator)
    rows = torch.where(members[:, None] == 1, direction, -direction) + 0.1 * torch.randn(10, 16, generator=generator)
    return rows, members


def test_balanced_clustering_finds_two_obvious_clusters():
    rows, members = _two_clusters(torch.Generator().manual_seed(2))
    found = diagnostics.balanced_partition(rows, 2, generator=torch.Generator().manual_seed(0))
    assert torch.bincount(found).tolist() == [5, 5]
    assert diagnostics.partition_agreement(found, members) == 1.0


def test_balanced_clustering_keeps_sizes_when_clusters_are_unequal():
    # 7 rows near one point and 3 near another cannot make 5 + 5 without splitting the seven
    generator = torch.Generator().manual_seed(3)
    rows = torch.cat([torch.ones(7, 4), -torch.ones(3, 4)]) + 0.01 * torch.randn(10, 4, generator=generator)
    found = diagnostics.balanced_partition(rows, 2)
    assert torch.bincount(found).tolist() == [5, 5]
    assert len(set(found[7:].tolist())) == 1  # the three stay together


def test_a_grouping_matching_the_reference_beats_random_groupings():
    rows, members = _two_clusters(torch.Generator().manual_seed(4))
    reference = diagnostics.balanced_partition(rows, 2)
    comparison = diagnostics.compare_with_reference(1 - members, reference, draws=1000)
    assert comparison.agreement == 1.0
    # a random 5 + 5 split equals the reference up to relabelling with probability 2 / C(10,5)
    assert comparison.p_value == pytest.approx(2 / 252, abs=0.01)
    assert comparison.random_mean == pytest.approx(162 / 252, abs=0.02)
    unrelated = diagnostics.compare_with_reference(torch.tensor([0, 0, 1, 1, 0, 0, 1, 1, 0, 1]), reference)
    assert unrelated.p_value > 0.5


def test_partitions_of_sizes_enumerates_every_unordered_partition():
    five_five = diagnostics.partitions_of_sizes([5, 5])
    assert len(five_five) == math.comb(10, 5) // 2 == 126
    assert len({tuple(row.tolist()) for row in five_five}) == 126
    assert (torch.bincount(five_five[0]) == 5).all()
    assert len(diagnostics.partitions_of_sizes([2, 1])) == 3  # {a,b}|{c}, {a,c}|{b}, {b,c}|{a}


def test_confusion_percentile_ranks_the_grouping_the_confusions_imply_first():
    # classes 0–4 confuse each other, 5–9 each other, hardly across
    confusion = np.full((10, 10), 0.001)
    confusion[:5, :5] = confusion[5:, 5:] = 0.02
    np.fill_diagonal(confusion, 0.9)
    best = torch.tensor([0] * 5 + [1] * 5)
    ranked = diagnostics.confusion_percentile(confusion, best)
    assert ranked.partitions == 126 and ranked.share == pytest.approx(1 / 126)
    assert ranked.score == pytest.approx(diagnostics.cross_group_confusion(confusion, 1 - best))
    swapped = torch.tensor([0, 0, 0, 0, 1, 0, 1, 1, 1, 1])  # one pair of classes exchanged
    assert diagnostics.confusion_percentile(confusion, swapped).share == pytest.approx(26 / 126)
    mixed = torch.tensor([0, 1] * 5)
    assert diagnostics.confusion_percentile(confusion, mixed).share > 0.5


def test_agreement_with_a_reference_is_ranked_exactly_for_ten_classes():
    first = torch.tensor([0] * 5 + [1] * 5)
    assert diagnostics.compare_with_reference(first, first).p_value == pytest.approx(1 / 126)
    one_swap = torch.tensor([0, 0, 0, 0, 1, 0, 1, 1, 1, 1])
    result = diagnostics.compare_with_reference(one_swap, first)
    assert result.agreement == pytest.approx(0.8) and result.p_value == pytest.approx(26 / 126)
    assert len(result.random_agreements) == 126 and result.random_mean == pytest.approx(162 / 252)
    assert diagnostics.compare_with_reference(torch.tensor([0, 1] * 5), first).p_value == 1.0  # 0.6: the floor


def test_partition_counts_and_the_fallback_to_random_draws():
    assert diagnostics.partition_count([5, 5]) == 126
    assert diagnostics.partition_count([3, 3, 2, 2]) == len(diagnostics.partitions_of_sizes([3, 3, 2, 2])) == 6300
    assert diagnostics.partition_count([3, 2]) == 10
    partitions, exact = diagnostics.reference_partitions([50, 50], draws=300)
    assert not exact and partitions.shape == (300, 100)
    assert (torch.bincount(partitions[0]) == 50).all()
    assert diagnostics.reference_partitions([5, 5])[1]
