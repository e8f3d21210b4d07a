"""Pairwise-Relation (paper Eq. 4): R = matmul(S(Fx), S(Fz)), template positions as channels.

The affinity of every search cell with every template cell, (B, Hx*Wx, P), is reshaped to (B, P, Hx, Wx) and a
1x1 conv maps the P template positions to C channels. The official code hard-codes P = 15*15; here the template
map is first resampled (bilinear) to a fixed `template_cells` x `template_cells` grid, so any Hz, Wz work and
P = template_cells**2 (resampling is the identity when Hz = Wz = template_cells). As in the official code one
embedding is shared by search and template, so a search cell equal to a template cell has maximal self-affinity.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import conv1x1, flatten_positions


def resample(template_feat: torch.Tensor, cells: int) -> torch.Tensor:
    """Bilinearly resample (B, C, Hz, Wz) to (B, C, cells, cells); identity when already that size."""
    if template_feat.shape[-2:] == (cells, cells):
        return template_feat
    return F.interpolate(template_feat, size=(cells, cells), mode="bilinear", align_corners=False)


class PairwiseRelation(nn.Module):
    """Non-local style affinity between all search and template positions, fused by a 1x1 conv."""

    def __init__(self, channels: int, embed_channels: int | None = None, template_cells: int = 8):
        super().__init__()
        self.template_cells = template_cells
        self.embed_channels = embed_channels or max(8, channels // 4)
        self.embed = conv1x1(channels, self.embed_channels)
        self.fuse = conv1x1(template_cells * template_cells, channels)

    def relation(self, search_feat: torch.Tensor, template_feat: torch.Tensor) -> torch.Tensor:
        """Affinity map (B, P, Hx, Wx): channel p is the dot product of each search cell with template cell p."""
        B, _, Hx, Wx = search_feat.shape
        x = flatten_positions(self.embed(search_feat))                                   # (B, Hx*Wx, D)
        z = self.embed(resample(template_feat, self.template_cells)).flatten(2)          # (B, D, P)
        affinity = torch.bmm(x, z) / self.embed_channels ** 0.5                           # (B, Hx*Wx, P)
        return affinity.transpose(1, 2).reshape(B, -1, Hx, Wx)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.relation(search_feat, template_feat))
