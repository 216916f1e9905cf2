"""The four latent-variable models of Table 1, sharing one encoder/decoder family.

Every model is a decoder p(x|z) p(z) with p(z) = N(0, I) and an inference procedure that returns
q(z|x); they differ only in that procedure:

* VAE (Kingma & Welling 2014): q = N(μ(x), diag σ²(x)) from the encoder;
* SA-VAE (Kim et al. 2018): T gradient-ascent steps on each example's (μ, log σ²), starting
  from the encoder and differentiated through; "SA-VAE, authors' step" takes the step of the
  VLAE authors' code instead (:func:`authors_svi_refine`);
* VAE+HF (Tomczak & Welling 2016): the VAE's q followed by T Householder reflections;
* VAE+IAF (Kingma et al. 2016): the VAE's q followed by T inverse autoregressive flow steps
  (the baseline of the authors' poster, not of the summary's Table 1);
* VLAE (Park et al. 2019): T damped Laplace updates from the encoder's mean, then the
  full-covariance q = N(μ_T, Λ_T⁻¹) (:mod:`companion.vlae.laplace`).

All are trained on the same single-sample Monte-Carlo ELBO, log p(x|z) + log p(z) − log q(z|x).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from companion.vlae.laplace import DAMPING, check_jacobian, iterative_laplace
from companion.vlae.networks import (
    MADE,
    MLP,
    Encoder,
    Likelihood,
    initialise,
    make_likelihood,
    standard_normal_log_prob,
)
from companion.vlae.posteriors import (
    DiagonalGaussian,
    FullCovarianceGaussian,
    HouseholderFlow,
    InverseAutoregressiveFlow,
    Posterior,
)

#: Model names (the chapter's ``models`` parameter) and how tables print them.
MODELS = ("vae", "savae", "savae_authors", "hf", "iaf", "vlae")
TITLES = {"vae": "VAE", "savae": "SA-VAE", "savae_authors": "SA-VAE, authors' step", "hf": "VAE+HF",
          "iaf": "VAE+IAF", "vlae": "VLAE"}
#: The models of the summary's Table 1 (the CPU profiles' default; VAE+IAF is the poster's extra).
TABLE1_MODELS = ("vae", "savae", "hf", "vlae")


class LatentVariableModel(nn.Module):
    """p(z) = N(0, I), p(x|z) from a decoder MLP and a likelihood; subclasses define q(z|x)."""

    def __init__(self, encoder: Encoder, decoder: MLP, likelihood: Likelihood) -> None:
        super().__init__()
        self.encoder, self.decoder, self.likelihood = encoder, decoder, likelihood

    def posterior(self, x: torch.Tensor) -> Posterior:
        """The approximate posterior q(z|x) for a batch x (B×D)."""
        raise NotImplementedError

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p(x|z) + log p(z) for z of shape (…, B, d)."""
        return self.likelihood.log_prob(x, self.decoder(z)) + standard_normal_log_prob(z)

    def log_weights(self, x: torch.Tensor, samples: int) -> torch.Tensor:
        """log p(x, z_k) − log q(z_k|x) for ``samples`` draws z_k ~ q(z|x): shape samples×B."""
        z, log_q = self.posterior(x).rsample(samples)
        return self.log_joint(x, z) - log_q

    def elbo(self, x: torch.Tensor, samples: int = 1) -> torch.Tensor:
        """Monte-Carlo ELBO per example (B,), averaged over ``samples`` draws."""
        return self.log_weights(x, samples).mean(0)


class VAE(LatentVariableModel):
    """Amortised diagonal Gaussian posterior q(z|x) = N(μ(x), diag σ²(x))."""

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        mean, log_var, _ = self.encoder(x)
        return DiagonalGaussian(mean, log_var)


def clip_norm(gradient: torch.Tensor, max_norm: float) -> torch.Tensor:
    """Scale each example's gradient (last dimension) to norm at most ``max_norm``."""
    norm = gradient.norm(dim=-1, keepdim=True)
    return gradient * (max_norm / norm.clamp(min=1e-12)).clamp(max=1.0)


def svi_refine(
    elbo: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    mean: torch.Tensor, log_var: torch.Tensor, steps: int, lr: float, max_grad_norm: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SA-VAE's refinement: ``steps`` ascent steps on each example's ELBO(μ, log σ²).

    ``elbo(mean, log_var)`` returns per-example ELBOs (B,); its sum's gradient is each example's
    own gradient, so every example takes its own step λ_{k+1} = λ_k + α ∇_λ ELBO(λ_k; x), with
    each gradient's norm clipped per example. When (μ, log σ²) carry gradients (training) the
    steps are differentiated through (create_graph), so the encoder learns from the refined ELBO.
    """
    differentiate = torch.is_grad_enabled() and (mean.requires_grad or log_var.requires_grad)
    with torch.enable_grad():
        if not differentiate:
            mean, log_var = mean.detach().requires_grad_(), log_var.detach().requires_grad_()
        for _ in range(steps):
            grad_mean, grad_log_var = torch.autograd.grad(
                elbo(mean, log_var).sum(), (mean, log_var), create_graph=differentiate)
            # $\lambda_{k+1} = \lambda_k + \alpha \nabla_\lambda \mathrm{ELBO}(\lambda_k; x)$
            mean = mean + lr * clip_norm(grad_mean, max_grad_norm)
            log_var = log_var + lr * clip_norm(grad_log_var, max_grad_norm)
            if not differentiate:
                mean, log_var = mean.detach().requires_grad_(), log_var.detach().requires_grad_()
    if not differentiate:
        mean, log_var = mean.detach(), log_var.detach()
    return mean, log_var


def authors_clip(gradient: torch.Tensor, max_value: float) -> torch.Tensor:
    """The VLAE authors' ``utils.clip_grad_norm``: each row divided by max(1, ‖g‖² / max_value)
    (the squared norm, so a row is not scaled to norm ``max_value`` as a norm clip would)."""
    return gradient / torch.clamp(gradient.pow(2).sum(-1, keepdim=True) / max_value, min=1.0)


def authors_svi_refine(
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    mean: torch.Tensor, log_var: torch.Tensor, steps: int, lr: float, max_value: float = 5.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """SA-VAE's refinement as the VLAE authors' code takes it (``SAVAE.forward`` in their
    models.py): ``loss(mean, log_var)`` is the batch-mean negative ELBO, so each example's
    gradient is its own divided by the batch size B, clipped by :func:`authors_clip`, and *added*
    (λ ← λ + α ∇_λ loss, their comment says "gradient ascent"): every step moves down the ELBO,
    by α/B of a step on the example's own ELBO. Always differentiated through, as theirs is."""
    with torch.enable_grad():
        if not (mean.requires_grad or log_var.requires_grad):
            mean, log_var = mean.detach().requires_grad_(), log_var.detach().requires_grad_()
        for _ in range(steps):
            grad_mean, grad_log_var = torch.autograd.grad(loss(mean, log_var), (mean, log_var), create_graph=True)
            mean = mean + lr * authors_clip(grad_mean, max_value)  # their sign: up the loss
            log_var = log_var + lr * authors_clip(grad_log_var, max_value)
    if not torch.is_grad_enabled():
        mean, log_var = mean.detach(), log_var.detach()
    return mean, log_var


class SAVAE(VAE):
    """Semi-amortised VAE: the encoder's (μ, log σ²) refined by T SVI steps per example.

    Args:
        steps: number of SVI steps T.
        svi_lr: step size α of the ascent on each example's ELBO.
        svi_max_grad_norm: per-example clip of each step's gradient (Kim et al. use 5).
    """

    def __init__(self, encoder: Encoder, decoder: MLP, likelihood: Likelihood, steps: int,
                 svi_lr: float, svi_max_grad_norm: float = 5.0) -> None:
        super().__init__(encoder, decoder, likelihood)
        self.steps, self.svi_lr, self.svi_max_grad_norm = steps, svi_lr, svi_max_grad_norm

    def svi_objective(self, x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        """The ELBO SA-VAE steps on: one-sample reconstruction minus the analytic KL."""
        z, _ = DiagonalGaussian(mean, log_var).rsample(1)
        # $\mathrm{KL}(N(\mu, \sigma^2) \| N(0, I)) = \frac{1}{2}\sum(\mu^2 + \sigma^2 - \log\sigma^2 - 1)$
        kl = 0.5 * (mean.pow(2) + log_var.exp() - log_var - 1.0).sum(-1)
        return self.likelihood.log_prob(x, self.decoder(z[0])) - kl

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        mean, log_var, _ = self.encoder(x)
        mean, log_var = svi_refine(lambda m, v: self.svi_objective(x, m, v), mean, log_var,
                                   self.steps, self.svi_lr, self.svi_max_grad_norm)
        return DiagonalGaussian(mean, log_var)


class AuthorsSAVAE(SAVAE):
    """SA-VAE with the step of the VLAE authors' code (:func:`authors_svi_refine`): the paper's
    SA-VAE baseline as they ran it, beside :class:`SAVAE`, which steps up each example's ELBO."""

    def batch_loss(self, x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
        """Their step's loss: −mean over the batch of log p(x|z) + log p(z) − log q(z|x), one z each."""
        posterior = DiagonalGaussian(mean, log_var)
        z, log_q = posterior.rsample(1)
        log_prior = -0.5 * (z[0].pow(2) + math.log(2 * math.pi)).sum(-1)
        return -(self.likelihood.log_prob(x, self.decoder(z[0])) + log_prior - log_q[0]).mean()

    def posterior(self, x: torch.Tensor) -> DiagonalGaussian:
        mean, log_var, _ = self.encoder(x)
        mean, log_var = authors_svi_refine(lambda m, v: self.batch_loss(x, m, v), mean, log_var,
                                           self.steps, self.svi_lr, self.svi_max_grad_norm)
        return DiagonalGaussian(mean, log_var)


class HouseholderVAE(VAE):
    """VAE+HF: v₁ = Linear(h(x)), v_t = Linear(v_{t−1}); z_T = H_T ⋯ H_1 z₀.

    Args:
        steps: number of reflections T.
    """

    def __init__(self, encoder: Encoder, decoder: MLP, likelihood: Likelihood, steps: int) -> None:
        super().__init__(encoder, decoder, likelihood)
        hidden, latent = encoder.mean.in_features, encoder.mean.out_features
        self.flows = nn.ModuleList(
            nn.Linear(hidden if index == 0 else latent, latent) for index in range(steps))

    def posterior(self, x: torch.Tensor) -> HouseholderFlow:
        mean, log_var, features = self.encoder(x)
        vectors, vector = [], features
        for flow in self.flows:
            vector = flow(vector)
            vectors.append(vector)
        return HouseholderFlow(DiagonalGaussian(mean, log_var), vectors)


class IAFVAE(VAE):
    """VAE+IAF: the VAE's q followed by T IAF steps, each a MADE of z and the encoder's features.

    The authors' code builds the same flow (one-hidden-layer MADE of their 500 units, PReLU, gate
    bias 2, order reversed between steps) but its mask also zeroes the context's weights, so
    their flow never sees h; ours feeds h to every hidden unit, as Kingma et al. do.

    Args:
        steps: number of IAF steps T.
        made_dim: hidden units of each MADE.
    """

    def __init__(self, encoder: Encoder, decoder: MLP, likelihood: Likelihood, steps: int,
                 made_dim: int) -> None:
        super().__init__(encoder, decoder, likelihood)
        hidden, latent = encoder.mean.in_features, encoder.mean.out_features
        self.flows = nn.ModuleList(MADE(latent, hidden, made_dim) for _ in range(steps))

    def posterior(self, x: torch.Tensor) -> InverseAutoregressiveFlow:
        mean, log_var, features = self.encoder(x)
        return InverseAutoregressiveFlow(DiagonalGaussian(mean, log_var), self.flows, features)


class VLAE(LatentVariableModel):
    """Variational Laplace autoencoder: T damped Laplace updates from the encoder's mean.

    Args:
        steps: number of updates T.
        damping: schedule of α_t, a key of :data:`companion.vlae.laplace.DAMPING`.
        jacobian: how each update gets Λ and Wᵀv, one of
            :data:`companion.vlae.laplace.JACOBIANS` ("auto": the path with fewer FLOPs).
    """

    def __init__(self, encoder: Encoder, decoder: MLP, likelihood: Likelihood, steps: int,
                 damping: str = "harmonic", jacobian: str = "auto") -> None:
        super().__init__(encoder, decoder, likelihood)
        if damping not in DAMPING:
            raise ValueError(f"damping={damping!r} is not valid; valid values: {list(DAMPING)}")
        check_jacobian(jacobian, likelihood)
        self.steps, self.damping, self.jacobian = steps, damping, jacobian

    def laplace(self, x: torch.Tensor, steps: int | None = None) -> tuple[FullCovarianceGaussian, list[torch.Tensor]]:
        """q(z|x) after ``steps`` updates (default T) and the iterates μ₀, …, μ_T."""
        mean, _, _ = self.encoder(x)
        steps = self.steps if steps is None else steps
        return iterative_laplace(self.decoder, self.likelihood, x, mean, steps, self.damping, self.jacobian)

    def posterior(self, x: torch.Tensor) -> FullCovarianceGaussian:
        return self.laplace(x)[0]


def build_model(
    name: str, input_dim: int, latent_dim: int, hidden_dim: int, likelihood: str,
    steps: int = 1, *, log_var: float = 0.0, hidden_layers: int = 2, init: str = "torch",
    damping: str = "harmonic", svi_lr: float = 1e-3, svi_max_grad_norm: float = 5.0,
    jacobian: str = "auto",
) -> LatentVariableModel:
    """One of :data:`MODELS` with the shared MLPs (``hidden_layers`` × ``hidden_dim`` ReLU).

    ``likelihood`` is "gaussian" (log σ² starts at ``log_var``) or "bernoulli"; ``steps`` is T
    (ignored by the VAE); VAE+IAF's MADEs have ``hidden_dim`` hidden units (the authors: 500);
    ``init`` "authors" re-initialises every Linear as their code does; ``jacobian`` is VLAE's
    Laplace-update path (:class:`VLAE`).
    """
    if name not in MODELS:
        raise ValueError(f"model {name!r} is not valid; valid values: {list(MODELS)}")
    hidden = [hidden_dim] * hidden_layers
    encoder = Encoder(input_dim, latent_dim, hidden, variance_head=name != "vlae")
    decoder = MLP([latent_dim, *hidden, input_dim])
    output = make_likelihood(likelihood, log_var)
    if name == "vae":
        model: LatentVariableModel = VAE(encoder, decoder, output)
    elif name == "savae":
        model = SAVAE(encoder, decoder, output, steps, svi_lr, svi_max_grad_norm)
    elif name == "savae_authors":
        model = AuthorsSAVAE(encoder, decoder, output, steps, svi_lr, svi_max_grad_norm)
    elif name == "hf":
        model = HouseholderVAE(encoder, decoder, output, steps)
    elif name == "iaf":
        model = IAFVAE(encoder, decoder, output, steps, made_dim=hidden_dim)
    else:
        model = VLAE(encoder, decoder, output, steps, damping, jacobian)
    initialise(model, init)
    return model
