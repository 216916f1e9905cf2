"""Group assignments of SplitNet: which group every feature and class belongs to.

A split configuration is a tree string "a-b-c": the number of groups at the second stage, the
third stage and the logits of a three-stage WRN ("1-1-4": only the classifier is split into 4;
"2-4-4": a hierarchy, 2 groups in stage 2 that each split in 2 above). Numbers never decrease
going up, and a group below is the union ("super-group") of consecutive groups above.

Every split layer has an input assignment p ∈ [0,1]^{G×D} and an output assignment
q ∈ [0,1]^{G×K}; each unit's column is a softmax over groups of free logits, initialised
N(0, 0.01²) as in the authors' code. Assignments are shared as the paper prescribes:

* the output assignment of a layer is the input assignment of the next;
* all blocks of a residual stage share one output assignment (the skip additions add the same
  channels), which is the *merge* of the next level's input assignment:
  q_super = Σ_{sub ∈ super} p_sub;
* the first block's 1×1 shortcut convolution is split like its 3×3 convolutions;
* a stage's input assignment and each block's middle assignment are free.

Names of the assignments: ``stage{s}_in``, ``stage{s}_block{b}_mid``, ``stage{s}_out`` (merged),
``head_in`` and ``classes``; ``s`` and ``b`` count from 0, like ``network.stages[s][b]`` (so
``stage1`` is the paper's "stage 2").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from companion.splitnet.wrn import WideResNet

LOGIT_INIT_STD = 0.01


def parse_tree(groups: str | tuple[int, ...] | list[int], levels: int = 3) -> tuple[int, ...]:
    """``"2-4-4"`` → (2, 4, 4), checking ``levels`` numbers, non-decreasing, ≥ 2 at the logits."""
    if isinstance(groups, str):
        try:
            numbers = tuple(int(part) for part in groups.split("-"))
        except ValueError as error:
            raise ValueError(f"groups={groups!r} must look like '1-2-2' ({levels} integers)") from error
    else:
        numbers = tuple(int(part) for part in groups)
    if len(numbers) != levels or min(numbers) < 1:
        raise ValueError(f"groups={groups!r} needs {levels} positive integers, e.g. '1-2-2'")
    if any(low > high for low, high in zip(numbers, numbers[1:])):
        raise ValueError(f"groups={groups!r}: group counts may not decrease going up the network")
    if numbers[-1] < 2:
        raise ValueError(f"groups={groups!r}: the logits need at least 2 groups")
    return numbers


def tree_name(tree: tuple[int, ...]) -> str:
    """(2, 4, 4) → "2-4-4"."""
    return "-".join(str(count) for count in tree)


def even_merge_index(fine: int, coarse: int) -> list[int]:
    """Super-group of each of ``fine`` groups when merged evenly into ``coarse`` (authors' rule).

    The first groups get one more member when ``coarse`` does not divide ``fine``:
    (4, 2) → [0, 0, 1, 1]; (3, 2) → [0, 0, 1].
    """
    if not 1 <= coarse <= fine:
        raise ValueError(f"cannot merge {fine} groups into {coarse}")
    sizes = [(fine + coarse - i - 1) // coarse for i in range(coarse)]
    return [group for group, size in enumerate(sizes) for _ in range(size)]


def merge_groups(assignment: torch.Tensor, index: list[int]) -> torch.Tensor:
    """Super-group assignment: q_super = Σ_{sub: index[sub] = super} q_sub (rows are groups)."""
    coarse = max(index) + 1
    merged = assignment.new_zeros(coarse, assignment.shape[1])
    return merged.index_add(0, torch.tensor(index, device=assignment.device), assignment)


@dataclass(frozen=True)
class SplitLayer:
    """A layer whose weight is split: module path in the network, its assignments, groups."""

    module: str
    input: str
    output: str
    groups: int


class SplitAssignments(nn.Module):
    """All group-assignment logits of a WRN split as ``tree``, and the layers they split.

    Args:
        network: the WRN whose layers are split (its widths size the assignments).
        tree: groups at stage 2, stage 3 and the logits, e.g. (2, 2, 2) or "2-2-2".
    """

    def __init__(self, network: WideResNet, tree: str | tuple[int, ...]) -> None:
        super().__init__()
        stages = len(network.stages)
        self.tree = parse_tree(tree, levels=stages)
        self.logits = nn.ParameterDict()
        self.merged: dict[str, tuple[str, list[int]]] = {}
        self.groups: dict[str, int] = {}
        self.layers: list[SplitLayer] = []
        head_groups = self.tree[-1]
        self._add_free("head_in", head_groups, network.head.linear.in_features)
        self._add_free("classes", head_groups, network.head.linear.out_features)
        self.layers.append(SplitLayer("head.linear", "head_in", "classes", head_groups))
        upper_input, upper_groups = "head_in", head_groups
        for stage in range(stages - 1, 0, -1):
            groups = self.tree[stage - 1]
            if groups == 1:
                break
            blocks = network.stages[stage]
            if blocks[0].shortcut is None:
                raise ValueError(f"stage {stage} starts with an identity shortcut and cannot be split")
            out = f"stage{stage}_out"
            self.merged[out] = (upper_input, even_merge_index(upper_groups, groups))
            self.groups[out] = groups
            self._add_free(f"stage{stage}_in", groups, blocks[0].conv1.in_channels)
            for index, block in enumerate(blocks):
                mid = f"stage{stage}_block{index}_mid"
                self._add_free(mid, groups, block.conv1.out_channels)
                block_in = f"stage{stage}_in" if index == 0 else out
                path = f"stages.{stage}.{index}"
                self.layers.append(SplitLayer(f"{path}.conv1", block_in, mid, groups))
                self.layers.append(SplitLayer(f"{path}.conv2", mid, out, groups))
                if block.shortcut is not None:
                    self.layers.append(SplitLayer(f"{path}.shortcut", block_in, out, groups))
            upper_input, upper_groups = f"stage{stage}_in", groups
        self.first_split_stage = stages - sum(1 for count in self.tree[:-1] if count > 1)

    def _add_free(self, name: str, groups: int, units: int) -> None:
        self.logits[name] = nn.Parameter(torch.randn(groups, units) * LOGIT_INIT_STD)
        self.groups[name] = groups

    @property
    def free_names(self) -> list[str]:
        """Assignments with their own logits (the ones the disjoint and balance terms act on)."""
        return list(self.logits.keys())

    @property
    def names(self) -> list[str]:
        """Every assignment, free and merged."""
        return self.free_names + list(self.merged)

    def probabilities(self, name: str) -> torch.Tensor:
        """G×D soft assignment: softmax over groups of the logits, or a merge of one."""
        if name in self.merged:
            source, index = self.merged[name]
            return merge_groups(self.probabilities(source), index)
        return torch.softmax(self.logits[name], dim=0)  # p_gi = exp(α_gi) / Σ_h exp(α_hi)

    def with_merged(self, free: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Hard groups of every assignment from those of the free ones: a merged assignment
        takes the super-group of each unit's sub-group, so the hard groups form a tree."""
        groups = {name: free[name].cpu() for name in self.free_names}
        for name, (source, index) in self.merged.items():
            groups[name] = torch.tensor(index)[groups[source]]
        return groups

    def hard_groups(self) -> dict[str, torch.Tensor]:
        """Each unit's arg-max group, for every assignment (CPU tensors)."""
        return self.with_merged({name: logits.detach().argmax(dim=0) for name, logits in self.logits.items()})

    def split_layers(self, network: nn.Module) -> Iterator[tuple[SplitLayer, nn.Module]]:
        """Each split layer with its module in ``network``."""
        for layer in self.layers:
            yield layer, network.get_submodule(layer.module)

    def set_hard(self, groups: dict[str, torch.Tensor], confidence: float = 10.0) -> None:
        """Set the free logits so that each unit's arg-max is ``groups[name]`` (random controls)."""
        with torch.no_grad():
            for name in self.free_names:
                one_hot = torch.zeros_like(self.logits[name])
                one_hot[groups[name], torch.arange(one_hot.shape[1])] = confidence
                self.logits[name].copy_(one_hot)


def balanced_groups(assignments: SplitAssignments, generator: torch.Generator | None = None
                    ) -> dict[str, torch.Tensor]:
    """Hard groups of equal sizes for every free assignment (shuffled when a generator is given,
    else contiguous): the equal-size splits of the paper's counts and the random control."""
    groups = {}
    for name in assignments.free_names:
        count, units = assignments.logits[name].shape
        ordered = torch.arange(units) * count // units
        order = torch.randperm(units, generator=generator) if generator is not None else torch.arange(units)
        groups[name] = ordered[order]
    return assignments.with_merged(groups)


class LearnedSplitWRN(nn.Module):
    """SplitNet's grouping phase: a WRN plus the assignment logits of its split layers.

    The forward pass is the plain network's; the assignments enter only through the
    regularisers (:mod:`companion.splitnet.regularizers`), which drive the weights between
    different groups to zero so that the network can later be cut along the groups.
    """

    def __init__(self, network: WideResNet, tree: str | tuple[int, ...]) -> None:
        super().__init__()
        self.network = network
        self.assignments = SplitAssignments(network, tree)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.network(x)
