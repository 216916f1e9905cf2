"""Parameters and FLOPs with the paper's counting rule, for full and split networks.

The rule that reproduces the paper's WRN-16-8 (11,000,340 parameters, 3.096 GFLOPs at 32×32):
convolution kernels (the network has no convolution biases) plus the classifier's weights and
biases; batch-norm parameters are not counted. FLOPs are 2 × multiply-adds per image: a
convolution costs 2 × (kernel entries) × (output positions), a linear layer 2 × (weights and
biases). A split network is counted the same way, so its reduction comes from the actual sizes
of its groups, not from an equal-size formula.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch import nn


@dataclass(frozen=True)
class Cost:
    """Size and cost of a network for one image."""

    parameters: int
    flops: int


def layer_costs(model: nn.Module, input_shape: Sequence[int]) -> pd.DataFrame:
    """One row per convolution and linear layer: name, parameters, FLOPs for one image.

    ``input_shape`` is C×H×W; one forward pass of a copy of the model on the "meta" device
    (shapes only, no arithmetic) measures the output sizes.
    """
    model = copy.deepcopy(model).to("meta").eval()
    rows: list[dict[str, object]] = []
    names = {module: name for name, module in model.named_modules()}

    def record(module: nn.Module, _inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        parameters = module.weight.numel() + (module.bias.numel() if module.bias is not None else 0)
        positions = output[0, 0].numel() if isinstance(module, nn.Conv2d) else 1
        rows.append({"layer": names[module], "kind": type(module).__name__,
                     "parameters": parameters, "flops": 2 * parameters * positions})

    handles = [module.register_forward_hook(record) for module in model.modules()
               if isinstance(module, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        model(torch.zeros(1, *input_shape, device="meta"))
    for handle in handles:
        handle.remove()
    return pd.DataFrame(rows, columns=["layer", "kind", "parameters", "flops"])


def count_cost(model: nn.Module, input_shape: Sequence[int]) -> Cost:
    """Total parameters and FLOPs of ``model`` for one C×H×W image."""
    costs = layer_costs(model, input_shape)
    return Cost(int(costs["parameters"].sum()), int(costs["flops"].sum()))


def reduction(full: Cost, split: Cost) -> dict[str, float]:
    """Parameters and FLOPs of a split network and their reductions (%) from the full one."""
    return {
        "params_M": split.parameters / 1e6,
        "params_reduced_pct": 100 * (1 - split.parameters / full.parameters),
        "gflops": split.flops / 1e9,
        "flops_reduced_pct": 100 * (1 - split.flops / full.flops),
    }
