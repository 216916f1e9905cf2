"""The MLP family every VLAE-chapter model shares, and the two output likelihoods.

All models use the same fully connected ReLU encoder and decoder (the authors' code: two hidden
layers of 500 units). A ReLU decoder is piece-wise linear in z, which is what makes the Laplace
updates of :mod:`companion.vlae.laplace` exact on each linear piece.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

#: Weight initialisations (on every Linear of the model), PyTorch's default or the authors'.
INITS = ("torch", "authors")

LOG_2PI = math.log(2.0 * math.pi)


class MLP(nn.Module):
    """Linear → ReLU → … → Linear, with no activation on the output.

    Args:
        sizes: layer widths from input to output, e.g. ``[50, 500, 500, 784]``; two sizes
            give a linear map.
    """

    def __init__(self, sizes: Sequence[int]) -> None:
        super().__init__()
        if len(sizes) < 2:
            raise ValueError(f"an MLP needs at least an input and an output size, got {sizes}")
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        hidden = inputs
        for layer in self.layers[:-1]:
            hidden = F.relu(layer(hidden))
        return self.layers[-1](hidden)


class Encoder(nn.Module):
    """x → ReLU features h → mean (and log-variance) of a diagonal Gaussian over z.

    Args:
        input_dim: pixels per image D.
        latent_dim: dimension of z.
        hidden_dims: widths of the hidden layers (the authors: 500, 500).
        variance_head: also output log σ²(x); VLAE uses only the mean.
    """

    def __init__(self, input_dim: int, latent_dim: int, hidden_dims: Sequence[int],
                 variance_head: bool = True) -> None:
        super().__init__()
        self.trunk = MLP([input_dim, *hidden_dims])
        self.mean = nn.Linear(hidden_dims[-1], latent_dim)
        self.log_var = nn.Linear(hidden_dims[-1], latent_dim) if variance_head else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """(mean, log-variance or None, features h) for a batch x."""
        features = F.relu(self.trunk(x))
        log_var = self.log_var(features) if self.log_var is not None else None
        return self.mean(features), log_var, features


class MaskedLinear(nn.Linear):
    """A Linear layer whose weight is multiplied by a fixed 0/1 ``mask`` (out × in)."""

    def __init__(self, in_features: int, out_features: int, mask: torch.Tensor, bias: bool = True) -> None:
        super().__init__(in_features, out_features, bias)
        if mask.shape != (out_features, in_features):
            raise ValueError(f"mask of shape {tuple(mask.shape)} for a {in_features}→{out_features} layer")
        self.register_buffer("mask", mask.to(self.weight.dtype))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return F.linear(inputs, self.weight * self.mask, self.bias)


class MADE(nn.Module):
    """One-hidden-layer autoregressive network (Germain et al. 2015) with a context input:
    (z, h) → (m, s), where m_i and s_i depend on z_1 … z_{i−1} and on h only.

    Hidden unit k has degree k mod (d − 1) + 1 and sees z_j for j ≤ its degree; output i sees
    the hidden units of degree < i. The context h reaches every hidden unit (Kingma et al. 2016).
    s starts with bias 2, so an IAF step starts near the identity (σ = sigmoid(s) ≈ 0.88).

    Args:
        latent_dim: dimension d of z.
        context_dim: dimension of the context h (the encoder's features).
        hidden_dim: hidden units.
    """

    def __init__(self, latent_dim: int, context_dim: int, hidden_dim: int) -> None:
        super().__init__()
        degrees = torch.arange(hidden_dim) % max(latent_dim - 1, 1) + 1
        inputs = torch.arange(1, latent_dim + 1)
        self.latent = MaskedLinear(latent_dim, hidden_dim, (inputs[None, :] <= degrees[:, None]).float())
        self.context = nn.Linear(context_dim, hidden_dim, bias=False)
        output_mask = (inputs[:, None] > degrees[None, :]).float()
        self.shift = MaskedLinear(hidden_dim, latent_dim, output_mask)
        self.gate = MaskedLinear(hidden_dim, latent_dim, output_mask)
        nn.init.constant_(self.gate.bias, 2.0)
        self.activation = nn.PReLU()

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(m, s) for z (…, B, d) and context (B, H)."""
        hidden = self.activation(self.latent(z) + self.context(context))
        return self.shift(hidden), self.gate(hidden)


def initialise(model: nn.Module, init: str) -> None:
    """Re-initialise every Linear: ``"authors"`` is kaiming_uniform_(a=2^(1/3), fan_out)."""
    if init not in INITS:
        raise ValueError(f"init={init!r} is not valid; valid values: {list(INITS)}")
    if init == "authors":
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_uniform_(module.weight, a=2.0 ** (1.0 / 3.0), mode="fan_out")


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * LOG_2PI)


class GaussianLikelihood(nn.Module):
    """p(x|z) = N(g(z), σ² I) with one learned scalar log σ² shared by all pixels.

    Args:
        log_var: initial log σ² (the authors: log of the centred data's mean squared value).
    """

    def __init__(self, log_var: float = 0.0) -> None:
        super().__init__()
        self.log_var = nn.Parameter(torch.tensor(float(log_var)))

    def log_prob(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """log N(x; g(z), σ² I) summed over pixels (``output`` = g(z), broadcast against x)."""
        # $-\frac{1}{2}\left(D \log 2\pi\sigma^2 + \|x - g(z)\|^2 / \sigma^2\right)$
        squared = (x - output).pow(2).sum(-1)
        return -0.5 * (x.shape[-1] * (LOG_2PI + self.log_var) + squared * torch.exp(-self.log_var))

    def output_gradient(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """∂ log p(x|z) / ∂g = σ⁻² (x − g)."""
        return (x - output) * torch.exp(-self.log_var)

    def output_curvature(self, output: torch.Tensor) -> torch.Tensor:
        """−∂² log p(x|z) / ∂g² = σ⁻² I, returned as the scalar σ⁻²."""
        return torch.exp(-self.log_var)


class BernoulliLikelihood(nn.Module):
    """p(x|z) = Bernoulli(sigmoid(g(z))): the decoder outputs logits."""

    #: the authors' code (network.py) clamps p to [ε, 1 − ε] and adds ε to p(1 − p)
    clamp = 1e-5

    def log_prob(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """Σ_pixels x log p + (1 − x) log(1 − p) with p = sigmoid(g(z))."""
        x, output = torch.broadcast_tensors(x, output)
        return -F.binary_cross_entropy_with_logits(output, x, reduction="none").sum(-1)

    def output_gradient(self, x: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
        """∂ log p(x|z) / ∂g = x − p."""
        return x - torch.sigmoid(output)

    def output_curvature(self, output: torch.Tensor) -> torch.Tensor:
        """−∂² log p(x|z) / ∂g² = diag(p(1 − p)), returned as the vector p(1 − p) + ε (p
        clamped to [ε, 1 − ε], as the authors do), so that no pixel's curvature is 0."""
        p = torch.sigmoid(output).clamp(self.clamp, 1.0 - self.clamp)
        return p * (1.0 - p) + self.clamp


Likelihood = GaussianLikelihood | BernoulliLikelihood

#: Likelihood names accepted by :func:`make_likelihood` and the chapter's ``likelihood`` parameter.
LIKELIHOODS = ("gaussian", "bernoulli")


def make_likelihood(name: str, log_var: float = 0.0) -> Likelihood:
    """The output likelihood ``name`` ("gaussian" starts at log σ² = ``log_var``)."""
    if name not in LIKELIHOODS:
        raise ValueError(f"likelihood={name!r} is not valid; valid values: {list(LIKELIHOODS)}")
    return GaussianLikelihood(log_var) if name == "gaussian" else BernoulliLikelihood()
