"""Importance-sampled log-likelihood, log p(x) ≈ log (1/K) Σ_k p(x, z_k) / q(z_k|x), z_k ~ q.

Each model is its own proposal (as in the paper). The estimate is a lower bound in expectation
(Jensen) that tightens as K grows (Burda et al. 2016); K = 1 gives the ELBO.
"""

from __future__ import annotations

import math

import torch

from companion.vlae.models import LatentVariableModel


def log_mean_exp(values: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """log of the mean of exp(values) along ``dim``, computed stably."""
    return torch.logsumexp(values, dim) - math.log(values.shape[dim])


def importance_log_likelihood(
    model: LatentVariableModel, x: torch.Tensor, samples: int, max_rows: int = 2 ** 16,
) -> torch.Tensor:
    """Per-example log p(x) estimates (B,) from ``samples`` draws of the model's own q.

    Examples are processed in chunks so that at most ``max_rows`` decoder rows are live at once.
    """
    chunk = max(1, max_rows // samples)
    estimates = []
    with torch.no_grad():
        for start in range(0, len(x), chunk):
            # $\log \frac{1}{K}\sum_k \exp(\log p(x, z_k) - \log q(z_k|x))$
            estimates.append(log_mean_exp(model.log_weights(x[start:start + chunk], samples)))
    return torch.cat(estimates)


def mean_elbo(model: LatentVariableModel, x: torch.Tensor, batch_size: int = 1024) -> float:
    """The single-sample ELBO averaged over the examples of x."""
    with torch.no_grad():
        total = sum(float(model.elbo(x[start:start + batch_size]).sum())
                    for start in range(0, len(x), batch_size))
    return total / len(x)


def posterior_moments(
    model: LatentVariableModel, x: torch.Tensor, samples: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (B×d) and covariance (B×d×d) of the true posterior p(z|x), by self-normalised
    importance sampling with the model's own q: weights w_k ∝ p(x, z_k) / q(z_k|x)."""
    with torch.no_grad():
        z, log_q = model.posterior(x).rsample(samples)
        weights = torch.softmax(model.log_joint(x, z) - log_q, dim=0)
        mean = torch.einsum("kb,kbi->bi", weights, z)
        centred = z - mean
        return mean, torch.einsum("kb,kbi,kbj->bij", weights, centred, centred)


def correlation(covariance: torch.Tensor) -> torch.Tensor:
    """Correlation matrices of a batch of covariance matrices (…×d×d)."""
    scale = covariance.diagonal(dim1=-2, dim2=-1).sqrt()
    return covariance / scale.unsqueeze(-1) / scale.unsqueeze(-2)


def mean_off_diagonal(matrices: torch.Tensor) -> float:
    """Mean absolute off-diagonal entry of a batch of square matrices."""
    dim = matrices.shape[-1]
    mask = ~torch.eye(dim, dtype=torch.bool, device=matrices.device)
    return float(matrices[..., mask].abs().mean())
