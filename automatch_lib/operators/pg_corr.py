"""PG-Corr, PG-Net's pixel-to-global correlation: every search position against every target position.

Each cell of the target region of the template (ROI-aligned to `template_cells` x `template_cells` inside the
template box, the analogue of PG-Net's 7x7 centre crop) acts as a 1x1 kernel over the embedded search map, so
the correlation has P = template_cells**2 channels, (B, P, Hx, Wx); two 3x3 conv + BN + ReLU layers (PG-Net
supplementary, Table 2) map it to C channels. Unlike Pairwise-Relation, search and template get separate
embeddings and only the target region (not the whole template with its context) is matched.
"""
from __future__ import annotations

import torch
from torch import nn

from .common import conv1x1, conv_bn_act, flatten_positions, roi_align


class PixelGlobalCorrelation(nn.Module):
    """Pixel-to-global correlation followed by two 3x3 conv-BN-ReLU layers."""

    def __init__(self, channels: int, template_cells: int = 4):
        super().__init__()
        self.template_cells = template_cells
        self.embed_x = conv1x1(channels, channels)
        self.embed_z = conv1x1(channels, channels)
        self.fuse = nn.Sequential(conv_bn_act(template_cells * template_cells, channels, act="relu"),
                                  conv_bn_act(channels, channels, act="relu"))

    def correlate(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                  template_box: torch.Tensor) -> torch.Tensor:
        """Correlation (B, P, Hx, Wx) of each search cell with each target cell, normalised by sqrt(C)."""
        B, C, Hx, Wx = search_feat.shape
        x = flatten_positions(self.embed_x(search_feat))                                           # (B, HxWx, C)
        z = roi_align(self.embed_z(template_feat), template_box, self.template_cells).flatten(2)   # (B, C, P)
        return (torch.bmm(x, z) / C ** 0.5).transpose(1, 2).reshape(B, -1, Hx, Wx)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        return self.fuse(self.correlate(search_feat, template_feat, template_box))
