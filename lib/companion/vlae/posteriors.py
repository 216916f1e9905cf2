"""Approximate posteriors q(z|x): what each model's inference returns.

Each posterior draws reparameterised samples together with their log-density
(``rsample(count)`` → z of shape count×B×d and log q(z|x) of shape count×B), which is all the
ELBO and importance sampling need, and evaluates ``log_prob`` at any z (for the figures).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


class InverseAutoregressiveFlow:
    """z_T = f_T ∘ ⋯ ∘ f_1(z₀) with z₀ ~ a diagonal Gaussian and IAF steps (Kingma et al. 2016)

    f_t(z) = σ ⊙ z + (1 − σ) ⊙ m with (m, s) = MADE_t(z, h) and σ = sigmoid(s); every other
    step reads z in reversed order (as the authors' code does), so each dimension is transformed
    given every other one across steps. Each step's Jacobian is triangular with diagonal σ.

    Args:
        base: the encoder's q₀(z₀|x).
        steps: the MADE of each step, called as ``made(z, context)``.
        context: the encoder's features h (B × H).
    """

    def __init__(self, base: DiagonalGaussian, steps: Sequence[Callable[[torch.Tensor, torch.Tensor],
                 tuple[torch.Tensor, torch.Tensor]]], context: torch.Tensor) -> None:
        self.base, self.steps, self.context = base, list(steps), context

    def _shift_and_gate(self, index: int, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, σ) of step ``index`` at z, in z's own order."""
        reverse = index % 2 == 1
        shift, gate = self.steps[index](z.flip(-1) if reverse else z, self.context)
        shift, gate = (shift.flip(-1), gate.flip(-1)) if reverse else (shift, gate)
        return shift, torch.sigmoid(gate)

    def transform(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z₀ → z_T and log |det ∂z_T/∂z₀| (…, B)."""
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        for index in range(len(self.steps)):
            shift, sigma = self._shift_and_gate(index, z)
            # $z_t = \sigma_t \odot z_{t-1} + (1 - \sigma_t) \odot m_t$ (Kingma et al. 2016, Algorithm 1)
            z = sigma * z + (1.0 - sigma) * shift
            log_det = log_det + sigma.log().sum(-1)
        return z, log_det

    def rsample(self, count: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
        """``count`` flowed samples per example, and log q(z_T) = log q₀(z₀) − Σ_t Σ_i log σ_t,i."""
        z, log_q = self.base.rsample(count)
        z, log_det = self.transform(z)
        return z, log_q - log_det

    def invert(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z_T → z₀ and log |det ∂z_T/∂z₀|: each step is inverted one dimension per pass, in the
        step's order, with the dimensions not yet solved held at 0."""
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        positions = torch.arange(z.shape[-1], device=z.device)
        for index in reversed(range(len(self.steps))):
            order = positions.flip(0) if index % 2 == 1 else positions
            previous = torch.zeros_like(z)
            for dimension in order:
                shift, sigma = self._shift_and_gate(index, previous)
                solved = (z - (1.0 - sigma) * shift) / sigma
                previous = torch.where(positions == dimension, solved, previous)
            z = previous
            log_det = log_det + self._shift_and_gate(index, z)[1].log().sum(-1)
        return z, log_det

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log q(z_T) for z of shape (…, B, d), through the inverse flow."""
        origin, log_det = self.invert(z)
        return self.base.log_prob(origin) - log_det

    def covariance(self, samples: int = 4096) -> torch.Tensor:
        """Covariance of z_T, B×d×d: a Monte-Carlo estimate from ``samples`` draws (no closed form)."""
        z, _ = self.rsample(samples)
        centred = z - z.mean(0)
        return torch.einsum("kbi,kbj->bij", centred, centred) / (samples - 1)


Posterior = DiagonalGaussian | FullCovarianceGaussian | HouseholderFlow | InverseAutoregressiveFlow
