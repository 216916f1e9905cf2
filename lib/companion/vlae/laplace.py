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
construction (eigenvalues ≥ 1), but a float32 factorisation can fail on a large condition
number: those matrices are formed and factorised again in float64 (:func:`factor_precision`); non-finite
inputs raise :class:`NotPositiveDefiniteError` instead of returning NaN.

The update needs W only through Λ and Wᵀv. Writing the decoder as g(z) = W_L h(z) + b_L with
h its last hidden layer, W = W_L A where A = ∂h/∂z = diag(m_{L−1}) W_{L−1} ⋯ diag(m_1) W_1.
With a Gaussian likelihood Λ = σ⁻² Aᵀ G A + I and Wᵀv = Aᵀ(W_Lᵀ v), with G = W_LᵀW_L computed
once per call for the whole batch, so W (D×d per example) is never formed: the "gram" path
(:class:`GramLinearization`). It does fewer FLOPs roughly when the last hidden width is below
the output size (:func:`jacobian_flops`). The "explicit" path (:class:`ExplicitLinearization`)
forms W; it serves the Bernoulli likelihood and is the reference. "auto" picks the cheaper one.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from companion.vlae.networks import MLP, GaussianLikelihood, Likelihood
from companion.vlae.posteriors import FullCovarianceGaussian

#: Damping schedules α_t of the authors' code (0.5 / (t + 1)), their first release (0.9^t), or none.
DAMPING: dict[str, Callable[[int], float]] = {
    "harmonic": lambda t: 0.5 / (t + 1),
    "geometric": lambda t: 0.9 ** t,
    "none": lambda t: 1.0,
}


#: How an update gets Λ and Wᵀv. "explicit" forms W, "gram" uses G = W_LᵀW_L (Gaussian
#: likelihood only), "auto" picks the one with fewer FLOPs.
JACOBIANS = ("auto", "explicit", "gram")


class NotPositiveDefiniteError(FloatingPointError):
    """A posterior precision matrix could not be Cholesky-factorised."""


def hidden_linearization(decoder: MLP, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """g(z) and Aᵀ, the transposed Jacobian A = ∂h/∂z of the last hidden layer h: (…, D), (…, d, h).

    A is the masked product diag(m_{L−1}) W_{L−1} ⋯ diag(m_1) W_1 with m_i = 1[pre-activation_i
    > 0], built from the input side so every product has d columns. It is accumulated
    transposed, Aᵀ ← Aᵀ W_iᵀ, so each product is one (B·d)×n by n×m matrix multiply. A
    decoder without hidden layers has h = z and A = I.
    """
    hidden, transposed = z, None
    for layer in decoder.layers[:-1]:
        pre_activation = layer(hidden)
        # $A \leftarrow W_i A$ (the first layer's A is W_1 itself)
        transposed = (layer.weight.mT.expand(*z.shape[:-1], *layer.weight.mT.shape)
                      if transposed is None else transposed @ layer.weight.mT)
        # $A \leftarrow \mathrm{diag}(m_i) A$, $m_i = 1[a_i > 0]$
        transposed = transposed * (pre_activation > 0).unsqueeze(-2).to(transposed.dtype)
        hidden = F.relu(pre_activation)
    if transposed is None:
        transposed = torch.eye(z.shape[-1], dtype=z.dtype, device=z.device).expand(*z.shape, z.shape[-1])
    return decoder.layers[-1](hidden), transposed


def linearize(decoder: MLP, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """g(z) and its exact Jacobian ∂g/∂z for a ReLU MLP, batched: shapes (…, D) and (…, D, d).

    The Jacobian is W_L A (:func:`hidden_linearization`), computed transposed as one matrix
    multiply and returned as a transposed view.
    """
    output, hidden_transposed = hidden_linearization(decoder, z)
    # $W = W_L A$
    return output, (hidden_transposed @ decoder.layers[-1].weight.mT).mT


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


class GramQuadratic(torch.autograd.Function):
    """Aᵀ G A for a batch of Aᵀ (…, d, h) and one symmetric G (h, h).

    Autograd would differentiate the two products separately and spend a second h²·d product
    on ∂/∂A = G (A Γ); with G symmetric it is (Γ + Γᵀ) Aᵀ G, from the forward's Aᵀ G (saved).
    ∂/∂G = Σ_batch A Γ Aᵀ is one (h × B·d) by (B·d × h) product. Exact; not twice differentiable.
    """

    @staticmethod
    def forward(ctx, hidden_transposed: torch.Tensor, gram: torch.Tensor) -> torch.Tensor:
        # $A^\top G$ (the batch folds into one matrix product)
        weighted = hidden_transposed @ gram
        ctx.save_for_backward(hidden_transposed, weighted)
        # $A^\top G A$
        return weighted @ hidden_transposed.mT

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        hidden_transposed, weighted = ctx.saved_tensors
        grad_hidden = grad_gram = None
        if ctx.needs_input_grad[0]:
            # $\partial / \partial A^\top = (\Gamma + \Gamma^\top) A^\top G$
            grad_hidden = (grad + grad.mT) @ weighted
        if ctx.needs_input_grad[1]:
            width = hidden_transposed.shape[-1]
            # $\partial / \partial G = \sum_b A_b \Gamma_b A_b^\top$
            grad_gram = hidden_transposed.reshape(-1, width).mT @ (grad @ hidden_transposed).reshape(-1, width)
        return grad_hidden, grad_gram


def gram_precision(hidden_transposed: torch.Tensor, gram: torch.Tensor, curvature: torch.Tensor) -> torch.Tensor:
    """Λ = c Aᵀ G A + I (= c WᵀW + I for W = W_L A, G = W_LᵀW_L) for a scalar curvature c."""
    if curvature.dim() != 0:
        raise ValueError("the Gram path needs one curvature for every pixel (a Gaussian likelihood); "
                         "use jacobian='explicit' for a per-pixel curvature such as the Bernoulli's")
    identity = torch.eye(hidden_transposed.shape[-2], dtype=gram.dtype, device=gram.device)
    # $\Lambda = \sigma^{-2} A^\top G A + I$
    return curvature * GramQuadratic.apply(hidden_transposed, gram) + identity


class ExplicitLinearization:
    """The decoder linearised at μ with W = ∂g/∂z(μ) formed (any likelihood).

    Args:
        output: g(μ), shape (…, D).
        jacobian: W, shape (…, D, d).
    """

    def __init__(self, output: torch.Tensor, jacobian: torch.Tensor) -> None:
        self.output, self.jacobian = output, jacobian

    def precision(self, curvature: torch.Tensor) -> torch.Tensor:
        """Λ = Wᵀ diag(c) W + I."""
        return laplace_precision(self.jacobian, curvature)

    def precision_float64(self, curvature: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Λ of the examples selected by the boolean mask ``rows``, formed in float64."""
        curvature = curvature if curvature.dim() == 0 else curvature[rows]
        return laplace_precision(self.jacobian[rows].double(), curvature.double())

    def transpose_times(self, vector: torch.Tensor) -> torch.Tensor:
        """Wᵀ v for a batch of vectors v (…, D)."""
        return (self.jacobian.mT @ vector.unsqueeze(-1)).squeeze(-1)


class GramLinearization:
    """The decoder linearised at μ with W = W_L A never formed (scalar curvature only).

    Args:
        output: g(μ), shape (…, D).
        hidden_transposed: Aᵀ, the last hidden layer's transposed Jacobian, shape (…, d, h).
        last_weight: W_L, shape (D, h).
        gram: G = W_LᵀW_L (:func:`decoder_gram`), shared by the batch.
    """

    def __init__(self, output: torch.Tensor, hidden_transposed: torch.Tensor, last_weight: torch.Tensor,
                 gram: torch.Tensor) -> None:
        self.output, self.hidden_transposed = output, hidden_transposed
        self.last_weight, self.gram = last_weight, gram

    def precision(self, curvature: torch.Tensor) -> torch.Tensor:
        """Λ = c Aᵀ G A + I."""
        return gram_precision(self.hidden_transposed, self.gram, curvature)

    def precision_float64(self, curvature: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Λ of the examples selected by the boolean mask ``rows``, formed in float64 (G too)."""
        weight = self.last_weight.double()
        # $G = W_L^\top W_L$, in float64
        return gram_precision(self.hidden_transposed[rows].double(), weight.mT @ weight, curvature.double())

    def transpose_times(self, vector: torch.Tensor) -> torch.Tensor:
        """Wᵀ v = Aᵀ (W_Lᵀ v) for a batch of vectors v (…, D)."""
        # $W^\top v = A^\top (W_L^\top v)$
        return (self.hidden_transposed @ (vector @ self.last_weight).unsqueeze(-1)).squeeze(-1)


Linearization = ExplicitLinearization | GramLinearization


def decoder_gram(decoder: MLP) -> torch.Tensor:
    """G = W_LᵀW_L of the decoder's last layer (its bias does not enter)."""
    weight = decoder.layers[-1].weight
    # $G = W_L^\top W_L$
    return weight.mT @ weight


def decoder_linearization(decoder: MLP, z: torch.Tensor, gram: torch.Tensor | None = None) -> Linearization:
    """The decoder linearised at z: explicit, or by the Gram path when G (:func:`decoder_gram`) is given."""
    if gram is None:
        return ExplicitLinearization(*linearize(decoder, z))
    output, hidden_transposed = hidden_linearization(decoder, z)
    return GramLinearization(output, hidden_transposed, decoder.layers[-1].weight, gram)


def jacobian_flops(latent: int, hidden: int, pixels: int, batch: int, steps: int) -> dict[str, int]:
    """FLOPs (2 per multiply-add) in which the two paths differ, for Algorithm 1 on a batch:
    T + 1 precisions (the last one for q) and T gradients Wᵀv.

    Explicit, per example: W = W_L A (d·h·D) and WᵀW (d²·D) per precision, Wᵀv (d·D) per
    gradient. Gram: G = W_LᵀW_L once (h²·D), then per example Aᵀ G (h²·d) and (AᵀG) A (d²·h)
    per precision, W_Lᵀv (h·D) and Aᵀ(W_Lᵀv) (d·h) per gradient. Both share the decoder pass,
    A, the Cholesky factorisations and the solves.
    """
    explicit = (steps + 1) * (latent * hidden * pixels + latent ** 2 * pixels) + steps * latent * pixels
    gram = (steps + 1) * (hidden ** 2 * latent + latent ** 2 * hidden) + steps * (hidden * pixels + latent * hidden)
    return {"explicit": 2 * batch * explicit, "gram": 2 * hidden ** 2 * pixels + 2 * batch * gram}


def check_jacobian(jacobian: str, likelihood: Likelihood) -> None:
    """Raise ValueError unless ``jacobian`` is one of :data:`JACOBIANS` usable with ``likelihood``."""
    if jacobian not in JACOBIANS:
        raise ValueError(f"jacobian={jacobian!r} is not valid; valid values: {list(JACOBIANS)}")
    if jacobian == "gram" and not isinstance(likelihood, GaussianLikelihood):
        raise ValueError(f"jacobian='gram' needs a Gaussian likelihood, not {type(likelihood).__name__}; "
                         "valid values for it: ['auto', 'explicit']")


def choose_jacobian(jacobian: str, likelihood: Likelihood, decoder: MLP, batch: int, steps: int) -> str:
    """"explicit" or "gram": as forced, or for "auto" the Gram path exactly when it does fewer
    FLOPs (:func:`jacobian_flops`) and the likelihood is Gaussian."""
    check_jacobian(jacobian, likelihood)
    if jacobian != "auto":
        return jacobian
    if not isinstance(likelihood, GaussianLikelihood):
        return "explicit"
    last = decoder.layers[-1]
    flops = jacobian_flops(decoder.layers[0].in_features, last.in_features, last.out_features, batch, steps)
    return "gram" if flops["gram"] < flops["explicit"] else "explicit"


def precision_cholesky(precision: torch.Tensor,
                       float64: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Lower Cholesky factor L of Λ = L Lᵀ (batched; differentiable).

    Λ = WᵀCW + I has every eigenvalue ≥ 1 in exact arithmetic, but as the output variance
    collapses (C = σ⁻² large) float32 rounding of WᵀCW — of the order of its largest entry
    times 6·10⁻⁸ — can outweigh the I, and the factorisation fails (the authors' open issue: a
    "not positive-definite" crash). Matrices whose factorisation fails with finite entries are
    formed again in float64 by ``float64`` (given the boolean mask of the failed matrices; by
    default the float32 matrices cast up), factorised there and cast back; only non-finite
    entries, or a matrix that fails in float64 too, raise :class:`NotPositiveDefiniteError`.
    """
    factor, info = torch.linalg.cholesky_ex(precision)
    failed = info > 0
    if not bool(failed.any()):
        return factor
    count = int(failed.sum())
    if not bool(torch.isfinite(precision).all()):
        raise NotPositiveDefiniteError(
            f"{count} of {failed.numel()} posterior precision matrices Λ = WᵀCW + I are not "
            "positive definite (entries NaN or infinite); check the decoder weights, σ² and the "
            "data for NaN/inf or overflow")
    identity = torch.eye(precision.shape[-1], dtype=precision.dtype, device=precision.device)
    # the failed matrices' float32 factors are discarded: factor the identity in their place,
    # so that no gradient passes through a failed factorisation
    factor = torch.linalg.cholesky(torch.where(failed[..., None, None], identity, precision))
    redone, info = torch.linalg.cholesky_ex(float64(failed) if float64 else precision[failed].double())
    if bool((info > 0).any()):
        raise NotPositiveDefiniteError(
            f"{int((info > 0).sum())} of {failed.numel()} posterior precision matrices Λ = WᵀCW + I "
            "are not positive definite even in float64 (entries finite); Λ has eigenvalues ≥ 1 in "
            "exact arithmetic, so check the decoder weights and σ² for overflow")
    return factor.index_put((failed,), redone.to(factor.dtype))


def factor_precision(linearization: Linearization, curvature: torch.Tensor) -> torch.Tensor:
    """The Cholesky factor of Λ_t from a linearisation (:func:`precision_cholesky`, redoing in
    float64 from the linearisation's own factors the matrices float32 cannot factorise)."""
    return precision_cholesky(linearization.precision(curvature),
                              lambda rows: linearization.precision_float64(curvature, rows))


def cholesky_solve(factor: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Λ⁻¹ r for a batch of vectors r, by two triangular solves with L."""
    return torch.cholesky_solve(rhs.unsqueeze(-1), factor).squeeze(-1)


def laplace_target(
    likelihood: Likelihood, x: torch.Tensor, mean: torch.Tensor, linearization: Linearization,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The undamped update μ' and the Cholesky factor of Λ_t, from the decoder linearised at μ_t.

    Gaussian: μ' = σ⁻² Λ_t⁻¹ W_tᵀ (x − b_t); Bernoulli: μ' = μ_t + Λ_t⁻¹ (W_tᵀ(x − p) − μ_t).
    """
    output = linearization.output
    factor = factor_precision(linearization, likelihood.output_curvature(output))
    # $\nabla_z \log p(x, z) = W_t^\top \partial_g \log p(x|g) - \mu_t$
    gradient = linearization.transpose_times(likelihood.output_gradient(x, output)) - mean
    # $\mu' = \mu_t + \Lambda_t^{-1} \nabla_z \log p(x, z)$
    return mean + cholesky_solve(factor, gradient), factor


def iterative_laplace(
    decoder: MLP, likelihood: Likelihood, x: torch.Tensor, initial_mean: torch.Tensor,
    steps: int, damping: str = "harmonic", jacobian: str = "auto",
) -> tuple[FullCovarianceGaussian, list[torch.Tensor]]:
    """Algorithm 1: T damped Laplace updates from μ₀, then q(z|x) = N(μ_T, Λ_T⁻¹).

    ``jacobian`` is one of :data:`JACOBIANS` (:func:`choose_jacobian`); the Gram path computes G
    once for all T + 1 linearisations. Returns the posterior and the iterates [μ₀, …, μ_T]
    (gradients flow through all of them).
    """
    schedule = DAMPING[damping]
    batch = initial_mean.numel() // initial_mean.shape[-1]
    path = choose_jacobian(jacobian, likelihood, decoder, batch, steps)
    gram = decoder_gram(decoder) if path == "gram" else None
    mean, iterates = initial_mean, [initial_mean]
    for step in range(steps):
        target, _ = laplace_target(likelihood, x, mean, decoder_linearization(decoder, mean, gram))
        rate = schedule(step)
        # $\mu_{t+1} = (1 - \alpha_t)\mu_t + \alpha_t \mu'$
        mean = (1.0 - rate) * mean + rate * target
        iterates.append(mean)
    final = decoder_linearization(decoder, mean, gram)
    factor = factor_precision(final, likelihood.output_curvature(final.output))
    return FullCovarianceGaussian(mean, factor), iterates
