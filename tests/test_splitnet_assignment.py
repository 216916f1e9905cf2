"""Group assignments: tree strings, super-groups as sums of sub-groups, shared assignments."""

import pytest
import torch

from companion.splitnet.assignment import (
    LearnedSplitWRN,
    SplitAssignments,
    balanced_groups,
    even_merge_index,
    merge_groups,
    parse_tree,
)
from companion.splitnet.wrn import WideResNet


def test_parse_tree_accepts_the_papers_configurations():
    assert parse_tree("1-1-4") == (1, 1, 4)
    assert parse_tree([2, 4, 4]) == (2, 4, 4)


@pytest.mark.parametrize("bad", ["2-1-2", "1-1-1", "1-2", "a-b-c", "0-2-2"])
def test_parse_tree_rejects_bad_trees(bad):
    with pytest.raises(ValueError, match="groups="):
        parse_tree(bad)


def test_even_merge_follows_the_authors_rule():
    assert even_merge_index(4, 2) == [0, 0, 1, 1]
    assert even_merge_index(3, 2) == [0, 0, 1]
    assert even_merge_index(2, 2) == [0, 1]
    assert even_merge_index(5, 1) == [0] * 5


def test_super_group_is_the_sum_of_its_sub_groups():
    q = torch.softmax(torch.randn(4, 6), dim=0)
    merged = merge_groups(q, [0, 0, 1, 1])
    torch.testing.assert_close(merged, torch.stack([q[0] + q[1], q[2] + q[3]]))
    torch.testing.assert_close(merged.sum(0), torch.ones(6))


def test_assignments_of_a_hierarchical_split_are_shared_and_chained():
    network = WideResNet(16, 1, 10, 1)
    assignments = SplitAssignments(network, "2-4-4")
    for name in assignments.names:
        p = assignments.probabilities(name)
        torch.testing.assert_close(p.sum(0), torch.ones(p.shape[1]))  # a distribution per unit
    assert assignments.probabilities("stage2_out").shape == (4, 64)
    assert assignments.probabilities("stage1_out").shape == (2, 32)
    torch.testing.assert_close(assignments.probabilities("stage1_out"),
                               merge_groups(assignments.probabilities("stage2_in"), [0, 0, 1, 1]))
    by_module = {layer.module: layer for layer in assignments.layers}
    # every block of a stage writes the stage's one output assignment; the shortcut is split too
    assert {by_module[f"stages.2.{b}.conv2"].output for b in (0, 1)} == {"stage2_out"}
    assert by_module["stages.2.0.shortcut"].input == "stage2_in"
    assert by_module["stages.2.1.conv1"].input == "stage2_out"
    # the output assignment of a layer is the input assignment of the next
    assert by_module["stages.2.0.conv1"].output == by_module["stages.2.0.conv2"].input
    assert len(assignments.layers) == 2 * (2 * 2 + 1) + 1  # 11 split layers: the "deep" count


@pytest.mark.parametrize(("tree", "layers"), [("1-1-4", 1), ("1-2-2", 6), ("2-2-2", 11)])
def test_number_of_split_layers_matches_the_paper(tree, layers):
    assert len(SplitAssignments(WideResNet(16, 1, 10, 3), tree).layers) == layers


def test_hard_groups_form_a_tree():
    torch.manual_seed(1)
    assignments = SplitAssignments(WideResNet(10, 1, 10, 1), "2-4-4")
    hard = assignments.hard_groups()
    torch.testing.assert_close(hard["stage1_out"], torch.tensor([0, 0, 1, 1])[hard["stage2_in"]])
    assert torch.equal(hard["classes"], assignments.logits["classes"].argmax(0))


def test_balanced_groups_have_equal_sizes_and_set_hard_restores_them():
    assignments = LearnedSplitWRN(WideResNet(10, 1, 10, 1), "1-2-2").assignments
    groups = balanced_groups(assignments, torch.Generator().manual_seed(0))
    assert torch.bincount(groups["stage2_block0_mid"]).tolist() == [32, 32]
    assert torch.bincount(groups["classes"]).tolist() == [5, 5]
    assignments.set_hard(groups)
    hard = assignments.hard_groups()
    assert all(torch.equal(hard[name], groups[name]) for name in assignments.names)
