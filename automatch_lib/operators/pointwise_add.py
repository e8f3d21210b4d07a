"""Pointwise-Addition (paper Eq. 3): R = f_z + Fx.

Like the Hadamard product of a 1x1 depthwise correlation, with addition instead of multiplication: the
template vector f_z (B, C, 1, 1) is broadcast over the embedded search map (B, C, Hx, Wx).
"""
from __future__ import annotations

import torch

from .common import EmbeddedPair


class PointwiseAddition(EmbeddedPair):
    """Add the embedded template vector to every position of the embedded search map."""

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        x, z = self.embedded(search_feat, template_feat, template_box)
        return x + z
