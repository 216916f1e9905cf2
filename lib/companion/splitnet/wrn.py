"""Wide residual networks (WRN-d-k, Zagoruyko & Komodakis 2016), the base network SplitNet splits.

WRN-d-k has a 3×3 stem convolution to 16 channels, then three stages of n = (d − 4) / 6
pre-activation residual blocks with 16k, 32k and 64k channels (strides 1, 2, 2), then batch
norm, ReLU, global average pooling and a linear classifier. Each block computes
``conv2(relu(bn2(conv1(relu(bn1(x)))))) + shortcut``, where the shortcut is a 1×1 convolution
of ``relu(bn1(x))`` when the width or resolution changes, else ``x`` itself.

Every block takes its own middle width, so a branch of a split network (a block restricted to
one group's channels) is the same class with fewer channels. Initialisation follows the
authors' code: kernels ~ N(0, 1/fan_in), zero biases, BN scale 1 and shift 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

STRIDES = (1, 2, 2)
BASE_CHANNELS = 16


def blocks_per_stage(depth: int) -> int:
    """n = (d − 4) / 6 blocks per stage for WRN-d-k; d must be 6n + 4 with n ≥ 1."""
    if depth < 10 or (depth - 4) % 6:
        raise ValueError(f"depth={depth} is not a WRN depth; valid: 6n + 4 with n ≥ 1 (10, 16, 22, 28, ...)")
    return (depth - 4) // 6


def stage_channels(width: int, base: int = BASE_CHANNELS) -> tuple[int, int, int, int]:
    """Channels of the stem and the three stages: (16, 16k, 32k, 64k)."""
    return base, base * width, 2 * base * width, 4 * base * width


def init_weights(module: nn.Module) -> None:
    """The authors' initialisation: kernels ~ N(0, 1/fan_in), zero biases, BN (1, 0)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            fan_in = layer.weight[0].numel()
            nn.init.normal_(layer.weight, std=fan_in ** -0.5)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d):
            nn.init.ones_(layer.weight)
            nn.init.zeros_(layer.bias)


class PreActBlock(nn.Module):
    """A pre-activation residual block with its own input, middle and output widths.

    Args:
        in_channels: channels of the block's input.
        mid_channels: channels between the two 3×3 convolutions.
        out_channels: channels of the block's output.
        stride: stride of the first convolution (and of the projection shortcut).
        projection: use a 1×1 convolution shortcut (else the identity; needs equal widths).
        dropout: dropout probability before each convolution (SplitNet's grouping phase).
    """

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int, stride: int = 1,
                 projection: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        if not projection and (in_channels != out_channels or stride != 1):
            raise ValueError("an identity shortcut needs equal widths and stride 1")
        self.bn1 = nn.BatchNorm2d(in_channels)
        self.conv1 = nn.Conv2d(in_channels, mid_channels, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.conv2 = nn.Conv2d(mid_channels, out_channels, 3, 1, 1, bias=False)
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride, bias=False) if projection else None
        self.stride = stride
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        activated = F.dropout(F.relu(self.bn1(x)), self.dropout, self.training)
        shortcut = x if self.shortcut is None else self.shortcut(activated)
        hidden = F.dropout(F.relu(self.bn2(self.conv1(activated))), self.dropout, self.training)
        return self.conv2(hidden) + shortcut


class ClassifierHead(nn.Module):
    """Batch norm, ReLU, global average pooling, dropout and the linear classifier."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_features)
        self.linear = nn.Linear(in_features, num_classes)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.relu(self.bn(x)).mean(dim=(2, 3))
        return self.linear(F.dropout(pooled, self.dropout, self.training))


def make_stage(in_channels: int, out_channels: int, blocks: int, stride: int,
               dropout: float = 0.0) -> nn.Sequential:
    """A stage of ``blocks`` residual blocks; the first changes width and resolution."""
    layers = [PreActBlock(in_channels, out_channels, out_channels, stride,
                          projection=in_channels != out_channels or stride != 1, dropout=dropout)]
    layers += [PreActBlock(out_channels, out_channels, out_channels, 1, dropout=dropout)
               for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class WideResNet(nn.Module):
    """WRN-``depth``-``width`` for C×H×W images (32×32, 28×28, 8×8 all work: pooling is global).

    Args:
        depth: 6n + 4 (16 in the paper).
        width: the widening factor k (8 in the paper).
        num_classes: outputs of the classifier.
        in_channels: image channels (3 for CIFAR, 1 for digits and MNIST).
        dropout: dropout probability in each of the three stages and in the head (four values).
    """

    def __init__(self, depth: int = 16, width: int = 8, num_classes: int = 100,
                 in_channels: int = 3, dropout: Sequence[float] = (0.0, 0.0, 0.0, 0.0)) -> None:
        super().__init__()
        if len(dropout) != len(STRIDES) + 1:
            raise ValueError(f"dropout needs {len(STRIDES) + 1} values (stages, head); got {list(dropout)}")
        self.depth, self.width, self.num_classes = depth, width, num_classes
        blocks = blocks_per_stage(depth)
        channels = stage_channels(width)
        self.stem = nn.Conv2d(in_channels, channels[0], 3, 1, 1, bias=False)
        self.stages = nn.ModuleList(
            make_stage(channels[i], channels[i + 1], blocks, stride, dropout[i])
            for i, stride in enumerate(STRIDES)
        )
        self.head = ClassifierHead(channels[-1], num_classes, dropout[-1])
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)
