"""Sweeps on this machine: results land, finished runs are skipped, failures are retried and
filed, and a killed sweep loses no finished run."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


class InlineExecutor:
    """Runs each task in this process when the sweep waits for it (so a test's monkeypatches
    reach execute_run), one task per wait; counts the runs it executed."""

    name = "local"

    def __init__(self, results):
        self.results, self.queue, self.executed = str(results), [], 0

    def submit(self, tasks):
        self.queue += tasks

    def adopt(self, task, entry):
        return False

    def active(self):
        return len(self.queue)

    def wait(self, timeout):
        from companion.reproduce.execution import execute_run

        task = self.queue.pop(0)
        self.executed += 1
        return [(task, execute_run(task.run, self.results, task.attempt, self.name))]

    def stop(self):
        self.queue.clear()
        return []

    def close(self):
        pass


def _writes_denied(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o555)
    return results


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_sweep_into_a_read_only_folder_refuses_before_running_anything(tmp_path, capsys):
    results = _writes_denied(tmp_path)
    try:
        status = main(["--results-dir", str(results), "--no-progress"], chapters=chapters(tmp_path / "notebooks"))
    finally:
        results.chmod(0o755)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert f"records cannot be written to {results} (Permission denied)" in err and "--results-dir" in err
    assert list(results.iterdir()) == [], "nothing ran, not even the lock"


def test_a_sweep_whose_folders_cannot_be_written_refuses_before_running_anything(tmp_path, capsys):
    """What a read-only folder does, as root too: the results folder, or a chapter's folder in
    it, is a file."""
    tiny = chapters(tmp_path / "notebooks")
    (tmp_path / "file").write_text("not a folder")
    status = main(["--results-dir", str(tmp_path / "file" / "results"), "--no-progress"], chapters=tiny)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and f"records cannot be written to {tmp_path / 'file'}" in err

    results = tmp_path / "results"
    results.mkdir()
    (results / "tiny").write_text("not a folder")
    status = main(["--results-dir", str(results), "--no-progress"], chapters=tiny)
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and f"records cannot be written to {results / 'tiny'}" in err
    assert sorted(path.name for path in results.iterdir()) == ["tiny"], "nothing ran"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_record_the_results_folder_cannot_take_stops_the_sweep_and_is_kept(tmp_path, monkeypatch, capsys, code):
    """The disk fills up (or the chapter's folder turns read-only) while a sweep files its first
    run: the sweep stops with one line naming the path, the reason and where the record is kept;
    the record stays where the run wrote it; the next sweep refuses to run over it until it is
    moved as the line says, and then skips that run."""
    import shutil

    import companion.reproduce.__main__ as command

    results = tmp_path / "results"
    tiny = chapters(tmp_path / "notebooks")
    options = ["--results-dir", str(results), "--seeds", "0,1", "--only", "scale=1.0", "--no-progress"]
    executors = []
    monkeypatch.setattr(command, "make_executor",
                        lambda args, folder: executors.append(InlineExecutor(folder)) or executors[-1])
    real_move = shutil.move

    def move(source, target):
        if Path(target).parent == results / "tiny":
            raise OSError(code, os.strerror(code))
        return real_move(source, target)

    with monkeypatch.context() as patch:
        patch.setattr(shutil, "move", move)
        status = main(options, chapters=tiny)
    err = capsys.readouterr().err
    [kept] = list((results / "_reproduce" / "staging").glob("tiny-*/results/tiny/*.json"))
    target = results / "tiny" / kept.name
    assert status == 1 and executors[0].executed == 1, "the sweep stopped after the first run"
    assert err.count("\n") == 1 and err.startswith("error: tiny ")
    assert f"{target} cannot be written ({os.strerror(code)})" in err
    assert f"move {kept} to {target}" in err and "run the sweep again" in err
    assert json.loads(kept.read_text())["params"]["seed"] == 0 and not target.exists()
    [entry] = _ledger(results).values()
    assert entry["status"] == "unfiled" and entry["error"] == err.removeprefix("error: ").strip()

    status = main(options, chapters=tiny)
    again = capsys.readouterr().err
    assert status == 1 and executors[1].executed == 0 and again.count("\n") == 1
    assert f"move {kept} to {target}" in again and kept.exists(), "nothing runs over the kept record"

    moves = err.split(" then move ", 1)[1].split(" and run the sweep again")[0].split(", ")
    assert len(moves) == 2, "the record and the executed notebook"
    for move in moves:  # what the error says to do
        source, destination = map(Path, move.split(" to "))
        destination.parent.mkdir(parents=True, exist_ok=True)
        source.rename(destination)
    status = main(options, chapters=tiny)
    assert status == 0 and _counts(capsys.readouterr().out) == {"skipped": 1, "done": 1}
    assert sorted(r["params"]["seed"] for r in load_records("tiny", results)) == [0, 1]
