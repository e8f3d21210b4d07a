"""Concatenation (paper Eq. 2): R = Conv1x1([f_z, Fx]).

f_z is the template vector pooled inside the template box (TemplateVector, shape (B, C, 1, 1)), tiled over the
search map and concatenated with the embedded search feature (B, 2C, Hx, Wx); a 1x1 conv maps back to C channels.
"""
from __future__ import annotations

import torch
from torch import nn

from .common import TemplateVector, conv1x1


class Concatenation(nn.Module):
    """Relation-network style pairwise function: tile the template vector, concatenate, 1x1 conv."""

    def __init__(self, channels: int):
        super().__init__()
        self.template_vector = TemplateVector(channels)
        self.embed_x = conv1x1(channels, channels)
        self.fuse = conv1x1(2 * channels, channels)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        x = self.embed_x(search_feat)
        f = self.template_vector(template_feat, template_box).expand_as(x)
        return self.fuse(torch.cat([f, x], dim=1))
