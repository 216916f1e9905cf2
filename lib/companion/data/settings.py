"""Parameters of the chapter "The data"."""

from __future__ import annotations

from typing import Any

from companion.config import check_choice, check_int, resolve
from companion.data.catalog import CATALOG

PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {"dataset": "digits", "examples": 40},
    "paper": {"dataset": "mnist", "examples": 40},
}

#: Whether the chapter needs a GPU (it only reads and plots data, so a Slurm sweep asks for none).
USES_GPU = False

GRID: dict[str, dict[str, list[Any]]] = {
    "cpu": {"dataset": ["digits", "mnist5k"]},
    "paper": {"dataset": ["mnist", "fashion_mnist", "omniglot", "svhn", "cifar10", "cifar100"]},
}


def settings(profile: str = "cpu", **given: Any) -> dict[str, Any]:
    """The chapter's parameters: the profile's values, overridden by those given."""
    params = resolve(PROFILES, profile, **given)
    check_choice("dataset", params["dataset"], CATALOG)
    check_int("examples", params["examples"], minimum=1)
    return params
