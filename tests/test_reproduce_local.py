"""Sweeps on this machine: results land, finished runs are skipped, failures are retried and
filed, and a killed sweep loses no finished run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from companion.reproduce.__main__ import main
from companion.results import load_records, load_runs
from reproduce_fixture import chapters

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def _ledger(results):
    return {p.stem: json.loads(p.read_text())
            for p in (results / "_reproduce" / "ledger").glob("*/*.json")}


def _counts(out):
    """``{"done": 1, "failed": 1}`` from the summary's first line "1 done, 1 failed; results in ..."."""
    first = out.splitlines()[0].split(";")[0]
    return {status: int(n) for n, status in (part.split(" ", 1) for part in first.split(", "))}


def test_a_sweep_fills_the_chapter_table_and_a_second_one_skips_it(tmp_path, monkeypatch, capsys):
    results = tmp_path / "data" / "results"
    tiny = chapters(tmp_path / "notebooks")
    status = main(["--results-dir", str(results), "--seeds", "0,1", "--jobs", "2", "--no-progress"],
                  chapters=tiny)
    out = capsys.readouterr().out
    assert status == 0 and _counts(out) == {"done": 4}
    # The chapter's tables read the committed store data/results of the checkout.
    monkeypatch.setenv("COMPANION_ROOT", str(tmp_path))
    table = load_runs("tiny")
    assert len(table) == 8, "two metric rows per run"
    linear = table[table["item"] == "linear"]
    assert sorted(zip(linear["param_scale"], linear["param_seed"], linear["value"])) == [
        (1.0, 0, 1.0), (1.0, 1, 2.0), (2.0, 0, 2.0), (2.0, 1, 4.0)]
    entries = _ledger(results)
    assert len(entries) == 4 and {e["status"] for e in entries.values()} == {"done"}
    for entry in entries.values():
        assert (results / entry["notebook"]).exists() and len(entry["records"]) == 1
    assert not (results / "_reproduce" / "staging").exists() or \
        not any((results / "_reproduce" / "staging").iterdir())

    status = main(["--results-dir", str(results), "--seeds", "0,1", "--no-progress"], chapters=tiny)
    out = capsys.readouterr().out
    assert status == 0 and _counts(out) == {"skipped": 4}
    assert len(load_records("tiny", results)) == 4, "skipped runs record nothing new"

    changed = chapters(tmp_path / "notebooks", extra_code="\n# a change to the code")
    status = main(["--results-dir", str(results), "--seeds", "0", "--only", "scale=1.0",
                   "--no-progress"], chapters=changed)
    assert status == 0 and _counts(capsys.readouterr().out) == {"done": 1}, "new code: run again"
    assert len(load_records("tiny", results)) == 5


def test_failures_are_retried_and_filed_with_their_error(tmp_path, capsys):
    results = tmp_path / "results"
    flaky = tmp_path / "flaky-marker"
    tiny = chapters(tmp_path / "notebooks",
                    {"cpu": {"fail": [None, "always"], "flaky": [str(flaky)]}})
    status = main(["--results-dir", str(results), "--retries", "1", "--jobs", "2",
                   "--no-progress"], chapters=tiny)
    out = capsys.readouterr().out
    assert status == 1
    assert _counts(out) == {"done": 1, "failed": 1} and "RuntimeError: asked to fail: always" in out
    entries = {e["parameters"]["fail"]: e for e in _ledger(results).values()}
    assert entries[None]["status"] == "done" and entries[None]["attempt"] == 2, "flaky: 2nd try"
    failed = entries["always"]
    assert failed["status"] == "failed" and failed["attempt"] == 2
    assert failed["error"].startswith("RuntimeError: asked to fail: always")
    assert "asked to fail" in failed["traceback"]
    assert (results / failed["notebook"]).exists(), "the failed notebook is kept for reading"
    assert len(load_records("tiny", results)) == 1, "a failed run records nothing"

    status = main(["--results-dir", str(results), "--retries", "0", "--no-progress"], chapters=tiny)
    assert status == 1 and _counts(capsys.readouterr().out) == {"skipped": 1, "failed": 1}


def test_a_killed_sweep_loses_no_finished_run(tmp_path):
    results = tmp_path / "results"
    grid = json.dumps({"cpu": {"sleep": [0, 4]}})
    command = [PYTHON, str(ROOT / "tests" / "reproduce_fixture.py"), str(tmp_path / "notebooks"),
               grid, "--results-dir", str(results), "--seeds", "0", "--no-progress"]
    sweep = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(e.get("status") == "done" for e in _ledger(results).values()):
        assert sweep.poll() is None and time.monotonic() < deadline, "first run never finished"
        time.sleep(0.2)
    sweep.send_signal(signal.SIGTERM)
    out, _ = sweep.communicate(timeout=30)
    assert sweep.returncode == 130
    assert _counts(out) == {"done": 1, "interrupted": 1}
    statuses = sorted(e["status"] for e in _ledger(results).values())
    assert statuses == ["done", "interrupted"]

    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert _counts(again.stdout) == {"done": 1, "skipped": 1}
    assert len(load_records("tiny", results)) == 2, "no run recorded twice, none lost"


def test_the_data_chapter_runs_through_the_command(tmp_path):
    env = {**os.environ, "COMPANION_RESULTS_DIR": str(tmp_path)}
    done = subprocess.run([PYTHON, "-m", "companion.reproduce", "--chapters", "data",
                           "--only", "dataset=digits", "--no-progress"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _counts(done.stdout) == {"done": 1} and "dataset=digits seed=0" in done.stdout
    [entry] = _ledger(tmp_path).values()
    executed = json.loads((tmp_path / entry["notebook"]).read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert 'dataset = "digits"' in "".join(injected[0]["source"])
    assert entry["commit"] and entry["host"]


def test_a_second_sweep_on_the_same_folder_stops_at_once(tmp_path, capsys):
    from companion.reproduce.ledger import Ledger

    results = tmp_path / "results"
    tiny = chapters(tmp_path / "notebooks")
    with Ledger(results).sweep_lock():
        status = main(["--results-dir", str(results), "--no-progress"], chapters=tiny)
    assert status == 2 and f"another sweep (process {os.getpid()})" in capsys.readouterr().err
    assert load_records("tiny", results) == [], "nothing ran twice"
    assert main(["--results-dir", str(results), "--no-progress"], chapters=tiny) == 0, "released"


def test_evidence_is_not_recorded_from_uncommitted_code_unless_asked(tmp_path, monkeypatch, capsys):
    import companion.reproduce.__main__ as command

    results = tmp_path / "results"
    tiny = chapters(tmp_path / "notebooks", {"cpu-long": {"scale": [1.0]}, "cpu": {"scale": [1.0]}})
    monkeypatch.setattr(command, "checkout_state", lambda: ("abc+dirty", "0123456789ab"))
    status = main(["--results-dir", str(results), "--profile", "cpu-long", "--no-progress"], chapters=tiny)
    error = capsys.readouterr().err
    assert status == 2 and "uncommitted changes (abc+dirty, diff 0123456789ab)" in error
    assert "--allow-dirty" in error and load_records("tiny", results) == []
    assert main(["--results-dir", str(results), "--profile", "cpu", "--no-progress"], chapters=tiny) == 0
    assert main(["--results-dir", str(results), "--profile", "cpu-long", "--allow-dirty", "--no-progress"],
                chapters=tiny) == 0


def test_a_profile_only_some_chapters_have_runs_those_and_names_the_others(tmp_path, capsys):
    tiny = chapters(tmp_path / "notebooks")
    other = chapters(tmp_path / "other", {"cpu-long": {"scale": [3.0]}})
    both = {"tiny": tiny["tiny"], "other": other["tiny"]}
    status = main(["--results-dir", str(tmp_path / "results"), "--profile", "cpu-long", "--dry-run"],
                  chapters=both)
    out = capsys.readouterr().out
    assert status == 0 and out.startswith("1 runs, 1 to run")
