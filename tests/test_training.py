"""The shared training loop: learning, NaN stops, checkpoints and exact resume."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from companion.data import batches
from companion.training import (CheckpointMismatchError, NonFiniteLossError, load_checkpoint,
                                save_checkpoint, seed_everything, train)

SCRIPT = Path(__file__).with_name("training_script.py")


def _regression(seed: int = 0):
    seed_everything(seed)
    inputs = torch.randn(128, 3)
    targets = inputs @ torch.tensor([[1.0], [-2.0], [0.5]])
    model = nn.Linear(3, 1)
    return model, batches([inputs, targets], 32, seed=seed)


def _mse(model, batch, state):
    x, y = batch
    return {"loss": nn.functional.mse_loss(model(x), y), "scale": model.weight.norm()}


def test_loss_falls_and_history_has_steps_and_epochs():
    model, data = _regression()
    result = train(model, _mse, data, epochs=20,
                   optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    losses = result.epochs["loss"].to_numpy()
    assert losses[-1] < 0.01 * losses[0]
    assert len(result.steps) == 20 * 4 and list(result.steps["step"]) == list(range(80))
    assert {"epoch", "step", "loss", "scale"} <= set(result.steps.columns)


def test_same_seed_gives_same_weights():
    weights = []
    for _ in range(2):
        model, data = _regression(seed=3)
        train(model, _mse, data, epochs=3, optimizer=torch.optim.Adam(model.parameters()))
        weights.append(model.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])


def test_nan_loss_stops_with_the_step_named():
    model, data = _regression()

    def poisoned(model, batch, state):
        loss = _mse(model, batch, state)["loss"]
        return loss * float("nan") if state.step == 5 else loss

    with pytest.raises(NonFiniteLossError, match="step 5"):
        train(model, poisoned, data, epochs=3, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))


def test_evaluate_metrics_join_the_epoch_rows():
    model, data = _regression()
    result = train(model, _mse, data, epochs=4, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                   evaluate=lambda m, epoch: {"weight0": m.weight[0, 0].item()}, evaluate_every=2)
    assert result.epochs["weight0"].notna().tolist() == [False, True, False, True]


def test_checkpoint_round_trip_is_weights_only(tmp_path):
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"weights": torch.arange(3.0), "step": 4})
    loaded = load_checkpoint(path)
    assert torch.equal(loaded["weights"], torch.arange(3.0)) and loaded["step"] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(RuntimeError, match="c.pt"):
        load_checkpoint(path)


def _run(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SCRIPT), *args])


def test_killed_run_resumes_to_exactly_the_uninterrupted_weights(tmp_path):
    straight = tmp_path / "straight.pt"
    assert _run(str(tmp_path / "ck_straight"), str(straight)).wait(timeout=120) == 0

    checkpoints = tmp_path / "ck_killed"
    checkpoints.mkdir()
    victim = _run(str(checkpoints), str(tmp_path / "never.pt"), "3")
    deadline = time.time() + 120
    while not (checkpoints / "hanging").exists():
        assert victim.poll() is None and time.time() < deadline, "the run ended before the kill"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert load_checkpoint(checkpoints / "checkpoint.pt")["epoch"] == 3

    resumed = tmp_path / "resumed.pt"
    assert _run(str(checkpoints), str(resumed)).wait(timeout=120) == 0
    expected, got = torch.load(straight), torch.load(resumed)
    for name, tensor in expected["model"].items():
        assert torch.equal(tensor, got["model"][name]), name
    assert torch.equal(expected["loss"], got["loss"])


def test_a_checkpoint_of_other_parameters_is_refused_naming_them(tmp_path):
    model, data = _regression()
    fit = dict(epochs=2, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
               checkpoint_dir=tmp_path)
    train(model, _mse, data, fingerprint={"lr": 0.1, "seed": 0}, **fit)
    with pytest.raises(CheckpointMismatchError, match=r"lr: checkpoint 0.1, this run 0.2"):
        train(model, _mse, data, fingerprint={"lr": 0.2, "seed": 0}, **fit)
    finished = train(model, _mse, data, fingerprint={"lr": 0.1, "seed": 0}, **fit)
    assert len(finished.epochs) == 2, "a finished checkpoint returns its histories at once"


def test_a_checkpoint_is_loaded_on_the_cpu_whatever_the_device(tmp_path, monkeypatch):
    """Generator states must be CPU byte tensors (torch.set_rng_state refuses others), so a
    resume on a GPU loads the checkpoint on the CPU and lets load_state_dict move the rest."""
    import companion.training as training

    model, data = _regression()
    fit = dict(epochs=2, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
               checkpoint_dir=tmp_path)
    train(model, _mse, data, **fit)
    places = []
    monkeypatch.setattr(training, "load_checkpoint",
                        lambda path, map_location: places.append(map_location)
                        or load_checkpoint(path, map_location))
    train(model, _mse, data, device="meta", **fit)
    assert places == ["cpu"]


def test_each_epoch_keeps_the_seconds_it_took_across_a_resume(tmp_path, monkeypatch):
    """On a fake clock epoch e takes 10 (e + 1) s; the run is stopped before its third epoch
    and resumed after a 1000 s pause and a checkpoint load that takes 500 s: the resumed
    history has the two earlier epochs' times from the checkpoint and no pause in the third."""
    from companion import training

    clock = [0.0]
    monkeypatch.setattr(training, "perf_counter", lambda: clock[0])
    monkeypatch.setattr(training, "load_checkpoint",
                        lambda path, map_location: clock.__setitem__(0, clock[0] + 500.0)
                        or load_checkpoint(path, map_location))
    model, data = _regression()
    stop_at = [2]

    def timed(epoch):
        if epoch == stop_at[0]:
            raise KeyboardInterrupt  # the kill, after epoch 1's checkpoint
        clock[0] += 10.0 * (epoch + 1)
        return data(epoch)

    fit = {"epochs": 4, "optimizer": torch.optim.SGD(model.parameters(), lr=0.1), "checkpoint_dir": tmp_path}
    with pytest.raises(KeyboardInterrupt):
        train(model, _mse, timed, **fit)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 2
    clock[0] += 1000.0
    stop_at[0] = None
    resumed = train(model, _mse, timed, **fit)
    assert resumed.epochs["seconds"].tolist() == [10.0, 20.0, 30.0, 40.0]


def test_epoch_seconds_are_measured_on_the_real_clock():
    model, data = _regression()
    result = train(model, _mse, data, epochs=3, optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert (result.epochs["seconds"] > 0).all()
