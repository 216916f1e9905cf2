"""The VHCR chapter's claims and cpu-long evidence, decided on constructed records."""

import math

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from companion import results
from companion.config import resolve
from companion.evidence import (INCONCLUSIVE, NOT_REPRODUCED, NOT_RUN, NOT_TESTED, REPRODUCED, decide,
                                decision_frame, holm)
from companion.results import load_runs, record_run
from companion.vhcr.evidence import (CLAIMS, COLLAPSED_BELOW, ablation, decision_text, findings, history,
                                     per_seed, plot_history, seed_spread, settings_of)
from companion.vhcr.settings import PROFILES

#: Test KLs per word (z_utt, z_conv) and NLL of each variant, seed 0; other seeds scale them.
_BASE = {"hred": (0.0, 0.0, 4.0), "vhred": (1e-4, 0.0, 4.1), "vhcr": (2e-4, 1e-3, 4.05),
         "vhcr_ud": (3e-4, 0.02, 4.02)}


def _rows(seed, base=_BASE, jitter=0.0):
    rows = []
    for variant, (kl_utt, kl_conv, nll) in base.items():
        scale = 1 + seed / 10
        conv = kl_conv * scale * (1 + jitter * seed if variant == "vhcr_ud" else 1)
        rows.append({"variant": variant, "model": variant.upper(), "NLL": nll + seed / 100,
                     "KL z_utt": kl_utt * scale, "KL z_conv": conv,
                     "train history": [{"epoch": e, "step": 10 * (e + 1), "kl_utterance": kl_utt * (e + 1),
                                        "kl_conversation": kl_conv * (e + 1), "kl_weight": 1.0} for e in range(3)]})
    return rows


def _record(directory, profile="cpu-long", rows=None, **given):
    record_run("vhcr", resolve(PROFILES, profile, **given).record(), rows or _rows(given.get("seed", 0)),
               wall_time_s=1.0, device="cpu", directory=directory)


def _runs(tmp_path, seeds, base=_BASE, jitter=0.0):
    for seed in seeds:
        _record(tmp_path, seed=seed, rows=_rows(seed, base, jitter))
    _record(tmp_path, "cpu", seed=9, rows=_rows(9))
    return load_runs("vhcr", tmp_path, profile="cpu-long")


def _verdicts(runs, scale="cpu-long"):
    return {decision.claim.key: decision for decision in decide(findings(scale, runs))}


def test_claims_are_declared_once_under_the_chapter_and_one_paper():
    assert [claim.key for claim in CLAIMS] == ["vhcr/vhred-collapses-vhcr-does-not", "vhcr/utterance-drop-keeps-zconv"]
    assert all(claim.key.startswith("vhcr/") and claim.chapter == "vhcr" for claim in CLAIMS)
    assert {claim.paper for claim in CLAIMS} == {"VHCR (NAACL 2018)"}
    assert "0.503" in CLAIMS[0].reported  # the paper's KL, read from data/paper/vhcr_reported.csv


def test_per_seed_and_spread_keep_profiles_apart_and_order_models(tmp_path):
    seeds = per_seed(_runs(tmp_path, [1, 0, 2]))
    assert list(seeds["model"].unique()) == ["HRED", "VHRED", "VHCR", "VHCR + utterance drop"]
    assert sorted(seeds["seed"].unique()) == [0, 1, 2]  # the cpu record (seed 9) is left out
    spread = seed_spread(seeds)
    assert spread.loc["VHCR + utterance drop", "seeds"] == 3
    assert spread.loc["VHCR + utterance drop", "KL z_conv min"] == pytest.approx(0.02)
    assert spread.loc["VHCR + utterance drop", "KL z_conv max"] == pytest.approx(0.024)
    assert spread.loc["HRED", "NLL mean"] == pytest.approx(4.01)


def test_a_model_recorded_twice_for_one_seed_keeps_its_last_row(tmp_path):
    runs = _runs(tmp_path, [0])
    again = runs[runs["variant"] == "vhcr_ud"].assign(**{"KL z_conv": 0.5})
    seeds = per_seed(pd.concat([runs, again], ignore_index=True))
    assert seeds.loc[seeds["variant"] == "vhcr_ud", "KL z_conv"].tolist() == [0.5]


def test_nothing_recorded_renders_empty_tables_and_claims_not_run(tmp_path):
    runs = load_runs("vhcr", tmp_path, profile="cpu-long")
    seeds = per_seed(runs)
    assert seeds.empty and seed_spread(seeds).empty and ablation(seeds).empty and history(seeds).empty
    decisions = decide(findings("cpu-long", runs))
    assert [d.claim.key for d in decisions] == [claim.key for claim in CLAIMS]
    assert {d.verdict for d in decisions} == {NOT_RUN}
    assert len(decision_frame(decisions)) == 2
    plot_history(history(seeds), ["VHRED"])


def test_runs_without_a_latent_model_leave_the_claims_not_run(tmp_path):
    hred_only = [row for row in _rows(0) if row["variant"] == "hred"]
    _record(tmp_path, seed=0, rows=hred_only, models="hred")
    runs = load_runs("vhcr", tmp_path, profile="cpu-long")
    assert {d.verdict for d in decide(findings("cpu-long", runs))} == {NOT_RUN}
    assert history(runs).empty


def test_claims_reproduced_when_the_latent_in_use_carries_more_in_every_seed(tmp_path):
    decided = _verdicts(_runs(tmp_path, [0, 1, 2], jitter=0.2))
    assert {d.verdict for d in decided.values()} == {REPRODUCED}
    collapse = decided["vhcr/vhred-collapses-vhcr-does-not"]
    expected = math.log(0.02 / 1e-4) + (math.log(1.2) + math.log(1.4)) / 3  # vhcr_ud's z_conv × 1, 1.2, 1.4
    assert collapse.finding.seeds == 3 and collapse.finding.effect == pytest.approx(expected)
    assert "in 3 of 3 seeds" in collapse.finding.detail and collapse.reason == ""


def test_the_family_is_adjusted_by_holm(tmp_path):
    decided = decide(findings("cpu-long", _runs(tmp_path, [0, 1, 2], jitter=0.5)))
    raw = [d.finding.p_value for d in decided]
    assert all(0 < p < 1 for p in raw)
    assert [d.p_adjusted for d in decided] == pytest.approx(holm(raw))


def test_not_tested_when_the_latent_in_use_is_collapsed_in_every_seed(tmp_path):
    base = {**_BASE, "vhcr_ud": (3e-4, 4e-3, 4.02)}
    decided = _verdicts(_runs(tmp_path, [0, 1, 2], base))
    assert {d.verdict for d in decided.values()} == {NOT_TESTED}
    reason = decided["vhcr/utterance-drop-keeps-zconv"].reason
    assert f"below {COLLAPSED_BELOW:g} nats per word in every seed" in reason
    assert "seed 0: 0.004 vs 0.001" in reason and "seed 2: 0.0048 vs 0.0012" in reason
    assert all(math.isnan(d.p_adjusted) for d in decided.values())  # out of the Holm family
    assert "Not tested: " in decision_text(decided.values())


def test_one_seed_in_use_is_enough_to_test_the_claim(tmp_path):
    _runs(tmp_path, [0, 1])
    _record(tmp_path, seed=2, rows=_rows(2, {**_BASE, "vhcr_ud": (3e-4, 4e-3, 4.02)}))
    decided = _verdicts(load_runs("vhcr", tmp_path, profile="cpu-long"))
    assert all(d.verdict != NOT_TESTED for d in decided.values())


def test_too_few_seeds_are_inconclusive_and_a_reversed_ratio_is_not_reproduced(tmp_path):
    decided = _verdicts(_runs(tmp_path, [0, 1]))
    assert {d.verdict for d in decided.values()} == {INCONCLUSIVE}
    reversed_drop = {**_BASE, "vhcr": (2e-4, 0.05, 4.05)}
    decided = _verdicts(_runs(tmp_path / "reversed", [0, 1, 2], reversed_drop, jitter=0.2))
    assert decided["vhcr/utterance-drop-keeps-zconv"].verdict == NOT_REPRODUCED
    assert decided["vhcr/vhred-collapses-vhcr-does-not"].verdict == REPRODUCED


def test_findings_per_setting_and_committed_evidence_only_from_the_planned_grid(tmp_path, monkeypatch):
    _runs(tmp_path, [0, 1, 2], jitter=0.2)
    reversed_drop = {**_BASE, "vhcr": (2e-4, 0.05, 4.05)}
    _record(tmp_path, seed=0, learning_rate=1e-3, rows=_rows(0, reversed_drop))  # not a planned run
    runs = load_runs("vhcr", tmp_path, profile="cpu-long")
    labels = [label for label, _ in settings_of(runs)]
    assert labels == ["chitchat (learning rate 0.002)", "chitchat (learning rate 0.001)"]
    assert {f.setting for f in findings("cpu-long", runs)} == set(labels)
    monkeypatch.setattr(results, "stored_results_dir", lambda: tmp_path)
    committed = decide(findings("cpu-long"))
    assert {d.finding.setting for d in committed} == {"chitchat"}
    assert {d.verdict for d in committed} == {REPRODUCED}


def test_ablation_pairs_seeds_and_history_is_long_form(tmp_path):
    runs = _runs(tmp_path, [0, 1])
    table = ablation(per_seed(runs))
    assert list(table.index) == [0, 1]
    assert table.loc[1, "KL z_conv with"] == pytest.approx(0.022)
    assert table.loc[0, "KL z_conv without"] == pytest.approx(1e-3)
    curves = history(runs)
    assert set(curves["model"]) == {"VHRED", "VHCR", "VHCR + utterance drop"}  # HRED has no latent
    assert curves[(curves["model"] == "VHCR") & (curves["seed"] == 0)]["kl_conversation"].tolist() == \
        pytest.approx([1e-3, 2e-3, 3e-3])
    plot_history(curves, ["VHRED", "VHCR"])


def test_records_of_another_chapter_are_refused():
    with pytest.raises(ValueError, match="lack the columns"):
        per_seed(pd.DataFrame({"model": ["VAE"], "NLL": [1.0]}))


def test_settings_are_told_apart_within_their_own_corpus(tmp_path):
    from companion.vhcr.evidence import known_latent_summary, of_dataset

    _runs(tmp_path, [0])
    for rate in (0.25, 0.5):
        rows = [{**row, "generator NLL": 3.9, "probe context": 0.9} for row in _rows(0)]
        _record(tmp_path, seed=0, dataset="designed", utterance_drop=rate, eval_conversations=0, rows=rows)
    runs = load_runs("vhcr", tmp_path, profile="cpu-long")
    labels = [label for label, _ in settings_of(runs)]
    assert labels == ["chitchat", "designed corpus (utterance drop 0.25)", "designed corpus (utterance drop 0.5)"]
    summary = known_latent_summary(of_dataset(runs, "designed"))
    assert list(summary.index.get_level_values("utterance drop")) == [0.25] * 4 + [0.5] * 4
    assert summary.loc[(0.5, "HRED"), "NLL − generator"] == pytest.approx(0.1)
    assert set(summary["seeds"]) == {1}
    assert len(of_dataset(runs, "chitchat")) == 4


def test_kl_pilot_sits_beside_the_cpu_long_runs_of_its_seed(tmp_path):
    from companion.vhcr.evidence import kl_pilot_table

    reference = _runs(tmp_path, [0, 1], {**_BASE, "vhcr_ud": (3e-4, 0.005, 4.02)})
    pilot_rows = [{**row, "arm": "anneal-10x"} for row in _rows(0, {"vhred": (1e-4, 0.0, 4.1), "vhcr_ud": (3e-4, 0.3, 4.0)})]
    record_run("vhcr/kl-pilot", {**resolve(PROFILES, "cpu-long", kl_annealing_steps=17300).record(),
                                 "profile": "pilot", "arm": "anneal-10x"}, pilot_rows,
               wall_time_s=1.0, device="cpu", directory=tmp_path)
    table = kl_pilot_table(load_runs("vhcr/kl-pilot", tmp_path), reference)
    assert list(table["arm"]) == ["cpu-long (annealing over 60% of the run)"] * 2 + ["anneal-10x"] * 2
    assert set(table["seed"]) == {0}
    assert list(table["kl_annealing_steps"]) == [1038, 1038, 17300, 17300]
    in_use = table.set_index(["arm", "model"])["z_conv in use"]
    assert in_use[("anneal-10x", "VHCR + utterance drop")] == True  # noqa: E712 (an object column)
    assert in_use[("cpu-long (annealing over 60% of the run)", "VHCR + utterance drop")] == False  # noqa: E712
    assert pd.isna(in_use[("anneal-10x", "VHRED")])
    from companion.vhcr.evidence import kl_pilot_verdict

    verdict = kl_pilot_verdict(table)
    assert "stays above 0.01 nats per word with anneal-10x (0.3)" in verdict
    assert "collapses with cpu-long (annealing over 60% of the run) (0.005)" in verdict
    collapsed = kl_pilot_verdict(table[table["arm"] != "anneal-10x"])
    assert collapsed.endswith("none does at CPU budget.")


def test_on_the_designed_corpus_a_collapsed_latent_is_an_answer_unless_a_model_did_not_learn(tmp_path):
    from companion.vhcr.designed import DESIGN

    best = 2.12
    collapsed = {"hred": (0.0, 0.0, 2.14), "vhred": (2e-3, 0.0, 2.14), "vhcr": (2e-4, 1e-3, 2.14),
                 "vhcr_ud": (3e-4, 5e-4, 2.14)}
    for seed in (0, 1, 2):
        rows = [{**row, "generator NLL": best} for row in _rows(seed, collapsed)]
        _record(tmp_path, seed=seed, dataset="designed", eval_conversations=0, rows=rows)
    decided = _verdicts(load_runs("vhcr", tmp_path, profile="cpu-long"))
    first = decided["vhcr/vhred-collapses-vhcr-does-not"]
    assert first.verdict == NOT_REPRODUCED and not first.finding.untested  # z_conv below VHRED's z_t in every seed
    # a model closer to reading no other turn than to the best has not learned: not tested
    far = DESIGN.monte_carlo_entropies()["without context"] - 0.01
    rows = [{**row, "generator NLL": best, "NLL": far if row["variant"] == "hred" else row["NLL"]}
            for row in _rows(0, collapsed)]
    _record(tmp_path, seed=0, dataset="designed", eval_conversations=0, rows=rows)
    decided = _verdicts(load_runs("vhcr", tmp_path, profile="cpu-long"))
    assert decided["vhcr/vhred-collapses-vhcr-does-not"].verdict == NOT_TESTED
    assert "HRED seed 0" in decided["vhcr/vhred-collapses-vhcr-does-not"].reason


def test_the_drop_curve_takes_plain_vhcr_once_per_seed_and_each_rates_dropped_model(tmp_path):
    from companion.vhcr.evidence import drop_curve, ideal_balance, plot_drop_curve

    for rate, conv in ((0.25, 1e-3), (0.5, 0.04)):
        for seed in (0, 1):
            base = {**_BASE, "vhcr_ud": (3e-4, conv, 4.02)}
            rows = [{**row, "generator NLL": 3.9, "probe z_conv": 0.2 + conv} for row in _rows(seed, base)]
            _record(tmp_path, seed=seed, dataset="designed", utterance_drop=rate, eval_conversations=0, rows=rows)
    curve = drop_curve(load_runs("vhcr", tmp_path, profile="cpu-long"))
    assert list(curve["utterance drop"]) == [0.0, 0.25, 0.5] * 2
    seed1 = curve[curve["seed"] == 1].set_index("utterance drop")["KL z_conv / conversation"]
    assert seed1[0.5] == pytest.approx(0.04 * 1.1 * 35) and seed1[0.0] == pytest.approx(1e-3 * 1.1 * 35)
    fig = plot_drop_curve(curve, ideal_balance([0.0, 0.5], samples=500))
    assert len(fig.axes[0].lines) == 2 + 2  # a line per seed, the ideal cost and the threshold
