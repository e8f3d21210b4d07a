"""Depthwise cross-correlation, Ocean's matching (the baseline). Paper Eq. 1 with phi = depthwise xcorr.

R_c = Fx_c (star) Fz_c for every channel c: the (embedded) template map is slid over the (embedded) search map as
a per-channel kernel. Zero 'same' padding keeps the output at the search resolution, so the operator fits the
common contract (B, C, Hx, Wx) for any template size; the response is divided by Hz*Wz to keep its scale
independent of the template size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import conv_bn_act


def xcorr_depthwise(search: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Per-channel cross-correlation with 'same' output size.

    search (B, C, Hx, Wx), kernel (B, C, Hz, Wz) -> (B, C, Hx, Wx); one grouped conv for the whole batch.
    """
    B, C, Hz, Wz = kernel.shape
    padded = F.pad(search, ((Wz - 1) // 2, Wz // 2, (Hz - 1) // 2, Hz // 2))
    out = F.conv2d(padded.reshape(1, B * C, *padded.shape[2:]), kernel.reshape(B * C, 1, Hz, Wz), groups=B * C)
    return out.reshape(B, C, *search.shape[2:])


class DepthwiseXCorr(nn.Module):
    """Ocean's depthwise cross-correlation between 3x3-conv embeddings of the search and template maps."""

    def __init__(self, channels: int):
        super().__init__()
        self.embed_x = conv_bn_act(channels, channels, act="relu")
        self.embed_z = conv_bn_act(channels, channels, act="relu")

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        kernel = self.embed_z(template_feat)
        return xcorr_depthwise(self.embed_x(search_feat), kernel) / (kernel.shape[2] * kernel.shape[3])
