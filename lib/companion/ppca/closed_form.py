"""Probabilistic PCA in closed form (Tipping & Bishop, 1999).

Model: z ~ N(0, I_k), x | z ~ N(W z + b, σ² I_d), so that x ~ N(b, C) with C = W Wᵀ + σ² I.
The posterior is N(σ⁻² Σ Wᵀ(x − b), Σ) with Σ = (σ⁻² WᵀW + I)⁻¹. The maximum-likelihood
parameters come from the eigendecomposition S = U Λ Uᵀ of the data covariance:
b = data mean, σ² = mean of the d − k discarded eigenvalues, W = U_k (Λ_k − σ² I)^{1/2} R for any
rotation R (here R = I: the PCA axes). A column whose eigenvalue is below σ² collapses to zero.

Every expectation over the data needs only its mean and covariance (:func:`moments`), so the
functions below take (mean, covariance) rather than the data points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class PPCAParameters:
    """Parameters of a PPCA model: loadings W (d×k), offset b (d) and noise variance σ²."""

    loadings: Tensor
    offset: Tensor
    noise_variance: Tensor


def moments(x: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and (maximum-likelihood, 1/N) covariance of the rows of ``x``."""
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def second_moment(mean: Tensor, covariance: Tensor, offset: Tensor) -> Tensor:
    """E[(x − b)(x − b)ᵀ] = S + (m − b)(m − b)ᵀ for data with mean m and covariance S (batched)."""
    shift = mean - offset
    return covariance + shift.unsqueeze(-1) * shift.unsqueeze(-2)


def posterior_covariance(loadings: Tensor, noise_variance: Tensor) -> Tensor:
    """Σ = (σ⁻² WᵀW + I)⁻¹, the same for every x."""
    k = loadings.shape[1]
    eye = torch.eye(k, dtype=loadings.dtype, device=loadings.device)
    return torch.linalg.inv(loadings.T @ loadings / noise_variance + eye)


def posterior(x: Tensor, params: PPCAParameters) -> tuple[Tensor, Tensor]:
    """Posterior means (N×k) and the shared covariance (k×k) of z given each row of ``x``."""
    covariance = posterior_covariance(params.loadings, params.noise_variance)
    # E[z|x] = σ⁻² Σ Wᵀ (x − b)
    means = (x - params.offset) @ params.loadings @ covariance.T / params.noise_variance
    return means, covariance


def maximum_likelihood(mean: Tensor, covariance: Tensor, latent_dim: int) -> PPCAParameters:
    """The PPCA maximum-likelihood parameters with R = I (columns along the PCA axes)."""
    observed_dim = covariance.shape[0]
    if not 1 <= latent_dim < observed_dim:
        raise ValueError(f"latent_dim={latent_dim} must lie in [1, {observed_dim - 1}]")
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)
    eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.flip(1)
    # σ² = (1 / (d − k)) Σ_{i > k} λ_i
    noise_variance = eigenvalues[latent_dim:].mean()
    # W = U_k (Λ_k − σ² I)^{1/2}
    scales = (eigenvalues[:latent_dim] - noise_variance).clamp_min(0.0).sqrt()
    return PPCAParameters(eigenvectors[:, :latent_dim] * scales, mean.clone(), noise_variance)


def log_likelihood(params: PPCAParameters, mean: Tensor, covariance: Tensor) -> Tensor:
    """Average log N(x; b, WWᵀ + σ²I) over data with the given mean and covariance."""
    d = covariance.shape[0]
    eye = torch.eye(d, dtype=covariance.dtype, device=covariance.device)
    marginal = params.loadings @ params.loadings.T + params.noise_variance * eye
    moment = second_moment(mean, covariance, params.offset)
    # −½ [d log 2π + log det C + tr(C⁻¹ E[(x − b)(x − b)ᵀ])]
    trace = torch.linalg.solve(marginal, moment).diagonal().sum()
    return -0.5 * (d * math.log(2 * math.pi) + torch.logdet(marginal) + trace)


def hadamard_gap(loadings: Tensor, noise_variance: Tensor) -> Tensor:
    """½[Σ_j log(1 + ‖w_j‖²/σ²) − log det(I + WᵀW/σ²)]: ≥ 0, and 0 iff WᵀW is diagonal.

    It is the smallest KL(q‖p(z|x)) a diagonal Gaussian q can reach, the same for every x: the
    diagonal-posterior ELBO after optimising the encoder is the log-likelihood minus this gap.
    """
    precision = loadings.T @ loadings / noise_variance
    precision = precision + torch.eye(precision.shape[0], dtype=precision.dtype, device=precision.device)
    return 0.5 * (precision.diagonal().log().sum() - torch.logdet(precision))


def optimal_diagonal_elbo(params: PPCAParameters, mean: Tensor, covariance: Tensor) -> Tensor:
    """Average ELBO of the best diagonal-Gaussian encoder: log-likelihood − Hadamard gap."""
    return log_likelihood(params, mean, covariance) - hadamard_gap(params.loadings, params.noise_variance)
