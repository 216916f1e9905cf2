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
