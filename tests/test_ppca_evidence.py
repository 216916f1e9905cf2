"""Recorded non-linear evidence: tables and the verdict per noise level, on constructed records."""

import math

import pandas as pd
import pytest

from companion.ppca import evidence


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


def test_sign_test_known_values():
    assert evidence.sign_test(5, 5) == pytest.approx(1 / 32)
    assert evidence.sign_test(7, 8) == pytest.approx(9 / 256)
    assert evidence.sign_test(0, 4) == 1.0
    assert evidence.minimum_seeds(0.05) == 5
    with pytest.raises(ValueError, match="successes=6"):
        evidence.sign_test(6, 5)


def test_vae_lower_in_every_one_of_five_seeds_holds():
    frame = evidence.seed_frame(records(0.1, [0.2, 0.25, 0.3, 0.22, 0.28], [0.5, 0.45, 0.6, 0.4, 0.55]))
    [verdict] = evidence.verdicts(frame)
    assert (verdict.usable, verdict.vae_lower, verdict.outcome) == (5, 5, "reproduced")
    assert verdict.p_holds == pytest.approx(1 / 32)
    assert "**reproduced**" in verdict.sentence() and "5 of 5" in verdict.sentence()


def test_vae_higher_everywhere_is_reversed_and_a_split_is_inconclusive():
    reversed_frame = evidence.seed_frame(records(0.1, [0.6] * 6, [0.3] * 6))
    assert evidence.verdicts(reversed_frame)[0].outcome == "not reproduced"
    split = evidence.seed_frame(records(0.1, [0.2, 0.2, 0.2, 0.6, 0.6, 0.2], [0.4] * 6))
    verdict = evidence.verdicts(split)[0]
    assert (verdict.vae_lower, verdict.outcome) == (4, "inconclusive")
    assert "> 0.05" in verdict.sentence()


def test_four_seeds_cannot_decide():
    verdict = evidence.verdicts(evidence.seed_frame(records(0.1, [0.1] * 4, [0.9] * 4)))[0]
    assert verdict.outcome == "inconclusive" and verdict.p_holds == pytest.approx(1 / 16)
    assert "at least 5 seeds" in verdict.sentence()


def test_seeds_with_a_collapsed_latent_do_not_count():
    # σ = 0.5 as recorded: the VAE's |cos| 0.75-0.78 with a dead column, the VLAE's columns parallel
    frame = evidence.seed_frame(records(0.5, [0.75, 0.78, 0.1, 0.1, 0.1], [0.99, 0.99, 0.5, 0.5, 0.5],
                                        vae_collapsed=[1, 1, 0, 0, 0], vlae_collapsed=[1, 0, 0, 0, 0]))
    verdict = evidence.verdicts(frame)[0]
    assert (verdict.seeds, verdict.usable, verdict.collapsed_vae, verdict.collapsed_vlae) == (5, 3, 2, 1)
    assert verdict.outcome == "inconclusive"
    assert "collapsed a latent direction in 2 of 5 seeds" in verdict.sentence()
    everything_collapsed = evidence.seed_frame(records(0.5, [0.75] * 5, [0.99] * 5, [1] * 5, [1] * 5))
    verdict = evidence.verdicts(everything_collapsed)[0]
    assert verdict.usable == 0 and verdict.outcome == "inconclusive" and math.isnan(verdict.vae_range[0])
    assert "No seed has two live directions" in verdict.sentence()


def test_one_verdict_per_noise_level_and_tables_show_every_seed():
    runs = pd.concat([records(0.1, [0.2] * 5, [0.5] * 5), records(0.5, [0.7] * 5, [0.9] * 5, [1] * 5)])
    frame = evidence.seed_frame(runs)
    assert [(v.noise, v.outcome) for v in evidence.verdicts(frame)] == [(0.1, "reproduced"), (0.5, "inconclusive")]
    assert len(evidence.seed_table(frame)) == 10
    spreads = evidence.spread_table(frame)
    assert len(spreads) == 6 and spreads.loc[(60.0, 0.5, "VAE (diagonal q)"), "collapsed in"] == "5 of 5"
    assert spreads.loc[(60.0, 0.1, "VAE (diagonal q)"), "|cos|"] == "0.20 ± 0.00 (0.20–0.20)"


def test_records_without_replicates_or_nothing_recorded_give_empty_tables():
    old = records(0.1, [0.2], [0.5]).drop(columns=["replicate", "collapsed"])
    for runs in (old, pd.DataFrame(columns=["run_id", "profile"])):
        frame = evidence.seed_frame(runs)
        assert frame.empty and evidence.verdicts(frame) == []
        assert evidence.seed_table(frame).empty and evidence.spread_table(frame).empty


def test_decide_refuses_mixed_noise_levels():
    frame = evidence.seed_frame(pd.concat([records(0.1, [0.2], [0.5]), records(0.5, [0.2], [0.5])]))
    with pytest.raises(ValueError, match="one noise level"):
        evidence.decide(frame)


def test_this_runs_study_is_decided_the_same_way():
    summary = records(0.1, [0.2, 0.3, 0.25], [0.5] * 3).rename(columns={"param_seed": "replicate_seed"})
    summary = summary.assign(replicate=summary["replicate_seed"])[["replicate", "model", *evidence.MEASURES]]
    frame = evidence.study_frame(summary, {"angle": 60.0, "noise": 0.1, "seed": 0})
    [verdict] = evidence.verdicts(frame)
    assert (verdict.seeds, verdict.vae_lower, verdict.outcome) == (3, 3, "inconclusive")
    assert evidence.verdict_lines([verdict], short=True) == "- σ = 0.1: **inconclusive**"
    assert evidence.verdict_lines([]).startswith("Nothing is recorded")
