"""R_W, R_D and R_E against hand computation and the paper's matrix formula."""

import math

import pytest
import torch

from companion.splitnet.assignment import LearnedSplitWRN, balanced_groups
from companion.splitnet.regularizers import (
    balance_penalty,
    disjoint_penalty,
    group_weight_penalty,
    split_penalties,
    splitnet_regularizer,
)
from companion.splitnet.split import off_block_mass
from companion.splitnet.wrn import WideResNet

HARD = torch.tensor([[1.0, 0.0], [0.0, 1.0]])


def test_group_weight_of_a_hard_2x2_split_is_the_off_block_sum():
    # W[j, i]: output j, input i; input 0 and output 0 in group 0, input 1 and output 1 in group 1.
    # Off-block entries b = W[0, 1] and c = W[1, 0]; rows and columns give 2(|b|+|c|)/(2√2),
    # and the normalisation 2(G−1)σ/G = σ = 1/√2 leaves |b| + |c|.
    weight = torch.tensor([[3.0, -0.5], [2.0, 7.0]])
    assert group_weight_penalty(weight, HARD, HARD).item() == pytest.approx(2.5)


def test_block_diagonal_weights_score_zero():
    weight = torch.block_diag(torch.randn(3, 2), torch.randn(2, 4))  # outputs 3+2, inputs 2+4
    p = torch.tensor([[1.0] * 2 + [0.0] * 4, [0.0] * 2 + [1.0] * 4])
    q = torch.tensor([[1.0] * 3 + [0.0] * 2, [0.0] * 3 + [1.0] * 2])
    assert group_weight_penalty(weight, p, q).item() == 0.0


def _paper_formula(weight, p, q):
    """R_W with P_g, Q_g diagonal and W as inputs × outputs, then the code's normalisation."""
    w = weight.T  # D×K
    inputs, outputs = w.shape
    groups = p.shape[0]
    identity_in, identity_out = torch.eye(inputs), torch.eye(outputs)
    total = 0.0
    for g in range(groups):
        P, Q = torch.diag(p[g]), torch.diag(q[g])
        rows = ((identity_in - P) @ w @ Q).norm(dim=1).sum() / (inputs * math.sqrt(outputs))
        cols = (P @ w @ (identity_out - Q)).norm(dim=0).sum() / (math.sqrt(inputs) * outputs)
        total += rows + cols
    return total / (2 * (groups - 1) * inputs ** -0.5 / groups)


def test_group_weight_matches_the_matrix_formula_for_soft_assignments():
    torch.manual_seed(0)
    weight = torch.randn(5, 7)
    p = torch.softmax(torch.randn(3, 7), dim=0)
    q = torch.softmax(torch.randn(3, 5), dim=0)
    torch.testing.assert_close(group_weight_penalty(weight, p, q), _paper_formula(weight, p, q))


def test_convolution_uses_the_spatial_rms_of_each_kernel():
    torch.manual_seed(0)
    kernel = torch.randn(4, 6, 3, 3)
    p = torch.softmax(torch.randn(2, 6), dim=0)
    q = torch.softmax(torch.randn(2, 4), dim=0)
    rms = kernel.pow(2).mean(dim=(2, 3)).sqrt()  # √(mean_s W²)
    expected = _paper_formula(rms, p, q) * (6 ** -0.5) / (6 * 9) ** -0.5  # σ = (k²D)^{-1/2}
    torch.testing.assert_close(group_weight_penalty(kernel, p, q), expected)


@pytest.mark.parametrize("groups", [2, 3, 4])
def test_constant_initial_scale_weights_with_uniform_assignments_score_one(groups):
    inputs, outputs = 12, 8
    weight = torch.full((outputs, inputs, 3, 3), (9 * inputs) ** -0.5)  # |W| = σ everywhere
    p = torch.full((groups, inputs), 1 / groups)
    q = torch.full((groups, outputs), 1 / groups)
    assert group_weight_penalty(weight, p, q).item() == pytest.approx(1.0)


def test_disjoint_penalty_hand_values():
    assert disjoint_penalty(torch.full((2, 5), 0.5)).item() == pytest.approx(1.0)  # uniform → 1
    assert disjoint_penalty(torch.full((4, 3), 0.25)).item() == pytest.approx(1.0)
    assert disjoint_penalty(HARD).item() == 0.0  # disjoint → 0
    # one unit, p = (0.25, 0.75): 0.1875 / (1·(2−1)/(2·2)) = 0.75
    assert disjoint_penalty(torch.tensor([[0.25], [0.75]])).item() == pytest.approx(0.75)


def test_balance_penalty_hand_values():
    balanced = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]])
    assert balance_penalty(balanced).item() == pytest.approx(1.0)  # a balanced split scores 1
    one_group = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert balance_penalty(one_group).item() == pytest.approx(3.0)  # all in one of G groups: G
    # sizes 3 and 1 of 4: (9 + 1) / (16 / 2) = 1.25
    assert balance_penalty(torch.tensor([[1.0, 1.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])).item() == 1.25
    assert balance_penalty(torch.full((2, 6), 0.5)).item() == pytest.approx(1.0)


def test_gradients_reach_every_assignment_logit():
    torch.manual_seed(0)
    model = LearnedSplitWRN(WideResNet(10, 1, 10, 1), "2-4-4")
    with torch.no_grad():
        for logits in model.assignments.logits.values():
            logits.normal_()  # away from the uniform point, where R_D and R_E are flat
    total, terms = splitnet_regularizer(model, (1.0, 1.0, 10.0))
    total.backward()
    for name, logits in model.assignments.logits.items():
        assert logits.grad is not None and logits.grad.abs().sum() > 0, name
    assert model.network.stages[2][0].conv1.weight.grad.abs().sum() > 0
    assert set(terms) == {"weight", "disjoint", "balance"}


def test_weighted_aggregation_favours_the_larger_layer_penalties():
    torch.manual_seed(0)
    model = LearnedSplitWRN(WideResNet(10, 1, 10, 1), "1-2-2")
    with torch.no_grad():
        model.network.head.linear.weight.mul_(10)
    plain = split_penalties(model.network, model.assignments, weighted=False)["weight"]
    weighted = split_penalties(model.network, model.assignments, weighted=True)["weight"]
    assert weighted > plain


def test_the_group_weight_penalty_alone_makes_every_split_layer_block_diagonal():
    # R_W on its own, assignments fixed to hard groups: gradient descent must drive the weights
    # between groups of every split layer — the 3×3 and 1×1 convolutions included — to zero,
    # while the weights inside the blocks stay (the rows and columns the penalty groups are the
    # right ones for convolution kernels, as in the authors' _add_split_loss)
    torch.manual_seed(0)
    model = LearnedSplitWRN(WideResNet(10, 1, 10, 1), "2-2-2")
    groups = balanced_groups(model.assignments, torch.Generator().manual_seed(0))
    model.assignments.set_hard(groups, confidence=30.0)
    before = off_block_mass(model.network, model.assignments, groups)
    assert min(before.values()) > 0.4  # random weights: about half the mass lies between 2 groups
    within = {layer.module: (module.weight.detach() ** 2).sum() * (1 - before[layer.module])
              for layer, module in model.assignments.split_layers(model.network)}
    weights = [module.weight for _, module in model.assignments.split_layers(model.network)]
    optimizer = torch.optim.SGD(weights, lr=0.1, momentum=0.9)
    for _ in range(200):
        optimizer.zero_grad()
        split_penalties(model.network, model.assignments)["weight"].backward()
        optimizer.step()
    after = off_block_mass(model.network, model.assignments, groups)
    assert set(after) == {layer.module for layer in model.assignments.layers}
    assert any(name.endswith("conv1") for name in after) and any(name.endswith("shortcut") for name in after)
    assert max(after.values()) < 0.01, after
    for layer, module in model.assignments.split_layers(model.network):
        kept = (module.weight.detach() ** 2).sum() * (1 - after[layer.module])
        assert kept > 0.5 * within[layer.module]  # the blocks themselves are left (nearly) alone
