"""Run records: written atomically, read back with their parameters."""

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from companion import results


def test_record_and_load_round_trip(tmp_path):
    params = {"profile": "cpu", "seed": 1, "steps": 4}
    path = results.record_run("vlae", params, [{"model": "vae", "log_px": -90.5},
                                               {"model": "vlae", "log_px": -88.0}],
                              wall_time_s=1.25, device="cpu", directory=tmp_path)
    record = json.loads(path.read_text())
    assert record["params"] == params and record["wall_time_s"] == 1.25
    assert {"torch", "numpy", "python"} <= set(record["versions"])
    distribution = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert distribution["project"]["name"] in record["versions"], "the library's own version"
    runs = results.load_runs("vlae", directory=tmp_path)
    assert runs[["model", "log_px", "param_steps"]].values.tolist() == [["vae", -90.5, 4],
                                                                        ["vlae", -88.0, 4]]


def test_writes_go_to_the_scratch_folder_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPANION_RESULTS_DIR", str(tmp_path))
    path = results.record_run("ppca", {"profile": "cpu"}, {"gap": 0.0}, wall_time_s=0, device="cpu")
    assert path.parent == tmp_path / "ppca"
    assert results.results_dir() == tmp_path != results.stored_results_dir()


def test_a_failed_write_leaves_the_old_file_and_no_partial_one(tmp_path, monkeypatch):
    target = tmp_path / "record.json"
    results.atomic_write_text(target, "old")

    class Boom(RuntimeError):
        pass

    def failing_fsync(fd):
        raise Boom("disk full")

    monkeypatch.setattr(results.os, "fsync", failing_fsync)
    with pytest.raises(Boom):
        results.atomic_write_text(target, "new" * 1000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_empty_store_gives_an_empty_table(tmp_path):
    assert results.load_runs("splitnet", directory=tmp_path).empty


def test_a_damaged_record_is_named(tmp_path):
    (tmp_path / "vhcr").mkdir()
    (tmp_path / "vhcr" / "bad.json").write_text("{")
    with pytest.raises(ValueError, match="bad.json"):
        results.load_runs("vhcr", directory=tmp_path)


def test_this_run_joins_the_table_once():
    params = {"profile": "cpu", "seed": 0}
    this = results.with_this_run("vlae", pd.DataFrame(), params, [{"x": 1.0}])
    assert this["x"].tolist() == [1.0] and this["run_id"].iloc[0].startswith("this-run-")
    recorded = this.assign(run_id=f"20261124T000000Z-{results.run_key('vlae', params)}")
    assert results.with_this_run("vlae", recorded, params, [{"x": 2.0}]) is recorded


def test_a_run_recorded_twice_counts_once_with_its_newest_numbers(tmp_path):
    params = {"profile": "cpu", "seed": 0}
    results.record_run("vlae", params, {"log_px": -90.0}, wall_time_s=1, device="cpu", directory=tmp_path)
    results.record_run("vlae", {**params, "seed": 1}, {"log_px": -91.0}, wall_time_s=1, device="cpu",
                       directory=tmp_path)
    results.record_run("vlae", params, {"log_px": -89.0}, wall_time_s=1, device="cpu", directory=tmp_path)
    assert len(results.load_records("vlae", tmp_path)) == 3
    runs = results.load_runs("vlae", directory=tmp_path)
    assert sorted(zip(runs["param_seed"], runs["log_px"])) == [(0, -89.0), (1, -91.0)]


def test_profiles_are_never_pooled(tmp_path):
    for profile, value in [("cpu", 1.0), ("cpu-long", 2.0), ("paper", 3.0)]:
        results.record_run("ppca", {"profile": profile}, {"gap": value}, wall_time_s=0, device="cpu",
                           directory=tmp_path)
    assert results.load_runs("ppca", directory=tmp_path, profile="cpu-long")["gap"].tolist() == [2.0]
    assert len(results.load_runs("ppca", directory=tmp_path)) == 3
    assert results.load_runs("ppca", directory=tmp_path, profile="none").empty


def test_a_record_names_the_commit_its_run_started_from(tmp_path, monkeypatch):
    monkeypatch.setenv(results.RUN_COMMIT_VARIABLE, "f" * 40 + "+dirty")
    monkeypatch.setenv(results.RUN_DIFF_VARIABLE, "0123456789ab")
    path = results.record_run("ppca", {"profile": "cpu"}, {"gap": 0.0}, wall_time_s=0, device="cpu",
                              directory=tmp_path)
    record = json.loads(path.read_text())
    assert record["commit"] == "f" * 40 + "+dirty" and record["diff"] == "0123456789ab"


def test_a_run_outside_a_sweep_records_to_scratch_not_to_the_evidence(monkeypatch):
    monkeypatch.delenv("COMPANION_RESULTS_DIR", raising=False)
    assert results.results_dir() == results.repository_root() / ".scratch" / "results"
    assert results.results_dir() != results.stored_results_dir()


def test_uncommitted_code_is_dirty_with_the_diff_hash_and_the_results_store_is_not_code(tmp_path, monkeypatch):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "data" / "results").mkdir(parents=True)
    (tmp_path / "data" / "results" / "ledger.json").write_text("{}\n")
    git("add", ".")
    git("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "-m", "one")
    monkeypatch.setenv("COMPANION_ROOT", str(tmp_path))
    commit, diff = results.checkout_state()
    assert diff is None and len(commit) == 40
    (tmp_path / "data" / "results" / "ledger.json").write_text('{"status": "running"}\n')
    assert results.checkout_state() == (commit, None), "a sweep's own ledger is not code"
    (tmp_path / "code.py").write_text("x = 2\n")
    dirty, diff = results.checkout_state()
    assert dirty == commit + "+dirty" and len(diff) == 12


def test_a_results_folder_that_cannot_be_written_is_named_before_anything_runs(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(results.ResultsFolderError, match=f"records cannot be written to {blocked}/records"):
        results.check_writable(blocked / "records")
    assert results.check_writable(tmp_path / "records") == tmp_path / "records"


def test_a_failed_record_write_names_its_path(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    with pytest.raises(results.ResultsFolderError, match=f"could not write {blocked}/vlae/r.json"):
        results.atomic_write_text(blocked / "vlae" / "r.json", "{}")
