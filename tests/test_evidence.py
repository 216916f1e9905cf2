"""The verdict rule: paired differences over seeds, decided by a paired t-test."""

import math

import pytest
from scipy import stats

from companion.evidence import paired_t_p_value, paired_verdict


def test_a_clear_effect_in_the_papers_direction_is_reproduced():
    verdict = paired_verdict([2.1, 1.9, 2.3])
    assert verdict.verdict == "reproduced" and verdict.seeds == 3
    assert verdict.mean == pytest.approx(2.1) and verdict.sd == pytest.approx(0.2)


def test_a_clear_opposite_effect_is_not_reproduced():
    assert paired_verdict([-2.1, -1.9, -2.3]).verdict == "not reproduced"


def test_an_effect_inside_the_seed_noise_is_inconclusive():
    verdict = paired_verdict([0.5, -0.4, 0.3])
    assert verdict.verdict == "inconclusive" and verdict.p_value > 0.05


def test_too_few_seeds_is_inconclusive_however_large_the_effect():
    assert paired_verdict([50.0, 60.0]).verdict == "inconclusive"
    assert paired_verdict([50.0]).verdict == "inconclusive"
    assert paired_verdict([]).verdict == "not run"


def test_p_value_is_the_paired_t_test_by_hand():
    differences = [1.0, 2.0, 4.0]
    mean, sd = 7 / 3, math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    t = mean / (sd / math.sqrt(3))
    assert paired_t_p_value(differences) == pytest.approx(2 * stats.t.sf(t, df=2))
    assert paired_t_p_value([1.0, 1.0, 1.0]) == 0.0 and paired_t_p_value([0.0, 0.0]) == 1.0


def test_a_nan_difference_is_an_error_not_a_verdict():
    with pytest.raises(ValueError, match="NaN"):
        paired_verdict([1.0, float("nan"), 2.0])
