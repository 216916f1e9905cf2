"""SplitNet (Kim, Park, Kim & Hwang, ICML 2017): learn to split a network into a tree of
branches that share no weights, for fewer parameters and model-parallel inference.

Public API:

* ``WideResNet(depth, width, num_classes, in_channels, dropout)`` — the base network (WRN-d-k).
* ``LearnedSplitWRN(network, tree)`` — the network plus the group-assignment logits of the
  split ``tree`` ("1-1-4", "1-2-2", "2-2-2", "2-4-4": groups at stage 2, stage 3, logits);
  ``SplitAssignments`` holds the logits, ``parse_tree``, ``even_merge_index`` and
  ``merge_groups`` the tree rules, ``balanced_groups`` equal-size (random or contiguous) groups.
* ``group_weight_penalty``, ``disjoint_penalty``, ``balance_penalty`` (R_W, R_D, R_E with the
  authors' normalisations), ``split_penalties`` and ``splitnet_regularizer`` for a network.
* ``split_network(network, assignments, groups=None)`` → ``SplitWideResNet`` (trunk + branches);
  ``zero_off_block`` → the full network with its off-block weights zeroed (the same function).
* ``count_cost(model, input_shape)`` → ``Cost(parameters, flops)`` with the paper's rule;
  ``layer_costs`` per layer, ``reduction`` the savings of a split.
* ``MultiDeviceSplitNet(split, devices)`` (one process), ``distributed_logits`` and
  ``pipelined_logits`` (torch.distributed), ``launch_local`` (spawn N gloo processes).
* :mod:`~companion.splitnet.diagnostics`: are the class groups learned? ``fraction_kept_from_init``,
  ``partition_agreement``, ``adjusted_rand_index``, ``balanced_partition`` (the grouping a
  trained classifier implies), ``compare_with_reference``;
  :mod:`~companion.splitnet.significance`: ``mcnemar_exact`` and ``paired_bootstrap`` for two
  models on one test set.

Modules: :mod:`~companion.splitnet.wrn`, :mod:`~companion.splitnet.assignment`,
:mod:`~companion.splitnet.regularizers`, :mod:`~companion.splitnet.split`,
:mod:`~companion.splitnet.counting`, :mod:`~companion.splitnet.parallel`,
:mod:`~companion.splitnet.augmentation`, :mod:`~companion.splitnet.diagnostics`,
:mod:`~companion.splitnet.significance`, :mod:`~companion.splitnet.settings` (chapter
parameters: ``SplitNetSettings`` and its ``PROFILES``), :mod:`~companion.splitnet.experiments`
(the chapter's runs and their record rows), :mod:`~companion.splitnet.evidence` (the paper's
claims, ``CLAIMS``, and their findings) and :mod:`~companion.splitnet.figures`.
"""

from companion.splitnet.assignment import (
    LearnedSplitWRN,
    SplitAssignments,
    balanced_groups,
    even_merge_index,
    merge_groups,
    parse_tree,
    tree_name,
)
from companion.splitnet.counting import Cost, count_cost, layer_costs, reduction
from companion.splitnet.parallel import (
    MultiDeviceSplitNet,
    distributed_logits,
    launch_local,
    pipelined_logits,
)
from companion.splitnet.regularizers import (
    balance_penalty,
    disjoint_penalty,
    group_weight_penalty,
    split_penalties,
    splitnet_regularizer,
)
from companion.splitnet.settings import GRID, PROFILES, SplitNetSettings
from companion.splitnet.split import SplitWideResNet, split_network, zero_off_block
from companion.splitnet.wrn import WideResNet

__all__ = [
    "GRID", "PROFILES", "Cost", "LearnedSplitWRN", "MultiDeviceSplitNet", "SplitAssignments",
    "SplitNetSettings", "SplitWideResNet", "WideResNet", "balance_penalty", "balanced_groups", "count_cost",
    "disjoint_penalty", "distributed_logits", "even_merge_index", "group_weight_penalty",
    "launch_local", "layer_costs", "merge_groups", "parse_tree", "pipelined_logits", "reduction",
    "split_network", "split_penalties", "splitnet_regularizer", "tree_name",
    "zero_off_block",
]
