"""Rendering: the frames and per-frame log of a planned sequence, and the still training images.

A frame is composited back to front: the camera's view of the background photo, BC distractors, the target (MB
blurred), OCC occluders, camera blur (MB), then the lighting (IV).
"""
from __future__ import annotations

import math

import numpy as np

from ...errors import DataError
from ..sequence import OTB_ATTRIBUTES
from ..sources.images import premultiply
from ..sources.records import Cutout, SourceSplit
from .camera import camera_path, crop, prepare_photo, usable_backgrounds
from .compose import feather_edge, mask_box, paste, scaled, transform, xywh
from .draws import pick
from .effects import BLUR_MIN_PX, EFFECTS
from .plan import FEATHER_TAG, FRAME_FEATHER
from .state import GENERATOR, GENERATOR_VERSION, SPLIT_ID, Context, SequencePlan

IV, MB, BC, OCC = (EFFECTS[c] for c in ("IV", "MB", "BC", "OCC"))

# stills: one target placed in one frame, with these random variations
STILL_TRIES = 20                # targets tried before giving up on a still
STILL_ROTATION = 40             # 40 % rotated by up to +-40 degrees
STILL_SQUASH = (0.5, 1.0)       # 30 % squashed to this fraction of the width
STILL_STRETCH = 0.2             # log of the anisotropic stretch, +-
STILL_AREA = (2.0, 0.06)        # box area from 2 x the LR threshold to 6 % of the frame (log-uniform)
STILL_MAX_SIDE = 0.6            # box side at most this fraction of the frame side
STILL_DISTRACTOR = (1.1, 1.7)   # 30 % get a recoloured copy at this many target sizes
STILL_OCCLUDER = 0.6            # 20 % get a partial occluder of this x the target size
STILL_GAIN = (0.6, 1.4)         # 30 % are darker or brighter


def to_uint8(frame: np.ndarray) -> np.ndarray:
    """Float BGR in [0, 1] -> uint8 (rounded)."""
    return np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _r(x, nd: int = 3) -> float:
    return float(round(float(x), nd))


def render_frames(s: SequencePlan) -> tuple[list[np.ndarray], list[dict]]:
    """The frames (uint8 BGR) of a planned sequence and their log entries."""
    frames, log_frames = [], []
    for t in range(s.T):
        frame = crop(s.photo, s.camera[t], s.W, s.H)
        distractors = BC.paint(frame, s, t)
        paste(frame, *MB.blurred_target(s, t))
        occluders, occluded = OCC.paint(frame, s, t)
        frame = MB.shake(frame, s, t)
        IV.light(frame, s, t)
        frames.append(to_uint8(frame))
        log_frames.append(_frame_log(s, t, distractors, occluders, occluded))
    return frames, log_frames


def _frame_log(s: SequencePlan, t: int, distractors: list, occluders: list, occluded: float) -> dict:
    """What the generator did in frame ``t``: what `verify.verify_arrays` measures the attributes from."""
    x, y, w, h = xywh(s.unclipped[t])
    cam = s.camera[t]
    return {
        "frame": t + 1,
        "box": xywh(s.boxes[t]),
        "box_unclipped": [x, y, w, h],
        "out_of_view": bool(x < 0 or y < 0 or x + w > s.W or y + h > s.H),
        "area_ratio_plan": _r(s.area_ratio[t], 4),
        "rotation_deg": _r(s.rotation[t], 2),
        "out_of_plane_deg": _r(s.yaw[t], 2),
        "out_of_plane_axis": s.axis,
        "flipped": bool(s.flip[t]),
        "deformation": _r(s.deformation[t], 4),
        "blur_length": _r(s.blur_len[t], 3),
        "blur_angle_deg": _r(s.blur_ang[t], 1),
        "camera_blur": bool(s.camera_blur and s.blur_len[t] > BLUR_MIN_PX),
        "gain": _r(s.gain_target[t], 4),
        "global_gain": _r(s.gain_global[t], 4),
        "gain_gradient": [_r(s.grad_amp[t], 4), _r(s.grad_ang, 1)],
        "occluders": occluders,
        "occluded_fraction": _r(occluded, 4),
        "distractors": distractors,
        "camera": {"x": cam[0], "y": cam[1], "w": cam[2], "h": cam[3]},
    }


def render_sequence(s: SequencePlan) -> tuple[list[np.ndarray], np.ndarray, dict]:
    """(frames, ground truth (T, 4) x, y, w, h 0-based, generator log) of a planned sequence."""
    frames, log_frames = render_frames(s)
    target, bg = s.target, s.background
    log = {
        "name": "", "split": s.split, "generator": GENERATOR, "generator_version": GENERATOR_VERSION,
        "seed": s.seed_key, "frame_size": [s.W, s.H], "thresholds": s.th,
        "attributes_planned": [a for a in OTB_ATTRIBUTES if s.on(a)],
        "target": {"name": target.name, "source": target.source, "license": target.license,
                   "group": target.group},
        "background": {"name": bg.name, "source": bg.source, "license": bg.license, "group": bg.group},
        "occluder_sources": [o["source"] for o in s.occluders],
        "feather_px": _r(s.feather),
        "frames": log_frames,
    }
    return frames, s.gt, log


def render_still(ctx: Context, pool: SourceSplit, index: int) -> tuple[np.ndarray, list[int], Cutout]:
    """One still training sample: a target (random scale, rotation, squash, lighting) over a background crop,
    sometimes with a look-alike distractor or a partial occluder; the box stays inside the image.
    Returns (uint8 BGR image, [x, y, w, h] 0-based box, target cutout)."""
    W, H = ctx.W, ctx.H
    rng = np.random.default_rng(np.random.SeedSequence([ctx.cfg.seed, SPLIT_ID["stills"], index]))
    bg = pick(rng, usable_backgrounds(pool.backgrounds, W, H, "train background photo"))
    photo = prepare_photo(rng, bg, W, H)
    frame = crop(photo, camera_path(rng, photo, W, H, 1)[0], W, H)
    feather = np.random.default_rng(np.random.SeedSequence([ctx.cfg.seed, SPLIT_ID["stills"], index, FEATHER_TAG]))
    sigma = float(feather.uniform(*FRAME_FEATHER))
    for _ in range(STILL_TRIES):
        target = pick(rng, pool.objects)
        placed = _place_still_target(rng, ctx, premultiply(target.rgba), sigma)
        if placed is not None:
            p, lb, bx, by = placed
            break
    else:
        raise DataError("could not place a still target (objects too small or too large for the frame)")
    bw, bh = lb[2] - lb[0] + 1, lb[3] - lb[1] + 1
    ox, oy = bx - lb[0], by - lb[1]
    if rng.random() < 0.3:
        dp = p.copy()
        dp[..., :3] *= (1.0 + rng.uniform(-BC.RECOLOUR, BC.RECOLOUR, 3)).astype(np.float32)
        ang = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(*STILL_DISTRACTOR) * max(bw, bh)
        paste(frame, dp, int(round(ox + d * math.cos(ang))), int(round(oy + d * math.sin(ang))))
    paste(frame, p, ox, oy)
    if rng.random() < 0.2:
        on = premultiply(pick(rng, pool.objects, exclude=(target,)).rgba)
        on = scaled(on, min(1.0, STILL_OCCLUDER * max(bw, bh) / max(on.shape[:2])))
        paste(frame, on, int(bx + rng.uniform(-0.3, 0.9) * bw), int(by + rng.uniform(-0.3, 0.9) * bh))
    frame *= np.float32(rng.uniform(*STILL_GAIN) if rng.random() < 0.3 else 1.0)
    return to_uint8(frame), [bx, by, bw, bh], target


def _place_still_target(rng: np.random.Generator, ctx: Context, nat: np.ndarray, feather: float):
    """The transformed, scaled target patch (outline feathered by ``feather`` px, `compose.feather_edge`), its local
    box and its box's top-left in the still, or None when this cutout does not fit (too small or too large)."""
    W, H, m = ctx.W, ctx.H, ctx.margin
    rot = rng.uniform(-STILL_ROTATION, STILL_ROTATION) if rng.random() < 0.4 else 0.0
    sq = rng.uniform(*STILL_SQUASH) if rng.random() < 0.3 else 1.0
    p, _ = transform(nat, rot, sq, bool(rng.random() < 0.5), "x", None, 0.0,
                     float(np.exp(rng.uniform(-STILL_STRETCH, STILL_STRETCH))))
    lb = mask_box(p[..., 3])
    if lb is None:
        return None
    bw, bh = lb[2] - lb[0] + 1, lb[3] - lb[1] + 1
    area = math.exp(rng.uniform(math.log(STILL_AREA[0] * ctx.th["lr_area"]), math.log(STILL_AREA[1] * W * H)))
    f = min(1.0, math.sqrt(area / (bw * bh)), STILL_MAX_SIDE * W / bw, STILL_MAX_SIDE * H / bh)
    if f < 1:
        p = scaled(p, f)
    p = feather_edge(p, feather)
    lb = mask_box(p[..., 3])
    if lb is None:
        return None
    bw, bh = lb[2] - lb[0] + 1, lb[3] - lb[1] + 1
    if bw < 4 or bh < 4 or bw > W - 2 * m or bh > H - 2 * m:
        return None
    bx = int(rng.integers(m, W - m - bw + 1))
    by = int(rng.integers(m, H - m - bh + 1))
    return p, lb, bx, by
