"""Is one model's test error really below another's? Paired tests on one test set.

Two models scored on the same images make paired observations: per image, each is right or
wrong. Differences of a few tenths of a per cent between SplitNet and SplitNet-R on a test set
of a few hundred images are within what resampling the images alone would produce; these tests
say how far.

* :func:`mcnemar_exact`: McNemar's exact test. Only the discordant images count: b where only
  A is right, c where only B is right; under "equally accurate" each discordant image is a fair
  coin, so min(b, c) ~ Bin(b + c, ½) and p = min(1, 2 P(X ≤ min(b, c))).
* :func:`paired_bootstrap`: the error difference A − B in %, a 95% percentile interval from
  resampling images with replacement (both models' results kept together), and a two-sided
  p-value from the resampled differences shifted to mean zero; for several runs (seeds) of
  each model on the same images, the mean difference, an image resampled with all its runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class McNemarResult:
    """Discordant counts (b: only A right, c: only B right) and the exact two-sided p-value."""

    only_first_right: int
    only_second_right: int
    p_value: float


def _as_bool(correct: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(correct).to(torch.bool).flatten().cpu()


def mcnemar_exact(first_correct: torch.Tensor, second_correct: torch.Tensor) -> McNemarResult:
    """McNemar's exact test on per-image correctness of two models on the same images."""
    first, second = _as_bool(first_correct), _as_bool(second_correct)
    if first.shape != second.shape:
        raise ValueError(f"{len(first)} and {len(second)} results: the tests need the same images")
    b = int((first & ~second).sum())
    c = int((~first & second).sum())
    discordant = b + c
    if discordant == 0:
        return McNemarResult(b, c, 1.0)
    tail = sum(math.comb(discordant, k) for k in range(min(b, c) + 1)) / 2 ** discordant  # P(X ≤ min(b,c))
    return McNemarResult(b, c, min(1.0, 2 * tail))


@dataclass(frozen=True)
class BootstrapResult:
    """Error of A minus error of B in %, its 95% interval, and the two-sided p-value."""

    difference: float
    low: float
    high: float
    p_value: float


def paired_bootstrap(first_correct: torch.Tensor, second_correct: torch.Tensor, resamples: int = 10000,
                     seed: int = 0) -> BootstrapResult:
    """Paired bootstrap of error(A) − error(B) in %: images resampled with replacement;
    p = (1 + #{|d* − d| ≥ |d|}) / (1 + resamples), d* the resampled differences.

    The results are n per-image values, or R × n for R runs of each model on the same n images
    (seeds): then the difference is the mean over runs and an image is resampled with all its
    runs. An image adds s_i = #{runs where only A is wrong} − #{only B is wrong} ∈ {−R, …, R}
    to the sum, so drawing n images with replacement is drawing multinomial counts of those
    2R + 1 values: exact, and cheap for any test set.
    """
    difference, resampled = _resampled_differences(first_correct, second_correct, resamples, seed)
    low, high = np.quantile(resampled, [0.025, 0.975])
    extreme = int((np.abs(resampled - difference) >= abs(difference) - 1e-12).sum())
    return BootstrapResult(difference, float(low), float(high), (1 + extreme) / (1 + resamples))


def _resampled_differences(first_correct: torch.Tensor, second_correct: torch.Tensor, resamples: int,
                           seed: int) -> tuple[float, np.ndarray]:
    """The observed error difference A − B in % and ``resamples`` bootstrap draws of it (see
    :func:`paired_bootstrap`)."""
    first, second = _as_runs(first_correct), _as_runs(second_correct)
    if first.shape != second.shape:
        raise ValueError(f"results of shape {tuple(first.shape)} and {tuple(second.shape)}: "
                         "the tests need the same runs on the same images")
    runs, images = first.shape
    scores = (second.long() - first.long()).sum(dim=0)  # s_i = Σ_runs (A wrong − B wrong)
    values, counts = torch.unique(scores, return_counts=True)
    drawn = np.random.default_rng(seed).multinomial(images, counts.numpy() / images, size=resamples)
    scale = 100.0 / (images * runs)
    resampled = scale * drawn @ values.numpy()  # d* = error*_A − error*_B
    return scale * float(scores.sum()), resampled


def _as_runs(correct: torch.Tensor) -> torch.Tensor:
    """Per-image results as runs × images booleans (one run for a 1-D input)."""
    values = torch.as_tensor(correct).to(torch.bool).cpu()
    if values.dim() not in (1, 2):
        raise ValueError(f"results of shape {tuple(values.shape)}: give images or runs × images")
    return values.reshape(1, -1) if values.dim() == 1 else values
