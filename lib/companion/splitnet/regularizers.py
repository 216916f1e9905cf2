"""SplitNet's three regularisers, with the normalisations of the authors' code.

For a layer with weight W (D inputs × K outputs), input assignment p ∈ [0,1]^{G×D} and output
assignment q ∈ [0,1]^{G×K} (P_g = diag(p_g), Q_g = diag(q_g)):

* group weight (ℓ2,1 on the weights *between* groups):
  R_W = Σ_g Σ_i ‖((I−P_g) W Q_g)_{i,:}‖₂ + Σ_g Σ_j ‖(P_g W (I−Q_g))_{:,j}‖₂
* disjoint assignment: R_D = Σ_{g<h} p_g·p_h
* balanced assignment: R_E = Σ_g (Σ_i p_gi)²

Normalisations (dalgu90/splitnet-wrn, ``utils._add_split_loss``): the row sums are divided by
D√K and the column sums by √D·K, and R_W by 2(G−1)σ/G with σ = fan_in^{-1/2} the initial
weight scale, so a weight of constant magnitude σ scores 1 under uniform assignments; R_D is
divided by D(G−1)/(2G) (uniform assignments score 1, disjoint ones 0); R_E by D²/G (a perfectly
balanced split scores 1, everything in one group scores G). For a convolution kernel the entry
W_ij is the root mean square of the k×k kernel between input i and output j (the code takes the
spatial mean of W²).

Checked line by line against ``_add_split_loss``: its kernel is k×k×D×K, ``w_norm`` the D×K
spatial mean of W²; ``wg_row`` weights it by q_g² over outputs and (1 − p_g)² over inputs and
sums over outputs (``reduce_sum(·, 1)``) before the square root — per input row outside g, the
norm over outputs in g, our ``rows``; ``wg_col`` the transpose, our ``columns``; ``std_dev`` is
(k²D)^{-1/2}, our σ. Alone, with hard assignments, the term drives every split layer's
off-block weights to zero (tests/test_splitnet_regularizers.py).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from companion.splitnet.assignment import LearnedSplitWRN, SplitAssignments


def weight_magnitude(weight: torch.Tensor) -> torch.Tensor:
    """K×D magnitudes: |W| for a linear weight, the spatial RMS of each kernel for a convolution."""
    if weight.dim() == 2:
        return weight.abs()
    kernel_size = weight[0, 0].numel()
    return torch.linalg.vector_norm(weight, dim=(2, 3)) / math.sqrt(kernel_size)  # √(mean_s W²)


def group_weight_penalty(weight: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Normalised R_W of one layer; ``weight`` is K×D (linear) or K×D×k×k (convolution)."""
    outputs, inputs = weight.shape[:2]
    groups = p.shape[0]
    magnitude = weight_magnitude(weight)  # K×D
    sigma = weight[0].numel() ** -0.5  # the initial weight scale, fan_in^{-1/2}
    total = weight.new_zeros(())
    for g in range(groups):
        # Σ_i ‖((I−P_g) W Q_g)_{i*}‖₂ : weights from inputs outside g into outputs in g
        rows = torch.linalg.vector_norm(magnitude * q[g][:, None] * (1 - p[g])[None, :], dim=0)
        # Σ_j ‖(P_g W (I−Q_g))_{*j}‖₂ : weights from inputs in g into outputs outside g
        columns = torch.linalg.vector_norm(magnitude * (1 - q[g])[:, None] * p[g][None, :], dim=1)
        total = total + rows.sum() / (inputs * math.sqrt(outputs)) + columns.sum() / (math.sqrt(inputs) * outputs)
    return total / (2 * (groups - 1) * sigma / groups)


def disjoint_penalty(p: torch.Tensor) -> torch.Tensor:
    """Normalised R_D = Σ_{g<h} p_g·p_h / (D(G−1)/(2G)) for a G×D assignment."""
    groups, units = p.shape
    pairs = (p.sum(dim=0) ** 2 - (p ** 2).sum(dim=0)).sum() / 2  # Σ_{g<h} Σ_i p_gi p_hi
    return pairs / (units * (groups - 1) / (2 * groups))


def balance_penalty(p: torch.Tensor) -> torch.Tensor:
    """Normalised R_E = Σ_g (Σ_i p_gi)² / (D²/G) for a G×D assignment."""
    groups, units = p.shape
    return (p.sum(dim=1) ** 2).sum() / (units ** 2 / groups)


def split_penalties(network: nn.Module, assignments: SplitAssignments,
                    weighted: bool = True) -> dict[str, torch.Tensor]:
    """R_W, R_D and R_E of a whole network, aggregated over layers as the authors' code does.

    R_W: the mean over split layers, or (``weighted``, the released script's choice) the mean
    weighted by each layer's own detached value, Σ sg(S_l) S_l / Σ sg(S_l). R_D and R_E: the mean
    over the free assignments (merged ones are sums of free ones and are not counted twice).
    """
    weight_terms = torch.stack([
        group_weight_penalty(module.weight, assignments.probabilities(layer.input),
                             assignments.probabilities(layer.output))
        for layer, module in assignments.split_layers(network)
    ])
    if weighted:
        coefficients = weight_terms.detach()
        weight = (coefficients * weight_terms).sum() / coefficients.sum()
    else:
        weight = weight_terms.mean()
    free = [assignments.probabilities(name) for name in assignments.free_names]
    return {
        "weight": weight,
        "disjoint": torch.stack([disjoint_penalty(p) for p in free]).mean(),
        "balance": torch.stack([balance_penalty(p) for p in free]).mean(),
    }


def splitnet_regularizer(model: LearnedSplitWRN, gammas: tuple[float, float, float],
                         weighted: bool = True) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """γ1 R_W + γ2 R_D + γ3 R_E (paper's order of γ) and the three terms."""
    terms = split_penalties(model.network, model.assignments, weighted)
    gamma_weight, gamma_disjoint, gamma_balance = gammas
    total = gamma_weight * terms["weight"] + gamma_disjoint * terms["disjoint"] + gamma_balance * terms["balance"]
    return total, terms
