"""Diagonal Gaussians: closed-form KL divergence, log-density, reparameterised samples, KL annealing.

Every latent of HRED's variational successors is a diagonal Gaussian given by a mean and a
variance (the authors' networks output the variance through a softplus). The ELBO's KL terms
are computed in closed form; the importance-sampled likelihood needs log-densities of samples.
"""

from __future__ import annotations

import math

import torch


def gaussian_kl(mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor, var_p: torch.Tensor) -> torch.Tensor:
    """KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)) summed over the last dimension."""
    # $\tfrac12\sum_i[\log\sigma_{p,i}^2-\log\sigma_{q,i}^2+(\sigma_{q,i}^2+(\mu_{q,i}-\mu_{p,i})^2)/\sigma_{p,i}^2-1]$
    return 0.5 * (torch.log(var_p) - torch.log(var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0).sum(-1)


def gaussian_log_density(z: torch.Tensor, mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """log N(z; μ, σ²) summed over the last dimension."""
    # $-\tfrac12\sum_i[\log 2\pi\sigma_i^2+(z_i-\mu_i)^2/\sigma_i^2]$
    return -0.5 * (math.log(2 * math.pi) + torch.log(var) + (z - mean) ** 2 / var).sum(-1)


def reparameterize(mean: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    """A sample z = μ + σ ε with ε ~ N(0, I) (differentiable in μ and σ²)."""
    # $z=\mu+\sigma\odot\epsilon$
    return mean + var.sqrt() * torch.randn_like(mean)


def kl_weight(step: int, annealing_steps: int) -> float:
    """β at optimiser step ``step``: rises linearly from 0 to 1 over ``annealing_steps`` steps."""
    # $\beta_s=\min(s/S,1)$
    if annealing_steps <= 0:
        return 1.0
    return min(step / annealing_steps, 1.0)
