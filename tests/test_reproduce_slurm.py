"""The slurm executor on a real one-node Slurm cluster started for the test session.

tests/slurm/cluster.sh installs Debian's slurm-wlm and munge when they are missing (root and
apt-get needed, as in CI) and starts munged, slurmctld and slurmd on localhost. If the cluster
cannot start, the tests fail with the script's evidence: the executor is never mocked.
"""

import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from companion.reproduce.__main__ import main
from companion.results import load_records, load_runs, significant
from reproduce_fixture import chapters

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "slurm" / "cluster.sh"


@pytest.fixture(scope="session")
def slurm_conf():
    """A running one-node cluster for the session; yields its slurm.conf, stops it at the end."""
    # Not under pytest's tmp_path: munged runs as user munge and must reach its socket folder.
    folder = Path(tempfile.mkdtemp(prefix="companion-slurm-"))
    start = subprocess.run(["bash", str(SCRIPT), "start", str(folder)], capture_output=True,
                           text=True, timeout=900)
    try:
        if start.returncode != 0:
            pytest.fail(f"the one-node Slurm cluster did not start (exit {start.returncode}):\n"
                        f"{start.stdout[-3000:]}\n{start.stderr[-6000:]}", pytrace=False)
        yield folder / "slurm.conf"
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(folder)], timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def _ledger(results):
    return [json.loads(p.read_text()) for p in (results / "_reproduce" / "ledger").glob("*/*.json")]


def _first_line(out):
    return out.splitlines()[0].split(";")[0]


def test_two_runs_as_one_array_job_land_their_results(slurm_conf, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SLURM_CONF", str(slurm_conf))
    results = tmp_path / "results"
    tiny = chapters(tmp_path / "notebooks", {"cpu": {"scale": [3.0]}})
    options = ["--executor", "slurm", "--seeds", "0,1", "--results-dir", str(results),
               "--time-limit", "5", "--partition", "debug", "--poll-seconds", "0.5",
               "--no-progress"]
    status = main(options, chapters=tiny)
    out = capsys.readouterr().out
    assert status == 0, out
    assert _first_line(out) == "2 done"
    runs = load_runs("tiny", results)
    linear = runs[runs["item"] == "linear"].sort_values("param_seed")
    assert linear["value"].tolist() == [3.0, 6.0]
    entries = _ledger(results)
    assert {e["executor"] for e in entries} == {"slurm"}
    ids = sorted(e["job_id"] for e in entries)
    assert all(re.fullmatch(r"\d+_[01]", i) for i in ids), ids
    assert len({i.split("_")[0] for i in ids}) == 1, "both runs are tasks of one array job"

    assert main(options, chapters=tiny) == 0
    assert _first_line(capsys.readouterr().out) == "2 skipped"


def test_a_sweep_stopped_while_its_job_runs_follows_the_job_when_started_again(
        slurm_conf, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_CONF", str(slurm_conf))
    results = tmp_path / "results"
    command = [sys.executable, str(ROOT / "tests" / "reproduce_fixture.py"),
               str(tmp_path / "notebooks"), json.dumps({"cpu": {"sleep": [8]}}),
               "--executor", "slurm", "--results-dir", str(results), "--time-limit", "5",
               "--poll-seconds", "0.5", "--no-progress"]
    sweep = subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(e["status"] == "running" for e in _ledger(results)):
        assert sweep.poll() is None and time.monotonic() < deadline, "the job never started"
        time.sleep(0.2)
    sweep.send_signal(signal.SIGTERM)
    out, _ = sweep.communicate(timeout=30)
    assert sweep.returncode == 130 and _first_line(out) == "1 still queued"

    again = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "still in Slurm job" in again.stderr, "the running job is followed, not resubmitted"
    assert _first_line(again.stdout) == "1 done"
    assert len(load_records("tiny", results)) == 1


SLOW_TRAINING = '''
import torch

with open("starts.txt", "a") as starts:  # one line per start of the notebook
    starts.write("start\\n")

from companion.training import checkpoint_folder, train

def slow_loss(model, batch, state):
    time.sleep(SECONDS_PER_EPOCH)
    return ((model(batch) - 1.0) ** 2).mean()

torch.manual_seed(0)
model = torch.nn.Linear(4, 1)
inputs = torch.linspace(-1.0, 1.0, 32).reshape(8, 4)
train(model, slow_loss, lambda epoch: [inputs], epochs=EPOCHS,
      optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
      checkpoint_dir=checkpoint_folder("linear"), fingerprint=params)
record_run("tiny", {**params, "trained": True},
           [{"item": "weights", "value": [float(v) for v in torch.cat([model.weight.flatten(),
                                                                     model.bias])]}],
           wall_time_s=0.0, device="cpu")
'''


def test_a_run_killed_at_its_time_limit_resumes_from_its_checkpoints(slurm_conf, tmp_path,
                                                                      monkeypatch, capsys):
    """A one-minute limit stops a 40-second training run before it ends (Slurm warns the job
    15 s before the limit, and may warn it up to a minute early); submitit requeues the job,
    which resumes from its checkpoints, as often as it takes, and the weights it records are
    those of the same training run straight through."""
    import torch

    from companion.training import train

    monkeypatch.setenv("SLURM_CONF", str(slurm_conf))
    results = tmp_path / "results"
    # 40 s of training: more than the first start can do before its warning (at most 45 s
    # after it began, less the kernel's start), so it is always stopped at least once
    code = SLOW_TRAINING.replace("SECONDS_PER_EPOCH", "2").replace("EPOCHS", "20")
    tiny = chapters(tmp_path / "notebooks", {"cpu": {"scale": [1.0]}}, extra_code=code)
    status = main(["--executor", "slurm", "--results-dir", str(results), "--time-limit", "1",
                   "--retries", "0", "--poll-seconds", "0.5", "--no-progress"], chapters=tiny)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    [entry] = _ledger(results)
    assert entry["status"] == "done"
    starts = (tmp_path / "notebooks" / "starts.txt").read_text().split()
    assert len(starts) >= 2, "the job was not stopped and requeued"

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    inputs = torch.linspace(-1.0, 1.0, 32).reshape(8, 4)
    train(model, lambda m, batch, state: ((m(batch) - 1.0) ** 2).mean(), lambda epoch: [inputs],
          epochs=20, optimizer=torch.optim.SGD(model.parameters(), lr=0.05))
    straight = [float(v) for v in torch.cat([model.weight.flatten(), model.bias]).detach()]
    runs = load_runs("tiny", results)
    assert runs.loc[runs["item"] == "weights", "value"].tolist() == [significant(straight)]
    assert not list((results / "_reproduce" / "checkpoints").glob("*")), "checkpoints cleared"
