"""Building blocks shared by the matching operators.

Conventions (see docs/architecture.md): search features Fx are (B, C, Hx, Wx), template features Fz are (B, C, Hz, Wz),
and the template box is (B, 4) as x1, y1, x2, y2 in template-feature cells, where cell (i, j) covers the square
[j, j + 1) x [i, i + 1). Nothing here depends on a particular map size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEAKY_SLOPE = 0.1  # the official code's LeakyReLU slope inside matching modules


def conv1x1(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    """A 1x1 convolution (the 'embedding' or 'Conv' of the paper's operator equations)."""
    return nn.Conv2d(cin, cout, kernel_size=1, bias=bias)


def conv_bn_act(cin: int, cout: int, k: int = 3, padding: int | None = None, act: str = "leaky") -> nn.Sequential:
    """k x k conv + BatchNorm + activation (`leaky` = LeakyReLU(0.1), `relu`, or `none`)."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=k // 2 if padding is None else padding, bias=False),
                               nn.BatchNorm2d(cout)]
    if act == "leaky":
        layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
    elif act == "relu":
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def roi_align(feat: torch.Tensor, boxes: torch.Tensor, out_size: int) -> torch.Tensor:
    """Bilinear ROI align: sample an out_size x out_size grid of bin centres inside each box.

    feat (B, C, H, W); boxes (B, 4) x1, y1, x2, y2 in cells (see module docstring). Returns (B, C, out, out).
    One sample per bin (torchvision's sampling_ratio=1); samples outside the map read zeros.
    """
    B, _, H, W = feat.shape
    steps = (torch.arange(out_size, device=feat.device, dtype=feat.dtype) + 0.5) / out_size  # (out,)
    x1, y1, x2, y2 = boxes.to(feat.dtype).unbind(dim=1)
    xs = x1[:, None] + (x2 - x1)[:, None] * steps[None]  # (B, out) in cell coordinates
    ys = y1[:, None] + (y2 - y1)[:, None] * steps[None]
    gx = 2.0 * xs / W - 1.0  # align_corners=False: coordinate u maps to 2u/W - 1
    gy = 2.0 * ys / H - 1.0
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), dim=-1)  # (B, out, out, 2)
    return F.grid_sample(feat, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def box_mask(boxes: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Pseudo mask of the template (paper Eq. 8's M_z): fraction of each cell covered by the box.

    boxes (B, 4) x1, y1, x2, y2 in cells -> (B, 1, height, width) with values in [0, 1] (1 inside, 0 outside).
    """
    dev, dt = boxes.device, boxes.dtype
    cols = torch.arange(width, device=dev, dtype=dt)
    rows = torch.arange(height, device=dev, dtype=dt)
    x1, y1, x2, y2 = (v[:, None] for v in boxes.unbind(dim=1))
    cover_x = (torch.minimum(cols + 1, x2) - torch.maximum(cols, x1)).clamp(0, 1)  # (B, W)
    cover_y = (torch.minimum(rows + 1, y2) - torch.maximum(rows, y1)).clamp(0, 1)  # (B, H)
    return (cover_y[:, :, None] * cover_x[:, None, :])[:, None]


class TemplateVector(nn.Module):
    """Pool the template feature inside its box to one C-vector f_z (the official `roi_template`).

    Two 3x3 conv encoders, ROI align to 3x3 cells, then a 3x3 valid conv collapsing 3x3 -> 1x1.
    Input Fz (B, C, Hz, Wz) and box (B, 4); output (B, C, 1, 1).
    Unlike the official code the collapsing conv has no BatchNorm: on a 1x1 map BatchNorm would normalise each
    template vector against the other samples of the batch (and fail for a batch of one).
    """

    def __init__(self, channels: int):
        super().__init__()
        self.encode = nn.Sequential(conv_bn_act(channels, channels), conv_bn_act(channels, channels, act="none"))
        self.collapse = nn.Sequential(nn.Conv2d(channels, channels, 3), nn.LeakyReLU(LEAKY_SLOPE, inplace=True))

    def forward(self, template_feat: torch.Tensor, template_box: torch.Tensor) -> torch.Tensor:
        return self.collapse(roi_align(self.encode(template_feat), template_box, 3))


class EmbeddedPair(nn.Module):
    """Shared front of the pointwise operators: the 1x1-embedded search map Conv(Fx) (B, C, Hx, Wx) and the
    1x1-embedded template vector Conv(f_z) (B, C, 1, 1); subclasses combine the two (product, sum)."""

    def __init__(self, channels: int):
        super().__init__()
        self.template_vector = TemplateVector(channels)
        self.embed_x = conv1x1(channels, channels)
        self.embed_z = conv1x1(channels, channels)

    def embedded(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                 template_box: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.embed_x(search_feat), self.embed_z(self.template_vector(template_feat, template_box))


def flatten_positions(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, H*W, C): the reshape S(.) of the paper's Eqs. 4 and 7."""
    return x.flatten(2).transpose(1, 2)
