"""Crop geometry and the score-map grid, shared by the training pairs, the losses and the tracker.

Crops (SiamFC/Ocean convention): for a target of size (w, h) the template side in source pixels is
s_z = sqrt((w + p)(h + p)) with p = context * (w + h), resized to `exemplar_size`; the search side is
s_x = s_z * search_size / exemplar_size, resized to `search_size`. Pixels outside the image are filled with a
constant colour (the image mean unless given).

Grid: a score map of H x W cells over a search crop of S_w x S_h pixels with stride s has cell centres
c_j = S_w / 2 + (j - (W - 1) / 2) * s, symmetric about the crop centre, whatever the map size.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch


def context_size(w: float, h: float, context: float) -> float:
    """Template side in source pixels: sqrt((w + p)(h + p)), p = context * (w + h)."""
    p = context * (w + h)
    return math.sqrt((w + p) * (h + p))


def mean_colour(image: np.ndarray) -> np.ndarray:
    """(3,) mean of each channel of an H x W x 3 image, the crops' fill colour. OpenCV's mean: numpy's
    `mean(axis=0)` over the pixels costs 2 ms a 320 x 240 frame, more than the rest of drawing a training pair."""
    return np.array(cv2.mean(image)[:3])


def crop(image: np.ndarray, center: tuple[float, float], side: tuple[float, float], out_size: int,
         pad_value: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Crop a (side_w x side_h) source region centred at `center`, resized to out_size x out_size.

    Returns the crop (out, out, 3) uint8 and the 2x3 affine matrix mapping source -> crop pixels.
    """
    sx, sy = out_size / side[0], out_size / side[1]
    matrix = np.array([[sx, 0.0, out_size / 2 - sx * center[0]],
                       [0.0, sy, out_size / 2 - sy * center[1]]], dtype=np.float64)
    if pad_value is None:
        pad_value = mean_colour(image)
    out = cv2.warpAffine(image, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=tuple(float(v) for v in pad_value))
    return out, matrix


def transform_box(box_xywh: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """x, y, w, h box in source pixels -> x1, y1, x2, y2 in crop pixels (axis-aligned affine)."""
    x, y, w, h = box_xywh
    return np.array([matrix[0, 0] * x + matrix[0, 2], matrix[1, 1] * y + matrix[1, 2],
                     matrix[0, 0] * (x + w) + matrix[0, 2], matrix[1, 1] * (y + h) + matrix[1, 2]])


def centred_box(w: float, h: float, size: int) -> np.ndarray:
    """x1, y1, x2, y2 of a w x h box centred in a size x size crop."""
    return np.array([size / 2 - w / 2, size / 2 - h / 2, size / 2 + w / 2, size / 2 + h / 2])


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """H x W x 3 uint8 crop -> (3, H, W) float32 in 0..255 (the network normalises)."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()


def grid_centers(height: int, width: int, search_size: tuple[int, int], stride: int,
                 device=None, dtype=torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """Cell centres in crop pixels: gx (W,), gy (H,). search_size = (S_w, S_h)."""
    gx = search_size[0] / 2 + (torch.arange(width, device=device, dtype=dtype) - (width - 1) / 2) * stride
    gy = search_size[1] / 2 + (torch.arange(height, device=device, dtype=dtype) - (height - 1) / 2) * stride
    return gx, gy
