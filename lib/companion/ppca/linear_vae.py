"""A linear VAE: the PPCA decoder with an amortised Gaussian encoder (Lucas et al., 2019).

Decoder p(x|z) = N(W z + b, σ² I), prior p(z) = N(0, I); encoder q(z|x) = N(V(x − b), C) with
C = L Lᵀ shared by every x. ``posterior="diagonal"`` keeps L diagonal (the usual VAE);
``posterior="full"`` learns a lower-triangular Cholesky factor L (a full covariance).

The ELBO averaged over the data depends on the data only through its mean m and covariance S.
With M = S + (m − b)(m − b)ᵀ and A = I − W V it is

    E[ELBO] = −d/2 log 2πσ² − [tr(A M Aᵀ) + tr(W C Wᵀ)] / 2σ² − ½[tr C + tr(V M Vᵀ) − k − log det C],

which :func:`fit_expected_elbo` maximises with L-BFGS. :func:`train_stochastic` maximises the
usual one-sample reparameterised estimate with Adam through the shared training loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from companion.data import batches
from companion.ppca.closed_form import PPCAParameters, second_moment
from companion.training import TrainResult, TrainState, train

Posterior = Literal["diagonal", "full"]
POSTERIORS: tuple[Posterior, ...] = ("diagonal", "full")


class LinearVAE(nn.Module):
    """Linear-Gaussian VAE with a diagonal or full-covariance (Cholesky) posterior.

    With ``batch=(B,)`` the module holds B independent models (every parameter gets a leading
    dimension B) fitted side by side: their ELBOs are returned per model and summed for fitting.

    Args:
        observed_dim: d, the dimension of x.
        latent_dim: k, the dimension of z.
        posterior: "diagonal" or "full" covariance of q(z|x).
        batch: leading shape of independent models (``()`` for one model).
        generator: the random generator of the initial weights (for reproducible fits).
        dtype: floating-point type of the parameters (float64 for tight L-BFGS fits).
    """

    def __init__(
        self, observed_dim: int, latent_dim: int, posterior: Posterior = "diagonal", *,
        batch: tuple[int, ...] = (), generator: torch.Generator | None = None, dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        if posterior not in POSTERIORS:
            raise ValueError(f"posterior={posterior!r}; valid values: {list(POSTERIORS)}")
        self.posterior = posterior

        def normal(*shape: int) -> Tensor:
            return torch.randn(*batch, *shape, generator=generator, dtype=dtype)

        self.loadings = nn.Parameter(normal(observed_dim, latent_dim) / math.sqrt(latent_dim))
        self.offset = nn.Parameter(torch.zeros(*batch, observed_dim, dtype=dtype))
        self.log_noise_variance = nn.Parameter(torch.zeros(batch, dtype=dtype))
        self.encoder = nn.Parameter(0.1 * normal(latent_dim, observed_dim))
        self.log_posterior_std = nn.Parameter(torch.full((*batch, latent_dim), math.log(0.5), dtype=dtype))
        if posterior == "full":
            self.posterior_lower = nn.Parameter(0.1 * normal(latent_dim, latent_dim))

    @property
    def noise_variance(self) -> Tensor:
        return self.log_noise_variance.exp()

    def posterior_scale(self) -> Tensor:
        """L, the Cholesky factor of the posterior covariance C = L Lᵀ."""
        scale = torch.diag_embed(self.log_posterior_std.exp())
        if self.posterior == "full":
            scale = scale + torch.tril(self.posterior_lower, diagonal=-1)
        return scale

    def encode(self, x: Tensor) -> Tensor:
        """Posterior means V(x − b), one row per row of ``x`` (…×N×d)."""
        return (x - self.offset.unsqueeze(-2)) @ self.encoder.mT

    def decode(self, z: Tensor) -> Tensor:
        """Decoder means W z + b."""
        return z @ self.loadings.mT + self.offset.unsqueeze(-2)

    def ppca_parameters(self) -> PPCAParameters:
        """The decoder as PPCA parameters (detached; batched like the module)."""
        return PPCAParameters(self.loadings.detach().clone(), self.offset.detach().clone(),
                              self.noise_variance.detach().clone())

    def expected_elbo(self, mean: Tensor, covariance: Tensor) -> Tensor:
        """The ELBO averaged over data with this mean (…×d) and covariance (…×d×d), in closed form."""
        d, k = self.loadings.shape[-2:]
        scale = self.posterior_scale()
        posterior_cov = scale @ scale.mT
        moment = second_moment(mean, covariance, self.offset)
        residual = torch.eye(d, dtype=moment.dtype, device=moment.device) - self.loadings @ self.encoder
        # tr(A M Aᵀ) + tr(W C Wᵀ), A = I − W V
        error = ((residual @ moment * residual).sum((-2, -1))
                 + (self.loadings @ posterior_cov * self.loadings).sum((-2, -1)))
        reconstruction = -0.5 * d * (math.log(2 * math.pi) + self.log_noise_variance) - 0.5 * error / self.noise_variance
        log_det = 2 * self.log_posterior_std.sum(-1)
        # KL = ½[tr C + tr(V M Vᵀ) − k − log det C]
        trace = posterior_cov.diagonal(dim1=-2, dim2=-1).sum(-1)
        kl = 0.5 * (trace + (self.encoder @ moment * self.encoder).sum((-2, -1)) - k - log_det)
        return reconstruction - kl

    def sample_elbo(self, x: Tensor) -> Tensor:
        """One-sample reparameterised ELBO estimate for each row of ``x`` (…×N×d; analytic KL)."""
        d, k = self.loadings.shape[-2:]
        means = self.encode(x)
        scale = self.posterior_scale()
        z = means + torch.randn_like(means) @ scale.mT  # z = μ + L ε
        squared_error = (x - self.decode(z)).pow(2).sum(-1)
        log_noise_variance = self.log_noise_variance.unsqueeze(-1)
        log_likelihood = -0.5 * d * (math.log(2 * math.pi) + log_noise_variance) - 0.5 * squared_error / log_noise_variance.exp()
        log_det = 2 * self.log_posterior_std.sum(-1, keepdim=True)
        kl = 0.5 * (scale.pow(2).sum((-2, -1)).unsqueeze(-1) + means.pow(2).sum(-1) - k - log_det)
        return log_likelihood - kl


def fit_expected_elbo(
    model: LinearVAE, mean: Tensor, covariance: Tensor, *, max_iterations: int = 500
) -> Tensor:
    """Maximise the closed-form expected ELBO with L-BFGS; return the final ELBO of each model.

    A batched module fits its independent models together (their ELBOs are summed). This is a
    deterministic full-batch optimisation of a closed form, so it runs here rather than in the
    minibatch loop :func:`companion.training.train`.
    """
    optimizer = torch.optim.LBFGS(
        model.parameters(), lr=1.0, max_iter=max_iterations, history_size=50,
        tolerance_grad=1e-10, tolerance_change=1e-14, line_search_fn="strong_wolfe",
    )

    def closure() -> Tensor:
        optimizer.zero_grad()
        loss = -model.expected_elbo(mean, covariance).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return model.expected_elbo(mean, covariance)


def stochastic_elbo_loss(model: LinearVAE, batch: tuple[Tensor, ...], state: TrainState) -> dict[str, Tensor]:
    """The training loss: minus the batch's average one-sample ELBO."""
    return {"loss": -model.sample_elbo(batch[0]).mean()}


def train_stochastic(
    model: LinearVAE, x: Tensor, *, epochs: int, batch_size: int = 100, learning_rate: float = 1e-2,
    seed: int = 0, evaluate: Callable[[nn.Module, int], Mapping[str, float]] | None = None,
    device: torch.device | str = "cpu", checkpoint_dir: Path | None = None,
    fingerprint: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train ``model`` on the rows of ``x`` by reparameterised SGD (Adam), as VAEs are trained;
    ``checkpoint_dir`` and ``fingerprint`` are :func:`companion.training.train`'s."""
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return train(model, stochastic_elbo_loss, batches([x], batch_size, shuffle=True, seed=seed),
                 epochs=epochs, optimizer=optimizer, device=device, evaluate=evaluate,
                 checkpoint_dir=checkpoint_dir, fingerprint=fingerprint)
