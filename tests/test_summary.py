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


def _record_vhcr(store, kl_vhred, kl_vhcr, conv_vhcr, conv_drop, profile="cpu"):
    rows = [
        {"model": "VHRED", "KL": kl_vhred, "KL z_conv": 0.0},
        {"model": "VHCR", "KL": kl_vhcr, "KL z_conv": conv_vhcr},
        {"model": "VHCR + utterance drop", "KL": kl_vhcr, "KL z_conv": conv_drop},
    ]
    results.record_run("vhcr", {"profile": profile, "seed": 0}, rows, wall_time_s=1, device="cpu",
                       directory=store)


def test_nothing_recorded_means_not_yet_run(store):
    table = summary.vhcr_claims()
    assert set(table["verdict"]) == {summary.NOT_RUN}
    assert set(table["scale"]) == {summary.NOT_RUN}


def test_verdicts_follow_the_numbers(store):
    _record_vhcr(store, kl_vhred=0.001, kl_vhcr=0.4, conv_vhcr=0.02, conv_drop=0.3)
    assert list(summary.vhcr_claims()["verdict"]) == [summary.REPRODUCED] * 3


def test_a_failed_claim_is_shown_as_failed(store):
    _record_vhcr(store, kl_vhred=0.2, kl_vhcr=0.0001, conv_vhcr=0.0, conv_drop=0.0)
    table = summary.vhcr_claims()
    assert list(table["verdict"]) == [summary.NOT_REPRODUCED] * 3
    assert "0.2000" in table["ours"].iloc[0]


def test_a_paper_profile_run_raises_the_scale(store):
    _record_vhcr(store, 0.001, 0.4, 0.02, 0.3, profile="paper")
    assert set(summary.vhcr_claims()["scale"]) == {"paper-scale run"}


def test_paper_numbers_come_from_the_reported_tables(store):
    vlae = summary.vlae_claims()
    assert vlae["paper"].iloc[0].startswith("6 of 6 data sets (MNIST: 650.3")
    split = summary.splitnet_claims()
    assert "1.73×" in split["paper"].iloc[2] and "32.5–62.6%" in split["paper"].iloc[0]


@pytest.mark.parametrize("claims", list(summary.PAPERS.values()), ids=list(summary.PAPERS))
def test_every_paper_has_claims_with_verdicts(claims):
    table = claims()
    assert len(table) >= 3
    assert set(table["verdict"]) <= {summary.REPRODUCED, summary.NOT_REPRODUCED, summary.NOT_RUN}
