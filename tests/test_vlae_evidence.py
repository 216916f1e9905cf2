"""companion.vlae.evidence: the paper's claims, declared once, decided on paired runs."""

import math

import pandas as pd
import pytest

from companion import evidence as shared
from companion.config import resolve
from companion.evidence import INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, NOT_TESTED, REPRODUCED, decide
from companion.vlae import PROFILES
from companion.vlae.evidence import CLAIMS, PAPER, findings


def long_runs(vlae_gain: float, noise: tuple[float, ...], t8_gain: float = 2.0):
    """cpu-long records by hand: per seed, one T=4 run of every model and VAE+VLAE runs at
    T=1 and T=8; VLAE(T=4) − VAE = ``vlae_gain`` + the seed's noise."""
    rows = []
    for seed, shift in enumerate(noise):
        for steps, models in ((4, {"VAE": 0.0, "SA-VAE": 1.0, "VAE+HF": 0.5, "VLAE": vlae_gain + shift}),
                              (1, {"VAE": 0.0, "VLAE": vlae_gain - t8_gain}),
                              (8, {"VAE": 0.0, "VLAE": vlae_gain + shift * 0.1})):
            base = {"run_id": f"run-{seed}-{steps}", "profile": "cpu-long", "param_seed": seed,
                    "param_steps": steps, "param_dataset": "mnist5k", "param_likelihood": "gaussian",
                    "param_epochs": 100, "param_latent_dim": 16, "param_hidden_dim": 200,
                    "param_learning_rate": 1e-3, "param_svi_lr": 0.1}
            for model, value in models.items():
                rows.append({**base, "model": model, "steps": 0 if model == "VAE" else steps,
                             "log_px": 100.0 + seed + value})
    return pd.DataFrame(rows)


def decided(runs, scale="cpu-long"):
    """(likelihood, claim key) → decision, for the findings of ``runs`` at ``scale``."""
    return {(d.finding.setting.split(", ")[1], d.claim.key): d for d in decide(findings(scale, runs))}


def test_claims_are_declared_once_with_the_paper_s_numbers():
    assert [claim.key for claim in CLAIMS] == ["vlae/beats-vae", "vlae/beats-strongest-baseline",
                                               "vlae/more-updates-help", "vlae/beats-authors-savae"]
    assert all(claim.key.startswith("vlae/") and claim.chapter == "vlae" for claim in CLAIMS)
    assert {claim.paper for claim in CLAIMS} == {PAPER} == {"VLAE (ICML 2019)"}
    assert all(claim.kind == shared.EFFECT and claim.reported and claim.rule for claim in CLAIMS)
    assert CLAIMS[1].reported.startswith("6 of 6 data sets (MNIST: 650.3 vs 615.6")
    assert "+0.20 over VAE+IAF" in CLAIMS[1].reported  # the poster: −83.60 against −83.80
    # Table 1 at T = 4: MNIST 649.9 − 612.8, binarised MNIST −94.41 − (−96.71), SVHN 4711 − 4553
    assert CLAIMS[3].reported.startswith("VLAE (T=4) over SA-VAE (T=4): 6 of 6 data sets, +2.3 to +158.0 nats")


def test_claims_are_decided_per_data_set_by_the_paired_rule():
    clear = decided(long_runs(5.0, (0.1, -0.2, 0.15)))
    assert clear[("gaussian", "vlae/beats-vae")].verdict == REPRODUCED
    beats = clear[("gaussian", "vlae/beats-strongest-baseline")]
    assert beats.verdict == REPRODUCED and beats.finding.effect == pytest.approx((4.10 + 3.80 + 4.15) / 3)
    assert "over SA-VAE (T=4), the strongest baseline" in beats.finding.detail
    assert "per seed: +4.10, +3.80, +4.15" in beats.finding.detail
    assert beats.finding.caveat, "a comparison with SA-VAE says where ours differs from the paper's"
    more = clear[("gaussian", "vlae/more-updates-help")]
    assert more.verdict == REPRODUCED and more.finding.detail.startswith("VLAE (T=8) over VLAE (T=1)")
    assert [clear[("bernoulli", claim.key)].verdict for claim in CLAIMS] == [NOT_RUN] * 4
    assert clear[("gaussian", "vlae/beats-authors-savae")].finding.detail == "no SA-VAE, authors' step run"
    noisy = decided(long_runs(1.0, (3.0, -2.5, 0.2)))
    assert noisy[("gaussian", "vlae/beats-strongest-baseline")].verdict == INCONCLUSIVE
    behind = decided(long_runs(-4.0, (0.1, -0.1, 0.0)))
    assert behind[("gaussian", "vlae/beats-vae")].verdict == NOT_REPRODUCED
    two_seeds = decided(long_runs(5.0, (0.1, -0.2)))
    assert two_seeds[("gaussian", "vlae/beats-vae")].verdict == INCONCLUSIVE


def test_vlae_meets_the_authors_savae_trained_in_other_runs_of_the_same_seeds():
    """SA-VAE with the authors' step is trained in runs of its own (with the VAE): it is paired
    with VLAE by seed across runs, decided apart from our SA-VAE, and joins the Holm family."""
    runs = long_runs(5.0, (0.1, -0.2, 0.15))
    theirs = runs[(runs["param_steps"] == 4) & (runs["model"] == "VAE")].assign(
        model="SA-VAE, authors' step", steps=4, run_id=lambda frame: frame["run_id"] + "-authors",
        log_px=lambda frame: frame["log_px"] - 8.0 - frame["param_seed"] * 0.1)
    decisions = decided(pd.concat([runs, theirs]))
    authors = decisions[("gaussian", "vlae/beats-authors-savae")]
    assert authors.verdict == REPRODUCED
    assert authors.finding.detail.startswith("VLAE (T=4) over SA-VAE, authors' step (T=4): +13.")
    assert authors.finding.effect == pytest.approx(5.0 + 8.0 + (0.1 + (-0.2 + 0.1) + (0.15 + 0.2)) / 3)
    strongest = decisions[("gaussian", "vlae/beats-strongest-baseline")]
    assert "over SA-VAE (T=4), the strongest baseline" in strongest.finding.detail
    family = [d for d in decisions.values() if not math.isnan(d.finding.p_value)]
    assert len(family) == 4


def test_the_family_is_adjusted_by_holm():
    decisions = [d for d in decide(findings("cpu-long", long_runs(5.0, (0.1, -0.2, 0.15))))
                 if not math.isnan(d.finding.p_value)]
    assert len(decisions) == 3
    assert [d.p_adjusted for d in decisions] == pytest.approx(shared.holm([d.finding.p_value for d in decisions]))
    assert all(d.p_adjusted >= d.finding.p_value for d in decisions)


def test_one_extra_seed_at_a_new_setting_does_not_decide_it():
    runs = long_runs(5.0, (0.1, -0.2, 0.15))
    extra = runs[(runs["param_seed"] == 0) & (runs["param_steps"] == 4)].assign(
        param_epochs=8, run_id="extra", log_px=lambda frame: frame["log_px"] - 50.0)
    found = [f for f in findings("cpu-long", pd.concat([runs, extra])) if "gaussian" in f.setting]
    assert len(found) == 8, "a run with other parameters is another setting, never pooled"
    verdicts = {d.finding.setting: set() for d in decide(found)}
    for d in decide(found):
        verdicts[d.finding.setting].add(d.verdict)
    by_budget = {"100 epochs" in setting: verdict for setting, verdict in verdicts.items()}
    assert by_budget[True] == {REPRODUCED, NOT_RUN}  # not run: no SA-VAE with the authors' step
    assert by_budget[False] == {INCONCLUSIVE, NOT_RUN}, "one seed decides nothing"


def test_one_seed_at_a_new_t_does_not_replace_the_comparison_over_seeds():
    runs = long_runs(5.0, (0.1, -0.2, 0.15))
    runs = runs[runs["param_steps"] != 8]
    extra = runs[(runs["param_seed"] == 0) & (runs["param_steps"] == 4)].assign(
        param_steps=16, run_id="extra", steps=lambda frame: frame["steps"].where(frame["model"] == "VAE", 16))
    more = decided(pd.concat([runs, extra]))[("gaussian", "vlae/more-updates-help")]
    assert more.finding.detail.startswith("VLAE (T=4) over VLAE (T=1)")


def test_arms_trained_with_other_settings_do_not_test_the_claim():
    """VLAE at T=8 trained at another learning rate than at T=1 (the setting's label does not
    show it): the comparison is not like with like, so "more updates help" is not tested; a
    parameter neither arm uses (SA-VAE's step) does not count."""
    runs = long_runs(5.0, (0.1, -0.2, 0.15))
    runs.loc[runs["param_steps"] == 8, "param_learning_rate"] = 5e-4
    runs.loc[runs["param_steps"] == 1, "param_svi_lr"] = 0.3
    decisions = decided(runs)
    more = decisions[("gaussian", "vlae/more-updates-help")]
    assert more.verdict == NOT_TESTED
    assert "learning_rate=0.0005 and 0.001" in more.reason and "VLAE (T=8)" in more.reason
    assert math.isnan(more.p_adjusted), "an untested claim leaves the family"
    assert decisions[("gaussian", "vlae/beats-strongest-baseline")].verdict == REPRODUCED
    # VLAE (T=4) is paired with the VAE of its own run, trained with the same settings, not with
    # the T=8 run's VAE (trained at the other rate): the comparison is like with like
    beats_vae = decisions[("gaussian", "vlae/beats-vae")]
    assert beats_vae.verdict == REPRODUCED and not beats_vae.reason
    assert beats_vae.finding.effect == pytest.approx(5.0 + (0.1 - 0.2 + 0.15) / 3)


def test_vlae_is_paired_with_the_vae_of_its_own_run():
    """A second run of a seed that trains its own VAE (here 3 nats better) does not change VLAE's
    gain over the VAE it was trained beside."""
    runs = long_runs(5.0, (0.1, -0.2, 0.15))
    other = runs[(runs["param_steps"] == 4) & (runs["model"] == "VAE")].assign(
        run_id=lambda frame: frame["run_id"] + "-other", log_px=lambda frame: frame["log_px"] + 3.0,
        param_models="vae,iaf")
    beats_vae = decided(pd.concat([runs, other]))[("gaussian", "vlae/beats-vae")]
    assert beats_vae.finding.effect == pytest.approx(5.0 + (0.1 - 0.2 + 0.15) / 3)


def test_findings_read_the_records_of_the_scale(tmp_path, monkeypatch):
    """Records written as the notebook writes them (its settings' record) are read back, paired
    by seed and decided: every arm was trained with the same settings, so every claim is tested."""
    from companion import results

    monkeypatch.setattr(results, "stored_results_dir", lambda: tmp_path)
    for seed in range(3):
        for steps, vlae in ((1, 3.0), (4, 5.0)):
            params = resolve(PROFILES, "cpu", seed=seed, steps=steps)  # planned cpu runs
            rows = [{"model": "VAE", "steps": 0, "log_px": 10.0 + seed},
                    {"model": "SA-VAE", "steps": steps, "log_px": 11.0 + seed + 0.1 * steps},
                    {"model": "VLAE", "steps": steps,
                     "log_px": 10.0 + seed + vlae + (0.5 * seed ** 2 if steps == 4 else 0.0)}]
            results.record_run("vlae", params.record(), rows, wall_time_s=1.0, device="cpu",
                               directory=tmp_path)
    decisions = decide(findings("cpu"))
    setting = "digits, gaussian, cpu (z=8, h=128, 80 epochs)"
    tested = {d.claim.key: d for d in decisions if d.finding.setting == setting}
    assert set(tested) == {claim.key for claim in CLAIMS}
    assert all(d.verdict == REPRODUCED and d.finding.seeds == 3 for key, d in tested.items()
               if key != "vlae/beats-authors-savae")
    assert tested["vlae/beats-authors-savae"].verdict == NOT_RUN
    assert tested["vlae/beats-vae"].finding.effect == pytest.approx((5.0 + 5.5 + 7.0) / 3)
    not_run = [d for d in decisions if d.finding.setting != setting]
    assert {d.verdict for d in not_run} == {NOT_RUN} and "bernoulli" in not_run[0].finding.setting


def test_runs_on_logit_transformed_pixels_are_a_setting_of_their_own_and_decide_no_claim():
    """The authors' code's logit transform is not the paper's preprocessing: its runs (same
    seeds, models and T) neither replace the paper-pixel runs of a seed nor decide a claim."""
    from companion.vlae.experiments import logit_transformed, per_seed

    paper_pixels = long_runs(5.0, (0.1, -0.2, 0.15))
    logit = long_runs(-40.0, (0.1, -0.2, 0.15)).assign(
        param_logit_transform=True, run_id=lambda frame: frame["run_id"] + "-logit")
    runs = pd.concat([paper_pixels, logit], ignore_index=True)
    assert logit_transformed(runs).tolist() == [False] * len(paper_pixels) + [True] * len(logit)
    assert not logit_transformed(paper_pixels).any()
    table = per_seed(runs)
    assert len(table) == 2 * len(per_seed(paper_pixels))
    assert table["setting"].str.contains("logit-transformed").sum() == len(per_seed(logit))
    alone, mixed = decided(paper_pixels), decided(runs)
    assert mixed.keys() == alone.keys()
    assert [mixed[key].finding.effect for key in alone if not math.isnan(alone[key].finding.effect)] == \
        [alone[key].finding.effect for key in alone if not math.isnan(alone[key].finding.effect)]
    assert mixed[("gaussian", "vlae/beats-vae")].verdict == REPRODUCED


def test_beats_vae_carries_the_q_star_estimate_of_the_gain_where_runs_kept_the_decomposition():
    runs = long_runs(5.0, (0.1, -0.2, 0.15))
    plain = decided(runs)[("gaussian", "vlae/beats-vae")]
    assert plain.finding.caveat == ""  # no run kept its decomposition
    gapped = runs[(runs["param_seed"] == 0) & (runs["param_steps"] == 4) & runs["model"].isin(["VAE", "VLAE"])]
    gapped = gapped.assign(run_id="gaps-0", param_gap_examples=200, elbo=gapped["log_px"] - 10.0,
                           test_gap_elbo=gapped["log_px"] - 9.0,
                           test_gap_log_px=gapped["log_px"] + gapped["model"].map({"VAE": 4.0, "VLAE": 1.0}))
    decision = decided(pd.concat([runs, gapped], ignore_index=True))[("gaussian", "vlae/beats-vae")]
    assert decision.finding.effect == plain.finding.effect  # the re-trained seed does not enter the test
    assert "on 200 test images of 1 run, VLAE's gain is +2.1 nats" in decision.finding.caveat
    assert "as compared here: +5.1)" in decision.finding.caveat
