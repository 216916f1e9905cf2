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


#: The logit transform's λ in the VLAE authors' code (``lamb = 0.05`` in their datasets.py).
LOGIT_LAMBDA = 0.05


def logit_transform(batch: torch.Tensor, generator: torch.Generator | None = None,
                    lam: float = LOGIT_LAMBDA) -> torch.Tensor:
    """Dequantise 8-bit intensities in [0, 1] with fresh uniform noise, squeeze them into
    [λ, 1 − λ] and take the logit, as the VLAE authors' ``logit_transform`` option does."""
    # $y = (255 x + u) / 256$, $u \sim U(0, 1)$
    noisy = (batch * 255.0 + torch.rand(batch.shape, generator=generator, dtype=batch.dtype)) / 256.0
    # $s = \lambda + (1 - 2\lambda) y$, then $\log s - \log(1 - s)$
    squeezed = lam + (1.0 - 2.0 * lam) * noisy
    return torch.log(squeezed) - torch.log1p(-squeezed)


def inverse_logit_transform(values: torch.Tensor, lam: float = LOGIT_LAMBDA) -> torch.Tensor:
    """Intensities back from :func:`logit_transform`'s outputs (the dequantisation noise stays)."""
    return (torch.sigmoid(values) - lam) / (1.0 - 2.0 * lam)
