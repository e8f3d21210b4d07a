"""FiLM (paper Eq. 5): gamma = Conv(f_z), beta = Conv(f_z), R = (1 + gamma) * Fx + beta.

The template vector f_z (B, C, 1, 1) predicts a per-channel affine modulation of the embedded search feature
(B, C, Hx, Wx). As in the official code the scale is parameterised as 1 + gamma, so gamma = beta = 0 is the
identity on the embedded search feature.
"""
from __future__ import annotations

import torch
from torch import nn

from .common import LEAKY_SLOPE, TemplateVector, conv1x1


class FiLM(nn.Module):
    """Feature-wise linear modulation of the search map by the template vector."""

    def __init__(self, channels: int):
        super().__init__()
        self.template_vector = TemplateVector(channels)
        self.embed_x = conv1x1(channels, channels)
        self.gamma = nn.Sequential(conv1x1(channels, channels), nn.LeakyReLU(LEAKY_SLOPE))
        self.beta = nn.Sequential(conv1x1(channels, channels), nn.LeakyReLU(LEAKY_SLOPE))

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        f = self.template_vector(template_feat, template_box)
        return (1 + self.gamma(f)) * self.embed_x(search_feat) + self.beta(f)
