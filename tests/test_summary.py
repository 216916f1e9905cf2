"""The "What reproduces" page: verdicts follow the recorded numbers, never hand-typed text."""

import shutil
from pathlib import Path

import pytest

from companion import results, summary

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A checkout whose data/paper is the real one and whose data/results starts empty."""
    shutil.copytree(ROOT / "data" / "paper", tmp_path / "data" / "paper")
    (tmp_path / "data" / "results").mkdir()
    monkeypatch.setenv("COMPANION_ROOT", str(tmp_path))
    return tmp_path / "data" / "results"


def _record_vhcr(store, kl_vhred, conv_vhcr, conv_drop, profile="cpu", seeds=(0, 1, 2)):
    """VHCR-chapter records: per seed VHRED's z_t KL, and VHCR's z_conv KL without and with
    utterance drop (nats per word; each seed scales them alike)."""
    for seed in seeds:
        scale = 1 + seed / 10
        rows = [
            {"variant": "vhred", "model": "VHRED", "NLL": 4.1, "KL z_utt": kl_vhred * scale, "KL z_conv": 0.0},
            {"variant": "vhcr", "model": "VHCR", "NLL": 4.0, "KL z_utt": 1e-4, "KL z_conv": conv_vhcr * scale},
            {"variant": "vhcr_ud", "model": "VHCR + utterance drop", "NLL": 4.0, "KL z_utt": 1e-4,
             "KL z_conv": conv_drop * scale},
        ]
        results.record_run("vhcr", {"profile": profile, "seed": seed, "dataset": "chitchat"}, rows,
                           wall_time_s=1, device="cpu", directory=store)


def test_nothing_recorded_means_not_run(store):
    table = summary.vhcr_claims()
    assert set(table["verdict"]) == {summary.NOT_RUN}
    assert set(table["scale"]) == {summary.NOT_RUN}


def test_verdicts_follow_the_numbers(store):
    _record_vhcr(store, kl_vhred=0.001, conv_vhcr=0.002, conv_drop=0.3)
    assert list(summary.vhcr_claims()["verdict"]) == [summary.REPRODUCED] * 2


def test_a_contrast_between_two_collapsed_latents_is_not_reproduced_evidence(store):
    _record_vhcr(store, kl_vhred=1e-5, conv_vhcr=1e-5, conv_drop=3e-4)
    table = summary.vhcr_claims()
    assert list(table["verdict"]) == [summary.INCONCLUSIVE] * 2
    assert table["ours"].str.startswith("Inconclusive at this scale").all()


def test_a_failed_claim_is_shown_as_failed(store):
    _record_vhcr(store, kl_vhred=0.2, conv_vhcr=0.05, conv_drop=0.001)
    table = summary.vhcr_claims()
    assert list(table["verdict"]) == [summary.NOT_REPRODUCED] * 2


def test_a_paper_profile_run_raises_the_scale(store):
    _record_vhcr(store, 0.001, 0.002, 0.3, profile="cpu")
    _record_vhcr(store, 0.001, 0.002, 0.3, profile="paper")
    table = summary.vhcr_claims()
    assert set(table["scale"]) == {"paper scale"}
    assert set(table["other scales"]) == {"CPU default: 1 reproduced"}


def test_paper_numbers_come_from_the_reported_tables(store):
    vlae = summary.vlae_claims().set_index("claim")
    assert vlae.loc["VLAE beats VAE, SA-VAE and VAE+HF", "paper"].startswith("6 of 6 data sets (MNIST: 650.3")
    split = summary.splitnet_claims()
    assert "1.73×" in split["paper"].iloc[2] and "32.5–62.6%" in split["paper"].iloc[0]


@pytest.mark.parametrize("claims", list(summary.PAPERS.values()), ids=list(summary.PAPERS))
def test_every_paper_has_claims_with_verdicts(claims):
    table = claims()
    assert len(table) >= 2
    assert set(table["verdict"]) <= set(summary.evidence.VERDICTS)
    assert list(table.columns[:2]) == ["claim", "tested on"], "the claim is the first column"


def _record_vlae(store, profile, gain, noise, dataset="mnist5k", epochs=100, seeds=(0, 1, 2)):
    """VAE and VLAE at T=1 and T=4 per seed; VLAE(T=4) − VAE = ``gain`` + noise[seed]."""
    for seed in seeds:
        for steps in (1, 4):
            params = {"profile": profile, "seed": seed, "steps": steps, "dataset": dataset,
                      "likelihood": "gaussian", "epochs": epochs, "latent_dim": 16, "hidden_dim": 200}
            rows = [{"model": "VAE", "steps": 0, "log_px": 100.0 + seed},
                    {"model": "VLAE", "steps": steps,
                     "log_px": 100.0 + seed + gain + noise[seed] - (4 - steps) * 0.5}]
            results.record_run("vlae", params, rows, wall_time_s=1, device="cpu", directory=store)


def _vlae_verdict(claim="VLAE beats the VAE"):
    table = summary.vlae_claims()
    return table[table["claim"] == claim]


def test_an_effect_inside_the_seed_noise_is_inconclusive(store):
    _record_vlae(store, "cpu", gain=0.3, noise=(2.0, -2.5, 1.0))
    assert _vlae_verdict()["verdict"].tolist() == [summary.INCONCLUSIVE]


def test_a_clear_effect_is_reproduced_and_an_opposite_one_is_not(store):
    _record_vlae(store, "cpu", gain=5.0, noise=(0.1, -0.1, 0.2))
    assert _vlae_verdict()["verdict"].tolist() == [summary.REPRODUCED]
    _record_vlae(store, "cpu-long", gain=-5.0, noise=(0.1, -0.1, 0.2))
    row = _vlae_verdict().iloc[0]
    assert (row["verdict"], row["scale"]) == (summary.NOT_REPRODUCED, "cpu-long")
    assert row["other scales"] == "CPU default: 1 reproduced", "profiles are never pooled"


def test_a_duplicate_record_counts_once(store):
    _record_vlae(store, "cpu", gain=5.0, noise=(0.1, -0.1, 0.2), seeds=(0, 1))
    _record_vlae(store, "cpu", gain=5.0, noise=(0.1, -0.1, 0.2), seeds=(0, 1))
    row = _vlae_verdict().iloc[0]
    assert "over 2 seeds" in row["ours"] and row["verdict"] == summary.INCONCLUSIVE


def test_one_extra_single_seed_run_does_not_flip_a_verdict(store):
    _record_vlae(store, "cpu", gain=5.0, noise=(0.1, -0.1, 0.2))
    _record_vlae(store, "cpu", gain=-3.0, noise=(0.0, 0.0, 0.0), epochs=8, seeds=(0,))
    table = _vlae_verdict()
    assert sorted(table["verdict"]) == [summary.INCONCLUSIVE, summary.REPRODUCED]


def test_the_vlae_chapter_quotes_the_summarys_verdict():
    """The committed chapter glues its CPU-default verdict from the same function."""
    import json

    from companion.vlae import settings
    from companion.vlae.experiments import decide_claims, setting_of

    notebook = json.loads((ROOT / "notebooks" / "vlae.ipynb").read_text())
    glued = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            scrap = output.get("metadata", {}).get("scrapbook", {})
            if scrap.get("name"):
                data = output["data"]
                text = data.get(f"{scrap['mime_prefix']}text/markdown", data.get(f"{scrap['mime_prefix']}text/plain"))
                glued[scrap["name"]] = "".join(text)
    runs = results.load_runs("vlae", profile="cpu")
    decided = decide_claims(runs)
    decided = decided[decided["setting"] == setting_of(runs, settings("cpu"))].set_index("key")
    assert glued["summary_verdict"].strip("*' ") == decided.loc["VLAE beats the VAE", "verdict"]
    findings = [f for f in summary.vlae_findings() if f.scale == "cpu" and f.tested == "digits, gaussian"]
    assert {f.claim: f.verdict for f in findings}["VLAE beats the VAE"] == decided.loc["VLAE beats the VAE", "verdict"]
