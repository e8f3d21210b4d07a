"""The scene: a background photograph prepared for the frame size, and a camera that pans and zooms over it."""
from __future__ import annotations

import numpy as np

from ...errors import DataError
from ..sources.images import pyramid_resize
from ..sources.records import Background
from .draws import smooth

MIN_PHOTO_OVER_FRAME = 1.1      # a usable photo is at least this many times the frame on both axes (room to pan)
PHOTO_OVER_FRAME = (1.8, 2.6)   # larger photos are downscaled to this many times the frame (drawn per sequence)
ZOOM_HEADROOM = 1.08            # the widest window leaves this much of the photo around it
START_ZOOM_MAX = 1.6            # first window: 1 to this many times the frame
ZOOM_WANDER = 0.12              # log-zoom amplitude of the smooth zoom
PAN_SPEED_MAX = 0.012           # pan speed, fraction of the frame width per frame
PAN_VERTICAL = 0.6              # vertical pan speed relative to the horizontal one
START_CENTRE = (0.35, 0.65)     # window centre drawn in this fraction of the photo


def usable_backgrounds(backgrounds: list[Background], W: int, H: int, what: str) -> list[Background]:
    """The photos large enough to pan over; DataError naming ``what`` when there is none."""
    usable = [b for b in backgrounds if min(b.bgr.shape[1] / W, b.bgr.shape[0] / H) >= MIN_PHOTO_OVER_FRAME]
    if not usable:
        raise DataError(f"no {what} is at least {MIN_PHOTO_OVER_FRAME} x the frame size {W}x{H}")
    return usable


def prepare_photo(rng: np.random.Generator, bg: Background, W: int, H: int) -> np.ndarray:
    """The photo, downscaled (pyramid) so that it is 1.8-2.6 x the frame, never upscaled."""
    ph, pw = bg.bgr.shape[:2]
    ratio = min(pw / W, ph / H)
    want = rng.uniform(*PHOTO_OVER_FRAME)
    if ratio > want:
        f = want / ratio
        return pyramid_resize(bg.bgr, (max(W, int(round(pw * f))), max(H, int(round(ph * f)))))
    return bg.bgr


def camera_path(rng: np.random.Generator, photo: np.ndarray, W: int, H: int, T: int) -> list[tuple]:
    """Per-frame crop windows (x0, y0, ww, wh) of a smooth pan and zoom; windows are >= the frame (no upsampling)."""
    ph, pw = photo.shape[:2]
    zmax = max(1.0, min(pw / W, ph / H) / ZOOM_HEADROOM)
    z0 = rng.uniform(1.0, min(START_ZOOM_MAX, zmax))
    z = np.clip(z0 * np.exp(ZOOM_WANDER * smooth(rng, T, 3)), 1.0, zmax)
    speed = rng.uniform(0.0, PAN_SPEED_MAX) * W
    vx = speed * smooth(rng, T, 4)
    vy = speed * PAN_VERTICAL * smooth(rng, T, 4)
    cx, cy = rng.uniform(*START_CENTRE) * pw, rng.uniform(*START_CENTRE) * ph
    out = []
    for t in range(T):
        ww, wh = min(pw, int(round(W * z[t]))), min(ph, int(round(H * z[t])))
        cx = float(np.clip(cx + vx[t], ww / 2, pw - ww / 2))
        cy = float(np.clip(cy + vy[t], wh / 2, ph - wh / 2))
        x0 = int(np.clip(round(cx - ww / 2), 0, pw - ww))
        y0 = int(np.clip(round(cy - wh / 2), 0, ph - wh))
        out.append((x0, y0, ww, wh))
    return out


def crop(photo: np.ndarray, win, W: int, H: int) -> np.ndarray:
    """The camera's view through window ``win``: a float32 BGR frame in [0, 1]."""
    x0, y0, ww, wh = win
    c = photo[y0:y0 + wh, x0:x0 + ww]
    if ww != W or wh != H:
        c = pyramid_resize(c, (W, H))
    return c.astype(np.float32) * np.float32(1.0 / 255.0)
