"""Paired tests of two models on one test set, against hand-computed answers."""

import math

import pytest
import torch

from companion.splitnet.significance import mcnemar_exact, paired_bootstrap


def _paired(both_right, only_first, only_second, both_wrong):
    first = [True] * both_right + [True] * only_first + [False] * only_second + [False] * both_wrong
    second = [True] * both_right + [False] * only_first + [True] * only_second + [False] * both_wrong
    return torch.tensor(first), torch.tensor(second)


def test_mcnemar_exact_p_value_by_hand():
    # b = 1, c = 6: p = 2 P(X ≤ 1), X ~ Bin(7, ½) = 2 (1 + 7) / 128
    result = mcnemar_exact(*_paired(50, 1, 6, 3))
    assert (result.only_first_right, result.only_second_right) == (1, 6)
    assert result.p_value == pytest.approx(0.125)


def test_mcnemar_is_one_without_discordant_images_or_with_a_tie():
    assert mcnemar_exact(*_paired(40, 0, 0, 10)).p_value == 1.0
    assert mcnemar_exact(*_paired(40, 3, 3, 10)).p_value == 1.0  # 2 P(X ≤ 3), X ~ Bin(6, ½) > 1


def test_mcnemar_needs_the_same_images():
    with pytest.raises(ValueError, match="same images"):
        mcnemar_exact(torch.ones(3), torch.ones(4))


def test_bootstrap_of_identical_models_is_zero_with_p_one():
    first, _ = _paired(30, 0, 0, 10)
    result = paired_bootstrap(first, first.clone(), resamples=500)
    assert (result.difference, result.low, result.high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_bootstrap_interval_matches_the_normal_approximation():
    # 1000 images, A alone wrong on 60, B alone wrong on 20: d = 4%; per-image values ±100 or 0,
    # so sd(d) = √((0.08 · 100² − 4²) / 1000) %, and the 95% interval is d ± 1.96 sd
    first, second = _paired(900, 20, 60, 20)
    result = paired_bootstrap(first, second, resamples=20000, seed=1)
    assert result.difference == pytest.approx(4.0)
    spread = math.sqrt((0.08 * 100 ** 2 - 4.0 ** 2) / 1000)
    assert result.low == pytest.approx(4.0 - 1.96 * spread, abs=0.3)
    assert result.high == pytest.approx(4.0 + 1.96 * spread, abs=0.3)
    assert result.p_value < 0.001  # d is 4.5 standard deviations from 0
    assert result == paired_bootstrap(first, second, resamples=20000, seed=1)  # seeded


def test_bootstrap_and_mcnemar_agree_on_a_small_difference():
    first, second = _paired(90, 4, 6, 0)
    assert paired_bootstrap(first, second, resamples=4000).p_value > 0.3
    assert mcnemar_exact(first, second).p_value == pytest.approx(2 * sum(math.comb(10, k) for k in range(5)) / 1024)


def test_bootstrap_over_seeds_averages_the_runs_and_resamples_whole_images():
    # two runs on 40 images: A wrong in run 0 only on every image, B always right, so every image
    # scores the same (+1 of 2 runs): d = 50% whatever the resample, the interval collapses on it
    # and no resampled difference is as far from d as d is from 0: p = 1 / (1 + resamples)
    first = torch.stack([torch.zeros(40, dtype=torch.bool), torch.ones(40, dtype=torch.bool)])
    second = torch.ones(2, 40, dtype=torch.bool)
    result = paired_bootstrap(first, second, resamples=300)
    assert (result.difference, result.low, result.high) == (50.0, 50.0, 50.0)
    assert result.p_value == pytest.approx(1 / 301)


def test_bootstrap_of_a_run_repeated_is_the_bootstrap_of_the_run():
    first, second = _paired(80, 5, 12, 3)
    once = paired_bootstrap(first, second, resamples=2000, seed=3)
    twice = paired_bootstrap(torch.stack([first, first]), torch.stack([second, second]), resamples=2000, seed=3)
    assert twice.difference == pytest.approx(once.difference)
    assert (twice.low, twice.high, twice.p_value) == pytest.approx((once.low, once.high, once.p_value))


def test_bootstrap_needs_the_same_runs_on_the_same_images():
    with pytest.raises(ValueError, match="same runs on the same images"):
        paired_bootstrap(torch.ones(2, 5), torch.ones(3, 5))


