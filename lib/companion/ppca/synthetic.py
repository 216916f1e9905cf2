"""Synthetic data from a PPCA with chosen angles between, and norms of, the true columns.

x = W z + ε (or, for the non-linear study, x = tanh(W z) + ε) with z ~ N(0, I_k) and
ε ~ N(0, σ² I_d). The true loadings W = Q R have a Gram matrix
WᵀW = RᵀR with entries n_i n_j cos θ (i ≠ j) and n_i² on the diagonal, where θ is the angle
between every pair of columns and the norms n_i run geometrically from ``norm_ratio`` down to
1; Q (d×k, orthonormal columns) is a random orientation in the observed space.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


#: Decoders of the synthetic data, x = W z + ε or x = tanh(W z) + ε.
DECODERS = ("linear", "tanh")


@dataclass(frozen=True)
class SyntheticPPCA:
    """Observations ``x`` (N×d), the true factors z (N×k), true loadings W (d×k), noise σ and decoder."""

    x: Tensor
    factors: Tensor
    loadings: Tensor
    noise: float
    decoder: str = "linear"

    def true_jacobian(self) -> Tensor:
        """∂E[x|z]/∂z at each true z (N×d×k): W, or diag(1 − tanh²(W z)) W for the tanh decoder."""
        count = self.factors.shape[0]
        if self.decoder == "linear":
            return self.loadings.expand(count, *self.loadings.shape)
        slope = 1.0 - torch.tanh(self.factors @ self.loadings.T).pow(2)
        return slope.unsqueeze(-1) * self.loadings


def column_norms(latent_dim: int, norm_ratio: float) -> Tensor:
    """Norms from ``norm_ratio`` down to 1, geometrically spaced (largest / smallest = ratio)."""
    if latent_dim == 1:
        return torch.ones(1, dtype=torch.float64)
    steps = torch.arange(latent_dim - 1, -1, -1, dtype=torch.float64) / (latent_dim - 1)
    return norm_ratio ** steps


def factor_loadings(
    observed_dim: int, latent_dim: int, angle: float, norm_ratio: float, generator: torch.Generator
) -> Tensor:
    """True loadings W (d×k): every pair of columns ``angle`` degrees apart, norms per :func:`column_norms`."""
    if latent_dim > observed_dim:
        raise ValueError(f"latent_dim={latent_dim} exceeds observed_dim={observed_dim}")
    cosine = math.cos(math.radians(angle))
    if latent_dim > 1 and cosine <= -1.0 / (latent_dim - 1):
        raise ValueError(f"{latent_dim} columns cannot all be {angle}° apart")
    norms = column_norms(latent_dim, norm_ratio)
    correlation = torch.full((latent_dim, latent_dim), cosine, dtype=torch.float64)
    correlation.fill_diagonal_(1.0)
    gram = correlation * torch.outer(norms, norms)
    factor = torch.linalg.cholesky(gram).T  # Rᵀ R = WᵀW
    orientation, _ = torch.linalg.qr(torch.randn(observed_dim, latent_dim, generator=generator, dtype=torch.float64))
    return orientation @ factor


def sample_ppca(
    loadings: Tensor, noise: float, examples: int, generator: torch.Generator, decoder: str = "linear"
) -> SyntheticPPCA:
    """Draw ``examples`` points x = W z + ε (or tanh(W z) + ε) with these loadings and noise σ."""
    if decoder not in DECODERS:
        raise ValueError(f"decoder={decoder!r}; valid values: {list(DECODERS)}")
    observed_dim, latent_dim = loadings.shape
    factors = torch.randn(examples, latent_dim, generator=generator, dtype=loadings.dtype)
    epsilon = torch.randn(examples, observed_dim, generator=generator, dtype=loadings.dtype)
    means = factors @ loadings.T
    if decoder == "tanh":
        means = torch.tanh(means)
    return SyntheticPPCA(means + noise * epsilon, factors, loadings, noise, decoder)


def make_dataset(
    observed_dim: int, latent_dim: int, angle: float, norm_ratio: float, noise: float,
    examples: int, seed: int, decoder: str = "linear",
) -> SyntheticPPCA:
    """A synthetic data set, fully determined by its arguments."""
    generator = torch.Generator().manual_seed(seed)
    loadings = factor_loadings(observed_dim, latent_dim, angle, norm_ratio, generator)
    return sample_ppca(loadings, noise, examples, generator, decoder)
