"""The in-memory form of an image data set."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageSet:
    """Images as float32 in [0, 1] with shape N×C×H×W, and int64 labels of length N."""

    name: str
    split: str
    images: np.ndarray
    labels: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        if self.images.ndim != 4:
            raise ValueError(f"{self.name}: images must be N×C×H×W, got shape {self.images.shape}")
        if len(self.images) != len(self.labels):
            raise ValueError(
                f"{self.name}: {len(self.images)} images but {len(self.labels)} labels"
            )

    def __len__(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(channels, height, width) of one image."""
        return tuple(self.images.shape[1:])  # type: ignore[return-value]

    def subset(self, count: int) -> "ImageSet":
        """The first ``count`` images (all of them if there are fewer)."""
        return ImageSet(self.name, self.split, self.images[:count], self.labels[:count],
                        self.num_classes)
