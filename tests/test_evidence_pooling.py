"""A chapter's evidence pools only the records of its planned grid: a run made by hand with other
settings and recorded beside the evidence (here: the same seed at another learning rate, its
numbers made worse) changes no verdict."""

import json
import shutil
from pathlib import Path

import pytest

from companion import results, summary
from companion.chapters import EVIDENCE

ROOT = Path(__file__).resolve().parents[1]
#: per chapter, a parameter no grid varies, to set to another value in the stray record
OTHER_SETTING = {"vlae": "learning_rate", "splitnet": "lr", "vhcr": "learning_rate",
                 "ppca": "nonlinear_learning_rate"}


def _decided(chapter):
    return [(d.claim.key, d.finding.setting, d.verdict, d.finding.seeds, f"{d.finding.effect:.6g}")
            for d in summary.decide(summary.evidence_modules()[chapter].findings("cpu-long"))]


def _worse(value):
    return value * 10 if isinstance(value, (int, float)) and not isinstance(value, bool) else value


@pytest.mark.parametrize("chapter", list(EVIDENCE))
def test_a_stray_record_with_other_settings_changes_no_verdict(chapter, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "data" / "paper", tmp_path / "data" / "paper")
    shutil.copytree(ROOT / "data" / "results" / chapter, tmp_path / "data" / "results" / chapter,
                    ignore=shutil.ignore_patterns("notebooks"))
    (tmp_path / "notebooks").symlink_to(ROOT / "notebooks")
    monkeypatch.setenv("COMPANION_ROOT", str(tmp_path))
    before = _decided(chapter)
    assert before, f"{chapter} has no cpu-long decision to protect"
    record = next(r for r in results.load_records(chapter) if r["profile"] == "cpu-long")
    name = OTHER_SETTING[chapter]
    params = {**record["params"], name: record["params"][name] * 2}
    stray = {**record, "params": params, "key": results.run_key(chapter, params),
             "run_id": record["run_id"][:-12] + results.run_key(chapter, params),
             "metrics": [{key: _worse(value) for key, value in row.items()} for row in record["metrics"]]}
    path = tmp_path / "data" / "results" / chapter / f"{stray['run_id']}.json"
    path.write_text(json.dumps(stray), encoding="utf-8")
    assert results.load_runs(chapter, profile="cpu-long")["run_id"].nunique() == \
        len({r["key"] for r in results.load_records(chapter) if r["profile"] == "cpu-long"}), "the stray is read"
    assert _decided(chapter) == before
