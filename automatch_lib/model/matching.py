"""Matching networks with a fixed operator list: what single-operator trackers, the retrained AutoMatch tracker
and the retained-k ablation use.

The responses of the listed operators, each (B, C, Hx, Wx), are concatenated along channels and fused by a 1x1
conv + BN + LeakyReLU back to C channels, as in the paper (Sec. 4.1) and the official LTM module.
"""
from __future__ import annotations

import torch
from torch import nn

from ..operators import build_operator
from ..operators.common import conv_bn_act


class MatchingNetwork(nn.Module):
    """Fixed set of matching operators fused by concatenation + 1x1 conv."""

    def __init__(self, operators: list[str], channels: int):
        super().__init__()
        if not operators:
            raise ValueError("a matching network needs at least one operator")
        self.names = list(operators)
        self.ops = nn.ModuleList(build_operator(n, channels) for n in self.names)
        self.fuse = conv_bn_act(len(self.names) * channels, channels, k=1)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([op(search_feat, template_feat, template_box) for op in self.ops], dim=1))

    def arch_parameters(self) -> list[nn.Parameter]:
        """A fixed network has no architecture parameters."""
        return []
