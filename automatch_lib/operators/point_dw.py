"""Pointwise depthwise correlation, the DW-xcorr candidate of AutoMatch's search space (official `PointDW`).

R = Conv(Fx) (*) Conv(f_z): the depthwise correlation with a 1x1 template kernel. The template vector f_z
(B, C, 1, 1), pooled inside the template box, is embedded by a 1x1 conv and multiplies every position of the
1x1-embedded search map (B, C, Hx, Wx) channel by channel, so the search resolution is kept for any map size.
It has the same embedding capacity (1x1) as concatenation, addition and FiLM, which is what makes the search
space fair; Ocean's full-template depthwise correlation with 3x3 embeddings (`dw_xcorr`) is the hand-designed
baseline and not a search candidate.
"""
from __future__ import annotations

import torch

from .common import EmbeddedPair


class PointDepthwise(EmbeddedPair):
    """Multiply the embedded search map by the embedded template vector (Hadamard product, broadcast)."""

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        x, z = self.embedded(search_feat, template_feat, template_box)
        return x * z
