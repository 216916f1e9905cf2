"""Parameter and FLOP counts with the paper's rule: WRN-16-8 exactly, and its equal-size splits."""

import pytest
import torch

from companion.splitnet.assignment import SplitAssignments, balanced_groups
from companion.splitnet.counting import count_cost, layer_costs, reduction
from companion.splitnet.split import split_network
from companion.splitnet.wrn import WideResNet, blocks_per_stage, stage_channels

CIFAR = (3, 32, 32)


@pytest.fixture(scope="module")
def wrn_16_8():
    torch.manual_seed(0)
    return WideResNet(16, 8, 100, 3)


def test_wrn_16_8_has_the_papers_parameters_and_flops(wrn_16_8):
    cost = count_cost(wrn_16_8, CIFAR)
    assert cost.parameters == 11_000_340
    assert cost.flops == 3_096_383_688


def test_counts_agree_with_a_closed_form_for_any_wrn():
    depth, width, classes = 22, 3, 7
    n = blocks_per_stage(depth)
    c0, c1, c2, c3 = stage_channels(width)
    stages = [(c0, c1, 32), (c1, c2, 16), (c2, c3, 8)]  # (in, out, output side)
    params = 3 * c0 * 9 + c3 * classes + classes
    flops = 2 * 3 * c0 * 9 * 32 * 32 + 2 * (c3 * classes + classes)
    for cin, cout, side in stages:
        stage = cin * cout * 9 + cout * cout * 9 + cin * cout + (n - 1) * 2 * cout * cout * 9
        params += stage
        flops += 2 * stage * side * side
    cost = count_cost(WideResNet(depth, width, classes, 3), CIFAR)
    assert (cost.parameters, cost.flops) == (params, flops)


def test_batch_norm_is_not_counted_and_every_layer_appears(wrn_16_8):
    costs = layer_costs(wrn_16_8, CIFAR)
    assert set(costs["kind"]) == {"Conv2d", "Linear"}
    assert len(costs) == 1 + 3 * (2 * 2 + 1) + 1  # stem, 2 blocks × 2 convs + shortcut per stage, fc
    bn = sum(p.numel() for m in wrn_16_8.modules() if isinstance(m, torch.nn.BatchNorm2d) for p in m.parameters())
    assert costs["parameters"].sum() == sum(p.numel() for p in wrn_16_8.parameters()) - bn


@pytest.mark.parametrize(("tree", "params", "gflops"), [
    ("1-1-4", 10_961_940, 3.096),  # only the classifier: −0.35 %
    ("1-2-2", 6_780_436, 2.559),
    ("2-2-2", 5_731_860, 2.023),
    ("2-4-4", 3_621_908, 1.754),
])
def test_equal_size_splits_of_wrn_16_8(wrn_16_8, tree, params, gflops):
    assignments = SplitAssignments(wrn_16_8, tree)
    split = split_network(wrn_16_8, assignments, balanced_groups(assignments))
    cost = count_cost(split, CIFAR)
    assert cost.parameters == params
    assert cost.flops / 1e9 == pytest.approx(gflops, abs=5e-4)


def test_reduction_is_measured_from_the_actual_group_sizes():
    torch.manual_seed(0)
    network = WideResNet(10, 1, 10, 1)
    assignments = SplitAssignments(network, "1-1-2")
    groups = balanced_groups(assignments)
    groups["head_in"] = (torch.arange(64) >= 48).long()  # features 48 / 16
    groups["classes"] = (torch.arange(10) >= 7).long()  # classes 7 / 3
    full, split = count_cost(network, (1, 8, 8)), count_cost(split_network(network, assignments, groups), (1, 8, 8))
    saved = 64 * 10 - (48 * 7 + 16 * 3)  # off-block classifier weights
    assert full.parameters - split.parameters == saved
    assert reduction(full, split)["params_reduced_pct"] == pytest.approx(100 * saved / full.parameters)
