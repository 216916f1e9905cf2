"""The hard split: cut a WRN along its hard group assignments into independent branches.

Every unit goes to its arg-max group (:meth:`SplitAssignments.hard_groups`). Each split
layer's weight then keeps only its diagonal blocks (inputs and outputs of the same group): the
off-block weights are dropped, so the branches share nothing above the last unsplit layer, have
fewer parameters, and can run on separate devices. The result computes exactly what the full
network computes with its off-block weights set to zero (:func:`zero_off_block`), which the
tests check.

:class:`SplitWideResNet` is a trunk (the stem and the unsplit stages) and a tree of
:class:`Branch` modules: a branch takes its group's channels of its parent's output, runs its
part of a residual stage, and hands its output to its sub-groups; a leaf branch ends in the
classifier for its group's classes. Logits are gathered back into class order.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import torch
from torch import nn

from companion.splitnet.assignment import SplitAssignments, even_merge_index
from companion.splitnet.wrn import ClassifierHead, PreActBlock, WideResNet

HardGroups = Mapping[str, torch.Tensor]


def members(groups: torch.Tensor, group: int, name: str) -> torch.Tensor:
    """Indices of the units of ``group`` (sorted); raises when the group is empty."""
    index = torch.nonzero(groups == group).flatten()
    if index.numel() == 0:
        raise ValueError(f"group {group} of assignment {name!r} has no units; the split would "
                         "leave a branch without channels (train longer or raise the balance γ)")
    return index


def block_mask(input_groups: torch.Tensor, output_groups: torch.Tensor) -> torch.Tensor:
    """K×D boolean mask of the diagonal blocks: output j and input i in the same group."""
    return output_groups[:, None] == input_groups[None, :]


def zero_off_block(network: WideResNet, assignments: SplitAssignments,
                   groups: HardGroups | None = None) -> WideResNet:
    """A copy of ``network`` whose split layers keep only their diagonal-block weights."""
    groups = assignments.hard_groups() if groups is None else groups
    masked = copy.deepcopy(network)
    with torch.no_grad():
        for layer, module in assignments.split_layers(masked):
            mask = block_mask(groups[layer.input], groups[layer.output]).to(module.weight.device)
            module.weight.mul_(mask.reshape(mask.shape + (1,) * (module.weight.dim() - 2)))
    return masked


def off_block_mass(network: nn.Module, assignments: SplitAssignments,
                   groups: HardGroups | None = None) -> dict[str, float]:
    """Per split layer, the share of its squared weight magnitude between different hard groups
    (what the cut drops): 0 for a block-diagonal layer, about 1 − 1/G for unstructured weights
    and G balanced groups."""
    groups = assignments.hard_groups() if groups is None else groups
    shares = {}
    with torch.no_grad():
        for layer, module in assignments.split_layers(network):
            squared = module.weight.detach().cpu().pow(2)
            squared = squared.sum(dim=(2, 3)) if squared.dim() == 4 else squared  # K×D
            mask = block_mask(groups[layer.input], groups[layer.output])
            shares[layer.module] = float(squared[~mask].sum() / squared.sum().clamp_min(1e-30))
    return shares


def _copy_batch_norm(target: nn.BatchNorm2d, source: nn.BatchNorm2d, index: torch.Tensor) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(target, name).copy_(getattr(source, name)[index])
    target.num_batches_tracked.copy_(source.num_batches_tracked)


def restrict_block(block: PreActBlock, inputs: torch.Tensor, middle: torch.Tensor,
                   outputs: torch.Tensor) -> PreActBlock:
    """``block`` restricted to the given input, middle and output channels (no dropout)."""
    part = PreActBlock(len(inputs), len(middle), len(outputs), block.stride,
                       projection=block.shortcut is not None)
    with torch.no_grad():
        _copy_batch_norm(part.bn1, block.bn1, inputs)
        part.conv1.weight.copy_(block.conv1.weight[middle][:, inputs])
        _copy_batch_norm(part.bn2, block.bn2, middle)
        part.conv2.weight.copy_(block.conv2.weight[outputs][:, middle])
        if block.shortcut is not None:
            part.shortcut.weight.copy_(block.shortcut.weight[outputs][:, inputs])
    return part


def restrict_head(head: ClassifierHead, inputs: torch.Tensor, classes: torch.Tensor) -> ClassifierHead:
    """The classifier restricted to the given features and classes (no dropout)."""
    part = ClassifierHead(len(inputs), len(classes))
    with torch.no_grad():
        _copy_batch_norm(part.bn, head.bn, inputs)
        part.linear.weight.copy_(head.linear.weight[classes][:, inputs])
        part.linear.bias.copy_(head.linear.bias[classes])
    return part


class Branch(nn.Module):
    """One group at one level: picks its channels from the parent's output, runs its layers.

    Args:
        input_index: positions of this group's input channels in the parent's output.
        body: the group's part of a residual stage, or its classifier (a leaf).
        children: the sub-groups at the next level (none for a leaf).
        classes: the classes a leaf predicts (global indices, sorted).
    """

    def __init__(self, input_index: torch.Tensor, body: nn.Module,
                 children: list["Branch"] | None = None, classes: torch.Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("input_index", input_index.clone())
        self.body = body
        self.children_branches = nn.ModuleList(children or [])
        self.register_buffer("classes", classes.clone() if classes is not None else
                             torch.cat([child.classes for child in self.children_branches]))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.body(features.index_select(1, self.input_index))
        if not len(self.children_branches):
            return hidden
        return torch.cat([child(hidden) for child in self.children_branches], dim=1)


class SplitWideResNet(nn.Module):
    """A split WRN: shared trunk, then independent branches; logits in class order.

    Args:
        trunk: the stem and the unsplit stages.
        branches: the groups at the first split level, each with its sub-tree.
        num_classes: total number of classes.
    """

    def __init__(self, trunk: nn.Sequential, branches: list[Branch], num_classes: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.branches = nn.ModuleList(branches)
        class_order = torch.cat([branch.classes for branch in branches])
        if sorted(class_order.tolist()) != list(range(num_classes)):
            raise ValueError("the branches' classes do not cover every class exactly once")
        self.register_buffer("class_position", torch.argsort(class_order))

    def gather_logits(self, parts: list[torch.Tensor]) -> torch.Tensor:
        """Branch logits (in branch order) → N×classes logits in class order."""
        return torch.cat(parts, dim=1).index_select(1, self.class_position.to(parts[0].device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x)
        return self.gather_logits([branch(features) for branch in self.branches])


def _stage_branch(network: WideResNet, groups: HardGroups, stage: int, group: int,
                  parent_channels: torch.Tensor, tree: tuple[int, ...]) -> Branch:
    """The branch of ``group`` at stage ``stage`` with its sub-tree above."""
    blocks = network.stages[stage]
    inputs = members(groups[f"stage{stage}_in"], group, f"stage{stage}_in")
    outputs = members(groups[f"stage{stage}_out"], group, f"stage{stage}_out")
    parts = []
    for index, block in enumerate(blocks):
        name = f"stage{stage}_block{index}_mid"
        block_inputs = inputs if index == 0 else outputs
        parts.append(restrict_block(block, block_inputs, members(groups[name], group, name), outputs))
    upper = tree[stage]  # groups one level up (the next stage's, or the logits')
    merge = even_merge_index(upper, tree[stage - 1])
    if stage + 1 < len(network.stages):
        children = [_stage_branch(network, groups, stage + 1, sub, outputs, tree)
                    for sub in range(upper) if merge[sub] == group]
    else:
        children = [_head_branch(network, groups, sub, outputs) for sub in range(upper) if merge[sub] == group]
    return Branch(_positions(inputs, parent_channels), nn.Sequential(*parts), children)


def _head_branch(network: WideResNet, groups: HardGroups, group: int,
                 parent_channels: torch.Tensor) -> Branch:
    """A leaf: the classifier of ``group``'s classes on ``group``'s features."""
    inputs = members(groups["head_in"], group, "head_in")
    classes = members(groups["classes"], group, "classes")
    return Branch(_positions(inputs, parent_channels), restrict_head(network.head, inputs, classes),
                  classes=classes)


def _positions(channels: torch.Tensor, parent_channels: torch.Tensor) -> torch.Tensor:
    """Where each of ``channels`` sits in ``parent_channels`` (it must be a subset)."""
    lookup = torch.full((int(max(parent_channels.max(), channels.max())) + 1,), -1, dtype=torch.long)
    lookup[parent_channels] = torch.arange(len(parent_channels))
    positions = lookup[channels]
    if (positions < 0).any():
        raise ValueError("a group uses channels its parent group does not have; the tree is inconsistent")
    return positions


def split_network(network: WideResNet, assignments: SplitAssignments,
                  groups: HardGroups | None = None) -> SplitWideResNet:
    """Cut ``network`` along hard groups (default: the assignments' arg-max) into branches.

    Weights are copied (the original is left as it is); dropout is dropped, as in the authors'
    fine-tuning phase. The split network is on the CPU; move it with ``.to(device)``.
    """
    groups = assignments.hard_groups() if groups is None else {k: v.cpu() for k, v in groups.items()}
    network = copy.deepcopy(network).cpu()
    tree = assignments.tree
    first = assignments.first_split_stage
    trunk = nn.Sequential(network.stem, *network.stages[:first])
    for block in trunk.modules():
        if isinstance(block, PreActBlock):
            block.dropout = 0.0
    channels = torch.arange(network.stages[first - 1][-1].conv2.out_channels)
    if first == len(network.stages):
        branches = [_head_branch(network, groups, group, channels) for group in range(tree[-1])]
    else:
        branches = [_stage_branch(network, groups, first, group, channels, tree)
                    for group in range(tree[first - 1])]
    return SplitWideResNet(trunk, branches, network.num_classes)
