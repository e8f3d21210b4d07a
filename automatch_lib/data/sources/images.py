"""Image utilities shared by the source readers and the generator: anti-aliased resizing, premultiplied alpha,
feathered masks, and checked image reading."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from ...errors import DataError


def pyramid_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` = (w, h) without aliasing: pyrDown while the image is at least twice as large, then
    INTER_AREA (INTER_LINEAR only for the rare small upscale). Works on uint8 or float32, 1 to 4 channels."""
    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1:
        raise ValueError(f"pyramid_resize: bad target size {size}")
    while img.shape[1] >= 2 * w and img.shape[0] >= 2 * h and min(img.shape[:2]) >= 4:
        img = cv2.pyrDown(img)
    if img.shape[1] == w and img.shape[0] == h:
        return img
    interp = cv2.INTER_AREA if (img.shape[1] >= w and img.shape[0] >= h) else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp)


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """uint8 BGRA -> float32 premultiplied BGRA in [0, 1]."""
    out = rgba.astype(np.float32) * (1.0 / 255.0)
    out[..., :3] *= out[..., 3:4]
    return out


def unpremultiply(prem: np.ndarray) -> np.ndarray:
    """float32 premultiplied BGRA in [0, 1] -> uint8 BGRA."""
    a = prem[..., 3:4]
    rgb = np.where(a > 1e-6, prem[..., :3] / np.maximum(a, 1e-6), 0.0)
    out = np.concatenate([np.clip(rgb, 0, 1), np.clip(a, 0, 1)], axis=-1)
    return np.round(out * 255.0).astype(np.uint8)


def feathered_alpha(h: int, w: int, ellipse: bool) -> np.ndarray:
    """uint8 alpha: an inscribed ellipse (or rounded rectangle) with a soft edge of ~6% of the size."""
    a = np.zeros((h, w), np.uint8)
    feather = max(1.0, 0.06 * min(h, w))
    pad = int(round(feather))
    if ellipse:
        cv2.ellipse(a, (w // 2, h // 2), (max(1, w // 2 - pad), max(1, h // 2 - pad)), 0, 0, 360, 255, -1,
                    cv2.LINE_AA)
    else:
        a[pad:h - pad, pad:w - pad] = 255
    k = 2 * int(round(feather)) + 1
    return cv2.GaussianBlur(a, (k, k), feather / 2)


def cap_rgba(rgba: np.ndarray, max_side: int | None) -> np.ndarray:
    """A BGRA cutout downscaled (in premultiplied alpha, so edges do not darken) to at most ``max_side`` pixels."""
    h, w = rgba.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return rgba
    f = max_side / max(h, w)
    return unpremultiply(pyramid_resize(premultiply(rgba), (max(1, round(w * f)), max(1, round(h * f)))))


def cap_bgr(bgr: np.ndarray, max_side: int | None) -> np.ndarray:
    """A photograph downscaled to at most ``max_side`` pixels."""
    h, w = bgr.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return bgr
    f = max_side / max(h, w)
    return pyramid_resize(bgr, (max(1, round(w * f)), max(1, round(h * f))))


def read_image(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    """Decode an image file (any path, including non-ASCII ones); an unreadable file raises DataError."""
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, flags) if data.size else None
    if img is None:
        raise DataError(f"cannot decode image: {path}")
    return img


# JPEG DCT scaling: decode at 1/8, 1/4 or 1/2 of the size, largest reduction first
_JPEG_REDUCTIONS = ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4), (2, cv2.IMREAD_REDUCED_COLOR_2))


def read_bgr(path: Path, max_side: int | None) -> np.ndarray:
    """Read a photograph as BGR; big JPEGs are decoded at 1/2, 1/4 or 1/8 scale (DCT scaling) when that still
    leaves at least ``max_side`` pixels, then capped with the pyramid."""
    flags = cv2.IMREAD_COLOR
    if max_side is not None and path.suffix.lower() in (".jpg", ".jpeg"):
        hdr = read_image(path, cv2.IMREAD_REDUCED_GRAYSCALE_8)  # cheap: size at 1/8
        full = max(hdr.shape[:2]) * 8
        for factor, flag in _JPEG_REDUCTIONS:
            if full // factor >= max_side:
                flags = flag
                break
    img = read_image(path, flags)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return cap_bgr(img, max_side)
