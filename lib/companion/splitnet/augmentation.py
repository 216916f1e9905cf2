"""Image preprocessing of the authors' CIFAR-100 pipeline: standardisation, crops and flips."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def standardize_per_image(images: torch.Tensor) -> torch.Tensor:
    """(x − mean) / max(std, 1/√n) over each image's pixels (TensorFlow's per-image rule)."""
    flat = images.flatten(1)
    floor = flat.shape[1] ** -0.5
    mean = flat.mean(dim=1)
    std = flat.std(dim=1, unbiased=False).clamp_min(floor)
    return (images - mean[:, None, None, None]) / std[:, None, None, None]


def standardize_by_channel(images: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(x − μ_c) / σ_c with each channel's mean and standard deviation over ``reference``."""
    mean = reference.mean(dim=(0, 2, 3), keepdim=True)
    std = reference.std(dim=(0, 2, 3), keepdim=True)
    return (images - mean) / std


def random_crop_flip(images: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """Zero-pad by ``padding``, crop back to size at a random offset, flip half left-right."""
    count, _, height, width = images.shape
    padded = F.pad(images, (padding,) * 4)
    top = torch.randint(0, 2 * padding + 1, (count,))
    left = torch.randint(0, 2 * padding + 1, (count,))
    rows = (top[:, None] + torch.arange(height)[None, :]).to(images.device)  # N×H
    columns = (left[:, None] + torch.arange(width)[None, :]).to(images.device)  # N×W
    flip = torch.rand(count) < 0.5
    columns[flip] = columns[flip].flip(1)
    batch = torch.arange(count, device=images.device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], columns[:, None, :]]
    return cropped.permute(0, 3, 1, 2).contiguous()
