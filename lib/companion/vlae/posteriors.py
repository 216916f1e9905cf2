"""Approximate posteriors q(z|x): what each model's inference returns.

Each posterior draws reparameterised samples together with their log-density
(``rsample(count)`` → z of shape count×B×d and log q(z|x) of shape count×B), which is all the
ELBO and importance sampling need, and evaluates ``log_prob`` at any z (for the figures).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from companion.vlae.networks import LOG_2PI


class DiagonalGaussian:
    """N(mean, diag(exp(log_var))): the VAE's and SA-VAE's posterior, batched over examples."""

    def __init__(self, mean: torch.Tensor, log_var: torch.Tensor) -> None:
        self.mean, self.log_var = mean, log_var

    def rsample(self, count: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` samples z = μ + σ ⊙ ε per example, and log q(z)."""
        noise = torch.randn((count, *self.mean.shape), dtype=self.mean.dtype, device=self.mean.device)
        z = self.mean + torch.exp(0.5 * self.log_var) * noise
        return z, self.log_prob(z)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; μ, diag σ²), summed over latent dimensions."""
        return -0.5 * (LOG_2PI + self.log_var + (z - self.mean).pow(2) * torch.exp(-self.log_var)).sum(-1)

    def covariance(self) -> torch.Tensor:
        """Covariance matrices, B×d×d."""
        return torch.diag_embed(torch.exp(self.log_var))


class FullCovarianceGaussian:
    """N(mean, Λ⁻¹) held by the lower Cholesky factor L of the precision Λ = L Lᵀ.

    Sampling solves Lᵀ u = ε (so Cov u = Λ⁻¹) and the density uses
    log det Λ⁻¹ = −2 Σ log L_ii: no matrix is ever inverted.
    """

    def __init__(self, mean: torch.Tensor, precision_cholesky: torch.Tensor) -> None:
        self.mean, self.precision_cholesky = mean, precision_cholesky

    def rsample(self, count: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` samples z = μ + L⁻ᵀ ε per example, and log q(z)."""
        noise = torch.randn((count, *self.mean.shape), dtype=self.mean.dtype, device=self.mean.device)
        # $z = \mu + L^{-\top}\varepsilon$ (one solve per example, the samples as columns)
        columns = torch.linalg.solve_triangular(
            self.precision_cholesky.mT, noise.permute(1, 2, 0), upper=True)
        z = self.mean + columns.permute(2, 0, 1)
        return z, self._log_density(noise)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z; μ, Λ⁻¹) for z of shape (…, B, d)."""
        whitened = ((z - self.mean).unsqueeze(-2) @ self.precision_cholesky).squeeze(-2)
        return self._log_density(whitened)

    def _log_density(self, whitened: torch.Tensor) -> torch.Tensor:
        # $-\frac{1}{2}(d \log 2\pi + \|L^\top (z - \mu)\|^2) + \sum_i \log L_{ii}$
        log_det = torch.diagonal(self.precision_cholesky, dim1=-2, dim2=-1).log().sum(-1)
        return -0.5 * (whitened.shape[-1] * LOG_2PI + whitened.pow(2).sum(-1)) + log_det

    def covariance(self) -> torch.Tensor:
        """Covariance matrices Λ⁻¹, B×d×d (for display; sampling never forms them)."""
        return torch.cholesky_inverse(self.precision_cholesky)


def householder_reflect(z: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """H z with H = I − 2 v vᵀ / ‖v‖² (orthogonal, |det H| = 1, H⁻¹ = H)."""
    # $z - 2 v (v^\top z) / \|v\|^2$
    return z - 2.0 * vector * (z * vector).sum(-1, keepdim=True) / vector.pow(2).sum(-1, keepdim=True)


class HouseholderFlow:
    """z_T = H_T ⋯ H_1 z₀ with z₀ ~ a diagonal Gaussian (Tomczak & Welling 2016).

    Reflections preserve volume, so log q(z_T) = log q₀(z₀).
    """

    def __init__(self, base: DiagonalGaussian, vectors: Sequence[torch.Tensor]) -> None:
        self.base, self.vectors = base, list(vectors)

    @property
    def mean(self) -> torch.Tensor:
        """The mean of z_T (reflections are linear)."""
        return self.transform(self.base.mean)

    def transform(self, z: torch.Tensor) -> torch.Tensor:
        """z₀ → z_T."""
        for vector in self.vectors:
            z = householder_reflect(z, vector)
        return z

    def rsample(self, count: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` flowed samples per example, and log q(z_T) = log q₀(z₀)."""
        z, log_q = self.base.rsample(count)
        return self.transform(z), log_q

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z_T) = log q₀(H_1 ⋯ H_T z_T)."""
        for vector in reversed(self.vectors):
            z = householder_reflect(z, vector)
        return self.base.log_prob(z)

    def covariance(self) -> torch.Tensor:
        """Covariance H diag(σ²) Hᵀ, B×d×d."""
        rotate = self.transform(torch.eye(self.base.mean.shape[-1], dtype=self.base.mean.dtype,
                                          device=self.base.mean.device).unsqueeze(-2))
        rotation = rotate.movedim(0, -1)
        return rotation @ self.base.covariance() @ rotation.mT


Posterior = DiagonalGaussian | FullCovarianceGaussian | HouseholderFlow
