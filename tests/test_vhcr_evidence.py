"""The VHCR chapter's cpu-long evidence, computed from constructed records."""

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from companion.results import load_runs, record_run
from companion.vhcr import settings
from companion.vhcr.evidence import (ablation, claim_checks, history, paired_verdict, per_seed,
                                     plot_history, seed_spread)

#: Test KLs per word (z_utt, z_conv) and NLL of each variant, seed 0; other seeds scale them.
_BASE = {"hred": (0.0, 0.0, 4.0), "vhred": (1e-4, 0.0, 4.1), "vhcr": (2e-4, 1e-3, 4.05),
         "vhcr_ud": (3e-4, 0.02, 4.02)}


def _rows(seed, base=_BASE):
    rows = []
    for variant, (kl_utt, kl_conv, nll) in base.items():
        scale = 1 + seed / 10
        rows.append({"variant": variant, "model": variant.upper(), "NLL": nll + seed / 100,
                     "KL z_utt": kl_utt * scale, "KL z_conv": kl_conv * scale,
                     "train history": [{"epoch": e, "step": 10 * (e + 1), "kl_utterance": kl_utt * (e + 1),
                                        "kl_conversation": kl_conv * (e + 1), "kl_weight": 1.0} for e in range(3)]})
    return rows


def _runs(tmp_path, seeds, base=_BASE):
    for seed in seeds:
        record_run("vhcr", settings("cpu-long", seed=seed), _rows(seed, base), wall_time_s=1.0, device="cpu",
                   directory=tmp_path)
    record_run("vhcr", settings("cpu", seed=9), _rows(9), wall_time_s=1.0, device="cpu", directory=tmp_path)
    return load_runs("vhcr", tmp_path, profile="cpu-long")


def test_per_seed_and_spread_keep_profiles_apart_and_order_models(tmp_path):
    seeds = per_seed(_runs(tmp_path, [1, 0, 2]))
    assert list(seeds["model"].unique()) == ["HRED", "VHRED", "VHCR", "VHCR + utterance drop"]
    assert sorted(seeds["seed"].unique()) == [0, 1, 2]  # the cpu record (seed 9) is left out
    spread = seed_spread(seeds)
    assert spread.loc["VHCR + utterance drop", "seeds"] == 3
    assert spread.loc["VHCR + utterance drop", "KL z_conv min"] == pytest.approx(0.02)
    assert spread.loc["VHCR + utterance drop", "KL z_conv max"] == pytest.approx(0.024)
    assert spread.loc["HRED", "NLL mean"] == pytest.approx(4.01)


def test_nothing_recorded_renders_empty_tables_and_claims_not_run(tmp_path):
    seeds = per_seed(load_runs("vhcr", tmp_path, profile="cpu-long"))
    assert seeds.empty and seed_spread(seeds).empty and ablation(seeds).empty and history(seeds).empty
    claims = claim_checks(seeds)
    assert (claims["verdict"] == "not run").all()
    assert claims["sentence"].str.startswith("Not run").all()
    plot_history(history(seeds), ["VHRED"])


def test_claims_reproduced_when_every_seed_separates_across_the_threshold(tmp_path):
    claims = claim_checks(per_seed(_runs(tmp_path, [0, 1, 2])))
    assert (claims["verdict"] == "reproduced").all()
    assert claims["sentence"].str.startswith("Reproduced: ").all()
    assert "in 3 of 3 seeds" in claims.iloc[0]["sentence"] and "p = 0" in claims.iloc[0]["sentence"]


def test_inconclusive_when_z_conv_stays_below_the_collapse_threshold(tmp_path):
    base = {**_BASE, "vhcr_ud": (3e-4, 4e-3, 4.02)}
    claims = claim_checks(per_seed(_runs(tmp_path, [0, 1, 2], base)))
    assert (claims["verdict"] == "inconclusive").all()
    assert claims["sentence"].str.startswith("Inconclusive at this scale").all()
    assert "not with" in claims.iloc[1]["sentence"]


def test_too_few_seeds_or_disagreeing_seeds_are_inconclusive(tmp_path):
    claims = claim_checks(per_seed(_runs(tmp_path, [0, 1])))
    assert claims.loc["utterance drop keeps z_conv in use", "sentence"] == (
        "Inconclusive: 2 seeds recorded with both models, 3 needed.")
    index = pd.Index([0, 1, 2])
    assert paired_verdict(pd.Series([1.0, 1.0, 1.0], index), pd.Series([2.0, 0.5, 2.0], index)) == "inconclusive"
    assert paired_verdict(pd.Series([1.0, 1.0, 1.0], index), pd.Series([0.5, 0.5, 0.5], index)) == "not reproduced"
    with pytest.raises(ValueError, match="same seeds"):
        paired_verdict(pd.Series([1.0], [0]), pd.Series([1.0], [1]))


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
