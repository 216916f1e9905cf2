"""Iterative Laplace inference (Algorithm 1 of Park et al. 2019), batched over examples.

A ReLU decoder g is linear on the region around μ_t: g(z) ≈ W_t z + b_t with W_t = ∂g/∂z(μ_t)
(exact there) and b_t = g(μ_t) − W_t μ_t. Under that linear model the posterior is Gaussian:

* Gaussian output (probabilistic PCA):  Λ_t = σ⁻² W_tᵀW_t + I,  μ' = σ⁻² Λ_t⁻¹ W_tᵀ (x − b_t);
* Bernoulli output (one Newton step):   Λ_t = W_tᵀ diag(p(1−p)) W_t + I,
  μ' = μ_t + Λ_t⁻¹ (W_tᵀ (x − p) − μ_t),  p = sigmoid(g(μ_t)).

Both are the Newton step μ' = μ_t + Λ_t⁻¹ ∇ log p(x, z)|μ_t with Λ_t the negative Hessian of the
log joint (for the Gaussian the two formulas are equal, since Λ_t μ_t = σ⁻² W_tᵀW_t μ_t + μ_t),
which is how :func:`laplace_target` computes them. Each step is damped,
μ_{t+1} = (1 − α_t) μ_t + α_t μ'; after T steps q(z|x) = N(μ_T, Λ_T⁻¹) with Λ_T taken at μ_T.

Λ is factorised by Cholesky and applied by triangular solves; it is positive definite by
construction (eigenvalues ≥ 1), so a failed factorisation means non-finite inputs and raises
:class:`NotPositiveDefiniteError` instead of returning NaN.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from companion.vlae.networks import MLP, Likelihood
from companion.vlae.posteriors import FullCovarianceGaussian

#: Damping schedules α_t of the authors' code (0.5 / (t + 1)), their first release (0.9^t), or none.
DAMPING: dict[str, Callable[[int], float]] = {
    "harmonic": lambda t: 0.5 / (t + 1),
    "geometric": lambda t: 0.9 ** t,
    "none": lambda t: 1.0,
}


class NotPositiveDefiniteError(FloatingPointError):
    """A posterior precision matrix could not be Cholesky-factorised."""


def linearize(decoder: MLP, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """g(z) and its exact Jacobian ∂g/∂z for a ReLU MLP, batched: shapes (…, D) and (…, D, d).

    The Jacobian is the masked product W_L diag(m_{L−1}) W_{L−1} ⋯ diag(m_1) W_1 with
    m_i = 1[pre-activation_i > 0], built from the input side so every product has d columns.
    It is accumulated transposed, Jᵀ ← Jᵀ W_iᵀ, so each product is one (B·d)×n by n×m matrix
    multiply; the result is returned as a transposed view.
    """
    hidden, transposed = z, None
    last = len(decoder.layers) - 1
    for index, layer in enumerate(decoder.layers):
        pre_activation = layer(hidden)
        # $J \leftarrow W_i J$ (the first layer's J is W_1 itself)
        transposed = (layer.weight.mT.expand(*z.shape[:-1], *layer.weight.mT.shape)
                      if transposed is None else transposed @ layer.weight.mT)
        if index < last:
            # $J \leftarrow \mathrm{diag}(m_i) J$, $m_i = 1[a_i > 0]$
            transposed = transposed * (pre_activation > 0).unsqueeze(-2).to(transposed.dtype)
            hidden = F.relu(pre_activation)
        else:
            hidden = pre_activation
    return hidden, transposed.mT


def decoder_jacobian(decoder: MLP, z: torch.Tensor) -> torch.Tensor:
    """The exact Jacobian ∂g/∂z of a ReLU MLP decoder at z: shape (…, D, d)."""
    return linearize(decoder, z)[1]


def laplace_precision(jacobian: torch.Tensor, curvature: torch.Tensor) -> torch.Tensor:
    """Λ = Wᵀ diag(c) W + I for a per-pixel curvature c (a vector, or a scalar such as σ⁻²)."""
    identity = torch.eye(jacobian.shape[-1], dtype=jacobian.dtype, device=jacobian.device)
    if curvature.dim() == 0:
        # $\Lambda = \sigma^{-2} W^\top W + I$
        return curvature * (jacobian.mT @ jacobian) + identity
    # $\Lambda = W^\top \mathrm{diag}(c) W + I$
    return jacobian.mT @ (jacobian * curvature.unsqueeze(-1)) + identity


def precision_cholesky(precision: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factor L of Λ = L Lᵀ; raises :class:`NotPositiveDefiniteError` on failure."""
    factor, info = torch.linalg.cholesky_ex(precision)
    failed = info > 0
    if bool(failed.any()):
        count = int(failed.sum())
        finite = bool(torch.isfinite(precision).all())
        raise NotPositiveDefiniteError(
            f"{count} of {failed.numel()} posterior precision matrices Λ = WᵀCW + I are not "
            f"positive definite (entries {'finite' if finite else 'NaN or infinite'}); Λ has "
            "eigenvalues ≥ 1 in exact arithmetic, so check the decoder weights, σ² and the data "
            "for NaN/inf or overflow"
        )
    return factor


def cholesky_solve(factor: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Λ⁻¹ r for a batch of vectors r, by two triangular solves with L."""
    return torch.cholesky_solve(rhs.unsqueeze(-1), factor).squeeze(-1)


def laplace_target(
    likelihood: Likelihood, x: torch.Tensor, mean: torch.Tensor, output: torch.Tensor,
    jacobian: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The undamped update μ' and the Cholesky factor of Λ_t, from g(μ_t) and W_t.

    Gaussian: μ' = σ⁻² Λ_t⁻¹ W_tᵀ (x − b_t); Bernoulli: μ' = μ_t + Λ_t⁻¹ (W_tᵀ(x − p) − μ_t).
    """
    factor = precision_cholesky(laplace_precision(jacobian, likelihood.output_curvature(output)))
    # $\nabla_z \log p(x, z) = W_t^\top \partial_g \log p(x|g) - \mu_t$
    gradient = (jacobian.mT @ likelihood.output_gradient(x, output).unsqueeze(-1)).squeeze(-1) - mean
    # $\mu' = \mu_t + \Lambda_t^{-1} \nabla_z \log p(x, z)$
    return mean + cholesky_solve(factor, gradient), factor


def iterative_laplace(
    decoder: MLP, likelihood: Likelihood, x: torch.Tensor, initial_mean: torch.Tensor,
    steps: int, damping: str = "harmonic",
) -> tuple[FullCovarianceGaussian, list[torch.Tensor]]:
    """Algorithm 1: T damped Laplace updates from μ₀, then q(z|x) = N(μ_T, Λ_T⁻¹).

    Returns the posterior and the iterates [μ₀, …, μ_T] (gradients flow through all of them).
    """
    schedule = DAMPING[damping]
    mean, iterates = initial_mean, [initial_mean]
    for step in range(steps):
        output, jacobian = linearize(decoder, mean)
        target, _ = laplace_target(likelihood, x, mean, output, jacobian)
        rate = schedule(step)
        # $\mu_{t+1} = (1 - \alpha_t)\mu_t + \alpha_t \mu'$
        mean = (1.0 - rate) * mean + rate * target
        iterates.append(mean)
    output, jacobian = linearize(decoder, mean)
    factor = precision_cholesky(laplace_precision(jacobian, likelihood.output_curvature(output)))
    return FullCovarianceGaussian(mean, factor), iterates
