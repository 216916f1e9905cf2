"""The preprocessing the papers use, as pure functions."""

from __future__ import annotations

import numpy as np
import torch


def flatten(images: np.ndarray) -> np.ndarray:
    """N×C×H×W → N×(C·H·W), in C-H-W order."""
    return images.reshape(len(images), -1)


def pixel_mean(train: np.ndarray) -> np.ndarray:
    """Per-pixel mean of the training images (the VLAE code centres Gaussian data with it)."""
    return train.mean(axis=0, keepdims=True).astype(np.float32)


def center(data: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Subtract the training set's per-pixel ``mean`` (from :func:`pixel_mean`)."""
    return (data - mean).astype(np.float32)


def dynamic_binarize(batch: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Sample x ~ Bernoulli(pixel intensity) afresh each time (Bernoulli models on MNIST)."""
    return torch.bernoulli(batch, generator=generator)
