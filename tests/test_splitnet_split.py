"""The hard split computes what the full network computes with its off-block weights zeroed."""

import pytest
import torch
from torch import nn

from companion.splitnet.assignment import SplitAssignments, balanced_groups
from companion.splitnet.counting import count_cost
from companion.splitnet.split import block_mask, split_network, zero_off_block
from companion.splitnet.wrn import WideResNet

#: (tree, depth): depth 16 has two blocks per stage, so shared stage outputs are exercised
CASES = [("1-1-2", 10), ("1-2-2", 16), ("2-2-2", 10), ("2-4-4", 16), ("1-2-4", 10), ("2-2-4", 10)]


def _network(depth=16, width=1, classes=12, channels=1):
    torch.manual_seed(0)
    network = WideResNet(depth, width, classes, channels)
    with torch.no_grad():  # batch-norm statistics and affine parameters away from identity
        for module in network.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
                module.weight.normal_()
                module.bias.normal_()
    return network


@pytest.mark.parametrize(("tree", "depth"), CASES)
def test_split_equals_full_network_with_off_block_weights_zeroed(tree, depth):
    network = _network(depth)
    assignments = SplitAssignments(network, tree)
    groups = balanced_groups(assignments, torch.Generator().manual_seed(1))
    split = split_network(network, assignments, groups)
    masked = zero_off_block(network, assignments, groups)
    x = torch.randn(8, 1, 12, 12)
    for training in (False, True):  # running statistics, then batch statistics
        torch.testing.assert_close(split.train(training)(x), masked.train(training)(x), atol=1e-5, rtol=1e-5)
    assert (network.eval()(x) - masked.eval()(x)).abs().max() > 1e-2  # the cut did change something


def test_split_of_learned_groups_uses_the_arg_max():
    network = _network(10, 2, 4)
    assignments = SplitAssignments(network, "1-2-2")
    with torch.no_grad():
        for logits in assignments.logits.values():
            logits.normal_(std=3.0)
    groups = assignments.hard_groups()
    if any(torch.bincount(g, minlength=2).min() == 0 for g in groups.values()):
        pytest.skip("a random draw left a group empty")
    x = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(split_network(network, assignments).eval()(x),
                               zero_off_block(network, assignments).eval()(x), atol=1e-5, rtol=1e-5)


def test_split_keeps_exactly_the_diagonal_blocks():
    network = _network(10, 2, 10)
    assignments = SplitAssignments(network, "2-4-4")
    groups = balanced_groups(assignments, torch.Generator().manual_seed(2))
    dropped = 0
    for layer, module in assignments.split_layers(network):
        mask = block_mask(groups[layer.input], groups[layer.output])
        dropped += (~mask).sum().item() * module.weight[0, 0].numel()
    full = count_cost(network, (1, 8, 8)).parameters
    assert count_cost(split_network(network, assignments, groups), (1, 8, 8)).parameters == full - dropped


def test_branches_share_nothing_and_cover_every_class_once():
    network = _network(10, 1, 10)
    assignments = SplitAssignments(network, "2-4-4")
    split = split_network(network, assignments, balanced_groups(assignments))
    assert len(split.branches) == 2 and all(len(b.children_branches) == 2 for b in split.branches)
    leaves = [leaf.classes.tolist() for b in split.branches for c in b.children_branches
              for leaf in c.children_branches]
    assert sorted(sum(leaves, [])) == list(range(10)) and len(leaves) == 4
    parameters = [{id(p) for p in branch.parameters()} for branch in split.branches]
    assert not parameters[0] & parameters[1]


def test_an_empty_group_is_reported():
    network = _network(10, 1, 10)
    assignments = SplitAssignments(network, "1-1-2")
    groups = balanced_groups(assignments)
    groups["classes"] = torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match="group 1 of assignment 'classes' has no units"):
        split_network(network, assignments, groups)
