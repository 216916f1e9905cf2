"""Parameters of the chapter "SplitNet".

``cpu``: a narrow WRN-10-2 on the 8×8 digits, about a minute and a half on a 2-core CPU.
``cpu-long``: learned against random groups on MNIST-5k (4,000 training and 1,000 test images),
WRN-10-1 split 2-2-2, three seeds (``GRID``). Sized by a pilot: an epoch of WRN-10-1 on MNIST-5k
takes ≈ 9 s of one core (WRN-10-2: ≈ 30 s), a run trains 36 epochs (baseline 12, grouping 8,
fine-tuning 4, SplitNet-R 12), so the grid needs ≈ 20 min of one core. In the grouping pilot
(benchmarks/splitnet_grouping.py: one baseline, three random initialisations of the assignment
logits) 8 grouping epochs already bring all three initialisations to the same class partition.
``paper``: the authors' CIFAR-100 setup (dalgu90/splitnet-wrn): WRN-16-8, deep split 2-2-2,
batch 90, SGD with momentum 0.9 and learning rate 0.1; grouping 400 epochs (×0.1 at 240 and 300,
weight decay 1e-4, dropout 0.5 on the split layers, γ = 1, 1, 10), fine-tuning 240 epochs
(×0.1 at 100 and 140, weight decay 5e-4); 45k training images, random crops and flips,
per-image standardisation.

Grouping options: ``grouping_init`` "scratch" or "baseline" (start the grouping phase — and
SplitNet-R — from the trained baseline, the authors' ``--basemodel``), ``gamma_ramp`` ∈ [0, 1)
the fraction of the grouping epochs trained without the disjoint term (γ2 = 0). The paper profile
keeps the paper's procedure (scratch, 0); the CPU profiles use ("baseline", 0.5): from scratch
at CPU budget 9 of 10 classes stayed in the group of their random initial logits, so the
"learned" split was a random one; with R_W alone in the ramp (γ2 = γ3 = 0) all ten MNIST classes
drifted into one group (the pilot in benchmarks/splitnet_grouping.py), so the balance term stays.

Learning-rate decays are given as fractions of a run's epochs, so the same schedule shape
serves the grouping phase, the fine-tuning and the from-scratch baseline and random control.
"""

from __future__ import annotations

from typing import Any

from companion.config import (
    ParameterError,
    check_choice,
    check_device,
    check_float,
    check_int,
    resolve,
)
from companion.splitnet.assignment import parse_tree, tree_name
from companion.splitnet.wrn import blocks_per_stage

#: Where the grouping phase starts (a fresh network, or the trained unsplit baseline).
GROUPING_INITS = ("scratch", "baseline")

#: Data sets the chapter runs on (the two that ship with packages, and the paper's CIFAR-100).
DATASETS = ("digits", "mnist5k", "cifar100")

PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {
        "dataset": "digits", "groups": "2-2-2", "depth": 10, "width": 2,
        "epochs": 24, "finetune_epochs": 6, "batch_size": 64,
        "lr": 0.1, "lr_decay_at": [0.6, 0.75], "finetune_lr": 0.1,
        "finetune_lr_decay_at": [5 / 12, 7 / 12],
        "weight_decay": 1e-4, "finetune_weight_decay": 5e-4,
        "gammas": [1.0, 1.0, 10.0], "assignment_lr_scale": 100.0, "dropout": 0.0, "augment": False, "train_images": 0,
        "devices": ["cpu", "cpu"], "threads": 1, "grouping_init": "baseline", "gamma_ramp": 0.5,
    },
    "cpu-long": {
        "dataset": "mnist5k", "groups": "2-2-2", "depth": 10, "width": 1,
        "epochs": 8, "finetune_epochs": 4, "batch_size": 64,
        "lr": 0.1, "lr_decay_at": [0.6, 0.75], "finetune_lr": 0.1,
        "finetune_lr_decay_at": [5 / 12, 7 / 12],
        "weight_decay": 1e-4, "finetune_weight_decay": 5e-4,
        "gammas": [1.0, 1.0, 10.0], "assignment_lr_scale": 100.0, "dropout": 0.0, "augment": False, "train_images": 0,
        "devices": ["cpu", "cpu"], "threads": 1, "grouping_init": "baseline", "gamma_ramp": 0.5,
    },
    "paper": {
        "dataset": "cifar100", "groups": "2-2-2", "depth": 16, "width": 8,
        "epochs": 400, "finetune_epochs": 240, "batch_size": 90,
        "lr": 0.1, "lr_decay_at": [0.6, 0.75], "finetune_lr": 0.1,
        "finetune_lr_decay_at": [5 / 12, 7 / 12],
        "weight_decay": 1e-4, "finetune_weight_decay": 5e-4,
        "gammas": [1.0, 1.0, 10.0], "assignment_lr_scale": 1.0, "dropout": 0.5, "augment": True, "train_images": 45000,
        "devices": ["auto", "auto"], "threads": 0, "grouping_init": "scratch", "gamma_ramp": 0.0,
    },
}

GRID: dict[str, dict[str, list[Any]]] = {
    "cpu": {"groups": ["1-1-2", "1-2-2", "2-2-2", "2-2-4"], "seed": [0, 1, 2]},
    # learned against random groups on MNIST-5k, the deep split, three seeds (≈ 36 epochs of
    # WRN-10-1 a run: 8–15 min on one shared core)
    "cpu-long": {"groups": ["2-2-2"], "seed": [0, 1, 2]},
    # Tables 1 and 2: the four trees on CIFAR-100, three seeds each; on a node with two GPUs each
    # run also measures Table 5's speed-ups of its tree (speed.measure_and_record), so every
    # tree's speed-up is measured three times
    "paper": {"groups": ["1-1-4", "1-2-2", "2-2-2", "2-4-4"], "seed": [0, 1, 2]},
}


def differences_from_paper(profiles: tuple[str, ...] = ("cpu", "cpu-long")) -> list[dict[str, Any]]:
    """Every parameter on which one of ``profiles`` differs from the paper profile: one row per
    parameter, its paper value and each profile's (devices and threads, which only place the
    run, left out)."""
    rows = []
    for name, reported in PROFILES["paper"].items():
        if name in ("devices", "threads"):
            continue
        values = {profile: PROFILES[profile][name] for profile in profiles}
        if any(value != reported for value in values.values()):
            rows.append({"parameter": name, "paper": reported, **values})
    return rows


def ramp_epochs(gamma_ramp: float, epochs: int) -> int:
    """Epochs of the grouping phase trained without R_D: the fraction ``gamma_ramp`` of them."""
    return int(round(gamma_ramp * epochs))


def _floats(name: str, values: Any, count: int | None = None, minimum: float = 0.0,
            maximum: float = float("inf")) -> list[float]:
    """A list of numbers (or a comma-separated string of them), each in [minimum, maximum]."""
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
    return [check_float(name, value, minimum, maximum) for value in values]


def settings(profile: str = "cpu", **given: Any) -> dict[str, Any]:
    """The chapter's parameters: the profile's values, overridden by those given (not None)."""
    params = resolve(PROFILES, profile, **given)
    check_choice("dataset", params["dataset"], DATASETS)
    check_int("depth", params["depth"], minimum=10)
    try:
        params["groups"] = tree_name(parse_tree(params["groups"]))
        blocks_per_stage(params["depth"])
    except ValueError as error:
        raise ParameterError(str(error)) from error
    check_int("width", params["width"], minimum=1)
    check_int("epochs", params["epochs"], minimum=1)
    check_int("finetune_epochs", params["finetune_epochs"], minimum=0)
    check_int("batch_size", params["batch_size"], minimum=2)
    check_int("train_images", params["train_images"], minimum=0)
    check_int("threads", params["threads"], minimum=0)
    check_float("lr", params["lr"], 0.0, open_min=True)
    check_float("finetune_lr", params["finetune_lr"], 0.0, open_min=True)
    check_float("weight_decay", params["weight_decay"], 0.0)
    check_float("finetune_weight_decay", params["finetune_weight_decay"], 0.0)
    check_float("assignment_lr_scale", params["assignment_lr_scale"], 0.0, open_min=True)
    check_float("dropout", params["dropout"], 0.0, 0.95)
    check_choice("grouping_init", params["grouping_init"], GROUPING_INITS)
    params["gamma_ramp"] = check_float("gamma_ramp", params["gamma_ramp"], 0.0, 1.0)
    if ramp_epochs(params["gamma_ramp"], params["epochs"]) >= params["epochs"]:
        raise ParameterError(f"gamma_ramp={params['gamma_ramp']!r} leaves none of the {params['epochs']} "
                             "grouping epochs to all three regularisers; use a smaller fraction")
    params["gammas"] = _floats("gammas", params["gammas"], count=3)
    params["lr_decay_at"] = _floats("lr_decay_at", params["lr_decay_at"], maximum=1.0)
    params["finetune_lr_decay_at"] = _floats("finetune_lr_decay_at", params["finetune_lr_decay_at"],
                                             maximum=1.0)
    if not isinstance(params["augment"], bool):
        raise ParameterError(f"augment={params['augment']!r} must be True or False")
    devices = params["devices"]
    if isinstance(devices, str):
        devices = [part.strip() for part in devices.split(",") if part.strip()]
    if not isinstance(devices, list) or not devices:
        raise ParameterError(f"devices={params['devices']!r}: give a list such as ['cpu', 'cpu'] "
                             "or 'cuda:0,cuda:1'")
    params["devices"] = [check_device(device) for device in devices]
    return params
