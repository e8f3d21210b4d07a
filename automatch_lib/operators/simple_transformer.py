"""Simple-Transformer (paper Eq. 6): R = Att(query = Conv(Fx), key = Conv(Fz), value = Conv(Fz)).

Multi-head cross-attention from the Hx*Wx search tokens to the Hz*Wz template tokens, as the official code does
with nn.MultiheadAttention: no positional encoding, residual, LayerNorm or FFN. Output (B, C, Hx, Wx).
"""
from __future__ import annotations

import torch
from torch import nn

from .common import conv1x1, flatten_positions


class SimpleTransformer(nn.Module):
    """Cross-attention of search positions over template positions."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        heads = heads if channels % heads == 0 else 1
        self.query = conv1x1(channels, channels)
        self.key = conv1x1(channels, channels)
        self.value = conv1x1(channels, channels)
        self.attention = nn.MultiheadAttention(channels, heads, batch_first=True)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        B, C, Hx, Wx = search_feat.shape
        q = flatten_positions(self.query(search_feat))
        k = flatten_positions(self.key(template_feat))
        v = flatten_positions(self.value(template_feat))
        out, _ = self.attention(q, k, v, need_weights=False)                 # (B, Hx*Wx, C)
        return out.transpose(1, 2).reshape(B, C, Hx, Wx)
