"""Parameters of the chapter "SplitNet".

``cpu``: a narrow WRN-10-2 on the 8×8 digits, about a minute and a half on a 2-core CPU.
``cpu-long``: learned against random groups on MNIST-5k (4,000 training and 1,000 test images),
WRN-10-1 split 2-2-2, five seeds (``GRID``). An epoch of WRN-10-1 on MNIST-5k takes ≈ 7 s of one
core; a run trains 48 epochs (baseline 12; SplitNet and SplitNet-R each grouping 8 and
fine-tuning 4; SplitNet-R (direct) 12), ≈ 6 min of one core.
``paper``: the authors' CIFAR-100 setup (dalgu90/splitnet-wrn): WRN-16-8, deep split 2-2-2,
batch 90, SGD with momentum 0.9 and learning rate 0.1; grouping 400 epochs (×0.1 at 240 and 300,
weight decay 1e-4, dropout 0.5 on the split layers, γ = 1, 1, 10), fine-tuning 240 epochs
(×0.1 at 100 and 140, weight decay 5e-4); 45k training images, random crops and flips,
per-image standardisation.

Grouping options: ``grouping_init`` "scratch" or "baseline" (start the grouping phase — and
both random controls — from the trained baseline, the authors' ``--basemodel``), ``gamma_ramp``
∈ [0, 1) the fraction of the grouping epochs trained without the disjoint term (γ2 = 0). The
paper profile keeps the paper's procedure (scratch, 0); the CPU profiles start from the baseline
with all three terms from the first step ("baseline", 0): from scratch at CPU budget 9 of 10
classes stayed in the group of their random initial logits, and holding R_D back for half the
epochs (the earlier CPU procedure, ``gamma_ramp=0.5``) left the assignments soft until the
learning rate had decayed, so that the off-block weights kept 13% (MNIST) and 41% (digits) of
the squared weight mass and the cut cost 69 and 46 points; with all three terms on, the
off-block mass before the cut is 0.0–0.3% and the cut costs 0.2–3 points (the grouping pilot,
benchmarks/splitnet_grouping.py, recorded in ``splitnet/grouping-pilot``).

Learning-rate decays are given as fractions of a run's epochs, so the same schedule shape
serves the grouping phase, the fine-tuning and the from-scratch baseline and random control;
fractions that round to one epoch of a short run move to neighbouring epochs
(:func:`decay_milestones`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from companion.config import (
    ChapterSettings,
    ParameterError,
    check_choice,
    check_device,
    check_float,
    check_int,
)
from companion.splitnet.assignment import parse_tree, tree_name
from companion.splitnet.wrn import blocks_per_stage

#: Where the grouping phase starts (a fresh network, or the trained unsplit baseline).
GROUPING_INITS = ("scratch", "baseline")

#: Data sets the chapter runs on (the two that ship with packages, and the paper's CIFAR-100).
DATASETS = ("digits", "mnist5k", "cifar100")


def ramp_epochs(gamma_ramp: float, epochs: int) -> int:
    """Epochs of the grouping phase trained without R_D: the fraction ``gamma_ramp`` of them."""
    return int(round(gamma_ramp * epochs))


def decay_milestones(epochs: int, decay_at: tuple[float, ...]) -> list[int]:
    """The epochs at which a run of ``epochs`` multiplies its learning rate by 0.1: each fraction
    of ``decay_at`` times ``epochs``, rounded, kept within epochs 1 … epochs − 1 (where a decay
    acts); fractions that round to one epoch move apart to neighbouring epochs, in order (the
    paper's fine-tuning decays, 100 and 140 of 240 epochs, fall on epochs 2 and 3 of a 4-epoch
    fine-tuning, not both on epoch 2). Raises ValueError when the run has fewer epochs than
    decays can act in."""
    if not decay_at:
        return []
    if len(decay_at) > epochs - 1:
        raise ValueError(f"{len(decay_at)} learning-rate decay(s) at {[round(f, 4) for f in decay_at]} cannot "
                         f"act on distinct epochs of a {epochs}-epoch run (epochs 1 to {epochs - 1}); "
                         "give fewer decays for so short a run")
    milestones = [min(max(int(round(fraction * epochs)), 1), epochs - 1) for fraction in sorted(decay_at)]
    for index in range(1, len(milestones)):
        milestones[index] = max(milestones[index], milestones[index - 1] + 1)
    milestones[-1] = min(milestones[-1], epochs - 1)
    for index in range(len(milestones) - 2, -1, -1):
        milestones[index] = min(milestones[index], milestones[index + 1] - 1)
    return milestones


def _floats(name: str, values: Any, count: int | None = None, minimum: float = 0.0,
            maximum: float = float("inf")) -> tuple[float, ...]:
    """A tuple of numbers (from a list or a comma-separated string), each in [minimum, maximum]."""
    if isinstance(values, str):
        try:
            values = [float(part) for part in values.split(",") if part.strip()]
        except ValueError as error:
            raise ParameterError(f"{name}={values!r} must be numbers separated by commas") from error
    if isinstance(values, (int, float)) and not isinstance(values, bool):
        values = [values]
    values = list(values)
    if count is not None and len(values) != count:
        raise ParameterError(f"{name}={values!r} needs {count} numbers")
    return tuple(check_float(name, value, minimum, maximum) for value in values)



@dataclass(frozen=True)
class Schedule:
    """How one phase trains: epochs, learning rate, its decays (fractions of the epochs) and
    weight decay."""

    epochs: int
    lr: float
    decay_at: tuple[float, ...]
    weight_decay: float


#: The phases each compared model trains from the common start (the trained baseline, or a fresh
#: network): SplitNet groups, is cut and fine-tuned; SplitNet-R is cut along random groups and
#: trained. The evidence compares what the two get (:func:`schedules`).
ARM_PHASES: dict[str, tuple[str, ...]] = {"SplitNet": ("grouping", "finetune"),
                                          "SplitNet-R": ("random_grouping", "random_finetune"),
                                          "SplitNet-R (direct)": ("random_split",)}


def schedules(params: SplitNetSettings) -> dict[str, Schedule]:
    """The schedule of every phase of a run, by checkpoint name: the baseline and SplitNet-R
    (direct) (``random_split``) train ``epochs + finetune_epochs`` at the weights' rate and
    decay, the grouping phase ``epochs`` of them, the fine-tuning after the cut its own;
    SplitNet-R's grouping phase (assignment frozen) and fine-tuning are SplitNet's."""
    full = params.epochs + params.finetune_epochs
    grouping = Schedule(params.epochs, params.lr, params.lr_decay_at, params.weight_decay)
    finetune = Schedule(params.finetune_epochs, params.finetune_lr, params.finetune_lr_decay_at,
                        params.finetune_weight_decay)
    return {"baseline": Schedule(full, params.lr, params.lr_decay_at, params.weight_decay),
            "grouping": grouping, "finetune": finetune,
            "random_grouping": grouping, "random_finetune": finetune,
            "random_split": Schedule(full, params.lr, params.lr_decay_at, params.weight_decay)}


@dataclass(frozen=True, kw_only=True)
class SplitNetSettings(ChapterSettings):
    """The SplitNet chapter's parameters (defaults: the ``cpu`` profile)."""

    #: the data set (one of :data:`DATASETS`)
    dataset: str = "digits"
    #: the split tree, groups at stage 2, stage 3 and the classifier, e.g. "2-2-2"
    groups: str = "2-2-2"
    #: WRN depth, 6n + 4 (10, 16, 22, …)
    depth: int = 10
    #: WRN widening factor
    width: int = 2
    #: epochs of the grouping phase (the baseline and SplitNet-R train epochs + finetune_epochs)
    epochs: int = 24
    #: epochs of fine-tuning after the cut
    finetune_epochs: int = 6
    #: minibatch size of every phase
    batch_size: int = 64
    #: learning rate of the weights (baseline, grouping phase, SplitNet-R)
    lr: float = 0.1
    #: fractions of a run's epochs at which the learning rate is multiplied by 0.1
    lr_decay_at: tuple[float, ...] = (0.6, 0.75)
    #: learning rate of the fine-tuning
    finetune_lr: float = 0.1
    #: fractions of the fine-tuning epochs at which its learning rate is multiplied by 0.1
    finetune_lr_decay_at: tuple[float, ...] = (5 / 12, 7 / 12)
    #: weight decay of the baseline, the grouping phase and SplitNet-R
    weight_decay: float = 1e-4
    #: weight decay of the fine-tuning
    finetune_weight_decay: float = 5e-4
    #: the weights (γ1, γ2, γ3) of R_W, R_D and R_E in the grouping phase
    gammas: tuple[float, float, float] = (1.0, 1.0, 10.0)
    #: the assignment logits' learning rate as a multiple of ``lr``
    assignment_lr_scale: float = 100.0
    #: dropout on the split stages and the classifier in the grouping phase
    dropout: float = 0.0
    #: random crops and flips of the training images
    augment: bool = False
    #: training images kept (0 keeps all)
    train_images: int = 0
    #: one device per worker of the model-parallel runs (a list, or the devices separated by commas)
    devices: tuple[str, ...] = ("cpu", "cpu")
    #: CPU threads of the run (0 leaves torch's default)
    threads: int = 1
    #: where the grouping phase (and SplitNet-R) starts (one of :data:`GROUPING_INITS`)
    grouping_init: str = "baseline"
    #: fraction of the grouping epochs trained without the disjoint term (γ2 = 0)
    gamma_ramp: float = 0.0

    def validate(self) -> None:
        check_choice("dataset", self.dataset, DATASETS)
        check_int("depth", self.depth, minimum=10)
        try:
            self.normalise("groups", tree_name(parse_tree(self.groups)))
            blocks_per_stage(self.depth)
        except ValueError as error:
            raise ParameterError(str(error)) from error
        check_int("width", self.width, minimum=1)
        check_int("epochs", self.epochs, minimum=1)
        check_int("finetune_epochs", self.finetune_epochs, minimum=0)
        check_int("batch_size", self.batch_size, minimum=2)
        check_int("train_images", self.train_images, minimum=0)
        check_int("threads", self.threads, minimum=0)
        check_float("lr", self.lr, 0.0, open_min=True)
        check_float("finetune_lr", self.finetune_lr, 0.0, open_min=True)
        check_float("weight_decay", self.weight_decay, 0.0)
        check_float("finetune_weight_decay", self.finetune_weight_decay, 0.0)
        check_float("assignment_lr_scale", self.assignment_lr_scale, 0.0, open_min=True)
        check_float("dropout", self.dropout, 0.0, 0.95)
        check_choice("grouping_init", self.grouping_init, GROUPING_INITS)
        self.normalise("gamma_ramp", check_float("gamma_ramp", self.gamma_ramp, 0.0, 1.0))
        if ramp_epochs(self.gamma_ramp, self.epochs) >= self.epochs:
            raise ParameterError(f"gamma_ramp={self.gamma_ramp!r} leaves none of the {self.epochs} "
                                 "grouping epochs to all three regularisers; use a smaller fraction")
        self.normalise("gammas", _floats("gammas", self.gammas, count=3))
        self.normalise("lr_decay_at", _floats("lr_decay_at", self.lr_decay_at, maximum=1.0))
        self.normalise("finetune_lr_decay_at",
                       _floats("finetune_lr_decay_at", self.finetune_lr_decay_at, maximum=1.0))
        if not isinstance(self.augment, bool):
            raise ParameterError(f"augment={self.augment!r} must be True or False")
        devices = self.devices
        if isinstance(devices, str):
            devices = [part.strip() for part in devices.split(",") if part.strip()]
        if not isinstance(devices, (list, tuple)) or not devices:
            raise ParameterError(f"devices={self.devices!r}: give a list such as ['cpu', 'cpu'] "
                                 "or 'cuda:0,cuda:1'")
        self.normalise("devices", tuple(check_device(device) for device in devices))
        for phase, schedule in schedules(self).items():
            try:
                decay_milestones(schedule.epochs, schedule.decay_at)
            except ValueError as error:
                name = "finetune_lr_decay_at" if "finetune" in phase else "lr_decay_at"
                raise ParameterError(f"{name}={schedule.decay_at!r} ({phase} phase): {error}") from error


PROFILES: dict[str, SplitNetSettings] = {"cpu": SplitNetSettings()}
PROFILES["cpu-long"] = replace(PROFILES["cpu"], profile="cpu-long", dataset="mnist5k", width=1, epochs=8,
                               finetune_epochs=4)
PROFILES["paper"] = replace(PROFILES["cpu"], profile="paper", dataset="cifar100", depth=16, width=8,
                            epochs=400, finetune_epochs=240, batch_size=90, assignment_lr_scale=1.0,
                            dropout=0.5, augment=True, train_images=45000, devices=("auto", "auto"),
                            threads=0, grouping_init="scratch", gamma_ramp=0.0)

GRID: dict[str, dict[str, list[Any]]] = {
    "cpu": {"groups": ["1-1-2", "1-2-2", "2-2-2", "2-2-4"], "seed": [0, 1, 2]},
    # learned against random groups on MNIST-5k, the deep split, five seeds (48 epochs of
    # WRN-10-1 a run: ≈ 6 min of one core)
    "cpu-long": {"groups": ["2-2-2"], "seed": [0, 1, 2, 3, 4]},
    # Tables 1 and 2: the four trees on CIFAR-100, three seeds each; on a node with two GPUs each
    # run also measures Table 5's speed-ups of its tree (speed.measure_and_record), so every
    # tree's speed-up is measured three times
    "paper": {"groups": ["1-1-4", "1-2-2", "2-2-2", "2-4-4"], "seed": [0, 1, 2]},
}


def differences_from_paper(profiles: tuple[str, ...] = ("cpu", "cpu-long")) -> list[dict[str, Any]]:
    """Every parameter on which one of ``profiles`` differs from the paper profile: one row per
    parameter, its paper value and each profile's (the common parameters, devices and threads,
    which only place the run, left out)."""
    paper = PROFILES["paper"].record()
    placement = {field.name for field in fields(ChapterSettings)} | {"devices", "threads"}
    rows = []
    for name, reported in paper.items():
        if name in placement:
            continue
        values = {profile: PROFILES[profile].record()[name] for profile in profiles}
        if any(value != reported for value in values.values()):
            rows.append({"parameter": name, "paper": reported, **values})
    return rows
