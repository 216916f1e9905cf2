"""The training loop's step-cost measurements (companion.step_cost), against closed forms."""

import json

import torch
from torch import nn

from companion.step_cost import STEP_COST_FILE_VARIABLE, StepCostMeter, state_bytes, tensor_bytes
from companion.training import train


def _linear_run(tmp_path, monkeypatch, steps=3, batch=5):
    """Train a bias-free 4→3 linear map on ``steps`` batches with plain SGD, measuring its steps."""
    path = tmp_path / "costs.jsonl"
    monkeypatch.setenv(STEP_COST_FILE_VARIABLE, str(path))
    torch.manual_seed(0)
    model = nn.Linear(4, 3, bias=False)
    data = [(torch.randn(batch, 4),) for _ in range(steps)]
    train(model, lambda m, b, s: m(b[0]).pow(2).sum(), lambda epoch: data, epochs=2,
          optimizer=torch.optim.SGD(model.parameters(), lr=0.01), description="linear")
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_first_step_flops_are_the_two_matrix_products(tmp_path, monkeypatch):
    (call,) = _linear_run(tmp_path, monkeypatch)
    # forward x W^T (5×4 by 4×3) and the weight's gradient (3×5 by 5×4): 2·5·4·3 FLOPs each
    assert call["flops_per_step"] == 2 * (2 * 5 * 4 * 3)
    assert call["description"] == "linear" and call["epochs"] == 2
    assert call["steps"] == 6 and call["steps_per_epoch"] == 3 and call["timed_steps"] == 6
    assert call["seconds_per_step"] > 0 and call["operators_per_step"] > 3


def test_memory_counts_saved_inputs_and_state(tmp_path, monkeypatch):
    (call,) = _linear_run(tmp_path, monkeypatch)
    # saved for backward: the input (5×4) and the output, which pow keeps (5×3); float32
    assert call["activation_bytes"] == 4 * (5 * 4 + 5 * 3)
    # the weight and its gradient (SGD without momentum keeps no state)
    assert call["state_bytes"] == 2 * 4 * (3 * 4)


def test_state_bytes_count_optimiser_state_and_shared_storage_once():
    model = nn.Linear(2, 2, bias=False)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    # weight, its gradient, Adam's two moments (and its step count, a 0-d float32 tensor)
    assert state_bytes(model, optimizer) == 4 * 4 * 4 + 4
    weight = model.weight.detach()
    assert tensor_bytes([weight, weight[0], weight.t()]) == 4 * 4


def test_without_the_variable_nothing_is_measured(tmp_path, monkeypatch):
    monkeypatch.delenv(STEP_COST_FILE_VARIABLE, raising=False)
    model = nn.Linear(2, 1)
    assert StepCostMeter.from_environment(description="x", epochs=1, model=model,
                                          optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                                          device=torch.device("cpu")) is None
