"""Label assignment and losses of the Ocean/AutoMatch anchor-free head (official facts 4c-4d).

Cells are placed by `geometry.grid_centers` (symmetric about the crop centre); nothing assumes a particular size.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..geometry import grid_centers


def make_targets(boxes: torch.Tensor, negative: torch.Tensor, map_size: tuple[int, int],
                 search_size: tuple[int, int], stride: int, radius: int = 2) -> dict[str, torch.Tensor]:
    """Classification and regression targets for a batch.

    boxes (B, 4) x1, y1, x2, y2 of the object in search-crop pixels; negative (B,) bool (different-object pairs).
    cls (B, 1, H, W): 1 on the cell nearest the box centre and on every cell within city-block distance `radius` of
    it whose centre lies inside the box, else 0; all zero for negative pairs. Positives stay inside the object as in
    the official setup (a 255 crop with 60-100 px targets), so regression is trained wherever classification may
    fire; at small crops a radius-2 diamond would otherwise reach past a 3-cell target.
    reg (B, 4, H, W): l, t, r, b distances from each cell centre to the box edges;
    reg_weight (B, 1, H, W): 1 where the cell centre lies inside the box (as the official code, also for negatives).
    """
    H, W = map_size
    gx, gy = grid_centers(H, W, search_size, stride, boxes.device, boxes.dtype)
    x1, y1, x2, y2 = (v.view(-1, 1, 1) for v in boxes.unbind(dim=1))
    gxx, gyy = gx.view(1, 1, W), gy.view(1, H, 1)
    reg = torch.stack(torch.broadcast_tensors(gxx - x1, gyy - y1, x2 - gxx, y2 - gyy), dim=1)  # (B, 4, H, W)
    reg_weight = (reg.min(dim=1, keepdim=True).values > 0).to(boxes.dtype)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    ci = torch.round((cy - gy[0]) / stride)
    cj = torch.round((cx - gx[0]) / stride)
    rows = torch.arange(H, device=boxes.device, dtype=boxes.dtype).view(1, H, 1)
    cols = torch.arange(W, device=boxes.device, dtype=boxes.dtype).view(1, 1, W)
    dist = (rows - ci).abs() + (cols - cj).abs()
    cls = ((dist == 0) | ((dist <= radius) & (reg_weight[:, 0] > 0))).to(boxes.dtype)
    cls = cls * (~negative).to(boxes.dtype).view(-1, 1, 1)
    return {"cls": cls[:, None], "reg": reg, "reg_weight": reg_weight}


def weighted_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """0.5 * mean BCE over positives + 0.5 * mean BCE over negatives (official WBCE); a missing side counts 0."""
    loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    pos, neg = labels > 0.5, labels <= 0.5
    total = logits.new_zeros(())
    if pos.any():
        total = total + 0.5 * loss[pos].mean()
    if neg.any():
        total = total + 0.5 * loss[neg].mean()
    return total


def iou_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """-log((I + 1) / (U + 1)) of ltrb boxes, averaged over cells with weight > 0 (official FCOS IoU loss).

    pred, target (B, 4, H, W) l, t, r, b distances; weight (B, 1, H, W).
    """
    mask = weight[:, 0] > 0
    if not mask.any():
        return pred.sum() * 0.0
    p = pred.permute(0, 2, 3, 1)[mask]
    t = target.permute(0, 2, 3, 1)[mask]
    area_p = (p[:, 0] + p[:, 2]) * (p[:, 1] + p[:, 3])
    area_t = (t[:, 0] + t[:, 2]) * (t[:, 1] + t[:, 3])
    iw = torch.minimum(p[:, 0], t[:, 0]) + torch.minimum(p[:, 2], t[:, 2])
    ih = torch.minimum(p[:, 1], t[:, 1]) + torch.minimum(p[:, 3], t[:, 3])
    inter = iw.clamp(min=0) * ih.clamp(min=0)
    union = area_p + area_t - inter
    return -torch.log((inter + 1.0) / (union + 1.0)).mean()


def tracking_loss(out: dict[str, torch.Tensor], boxes: torch.Tensor, negative: torch.Tensor,
                  search_size: tuple[int, int], stride: int, radius: int = 2,
                  reg_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """Total loss WBCE(cls) + reg_weight * IoU(reg) for a network output dict, plus float stats."""
    targets = make_targets(boxes, negative, tuple(out["cls"].shape[-2:]), search_size, stride, radius)
    l_cls = weighted_bce(out["cls"], targets["cls"])
    # negatives' regression targets describe whatever object sits in the crop; like the official code, keep them
    l_reg = iou_loss(out["reg"], targets["reg"], targets["reg_weight"])
    total = l_cls + reg_weight * l_reg
    return total, {"loss/total": total.item(), "loss/cls": l_cls.item(), "loss/reg": l_reg.item()}
