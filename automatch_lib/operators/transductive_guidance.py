"""Transductive-Guidance (paper Eqs. 7-9): A = softmax(S(Fx) S(Fz)), G = A S(M_z), R = G + Fx.

The affinity of each search cell to all template cells (softmax over template cells, scaled dot product of 1x1
embeddings) propagates the template's pseudo mask M_z (1 inside the template box, 0 outside, fractional on the
border; built from template_box) to the search map. G (B, 1, Hx, Wx) is the foreground probability of each
search cell and is added to the raw search feature, broadcast over channels, as in the official code.
"""
from __future__ import annotations

import torch
from torch import nn

from .common import box_mask, conv1x1, flatten_positions


class TransductiveGuidance(nn.Module):
    """Mask propagation from the template to the search map through feature affinity."""

    def __init__(self, channels: int, embed_channels: int | None = None):
        super().__init__()
        self.embed_channels = embed_channels or max(8, channels // 4)
        self.embed_x = conv1x1(channels, self.embed_channels)
        self.embed_z = conv1x1(channels, self.embed_channels)

    def guidance(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                 template_box: torch.Tensor) -> torch.Tensor:
        """Spatial guidance G (B, 1, Hx, Wx) in [0, 1]: Eq. 8."""
        B, _, Hx, Wx = search_feat.shape
        Hz, Wz = template_feat.shape[2:]
        x = flatten_positions(self.embed_x(search_feat))                          # (B, Hx*Wx, D)
        z = self.embed_z(template_feat).flatten(2)                                # (B, D, Hz*Wz)
        affinity = torch.softmax(torch.bmm(x, z) / self.embed_channels ** 0.5, dim=-1)
        mask = box_mask(template_box, Hz, Wz).flatten(2).transpose(1, 2)          # (B, Hz*Wz, 1)
        return torch.bmm(affinity, mask.to(affinity.dtype)).transpose(1, 2).reshape(B, 1, Hx, Wx)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        return search_feat + self.guidance(search_feat, template_feat, template_box)
