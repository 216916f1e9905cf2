"""The one rule: findings over seeds, Holm over a paper's family, five verdicts."""

import math

import pytest
from scipy import stats

from companion.evidence import (INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, NOT_TESTED, REPRODUCED, VERIFICATION,
                                Claim, Finding, decide, holm, paired_finding, paired_statistics,
                                paired_t_p_value, seeds_to_settle)


def _claim(key="toy/a", paper="Toy (2020)", kind="effect"):
    return Claim(key, paper, f"claim {key}", "reported", "rule", kind)


def _verdict(differences, **kwargs):
    (decision,) = decide([paired_finding(_claim(), "cpu-long", "digits", differences, **kwargs)])
    return decision


def test_a_clear_effect_in_the_papers_direction_is_reproduced():
    decision = _verdict([2.1, 1.9, 2.3])
    assert decision.verdict == REPRODUCED and decision.finding.seeds == 3
    assert decision.finding.effect == pytest.approx(2.1) and decision.finding.spread == pytest.approx(0.2)
    assert decision.p_adjusted == decision.finding.p_value  # a family of one


def test_a_clear_opposite_effect_is_not_reproduced():
    assert _verdict([-2.1, -1.9, -2.3]).verdict == NOT_REPRODUCED


def test_an_effect_inside_the_seed_noise_is_inconclusive():
    decision = _verdict([0.5, -0.4, 0.3])
    assert decision.verdict == INCONCLUSIVE and decision.finding.p_value > 0.05


def test_too_few_seeds_is_inconclusive_however_large_the_effect():
    assert _verdict([50.0, 60.0]).verdict == INCONCLUSIVE
    assert _verdict([50.0]).verdict == INCONCLUSIVE
    assert _verdict([]).verdict == NOT_RUN


def test_a_failed_premise_is_not_tested_whatever_the_numbers():
    decision = _verdict([2.1, 1.9, 2.3], untested="the cut costs 60 points before fine-tuning")
    assert decision.verdict == NOT_TESTED and "60 points" in decision.reason
    assert math.isnan(decision.p_adjusted)  # left out of the family


def test_p_value_is_the_paired_t_test_by_hand():
    differences = [1.0, 2.0, 4.0]
    mean, sd = 7 / 3, math.sqrt(((1 - 7 / 3) ** 2 + (2 - 7 / 3) ** 2 + (4 - 7 / 3) ** 2) / 2)
    t = mean / (sd / math.sqrt(3))
    assert paired_t_p_value(differences) == pytest.approx(2 * stats.t.sf(t, df=2))
    assert paired_t_p_value([1.0, 1.0, 1.0]) == 0.0 and paired_t_p_value([0.0, 0.0]) == 1.0


def test_a_nan_difference_is_an_error_not_a_verdict():
    with pytest.raises(ValueError, match="NaN"):
        paired_statistics([1.0, float("nan"), 2.0])


def test_holm_by_hand():
    # m = 4: sorted 0.01, 0.02, 0.03, 0.5 → 4·0.01, max(that, 3·0.02), max(…, 2·0.03), max(…, 0.5)
    assert holm([0.03, 0.5, 0.01, 0.02]) == pytest.approx([0.06, 0.5, 0.04, 0.06])
    assert holm([0.4, 0.9]) == pytest.approx([0.8, 0.9])  # capped at 1, kept monotone
    adjusted = holm([0.01, math.nan])
    assert adjusted[0] == pytest.approx(0.01) and math.isnan(adjusted[1])


def test_holm_turns_a_family_of_borderline_effects_inconclusive():
    """Three effects at p ≈ 0.03 each reproduce alone; as one paper's family, none does."""
    findings = [Finding(_claim(f"toy/{name}"), "cpu-long", "digits", 5, 1.0, 0.5, 0.03) for name in "abc"]
    alone = [decide([finding])[0].verdict for finding in findings]
    together = decide(findings)
    assert alone == [REPRODUCED] * 3
    assert [d.verdict for d in together] == [INCONCLUSIVE] * 3
    assert [d.p_adjusted for d in together] == pytest.approx([0.09] * 3)


def test_families_are_per_paper_and_per_scale():
    findings = [Finding(_claim("toy/a"), "cpu-long", "digits", 5, 1.0, 0.5, 0.03),
                Finding(_claim("toy/a"), "cpu", "digits", 5, 1.0, 0.5, 0.03),
                Finding(_claim("other/a", paper="Other (2021)"), "cpu-long", "digits", 5, 1.0, 0.5, 0.03)]
    assert [d.verdict for d in decide(findings)] == [REPRODUCED] * 3


def test_a_verification_is_decided_by_its_criterion_and_stays_out_of_the_family():
    check = _claim("toy/identity", kind=VERIFICATION)
    decided = decide([Finding(check, "cpu", "fits", 10, passed=True),
                      Finding(check, "cpu-long", "fits", 10, passed=False),
                      Finding(_claim(), "cpu", "digits", 5, 1.0, 0.5, 0.03)])
    assert [d.verdict for d in decided] == [REPRODUCED, NOT_REPRODUCED, REPRODUCED]
    with pytest.raises(ValueError, match="passed"):
        decide([Finding(check, "cpu", "fits", 10)])


def test_seeds_to_settle_grow_with_the_spread():
    assert seeds_to_settle(1.0, 0.1) == 3
    assert seeds_to_settle(1.0, 2.0) > seeds_to_settle(1.0, 1.0) > 3
    assert seeds_to_settle(0.0, 1.0) is None
