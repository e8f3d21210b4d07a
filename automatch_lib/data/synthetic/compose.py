"""Compositing primitives on premultiplied float32 BGRA patches: transforming a cutout, pasting it into a frame,
and measuring the box of its mask."""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..sources.images import pyramid_resize

TRANSPARENT = (0, 0, 0, 0)
_SUBPIXEL_BITS = 4  # cv2.line draws the motion-blur kernel at 1/16 px precision


def mask_box(alpha: np.ndarray, thr: float = 0.5):
    """Inclusive (x0, y0, x1, y1) of alpha > thr, or None."""
    m = alpha > thr
    cols = np.flatnonzero(m.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(m.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def box_area(box) -> int:
    """Pixels of an inclusive (x0, y0, x1, y1) box."""
    return (box[2] - box[0] + 1) * (box[3] - box[1] + 1)


def xywh(b) -> list[int]:
    """Inclusive (x0, y0, x1, y1) -> [x, y, w, h]."""
    return [int(b[0]), int(b[1]), int(b[2] - b[0] + 1), int(b[3] - b[1] + 1)]


def scaled(patch: np.ndarray, f: float) -> np.ndarray:
    """``patch`` resized by ``f`` (pyramid; at least one pixel per side)."""
    return pyramid_resize(patch, (max(1, round(patch.shape[1] * f)), max(1, round(patch.shape[0] * f))))


def line_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Normalised anti-aliased line kernel of the given length (px) and direction."""
    n = int(math.ceil(length)) + 2
    n += 1 - n % 2
    k = np.zeros((n, n), np.uint8)
    c = (n - 1) / 2.0
    dx, dy = math.cos(math.radians(angle_deg)) * length / 2, math.sin(math.radians(angle_deg)) * length / 2
    sub = 1 << _SUBPIXEL_BITS
    p0 = (int(round((c - dx) * sub)), int(round((c - dy) * sub)))
    p1 = (int(round((c + dx) * sub)), int(round((c + dy) * sub)))
    cv2.line(k, p0, p1, 255, 1, cv2.LINE_AA, shift=_SUBPIXEL_BITS)
    kf = k.astype(np.float32)
    return kf / max(kf.sum(), 1e-6)


def _deform(img: np.ndarray, grid: np.ndarray, amp: float) -> tuple[np.ndarray, float]:
    """Warp by a displacement field (``grid``, coarse, in [-1, 1], times ``amp`` of the object size); returns the
    warped patch (padded) and the realised deformation = largest displacement after removing the mean translation,
    in object-normalised coordinates (x by the width, y by the height), so the warp is the same at any resolution."""
    h, w = img.shape[:2]
    size = float(max(h, w))
    pad = int(math.ceil(amp * size)) + 2
    disp = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    disp = cv2.copyMakeBorder(disp, pad, pad, pad, pad, cv2.BORDER_REPLICATE)  # the field continues over the pad
    disp *= np.array([amp * w, amp * h], np.float32)
    img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=TRANSPARENT)
    hp, wp = img.shape[:2]
    xx = np.arange(wp, dtype=np.float32)[None, :] + disp[..., 0]
    yy = np.arange(hp, dtype=np.float32)[:, None] + disp[..., 1]
    img = cv2.remap(img, xx, yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=TRANSPARENT)
    obj = img[..., 3] > 0.5
    if not obj.any():
        return img, 0.0
    d = disp[obj] / np.array([w, h], np.float32)
    return img, float(np.sqrt(((d - d.mean(axis=0)) ** 2).sum(axis=1)).max())


def _rotate(img: np.ndarray, rot: float) -> np.ndarray:
    """Rotate by ``rot`` degrees about the centre onto a canvas that holds the whole result."""
    hh, ww = img.shape[:2]
    th = math.radians(rot)
    cs, sn = abs(math.cos(th)), abs(math.sin(th))
    nw, nh = int(math.ceil(ww * cs + hh * sn)) + 2, int(math.ceil(ww * sn + hh * cs)) + 2
    M = cv2.getRotationMatrix2D(((ww - 1) / 2.0, (hh - 1) / 2.0), rot, 1.0)
    M[0, 2] += (nw - 1) / 2.0 - (ww - 1) / 2.0
    M[1, 2] += (nh - 1) / 2.0 - (hh - 1) / 2.0
    return cv2.warpAffine(img, M, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=TRANSPARENT)


def transform(prem: np.ndarray, rot: float, squash: float, flip: bool, axis: str, grid: np.ndarray | None,
              amp: float, aniso: float) -> tuple[np.ndarray, float]:
    """Deform (DEF), squash/flip (OPR), anisotropic scale and rotate (IPR) a premultiplied BGRA patch.

    ``squash`` shrinks along ``axis`` ('x' = yaw, 'y' = pitch), ``aniso`` stretches x by sqrt(aniso) and y by its
    inverse; scales are renormalised so that nothing is upsampled. Returns (patch cropped to its alpha support,
    realised deformation, see `_deform`).
    """
    img = prem
    def_mag = 0.0
    if grid is not None and amp > 0:
        img, def_mag = _deform(img, grid, amp)
    sx = sy = 1.0
    if axis == "x":
        sx *= squash
    else:
        sy *= squash
    sx *= math.sqrt(aniso)
    sy /= math.sqrt(aniso)
    m = max(sx, sy)
    if m > 1:
        sx, sy = sx / m, sy / m
    if sx < 0.999 or sy < 0.999:
        hh, ww = img.shape[:2]
        img = pyramid_resize(img, (max(1, int(round(ww * sx))), max(1, int(round(hh * sy)))))
        if img.ndim == 2:
            img = img[..., None]
    if flip:
        img = cv2.flip(img, 1 if axis == "x" else 0)
    if abs(rot) > 1e-3:
        img = _rotate(img, rot)
    box = mask_box(img[..., 3], 1.0 / 255)
    if box is None:
        return img[:1, :1] * 0, def_mag
    x0, y0, x1, y1 = box
    return np.ascontiguousarray(img[y0:y1 + 1, x0:x1 + 1]), def_mag


def feather_edge(prem: np.ndarray, sigma: float) -> np.ndarray:
    """A premultiplied BGRA patch whose alpha edge fades inward over about 2 ``sigma`` pixels.

    A photographed object's outline in a video frame is soft (optics, motion, compression); a cut-out pasted with
    its exact mask is not, and a network can learn the hard seam as a cue that real video never shows. The new
    alpha is min(alpha, Gaussian(alpha)): unchanged inside, lowered only near the edge, never raised outside the
    mask (where the patch has no colour), so nothing grows a dark halo. Colours are scaled with the alpha (they
    are premultiplied). ``sigma`` in pixels of this patch; 0 returns it unchanged.
    """
    if sigma <= 0:
        return prem
    alpha = prem[..., 3]
    k = 2 * int(math.ceil(2 * sigma)) + 1
    soft = np.minimum(alpha, cv2.GaussianBlur(alpha, (k, k), sigma, borderType=cv2.BORDER_CONSTANT))
    out = prem.copy()
    scale = np.divide(soft, alpha, out=np.zeros_like(alpha), where=alpha > 0)
    out[..., :3] *= scale[..., None]
    out[..., 3] = soft
    return out


def _overlap(shape_big, shape_small, ox: int, oy: int):
    """The part (x0, y0, x1, y1) of a frame of ``shape_big`` covered by a patch of ``shape_small`` at (ox, oy)."""
    H, W = shape_big[:2]
    h, w = shape_small[:2]
    return max(ox, 0), max(oy, 0), min(ox + w, W), min(oy + h, H)


def paste(frame: np.ndarray, patch: np.ndarray, ox: int, oy: int) -> None:
    """Composite premultiplied BGRA ``patch`` over float BGR ``frame`` with its top-left at (ox, oy), clipped."""
    x0, y0, x1, y1 = _overlap(frame.shape, patch.shape, ox, oy)
    if x1 <= x0 or y1 <= y0:
        return
    p = patch[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    region = frame[y0:y1, x0:x1]
    region *= 1.0 - p[..., 3:4]
    region += p[..., :3]


def alpha_into(canvas: np.ndarray, alpha: np.ndarray, ox: int, oy: int) -> None:
    """canvas = max(canvas, alpha placed at (ox, oy)), clipped."""
    x0, y0, x1, y1 = _overlap(canvas.shape, alpha.shape, ox, oy)
    if x1 > x0 and y1 > y0:
        np.maximum(canvas[y0:y1, x0:x1], alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox], out=canvas[y0:y1, x0:x1])


def box_of_placed(alpha: np.ndarray, ox: int, oy: int, W: int, H: int):
    """(unclipped, clipped) inclusive boxes of alpha > 0.5 placed at (ox, oy); clipped = part inside the frame."""
    lb = mask_box(alpha)
    if lb is None:
        return None, None
    un = (lb[0] + ox, lb[1] + oy, lb[2] + ox, lb[3] + oy)
    x0, y0, x1, y1 = _overlap((H, W), alpha.shape, ox, oy)
    if x1 <= x0 or y1 <= y0:
        return un, None
    cb = mask_box(alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox])
    if cb is None:
        return un, None
    return un, (cb[0] + x0, cb[1] + y0, cb[2] + x0, cb[3] + y0)
