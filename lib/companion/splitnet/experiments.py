"""The chapter's runs: data, the unsplit baseline, SplitNet's two phases and the random controls.

Every model trains with :func:`companion.training.train` and SGD with momentum 0.9; weight
decay acts on convolution and linear weights only (not on batch norm, biases or assignment
logits), as in the authors' code. The learning rate is multiplied by 0.1 at the given fractions
of each run's epochs (:func:`~companion.splitnet.settings.decay_milestones`).

* baseline: the unsplit WRN, ``epochs + finetune_epochs`` epochs from scratch;
* SplitNet: grouping phase (``epochs``; cross-entropy + γ1 R_W + γ2 R_D + γ3 R_E, dropout on
  the split layers, block batch-norm scales frozen at 1 as in the released script), hard split,
  fine-tuning (``finetune_epochs``; cross-entropy + weight decay). Two options let the groups
  come from the data: ``grouping_init="baseline"`` starts the grouping phase from the trained
  baseline (the authors' ``--basemodel``), and ``gamma_ramp`` > 0 trains the first fraction of
  its epochs without the disjoint term (γ2 = 0), so the weights can move the classes before R_D
  hardens the assignments (the balance term stays on: without it all classes drift into one
  group);
* SplitNet-R, the control of "learned groups beat random ones": SplitNet's pipeline with the
  assignment frozen to a random balanced partition — the same start, the same grouping phase
  (the penalty then drives the weights between the random groups to zero), the same cut and the
  same fine-tuning, on the same minibatches: the two arms differ in the assignment alone;
* SplitNet-R (direct), the paper's form of the control: the same tree with random equal-size
  groups cut at the start and trained ``epochs + finetune_epochs`` epochs, from scratch or
  (``grouping_init="baseline"``) from the trained baseline.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from companion.config import resolve_device, resolve_devices
from companion.data import batches, load_images
from companion.splitnet import diagnostics
from companion.splitnet.assignment import LearnedSplitWRN, balanced_groups
from companion.splitnet.augmentation import random_crop_flip, standardize_by_channel, standardize_per_image
from companion.splitnet.counting import count_cost, reduction
from companion.splitnet.evidence import encode_correct, encode_partition, grouping_record
from companion.splitnet.parallel import MultiDeviceSplitNet
from companion.splitnet.regularizers import splitnet_regularizer
from companion.splitnet.settings import SplitNetSettings, decay_milestones, ramp_epochs, schedules
from companion.splitnet.split import HardGroups, SplitWideResNet, off_block_mass, split_network
from companion.splitnet.wrn import PreActBlock, WideResNet
from companion.training import TrainResult, checkpoint_fingerprint, checkpoint_folder, train

EVAL_BATCH = 500


@dataclass
class SplitData:
    """Standardised train and test tensors, and the raw test images for figures."""

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    raw_test_images: np.ndarray
    num_classes: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """C×H×W of one image."""
        return tuple(self.train_images.shape[1:])  # type: ignore[return-value]


def load_data(params: SplitNetSettings) -> SplitData:
    """The chapter's data: CIFAR-100 standardised per image (as the authors did), the small sets
    standardised per channel with the training statistics; ``train_images`` > 0 keeps that many."""
    train_set = load_images(params.dataset, "train", params.data_dir)
    test_set = load_images(params.dataset, "test", params.data_dir)
    if params.train_images:
        train_set = train_set.subset(params.train_images)
    train_images, test_images = torch.from_numpy(train_set.images), torch.from_numpy(test_set.images)
    if params.dataset == "cifar100":
        train_x, test_x = standardize_per_image(train_images), standardize_per_image(test_images)
    else:
        train_x = standardize_by_channel(train_images, train_images)
        test_x = standardize_by_channel(test_images, train_images)
    return SplitData(params.dataset, train_x, torch.from_numpy(train_set.labels), test_x,
                     torch.from_numpy(test_set.labels), test_set.images, train_set.num_classes)


def make_network(params: SplitNetSettings, data: SplitData, dropout: float = 0.0) -> WideResNet:
    """The WRN of the parameters; ``dropout`` goes on the stages and head that ``groups`` splits."""
    tree = [int(count) for count in params.groups.split("-")]
    if tree[-1] > data.num_classes:
        raise ValueError(f"groups={params.groups!r} asks for more class groups than the "
                         f"{data.num_classes} classes of {data.name}")
    stage_dropout = [0.0] + [dropout if count > 1 else 0.0 for count in tree[:-1]]
    return WideResNet(params.depth, params.width, data.num_classes, data.shape[0],
                      dropout=stage_dropout + [dropout])


def make_optimizer(model: nn.Module, lr: float, weight_decay: float,
                   assignment_lr_scale: float = 1.0) -> torch.optim.SGD:
    """SGD (momentum 0.9) with weight decay on convolution and linear weights only; assignment
    logits (if any) learn at ``assignment_lr_scale`` × ``lr``."""
    decayed = [module.weight for module in model.modules() if isinstance(module, (nn.Conv2d, nn.Linear))]
    logits = list(model.assignments.parameters()) if isinstance(model, LearnedSplitWRN) else []
    special = {id(parameter) for parameter in decayed + logits}
    others = [p for p in model.parameters() if id(p) not in special and p.requires_grad]
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": others, "weight_decay": 0.0}]
    if logits:
        groups.append({"params": logits, "weight_decay": 0.0, "lr": lr * assignment_lr_scale})
    return torch.optim.SGD(groups, lr=lr, momentum=0.9)


def make_scheduler(optimizer: torch.optim.Optimizer, epochs: int, decay_at: Sequence[float]
                   ) -> torch.optim.lr_scheduler.MultiStepLR:
    """×0.1 at each fraction of ``epochs`` in ``decay_at`` (e.g. 0.6 of 400 → epoch 240); two
    fractions on one epoch are an error (:func:`~companion.splitnet.settings.decay_milestones`)."""
    return torch.optim.lr_scheduler.MultiStepLR(optimizer, decay_milestones(epochs, decay_at), gamma=0.1)


@torch.no_grad()
def predict(model: nn.Module, images: torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """Logits of ``images`` in evaluation mode, in batches, on the CPU."""
    was_training = model.training
    model.eval()
    logits = torch.cat([model(images[start:start + EVAL_BATCH].to(device)).cpu()
                        for start in range(0, len(images), EVAL_BATCH)])
    model.train(was_training)
    return logits


def error_rate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
               device: torch.device | str = "cpu") -> float:
    """Top-1 test error in %."""
    return 100.0 * (predict(model, images, device).argmax(dim=1) != labels).float().mean().item()


def cross_entropy_loss(augment: bool) -> Callable[[nn.Module, Any, Any], torch.Tensor]:
    """The loss of the baseline, the fine-tuning and the random control."""
    def loss_fn(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor], state: Any) -> torch.Tensor:
        images, labels = batch
        images = random_crop_flip(images) if augment else images
        return F.cross_entropy(model(images), labels)
    return loss_fn


def scheduled_gammas(gammas: Sequence[float], epoch: int, ramp: int) -> tuple[float, float, float]:
    """(γ1, γ2, γ3) in ``epoch`` (from 0): (γ1, 0, γ3) in the first ``ramp`` epochs, then all."""
    gamma_weight, gamma_disjoint, gamma_balance = gammas
    return (gamma_weight, 0.0 if epoch < ramp else gamma_disjoint, gamma_balance)


def grouping_loss(gammas: Sequence[float], augment: bool, ramp: int = 0) -> Callable[..., dict[str, torch.Tensor]]:
    """Cross-entropy + γ1 R_W + γ2 R_D + γ3 R_E (γ2 = 0 in the first ``ramp`` epochs), with
    each term logged."""
    def loss_fn(model: LearnedSplitWRN, batch: tuple[torch.Tensor, torch.Tensor], state: Any
                ) -> dict[str, torch.Tensor]:
        images, labels = batch
        images = random_crop_flip(images) if augment else images
        cross_entropy = F.cross_entropy(model(images), labels)
        regularizer, terms = splitnet_regularizer(model, scheduled_gammas(gammas, state.epoch, ramp))
        return {"loss": cross_entropy + regularizer, "cross_entropy": cross_entropy.detach(),
                "R_W": terms["weight"].detach(), "R_D": terms["disjoint"].detach(),
                "R_E": terms["balance"].detach()}
    return loss_fn


def fit(model: nn.Module, loss_fn: Callable[..., Any], params: SplitNetSettings, data: SplitData, *,
        phase: str, seed_offset: int, on_epoch: Callable[[nn.Module, int], None] | None = None,
        extras: Mapping[str, list[Any]] | None = None) -> TrainResult:
    """Train with the shared loop on ``phase``'s schedule (:func:`~companion.splitnet.settings.schedules`;
    checkpointed as ``phase``); the test error is logged after every epoch."""
    schedule = schedules(params)[phase]
    device = resolve_device(params.device)
    model.to(device)
    optimizer = make_optimizer(model, schedule.lr, schedule.weight_decay, params.assignment_lr_scale)

    def evaluate(trained: nn.Module, epoch: int) -> dict[str, float]:
        if on_epoch is not None:
            on_epoch(trained, epoch)
        return {"test_error": error_rate(trained, data.test_images, data.test_labels, device)}

    return train(model, loss_fn, batches((data.train_images, data.train_labels), params.batch_size,
                                         shuffle=True, seed=params.seed * 10 + seed_offset),
                 epochs=schedule.epochs, optimizer=optimizer,
                 scheduler=make_scheduler(optimizer, schedule.epochs, schedule.decay_at), device=device,
                 evaluate=evaluate, checkpoint_dir=checkpoint_folder(phase),
                 fingerprint=checkpoint_fingerprint(params.record(), phase=phase), extras=extras,
                 description=phase)


def train_baseline(params: SplitNetSettings, data: SplitData) -> tuple[WideResNet, TrainResult]:
    """The unsplit WRN, trained as long as SplitNet's two phases together."""
    torch.manual_seed(params.seed)
    network = make_network(params, data)
    history = fit(network, cross_entropy_loss(params.augment), params, data, phase="baseline",
                  seed_offset=0)
    return network.cpu(), history


@dataclass
class GroupingRun:
    """SplitNet after its grouping phase: the model, its history, the assignments per epoch."""

    model: LearnedSplitWRN
    history: TrainResult
    snapshots: list[dict[str, torch.Tensor]] = field(default_factory=list)


def freeze_block_bn_scales(network: WideResNet) -> None:
    """Fix every residual block's batch-norm scale at 1 (the released script's bn_no_scale):
    otherwise a scale could grow back what the group-weight penalty shrinks."""
    for block in network.modules():
        if isinstance(block, PreActBlock):
            for bn in (block.bn1, block.bn2):
                bn.weight.requires_grad_(False)


#: Logit of a frozen assignment's own group, the others' being 0.
#: Each unit's probability of its group is then 1 − e^{-10} ≈ 0.99995, so R_W sees the hard
#: partition.
FROZEN_CONFIDENCE = 10.0


def random_partition(params: SplitNetSettings, data: SplitData) -> HardGroups:
    """SplitNet-R's random balanced groups of every assignment, drawn from the run's seed."""
    network = make_network(params, data)
    return balanced_groups(LearnedSplitWRN(network, params.groups).assignments,
                           torch.Generator().manual_seed(params.seed))


def train_grouping(params: SplitNetSettings, data: SplitData, baseline: WideResNet | None = None,
                   frozen: HardGroups | None = None) -> GroupingRun:
    """Phase 1: learn the network and the group assignments together; with
    ``grouping_init="baseline"`` the network starts as ``baseline`` (every weight and batch-norm
    statistic; the assignment logits start random as from scratch, and the block batch-norm
    scales stay frozen at the baseline's values). With ``frozen`` groups (SplitNet-R) the
    assignments are fixed to them and only the network trains, on the same objective, schedule
    and minibatches (checkpointed as ``random_grouping``)."""
    torch.manual_seed(params.seed)
    model = LearnedSplitWRN(make_network(params, data, dropout=params.dropout), params.groups)
    if params.grouping_init == "baseline":
        if baseline is None:
            raise ValueError('grouping_init="baseline" needs the trained baseline: '
                             "train_grouping(params, data, baseline)")
        model.network.load_state_dict(baseline.state_dict())
    freeze_block_bn_scales(model.network)
    if frozen is not None:
        model.assignments.set_hard(dict(frozen), confidence=FROZEN_CONFIDENCE)
        model.assignments.requires_grad_(False)
    run = GroupingRun(model, TrainResult(pd.DataFrame(), pd.DataFrame()))

    def snapshot(trained: LearnedSplitWRN, epoch: int) -> None:
        run.snapshots.append(assignment_snapshot(trained))

    snapshot(model, -1)
    ramp = ramp_epochs(params.gamma_ramp, params.epochs)
    run.history = fit(model, grouping_loss(params.gammas, params.augment, ramp), params, data,
                      phase="grouping" if frozen is None else "random_grouping", seed_offset=1,
                      on_epoch=snapshot, extras={"snapshots": run.snapshots})
    model.cpu()
    return run


def assignment_snapshot(model: LearnedSplitWRN) -> dict[str, torch.Tensor]:
    """Every assignment's soft probabilities now (CPU copies)."""
    with torch.no_grad():
        return {name: model.assignments.probabilities(name).cpu().clone()
                for name in model.assignments.names}


def finetune_split(params: SplitNetSettings, data: SplitData, grouping: GroupingRun,
                   phase: str = "finetune") -> tuple[SplitWideResNet, TrainResult, float]:
    """Phase 2: cut along the arg-max groups, then fine-tune (checkpointed as ``phase``:
    "random_finetune" for SplitNet-R, on the same minibatches); also returns the error right
    after the cut (before any fine-tuning)."""
    split = split_network(grouping.model.network, grouping.model.assignments)
    error_at_split = error_rate(split, data.test_images, data.test_labels, resolve_device(params.device))
    torch.manual_seed(params.seed)
    history = fit(split, cross_entropy_loss(params.augment), params, data, phase=phase, seed_offset=2)
    return split.cpu(), history, error_at_split


@dataclass
class SplitArm:
    """One arm that is grouped, cut and fine-tuned (SplitNet, or SplitNet-R with its assignment
    frozen): the grouping phase, the split network, its fine-tuning and the error right after the
    cut."""

    grouping: GroupingRun
    split: SplitWideResNet
    history: TrainResult
    error_at_split: float

    @property
    def error(self) -> float:
        """Test error after fine-tuning (right after the cut when there is none)."""
        return last_error(self.history) if len(self.history.epochs) else self.error_at_split

    def facts(self) -> dict[str, Any]:
        """What a record keeps of the arm beside its error: the error at the end of the grouping
        phase and right after the cut, and the share of the split layers' squared weights between
        groups just before the cut (mean and largest over layers)."""
        shares = off_block_mass(self.grouping.model.network, self.grouping.model.assignments)
        return {"grouping_error": last_error(self.grouping.history), "error_at_split": self.error_at_split,
                "off_block_mass": sum(shares.values()) / len(shares), "off_block_max": max(shares.values())}


def train_arm(params: SplitNetSettings, data: SplitData, baseline: WideResNet | None = None,
              frozen: HardGroups | None = None) -> SplitArm:
    """SplitNet (learned assignment) or, with ``frozen`` groups, SplitNet-R: grouping phase,
    cut, fine-tuning."""
    grouping = train_grouping(params, data, baseline, frozen)
    split, history, error_at_split = finetune_split(params, data, grouping,
                                                    "finetune" if frozen is None else "random_finetune")
    return SplitArm(grouping, split, history, error_at_split)


def train_random_split(params: SplitNetSettings, data: SplitData, baseline: WideResNet | None = None
                       ) -> tuple[SplitWideResNet, TrainResult]:
    """SplitNet-R (direct), the paper's control: the same tree, random equal-size groups (those of
    :func:`random_partition`), cut at the start and trained ``epochs + finetune_epochs`` epochs;
    from scratch, or with ``grouping_init="baseline"`` cut from the trained ``baseline``."""
    torch.manual_seed(params.seed)
    network = make_network(params, data)
    if params.grouping_init == "baseline":
        if baseline is None:
            raise ValueError('grouping_init="baseline" needs the trained baseline: '
                             "train_random_split(params, data, baseline)")
        network.load_state_dict(baseline.state_dict())
    assignments = LearnedSplitWRN(network, params.groups).assignments
    groups = balanced_groups(assignments, torch.Generator().manual_seed(params.seed))
    split = split_network(network, assignments, groups)
    history = fit(split, cross_entropy_loss(params.augment), params, data, phase="random_split",
                  seed_offset=3)
    return split.cpu(), history


def model_row(name: str, model: nn.Module, baseline: nn.Module, data: SplitData, groups: str,
              error: float | None = None, **extra: Any) -> dict[str, Any]:
    """One row of the results: test error, parameters, FLOPs and reductions from the baseline,
    which test images the model gets right (``test_correct``, coded by
    :func:`~companion.splitnet.evidence.encode_correct`, for the paired tests), and any
    ``extra`` metrics."""
    full = count_cost(baseline, data.shape)
    cost = count_cost(model, data.shape)
    correct = predict(model, data.test_images).argmax(dim=1) == data.test_labels
    row = {"model": name, "groups": groups,
           "test_error": error if error is not None else 100.0 * (1 - correct.float().mean().item()),
           "params": cost.parameters, "flops": cost.flops, "test_correct": encode_correct(correct)}
    shrink = reduction(full, cost)
    row["params_reduced_pct"] = shrink["params_reduced_pct"]
    row["flops_reduced_pct"] = shrink["flops_reduced_pct"]
    return {**row, **extra}


def last_error(history: TrainResult) -> float:
    """The test error (%) logged after a run's last epoch."""
    return float(history.epochs["test_error"].iloc[-1])


def baseline_grouping(params: SplitNetSettings, baseline: WideResNet) -> torch.Tensor:
    """The grouping of the classes into the tree's leaf groups that the baseline's classifier
    implies (:func:`~companion.splitnet.diagnostics.balanced_partition` of its weight rows)."""
    return diagnostics.balanced_partition(baseline.head.linear.weight, int(params.groups.split("-")[-1]))


def soft_confusion(model: nn.Module, data: SplitData) -> list[list[float]]:
    """The model's mean predicted probabilities on the test images of each class: row i, column
    j is the mean p(j | x) over the images x of class i (rounded to 4 decimals for the record)."""
    probabilities = torch.softmax(predict(model, data.test_images), dim=1)
    rows = torch.stack([probabilities[data.test_labels == label].mean(dim=0)
                        for label in range(data.num_classes)])
    return [[round(float(value), 4) for value in row] for row in rows]


def run_rows(params: SplitNetSettings, data: SplitData, *, baseline: WideResNet, baseline_history: TrainResult,
             learned: SplitArm, random: SplitArm, direct: SplitWideResNet, direct_history: TrainResult
             ) -> list[dict[str, Any]]:
    """The rows a run records, one per model (:func:`model_row`): the baseline with the grouping
    its classifier implies and its :func:`soft_confusion`; SplitNet and SplitNet-R, each with
    :meth:`SplitArm.facts`, SplitNet also with its grouping
    (:func:`~companion.splitnet.evidence.grouping_record`); SplitNet-R (direct)."""
    grouping_facts = grouping_record(learned.grouping.snapshots[0]["classes"],
                                     learned.grouping.snapshots[-1]["classes"])
    return [
        model_row("baseline", baseline, baseline, data, params.groups, last_error(baseline_history),
                  classifier_partition=encode_partition(baseline_grouping(params, baseline)),
                  soft_confusion=soft_confusion(baseline, data)),
        model_row("SplitNet", learned.split, baseline, data, params.groups, learned.error,
                  **learned.facts(), **grouping_facts),
        model_row("SplitNet-R", random.split, baseline, data, params.groups, random.error, **random.facts(),
                  class_partition=encode_partition(random.grouping.model.assignments.hard_groups()["classes"])),
        model_row("SplitNet-R (direct)", direct, baseline, data, params.groups, last_error(direct_history)),
    ]


def class_groups(split: SplitWideResNet) -> list[list[int]]:
    """The classes of each leaf branch, left to right."""
    def leaves(branch: nn.Module) -> list[list[int]]:
        if not len(branch.children_branches):
            return [branch.classes.tolist()]
        return [group for child in branch.children_branches for group in leaves(child)]
    return [group for branch in split.branches for group in leaves(branch)]


def equal_split_costs(trees: Sequence[str], depth: int = 16, width: int = 8, num_classes: int = 100,
                      input_shape: Sequence[int] = (3, 32, 32)) -> pd.DataFrame:
    """Our counter on WRN-``depth``-``width`` and its splits with equal-size groups (Table 2)."""
    network = WideResNet(depth, width, num_classes, input_shape[0])
    full = count_cost(network, input_shape)
    rows = [{"tree": "1-1-1", "params": full.parameters, "flops": full.flops, "params_M": full.parameters / 1e6,
             "params_reduced_pct": 0.0, "gflops": full.flops / 1e9, "flops_reduced_pct": 0.0}]
    for tree in trees:
        assignments = LearnedSplitWRN(network, tree).assignments
        cost = count_cost(split_network(network, assignments, balanced_groups(assignments)), input_shape)
        rows.append({"tree": tree, "params": cost.parameters, "flops": cost.flops, **reduction(full, cost)})
    return pd.DataFrame(rows)


def multi_device_difference(split: SplitWideResNet, images: torch.Tensor, devices: Sequence[str]) -> float:
    """Largest |logit difference| between the split network on one device and spread over
    ``devices`` in one process (:class:`MultiDeviceSplitNet`)."""
    single = predict(split, images)
    spread = MultiDeviceSplitNet(copy.deepcopy(split), resolve_devices(devices))
    with torch.no_grad():
        parallel = spread.eval()(images.to(spread.devices[0])).cpu()
    return float((parallel - single).abs().max())


SPLIT_KINDS = {"FC": "1-1-4", "shallow": "1-2-2", "deep": "2-2-2", "hierarchical": "2-4-4"}


def split_kind(tree: str) -> str:
    """The paper's name for a tree: FC (only the classifier), shallow (stage 3 and the
    classifier), deep (stages 2 and 3 and the classifier, equal groups), hierarchical."""
    stage2, stage3, logits = (int(count) for count in tree.split("-"))
    if stage3 == 1:
        return "FC"
    if stage2 == 1:
        return "shallow"
    return "deep" if stage2 == stage3 == logits else "hierarchical"


#: The grouping procedure of records made before its parameters existed (the paper's).
PAPER_PROCEDURE = {"grouping_init": "scratch", "gamma_ramp": 0.0}


def same_procedure(runs: pd.DataFrame, params: SplitNetSettings) -> pd.Series:
    """Which ``runs`` (from :func:`~companion.results.load_runs`) used the grouping procedure
    of ``params`` (records without the options used the paper's), so that runs of different
    procedures are not pooled."""
    keep = pd.Series(True, index=runs.index)
    for name, default in PAPER_PROCEDURE.items():
        column = runs[f"param_{name}"] if f"param_{name}" in runs else pd.Series(default, index=runs.index)
        keep &= column.fillna(default) == getattr(params, name)
    return keep


def summarize_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds of every (data set, WRN, tree, model): test error, parameters."""
    frame = runs.copy()
    frame["network"] = "WRN-" + frame["param_depth"].astype(str) + "-" + frame["param_width"].astype(str)
    keys = ["param_dataset", "network", "param_epochs", "groups", "model"]
    summary = frame.groupby(keys, sort=True).agg(
        runs=("test_error", "size"), test_error=("test_error", "mean"), test_error_sd=("test_error", "std"),
        params=("params", "mean"), params_reduced_pct=("params_reduced_pct", "mean"),
        flops_reduced_pct=("flops_reduced_pct", "mean"))
    summary.index = summary.index.rename({"param_dataset": "dataset", "param_epochs": "epochs"})
    return summary.reset_index()


def table1_comparison(summary: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Test error (%) by split, the paper's (CIFAR-100, WRN-16-8) beside ours (mean over seeds);
    the paper's R is trained as our SplitNet-R (direct), cut along random groups at the start."""
    paper_rows = paper[paper["method"].isin(["SplitNet", "R"])]
    paper_baseline = float(paper.loc[paper["split"] == "none", "error_pct"].iloc[0])
    rows = []
    for (dataset, network, epochs, tree), frame in summary.groupby(["dataset", "network", "epochs", "groups"]):
        kind = split_kind(tree)
        reported_kind = paper_rows[paper_rows["split"].str.startswith(kind)]
        ours = frame.set_index("model")
        rows.append({
            "split": kind, "paper tree": SPLIT_KINDS[kind],
            "paper baseline": paper_baseline,
            "paper R": float(reported_kind.loc[reported_kind["method"] == "R", "error_pct"].iloc[0]),
            "paper SplitNet": float(reported_kind.loc[reported_kind["method"] == "SplitNet", "error_pct"].iloc[0]),
            "our data": f"{dataset}, {network}, {epochs} ep.", "our tree": tree,
            "runs": int(ours["runs"].max()),
            **{f"our {model}": ours.loc[model, "test_error"] if model in ours.index else np.nan
               for model in ("baseline", "SplitNet-R (direct)", "SplitNet-R", "SplitNet")},
        })
    return pd.DataFrame(rows).round(2)


def table2_comparison(equal: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """WRN-16-8 size and cost: the paper's learned splits beside our counter's equal-size ones."""
    ours = equal.set_index("tree")
    rows = []
    for _, reported_row in paper.iterrows():
        counted = ours.loc[reported_row["tree"]]
        rows.append({"network": reported_row["network"], "tree": reported_row["tree"],
                     "paper params (M)": reported_row["params_M"],
                     "paper params reduced (%)": reported_row["params_reduced_pct"],
                     "paper GFLOPs": reported_row["gflops"],
                     "paper FLOPs reduced (%)": reported_row["flops_reduced_pct"],
                     "ours, equal groups: params (M)": counted["params"] / 1e6,
                     "params reduced (%)": counted["params_reduced_pct"],
                     "GFLOPs": counted["flops"] / 1e9, "FLOPs reduced (%)": counted["flops_reduced_pct"]})
    return pd.DataFrame(rows).round({"ours, equal groups: params (M)": 3, "params reduced (%)": 2,
                                     "GFLOPs": 3, "FLOPs reduced (%)": 2})


def table5_comparison(benchmark: pd.DataFrame, paper: pd.DataFrame) -> pd.DataFrame:
    """Two-worker speed-ups over the unsplit network on one worker: the paper's (TITAN X GPUs)
    beside each recorded benchmark of :mod:`companion.splitnet.speed` (one row per network
    size, batch and tree), with the ideal speed-up of the FLOP split and the share of it the
    pipelined processes reach. Records of the earlier benchmark (no ``workers`` column) are
    superseded and left out."""
    columns = ["network", "tree", "paper (2 GPUs)", "ideal", "ours: 1 worker", "ours: 2 processes",
               "ours: 2 processes, pipelined", "ours: 2 devices, pipelined", "pipelined / ideal"]
    if not len(benchmark) or "workers" not in benchmark:
        return pd.DataFrame(columns=columns)
    current = benchmark[benchmark["workers"].notna()]
    reported_speedup = (paper[paper["devices"] == 2].drop_duplicates("tree").set_index("tree")["speedup"])
    rows = []
    for _, run in current.groupby("run_id", sort=False):
        first = run.iloc[0]
        network = f"WRN-{first['param_depth']}-{first['param_width']}, batch {first['param_batch']}"
        speedup = {(row["tree"], row["mode"]): row["speedup"] for _, row in run.iterrows()}
        ideal = {row["tree"]: row["ideal"] for _, row in run.iterrows() if row["workers"] == 2}
        for tree in dict.fromkeys(run["tree"]):
            layered = tree == "1-1-1"
            pipelined = speedup.get((tree, "2 processes, pipelined"))
            rows.append({
                "network": network, "tree": tree, "paper (2 GPUs)": reported_speedup.get(tree),
                "ideal": ideal.get(tree), "ours: 1 worker": speedup.get((tree, "1 worker")) if not layered else 1.0,
                "ours: 2 processes": speedup.get((tree, "2 processes")),
                "ours: 2 processes, pipelined": pipelined,
                "ours: 2 devices, pipelined": speedup.get((tree, "1 process, 2 devices, pipelined")),
                "pipelined / ideal": pipelined / ideal[tree] if pipelined and ideal.get(tree) else None,
            })
    return pd.DataFrame(rows, columns=columns).round(2)


def figure_layers(assignments: Any) -> list[str]:
    """Layers to show as block-diagonal weights: every split layer, from the input up (each
    stage's convolutions and shortcut, then the classifier)."""
    convs = [layer.module for layer in assignments.layers if layer.module != "head.linear"]
    return sorted(convs) + ["head.linear"]


def learned_vs_random(runs: pd.DataFrame) -> pd.DataFrame:
    """Per tree: SplitNet's test error minus SplitNet-R's in the same run (negative: learned
    groups are better), its mean over runs, in how many runs each was better, and SplitNet's mean
    error at the end of the grouping phase and right after the cut (before fine-tuning)."""
    errors = runs.pivot_table(index=["param_dataset", "groups", "run_id"], columns="model",
                              values="test_error", aggfunc="first")
    errors["difference"] = errors["SplitNet"] - errors["SplitNet-R"]
    table = errors.groupby(level=["param_dataset", "groups"]).agg(
        runs=("difference", "size"), SplitNet=("SplitNet", "mean"), SplitNet_R=("SplitNet-R", "mean"),
        difference=("difference", "mean"),
        learned_better=("difference", lambda d: int((d < 0).sum())),
        random_better=("difference", lambda d: int((d > 0).sum())))
    if "error_at_split" in runs:
        cut = runs[runs["model"] == "SplitNet"].groupby(["param_dataset", "groups"])
        table["grouping_error"] = cut["grouping_error"].mean()
        table["error_at_split"] = cut["error_at_split"].mean()
    table.index = table.index.rename({"param_dataset": "dataset"})
    return table.reset_index().rename(columns={"SplitNet_R": "SplitNet-R"}).round(2)
