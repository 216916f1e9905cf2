"""The study's claims: tables, findings and decisions on constructed records."""

import math
import statistics

import pandas as pd
import pytest

from companion.config import resolve
from companion.evidence import (EFFECT, INCONCLUSIVE, NOT_REPRODUCED, NOT_TESTED, REPRODUCED, VERIFICATION,
                                decide, decision_frame)
from companion.ppca import evidence
from companion.ppca.settings import GRID, PROFILES
from companion.results import load_runs, run_key


def records(noise, vae_cos, vlae_cos, vae_collapsed=None, vlae_collapsed=None, angle=60.0):
    """load_runs-like rows of one noise level: a run per seed, one replicate each."""
    vae_collapsed = vae_collapsed or [0] * len(vae_cos)
    vlae_collapsed = vlae_collapsed or [0] * len(vlae_cos)
    rows = []
    for seed, values in enumerate(zip(vae_cos, vlae_cos, vae_collapsed, vlae_collapsed)):
        base = {"run_id": f"r{noise}-{seed}", "profile": "cpu-long", "param_noise": noise, "param_angle": angle,
                "param_seed": seed, "section": "nonlinear", "replicate": 0}
        rows.append({**base, "section": "linear", "replicate": None, "angle": 90.0, "method": "full"})  # own angle
        for model, cos, collapsed in (("truth", 0.5, 0), ("vae", values[0], values[2]), ("vlae", values[1], values[3])):
            rows.append({**base, "model": model, "abs_cos": cos, "dto": cos, "sap": 0.5, "collapsed": collapsed})
    return pd.DataFrame(rows)


def linear_records(diagonal_cos, full_cos, deficit=1e-6):
    """load_runs-like rows of the linear study: one run, one cell, a row per fitting method."""
    return pd.DataFrame([{"run_id": "linear-run", "profile": "cpu", "section": "linear", "angle": 90.0,
                          "norm_ratio": 2.0, "method": method, "abs_cos": cos, "elbo_deficit": deficit}
                         for method, cos in (("ppca", 0.0), ("diagonal", diagonal_cos), ("full", full_cos))])


def decided(runs):
    return decide(evidence.findings("cpu-long", runs))


def test_claims_are_declared_once_with_the_chapter_key_and_one_family():
    keys = [claim.key for claim in evidence.CLAIMS]
    assert keys == ["ppca/diagonal-orthogonal", "ppca/same-elbo", "ppca/nonlinear-orthogonal"]
    assert all(claim.chapter == "ppca" and claim.paper == evidence.PAPER for claim in evidence.CLAIMS)
    assert [claim.kind for claim in evidence.CLAIMS] == [VERIFICATION, VERIFICATION, EFFECT]


def test_two_sided_sign_test_known_values():
    assert evidence.two_sided_sign_test(5, 0) == pytest.approx(2 / 32)
    assert evidence.two_sided_sign_test(0, 5) == pytest.approx(2 / 32)
    assert evidence.two_sided_sign_test(8, 1) == pytest.approx(2 * 10 / 512)
    assert evidence.two_sided_sign_test(4, 4) == 1.0 and evidence.two_sided_sign_test(0, 0) == 1.0


def test_vae_lower_in_every_one_of_seven_seeds_reproduces():
    vae, vlae = [0.2, 0.25, 0.3, 0.22, 0.28, 0.2, 0.21], [0.5, 0.45, 0.6, 0.4, 0.55, 0.5, 0.5]
    [decision] = decided(records(0.1, vae, vlae))
    assert decision.claim == evidence.NONLINEAR_ORTHOGONAL and decision.verdict == REPRODUCED
    assert decision.finding.p_value == pytest.approx(2 / 128) == decision.p_adjusted
    assert decision.finding.effect == pytest.approx(statistics.median(b - a for a, b in zip(vae, vlae)))
    assert "7 of 7" in decision.finding.detail and decision.finding.setting == "σ = 0.1, true columns 60° apart"


def test_vae_higher_everywhere_is_not_reproduced_and_a_split_is_inconclusive():
    [reversed_decision] = decided(records(0.1, [0.6] * 7, [0.3] * 7))
    assert reversed_decision.verdict == NOT_REPRODUCED and reversed_decision.finding.effect < 0
    [split] = decided(records(0.1, [0.2, 0.2, 0.2, 0.6, 0.6, 0.2], [0.4] * 6))
    assert split.verdict == INCONCLUSIVE and "4 of 6" in split.finding.detail


def test_five_seeds_one_way_cannot_decide_a_two_sided_test():
    [decision] = decided(records(0.1, [0.1] * 5, [0.9] * 5))
    assert decision.verdict == INCONCLUSIVE and decision.p_adjusted == pytest.approx(1 / 16)


def test_holm_adjusts_over_the_noise_levels():
    # 6 of 6 seeds one way: p = 1/32 alone, 2/32 once adjusted over two noise levels
    [alone] = decided(records(0.1, [0.2] * 6, [0.5] * 6))
    assert alone.verdict == REPRODUCED
    both = decided(pd.concat([records(0.1, [0.2] * 6, [0.5] * 6), records(0.3, [0.2] * 6, [0.5] * 6)]))
    assert [d.p_adjusted for d in both] == pytest.approx([1 / 16, 1 / 16])
    assert [d.verdict for d in both] == [INCONCLUSIVE, INCONCLUSIVE]


def test_seeds_with_a_collapsed_latent_do_not_count():
    # σ = 0.5 as recorded: the VAE's |cos| 0.75-0.78 with a dead column, the VLAE's columns parallel
    [decision] = decided(records(0.5, [0.75, 0.78, 0.1, 0.1, 0.1], [0.99, 0.99, 0.5, 0.5, 0.5],
                                 vae_collapsed=[1, 1, 0, 0, 0], vlae_collapsed=[1, 0, 0, 0, 0]))
    assert decision.finding.seeds == 5 and "3 seeds that count" in decision.finding.detail
    assert decision.verdict == INCONCLUSIVE
    assert "collapsed a latent direction in 2 of 5 seeds, the VLAE in 1" in decision.finding.detail


def test_when_no_seed_counts_the_claim_is_not_tested_at_this_scale():
    runs = pd.concat([records(0.1, [0.2] * 7, [0.5] * 7), records(0.5, [0.75] * 5, [0.99] * 5, [1] * 5)])
    low, high = decided(runs)
    assert high.verdict == NOT_TESTED and "no seed has two live directions" in high.reason
    assert math.isnan(high.p_adjusted) and math.isnan(high.finding.p_value)
    assert low.verdict == REPRODUCED and low.p_adjusted == pytest.approx(2 / 128)  # the untested one is no family member
    frame = decision_frame([low, high])
    assert list(frame["verdict"]) == [REPRODUCED, NOT_TESTED] and frame["why not tested"].iloc[0] == "—"


def test_linear_verifications_pass_by_their_stated_criterion():
    assert [d.verdict for d in decided(linear_records(0.001, 0.3))] == [REPRODUCED, REPRODUCED]
    orthogonal, same = decided(linear_records(0.2, 0.3, deficit=0.01))
    assert (orthogonal.claim, orthogonal.verdict) == (evidence.DIAGONAL_ORTHOGONAL, NOT_REPRODUCED)
    assert (same.claim, same.verdict) == (evidence.SAME_ELBO, NOT_REPRODUCED)
    assert math.isnan(same.p_adjusted)  # verifications stay out of the family
    orthogonal_truth = decided(linear_records(0.001, 0.01))[0]
    assert orthogonal_truth.verdict == NOT_REPRODUCED  # the full q must not be orthogonal by itself


def test_nothing_recorded_gives_no_finding_and_empty_tables():
    old = records(0.1, [0.2], [0.5]).drop(columns=["replicate", "collapsed"])
    for runs in (old, pd.DataFrame(columns=["run_id", "profile"])):
        frame = evidence.seed_frame(runs)
        assert frame.empty and evidence.findings("cpu", runs) == []
        assert evidence.seed_table(frame).empty and evidence.spread_table(frame).empty


def test_tables_show_every_seed():
    frame = evidence.seed_frame(pd.concat([records(0.1, [0.2] * 5, [0.5] * 5),
                                           records(0.5, [0.7] * 5, [0.9] * 5, [1] * 5)]))
    assert len(evidence.seed_table(frame)) == 10
    spreads = evidence.spread_table(frame)
    assert len(spreads) == 6 and spreads.loc[(60.0, 0.5, "VAE (diagonal q)"), "collapsed in"] == "5 of 5"
    assert spreads.loc[(60.0, 0.1, "VAE (diagonal q)"), "|cos|"] == "0.20 ± 0.00 (0.20–0.20)"


def test_paired_seeds_refuses_mixed_noise_levels():
    frame = evidence.seed_frame(pd.concat([records(0.1, [0.2], [0.5]), records(0.5, [0.2], [0.5])]))
    with pytest.raises(ValueError, match="one noise level"):
        evidence.paired_seeds(frame)


def test_this_run_replaces_its_own_record():
    params = resolve(PROFILES, "cpu-long", noise=0.1)
    key = run_key("ppca", params.record())
    stored = records(0.1, [0.9] * 3, [0.1] * 3).assign(run_id=f"2026-{key}")
    rows = [{"section": "nonlinear", "replicate": replicate, "model": model, "abs_cos": cos, "dto": cos, "sap": 0.5,
             "collapsed": 0} for replicate in range(7) for model, cos in (("vae", 0.1), ("vlae", 0.4))]
    combined = evidence.with_this_run(stored, params, rows)
    assert not combined["run_id"].str.startswith("2026-").any()
    [decision] = decide(evidence.findings("cpu-long", combined))
    assert decision.finding.seeds == 7 and decision.verdict == REPRODUCED


def test_the_committed_records_give_a_finding_per_noise_level_of_the_grid():
    found = evidence.findings("cpu-long")
    assert found == evidence.findings("cpu-long", load_runs("ppca", profile="cpu-long"))
    nonlinear = [f for f in found if f.claim == evidence.NONLINEAR_ORTHOGONAL]
    assert {f.setting for f in nonlinear} <= {f"σ = {noise:g}, true columns 60° apart"
                                              for noise in GRID["cpu-long"]["noise"]}
    assert all(f.scale == "cpu-long" for f in found)
