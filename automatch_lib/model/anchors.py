"""Anchors of PG-Net's anchor-based heads (SiamRPN++-style): layout, box coding, assignment and losses.

Layout: A anchors per score-map cell, one per aspect ratio r = h / w, every one with the area of the target as the
template crop shows it: side s = exemplar_size / (1 + 2 * context) (a square target of side w fills
w / sqrt((w + p)^2) = 1 / (1 + 2 * context) of the template, p = context * 2w; 64 px at the paper's 127/255 crops,
SiamRPN++'s stride 8 x scale 8), so (w, h) = (s / sqrt(r), s * sqrt(r)). Anchor centres are the cell centres of
`geometry.grid_centers`. The heads' channels follow pysot: classification (B, 2A, H, W) is (B, 2, A, H, W) with
channel 0 background and 1 target; regression (B, 4A, H, W) is (B, 4, A, H, W) with (dx, dy, dw, dh).

Box coding (Faster R-CNN / SiamRPN): dx = (cx - acx) / aw, dy = (cy - acy) / ah, dw = log(w / aw),
dh = log(h / ah); `decode(encode(box)) == box`.

Assignment: an anchor is positive when its IoU with the target is >= pos_iou, negative when < neg_iou, ignored in
between; the anchor of highest IoU is positive as well where it overlaps the target at all, so every positive pair
trains regression (Faster R-CNN's rule). Every anchor of a negative (different-object) pair is negative.

Losses: classification is 0.5 x the mean cross-entropy over the batch's positive anchors + 0.5 x the mean over its
negative ones; regression is smooth-L1 (beta 1/9, Faster R-CNN) of the deltas summed over (dx, dy, dw, dh) and
averaged over the batch's positive anchors. A departure from pysot, which draws per pair up to 16 positives and 64
anchors in all at random, normalises regression per pair and labels only the central anchors of a negative pair:
here every anchor counts, so the loss needs no random draw.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..geometry import grid_centers

RATIOS = (0.33, 0.5, 1.0, 2.0, 3.0)   # SiamRPN++ / PG-Net: 5 anchors per position


def anchor_shapes(ratios: tuple[float, ...], exemplar_size: int, context: float) -> torch.Tensor:
    """(A, 2) anchor widths and heights in crop pixels: the target's side in the template, one per ratio h / w."""
    side = exemplar_size / (1 + 2 * context)
    r = torch.tensor(ratios, dtype=torch.float32)
    return torch.stack([side / r.sqrt(), side * r.sqrt()], dim=1)


def make_anchors(shapes: torch.Tensor, map_size: tuple[int, int], search_size: tuple[int, int],
                 stride: int) -> torch.Tensor:
    """(A, H, W, 4) anchors as cx, cy, w, h in search-crop pixels: every shape at every cell centre."""
    H, W = map_size
    gx, gy = grid_centers(H, W, search_size, stride, shapes.device, shapes.dtype)
    A = shapes.shape[0]
    cx = gx.view(1, 1, W).expand(A, H, W)
    cy = gy.view(1, H, 1).expand(A, H, W)
    w = shapes[:, 0].view(A, 1, 1).expand(A, H, W)
    h = shapes[:, 1].view(A, 1, 1).expand(A, H, W)
    return torch.stack([cx, cy, w, h], dim=-1)


def corners_to_center(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) x1, y1, x2, y2 -> cx, cy, w, h."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], dim=-1)


def center_to_corners(boxes: torch.Tensor) -> torch.Tensor:
    """(..., 4) cx, cy, w, h -> x1, y1, x2, y2."""
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def encode(boxes: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Deltas (..., 4) (dx, dy, dw, dh) of x1, y1, x2, y2 boxes relative to cx, cy, w, h anchors (broadcast)."""
    b = corners_to_center(boxes)
    return torch.stack([(b[..., 0] - anchors[..., 0]) / anchors[..., 2], (b[..., 1] - anchors[..., 1]) / anchors[..., 3],
                        torch.log(b[..., 2] / anchors[..., 2]), torch.log(b[..., 3] / anchors[..., 3])], dim=-1)


def decode(deltas: torch.Tensor, anchors: torch.Tensor, max_log: float = math.log(1000 / 16)) -> torch.Tensor:
    """x1, y1, x2, y2 boxes (..., 4) from deltas (dx, dy, dw, dh) and cx, cy, w, h anchors; dw, dh are clamped at
    log(1000/16) as in Faster R-CNN so one wild output cannot overflow."""
    cx = anchors[..., 0] + deltas[..., 0] * anchors[..., 2]
    cy = anchors[..., 1] + deltas[..., 1] * anchors[..., 3]
    w = anchors[..., 2] * torch.exp(deltas[..., 2].clamp(max=max_log))
    h = anchors[..., 3] * torch.exp(deltas[..., 3].clamp(max=max_log))
    return center_to_corners(torch.stack([cx, cy, w, h], dim=-1))


def box_iou(anchors: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """IoU of cx, cy, w, h anchors (A, H, W, 4) with one x1, y1, x2, y2 box per sample (B, 4) -> (B, A, H, W)."""
    a = center_to_corners(anchors)[None]                        # (1, A, H, W, 4)
    b = boxes.view(-1, 1, 1, 1, 4)
    iw = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
    ih = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0)
    inter = iw * ih
    area_a = anchors[..., 2] * anchors[..., 3]
    area_b = ((b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]))
    return inter / (area_a[None] + area_b - inter).clamp(min=1e-9)


def assign(anchors: torch.Tensor, boxes: torch.Tensor, negative: torch.Tensor, pos_iou: float = 0.6,
           neg_iou: float = 0.3) -> torch.Tensor:
    """Labels (B, A, H, W): 1 positive, 0 negative, -1 ignored (see module doc). anchors (A, H, W, 4) cx, cy, w, h;
    boxes (B, 4) x1, y1, x2, y2; negative (B,) bool."""
    iou = box_iou(anchors, boxes)
    labels = torch.full_like(iou, -1.0)
    labels[iou < neg_iou] = 0.0
    labels[iou >= pos_iou] = 1.0
    flat = iou.flatten(1)
    best = flat.argmax(dim=1)
    rows = torch.arange(len(best), device=best.device)[flat.max(dim=1).values > 0]
    labels.flatten(1)[rows, best[rows]] = 1.0
    labels[negative] = 0.0
    return labels


def anchor_loss(cls: torch.Tensor, reg: torch.Tensor, anchors: torch.Tensor, boxes: torch.Tensor,
                negative: torch.Tensor, pos_iou: float = 0.6, neg_iou: float = 0.3,
                reg_weight: float = 1.2) -> tuple[torch.Tensor, dict[str, float]]:
    """Loss of anchor-based heads: cls (B, 2A, H, W) logits, reg (B, 4A, H, W) deltas; returns (total, stats)
    with total = cross-entropy (balanced, module doc) + reg_weight * smooth-L1 over positives (pysot: 1.2)."""
    B, _, H, W = cls.shape
    A = anchors.shape[0]
    labels = assign(anchors, boxes, negative, pos_iou, neg_iou)                       # (B, A, H, W)
    logp = F.log_softmax(cls.view(B, 2, A, H, W), dim=1)
    pos, neg = labels == 1, labels == 0
    l_cls = cls.new_zeros(())
    if pos.any():
        l_cls = l_cls - 0.5 * logp[:, 1][pos].mean()
    if neg.any():
        l_cls = l_cls - 0.5 * logp[:, 0][neg].mean()
    target = encode(boxes.view(B, 1, 1, 1, 4), anchors[None])                         # (B, A, H, W, 4)
    pred = reg.view(B, 4, A, H, W).permute(0, 2, 3, 4, 1)
    l_reg = F.smooth_l1_loss(pred[pos], target[pos], beta=1 / 9, reduction="sum") / pos.sum().clamp(min=1)
    total = l_cls + reg_weight * l_reg
    return total, {"loss/total": total.item(), "loss/cls": l_cls.item(), "loss/reg": l_reg.item()}
