"""Parameters of the chapter "The data"."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from companion.config import ChapterSettings, check_choice, check_int, warn_unused
from companion.data.catalog import CATALOG


@dataclass(frozen=True, kw_only=True)
class DataSettings(ChapterSettings):
    """The data chapter's parameters: which data set to show, and how many examples."""

    #: the data set shown (a key of :data:`companion.data.catalog.CATALOG`)
    dataset: str = "digits"
    #: how many examples the grid of images shows
    examples: int = 40

    def validate(self) -> None:
        check_choice("dataset", self.dataset, CATALOG)
        check_int("examples", self.examples, minimum=1)
        if self.data_dir is not None and CATALOG[self.dataset].embedded:
            warn_unused("data_dir", self.data_dir, f"dataset={self.dataset!r} ships inside a Python package")


PROFILES: dict[str, DataSettings] = {"cpu": DataSettings()}
PROFILES["paper"] = replace(PROFILES["cpu"], profile="paper", dataset="mnist")

#: Whether the chapter needs a GPU (it only reads and plots data, so a Slurm sweep asks for none).
USES_GPU = False

GRID: dict[str, dict[str, list[Any]]] = {
    "cpu": {"dataset": ["digits", "mnist5k"]},
    "paper": {"dataset": ["mnist", "fashion_mnist", "omniglot", "svhn", "cifar10", "cifar100"]},
}
