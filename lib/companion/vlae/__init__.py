"""Variational Laplace autoencoders (Park, Kim & Kim, ICML 2019), the baselines of Table 1 and
the authors' poster's VAE+IAF.

Public API (other chapters, e.g. the PPCA study, build on it):

* ``build_model(name, input_dim, latent_dim, hidden_dim, likelihood, steps, **options)`` →
  a :class:`LatentVariableModel`; ``name`` is one of :data:`~companion.vlae.models.MODELS` ("vae", "savae",
  "savae_authors", "hf", "iaf", "vlae"), ``likelihood`` "gaussian" or "bernoulli". Every model has ``posterior(x)``
  (q(z|x) with ``rsample(count)``, ``log_prob(z)``, ``covariance()`` — for VAE+IAF a Monte-Carlo
  estimate — and, but for VAE+IAF, ``mean``), ``elbo(x)``,
  ``log_joint(x, z)`` and the parts ``encoder``, ``decoder`` (an :class:`MLP`) and
  ``likelihood``.
* ``decoder_jacobian(decoder, z)`` → the exact Jacobian ∂g/∂z (…×D×d) of a ReLU MLP decoder;
  ``linearize(decoder, z)`` → (g(z), Jacobian).
* ``iterative_laplace(decoder, likelihood, x, initial_mean, steps, damping, jacobian)`` →
  Algorithm 1: (q = N(μ_T, Λ_T⁻¹), iterates); ``laplace_target`` is one undamped update from
  ``decoder_linearization(decoder, z, gram)``. ``jacobian`` (:data:`~companion.vlae.laplace.JACOBIANS`) forms W
  ("explicit") or uses WᵀW = Aᵀ(W_LᵀW_L)A ("gram", Gaussian only); "auto" picks the one with
  fewer FLOPs (``jacobian_flops``).
* ``importance_log_likelihood(model, x, samples)`` → per-example log p(x) estimates.

Modules: :mod:`~companion.vlae.networks` (MLPs, likelihoods), :mod:`~companion.vlae.posteriors`
(q families), :mod:`~companion.vlae.laplace` (Jacobian, Laplace updates),
:mod:`~companion.vlae.models`, :mod:`~companion.vlae.evaluation`, :mod:`~companion.vlae.settings`
(chapter parameters: :class:`~companion.vlae.settings.VLAESettings` and its profiles),
:mod:`~companion.vlae.experiments` (the chapter's runs and tables), :mod:`~companion.vlae.evidence`
(the paper's claims and how the runs decide them) and :mod:`~companion.vlae.figures`.
"""

from companion.vlae.evaluation import importance_log_likelihood, log_mean_exp, mean_elbo
from companion.vlae.laplace import (
    DAMPING,
    JACOBIANS,
    NotPositiveDefiniteError,
    decoder_jacobian,
    decoder_linearization,
    iterative_laplace,
    jacobian_flops,
    laplace_precision,
    laplace_target,
    linearize,
)
from companion.vlae.models import (
    MODELS,
    SAVAE,
    TITLES,
    VAE,
    VLAE,
    HouseholderVAE,
    IAFVAE,
    LatentVariableModel,
    build_model,
    svi_refine,
)
from companion.vlae.networks import MADE, MLP, BernoulliLikelihood, Encoder, GaussianLikelihood
from companion.vlae.posteriors import (
    DiagonalGaussian,
    FullCovarianceGaussian,
    HouseholderFlow,
    InverseAutoregressiveFlow,
)
from companion.vlae.settings import GRID, PROFILES, VLAESettings

__all__ = [
    "DAMPING", "GRID", "JACOBIANS", "MADE", "MLP", "MODELS", "PROFILES", "SAVAE", "TITLES", "VAE", "VLAE",
    "BernoulliLikelihood", "DiagonalGaussian", "Encoder", "FullCovarianceGaussian",
    "GaussianLikelihood", "HouseholderFlow", "HouseholderVAE", "IAFVAE", "InverseAutoregressiveFlow",
    "LatentVariableModel", "VLAESettings",
    "NotPositiveDefiniteError", "build_model", "decoder_jacobian", "decoder_linearization",
    "importance_log_likelihood", "iterative_laplace", "jacobian_flops", "laplace_precision", "laplace_target", "linearize", "log_mean_exp",
    "mean_elbo", "svi_refine",
]
