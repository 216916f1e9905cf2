"""Why a diagonal Gaussian posterior drives a decoder's columns to be orthogonal.

In probabilistic PCA the posterior covariance is Σ = (σ⁻² WᵀW + I)⁻¹. A diagonal q(z|x) can
match it only when WᵀW is diagonal; otherwise the ELBO pays the Hadamard gap
½[Σ_j log(1 + ‖w_j‖²/σ²) − log det(I + σ⁻² WᵀW)]. The likelihood does not depend on the rotation
of W, so the gap alone picks it: the columns of W become orthogonal, along the PCA axes.

Modules: :mod:`~companion.ppca.closed_form` (PPCA posterior, ML fit, likelihood, gap),
:mod:`~companion.ppca.linear_vae` (linear VAE, analytic and stochastic ELBO),
:mod:`~companion.ppca.metrics` (|cos|, DtO, angles, SAP, collapsed latents),
:mod:`~companion.ppca.synthetic` (data with chosen column angles and norms),
:mod:`~companion.ppca.settings` (the chapter's parameters, :class:`PPCASettings`),
:mod:`~companion.ppca.experiments` (the chapter's fits, tables, figures and run record),
:mod:`~companion.ppca.nonlinear` (VAE and VLAE decoder Jacobians) and :mod:`~companion.ppca.evidence` (the claims, declared once, and their findings).
"""

from companion.ppca.closed_form import (
    PPCAParameters, hadamard_gap, log_likelihood, maximum_likelihood, moments, optimal_diagonal_elbo,
    posterior,
)
from companion.ppca.linear_vae import LinearVAE, fit_expected_elbo, train_stochastic
from companion.ppca.settings import GRID, PROFILES, PPCASettings

__all__ = [
    "GRID", "LinearVAE", "PPCAParameters", "PPCASettings", "PROFILES", "fit_expected_elbo", "hadamard_gap",
    "log_likelihood", "maximum_likelihood", "moments", "optimal_diagonal_elbo", "posterior",
    "train_stochastic",
]
