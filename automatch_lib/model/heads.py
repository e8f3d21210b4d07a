"""Ocean-style anchor-free heads: a classification tower -> 1 score map, a regression tower -> exp(l, t, r, b)."""
from __future__ import annotations

import torch
from torch import nn

from ..operators.common import conv_bn_act


class ClassificationHead(nn.Module):
    """n x (3x3 conv + BN + ReLU) then a 3x3 conv to one logit per cell: (B, C, H, W) -> (B, 1, H, W)."""

    def __init__(self, channels: int, layers: int = 2):
        super().__init__()
        self.tower = nn.Sequential(*[conv_bn_act(channels, channels, act="relu") for _ in range(layers)])
        self.score = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.score(self.tower(x))


class RegressionHead(nn.Module):
    """n x (3x3 conv + BN + ReLU), 3x3 conv to 4, then stride * exp(adjust * x + bias): ltrb in crop pixels.

    The learnable scalar `adjust` (init 0.1) and per-side `bias` (init 1.0) follow the official head; the stride
    factor makes the initial distances proportional to the feature grid instead of 1-3 pixels.
    """

    def __init__(self, channels: int, stride: int, layers: int = 2):
        super().__init__()
        self.tower = nn.Sequential(*[conv_bn_act(channels, channels, act="relu") for _ in range(layers)])
        self.pred = nn.Conv2d(channels, 4, 3, padding=1)
        self.adjust = nn.Parameter(torch.tensor(0.1))
        self.bias = nn.Parameter(torch.ones(1, 4, 1, 1))
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stride * torch.exp((self.adjust * self.pred(self.tower(x)) + self.bias).clamp(max=8.0))
