"""Where a model's likelihood gap goes: the inference-gap decomposition (Cremer, Li & Duvenaud 2018).

For a trained model with decoder p(x|z) and amortised posterior q_φ(z|x):

    log p(x) − ELBO(q_φ) = [log p(x) − ELBO(q*)] + [ELBO(q*) − ELBO(q_φ)]
                            approximation gap      amortisation gap

q* is the best member of the posterior's *family*, fitted to each example separately with the
decoder fixed (:func:`fit_best_posterior`): the approximation gap is what the family cannot
express of the true posterior, the amortisation gap what the encoder (and, for SA-VAE and
VLAE, its per-example refinement) loses against the best member. Families: ``"diagonal"``
(the VAE's and SA-VAE's) and ``"full"`` (a full-covariance Gaussian: VLAE's; it also contains
every Gaussian that VAE+HF's Householder reflections of a diagonal Gaussian reach).

log p(x) is estimated by importance sampling with q* as the proposal
(:func:`importance_estimates`, tighter than the model's own q); how the estimate moves with the
number of samples K shows its bias instead of assuming it away.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from companion.vlae.evaluation import log_mean_exp
from companion.vlae.models import LatentVariableModel
from companion.vlae.posteriors import DiagonalGaussian, FullCovarianceGaussian

#: The posterior families q* is fitted in.
FAMILIES = ("diagonal", "full")


def _start(posterior: object, family: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Free parameters of ``family`` that start at (the Gaussian moments of) ``posterior``:
    (mean, log σ²) for "diagonal"; (mean, raw factor) for "full", where the precision's Cholesky
    factor is the raw factor's strict lower triangle plus the exponential of its diagonal."""
    mean = posterior.mean.detach()
    if isinstance(posterior, FullCovarianceGaussian):
        factor = posterior.precision_cholesky.detach()
        variance = torch.cholesky_inverse(factor).diagonal(dim1=-2, dim2=-1)
    elif isinstance(posterior, DiagonalGaussian):
        variance = posterior.log_var.detach().exp()
        factor = torch.diag_embed(variance.rsqrt())
    else:
        covariance = posterior.covariance().detach()
        variance = covariance.diagonal(dim1=-2, dim2=-1)
        factor = torch.linalg.cholesky(torch.linalg.inv(covariance))
    if family == "diagonal":
        return mean.clone(), variance.log()
    raw = torch.tril(factor, -1) + torch.diag_embed(factor.diagonal(dim1=-2, dim2=-1).log())
    return mean.clone(), raw


def _posterior(family: str, mean: torch.Tensor, free: torch.Tensor) -> DiagonalGaussian | FullCovarianceGaussian:
    if family == "diagonal":
        return DiagonalGaussian(mean, free)
    # $L = \mathrm{tril}(R, -1) + \mathrm{diag}(e^{\mathrm{diag} R})$: a valid Cholesky factor for any R
    return FullCovarianceGaussian(mean, torch.tril(free, -1) + torch.diag_embed(free.diagonal(dim1=-2, dim2=-1).exp()))


def elbo(model: LatentVariableModel, x: torch.Tensor, posterior: DiagonalGaussian | FullCovarianceGaussian,
         samples: int) -> torch.Tensor:
    """Per-example ELBO of an explicit ``posterior`` under the model's joint, ``samples`` draws."""
    z, log_q = posterior.rsample(samples)
    return (model.log_joint(x, z) - log_q).mean(0)


def fit_best_posterior(model: LatentVariableModel, x: torch.Tensor, family: str, *, steps: int = 300,
                       lr: float = 0.01, samples: int = 16) -> DiagonalGaussian | FullCovarianceGaussian:
    """q*: the member of ``family`` with the highest ELBO for each example of x, the decoder
    fixed, by Adam on the reparameterised ``samples``-draw ELBO from the model's own q(z|x)."""
    if family not in FAMILIES:
        raise ValueError(f"family={family!r} is not valid; valid values: {list(FAMILIES)}")
    with torch.no_grad():
        start = model.posterior(x)
    mean, free = (tensor.requires_grad_() for tensor in _start(start, family))
    optimizer = torch.optim.Adam([mean, free], lr=lr)
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    try:
        for _ in range(steps):
            optimizer.zero_grad()
            # maximise Σ_examples ELBO(q*_x): each example's parameters get their own gradient
            (-elbo(model, x, _posterior(family, mean, free), samples).sum()).backward()
            optimizer.step()
    finally:
        for parameter in model.parameters():
            parameter.requires_grad_(True)
    return _posterior(family, mean.detach(), free.detach())


def importance_estimates(model: LatentVariableModel, x: torch.Tensor,
                         proposal: DiagonalGaussian | FullCovarianceGaussian,
                         sample_counts: Sequence[int] = (100, 1000, 5000)) -> dict[int, float]:
    """Mean log p(x) over the examples, importance-sampled from ``proposal`` with each K of
    ``sample_counts`` (drawn in chunks of at most 1,000): a lower bound in expectation that
    tightens as K grows."""
    estimates = {}
    with torch.no_grad():
        for count in sample_counts:
            weights = []
            for start in range(0, count, 1000):
                z, log_q = proposal.rsample(min(1000, count - start))
                weights.append(model.log_joint(x, z) - log_q)
            estimates[count] = float(log_mean_exp(torch.cat(weights)).mean())
    return estimates


@dataclass(frozen=True)
class GapDecomposition:
    """Mean nats per example: log p(x), the ELBO of the model's q and of the family's best q*,
    and the two gaps between them; ``log_px_by_samples`` the estimate for each K."""

    family: str
    log_px: float
    elbo_amortised: float
    elbo_best: float
    log_px_by_samples: dict[int, float]

    @property
    def approximation(self) -> float:
        """log p(x) − ELBO(q*), what the family cannot express."""
        return self.log_px - self.elbo_best

    @property
    def amortisation(self) -> float:
        """ELBO(q*) − ELBO(q_φ), what the model's inference loses against the family's best."""
        return self.elbo_best - self.elbo_amortised


def decompose(model: LatentVariableModel, x: torch.Tensor, family: str, *, steps: int = 300, lr: float = 0.01,
              samples: int = 16, evaluation_samples: int = 1000,
              sample_counts: Sequence[int] = (100, 1000, 5000)) -> GapDecomposition:
    """The inference-gap decomposition of ``model`` on x: q* fitted in ``family``
    (:func:`fit_best_posterior`), both ELBOs with ``evaluation_samples`` draws, log p(x) the
    estimate with the largest K of ``sample_counts`` from q*."""
    best = fit_best_posterior(model, x, family, steps=steps, lr=lr, samples=samples)
    with torch.no_grad():
        amortised = float(model.elbo(x, evaluation_samples).mean())
        best_elbo = float(elbo(model, x, best, evaluation_samples).mean())
    by_samples = importance_estimates(model, x, best, sample_counts)
    return GapDecomposition(family, by_samples[max(by_samples)], amortised, best_elbo, by_samples)
