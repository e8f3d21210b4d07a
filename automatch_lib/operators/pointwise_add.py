"""Pointwise-Addition (paper Eq. 3): R = f_z + Fx.

Like the Hadamard product of a 1x1 depthwise correlation, with addition instead of multiplication: the
template vector f_z (B, C, 1, 1) is broadcast over the embedded search map (B, C, Hx, Wx).
"""
from __future__ import annotations

import torch
from torch import nn

from .common import TemplateVector, conv1x1


class PointwiseAddition(nn.Module):
    """Add the embedded template vector to every position of the embedded search map."""

    def __init__(self, channels: int):
        super().__init__()
        self.template_vector = TemplateVector(channels)
        self.embed_x = conv1x1(channels, channels)
        self.embed_z = conv1x1(channels, channels)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        return self.embed_x(search_feat) + self.embed_z(self.template_vector(template_feat, template_box))
