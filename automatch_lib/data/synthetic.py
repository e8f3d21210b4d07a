"""Generated tracking benchmark in OTB layout, with OTB's eleven attributes produced on purpose.

Each sequence composites a real photographed object (an exact alpha-masked cutout, see ``sources.py``) over a real
scene photograph that the camera pans and zooms over. Every OTB attribute is produced by a mechanism that meets the
TB-100 definition (thresholds in pixels scaled by ``otb_scale`` = frame diagonal / 800, the diagonal of 640x480):

==== ===========================================================================================================
IV   a global gain (and a linear light gradient) ramps to 0.35-0.55 or 1.5-1.75 of the first frame's lighting
SV   the box area leaves [1/2, 2] x the first frame's area (planned area ratio 0.22-0.38 or 2.6-4)
OCC  other cutouts or feathered background patches pass in front of the target (covered fraction logged)
DEF  a smooth random displacement field, changing over time, warps the cutout and its mask
MB   a linear motion-blur kernel along the motion direction, length > 3 * otb_scale px
FM   bursts where the box centre moves 1.4-2 x 20 * otb_scale px between consecutive frames
IPR  the cutout and mask rotate in the image plane by 35-100 degrees
OPR  squash along one axis by |cos(theta)| (yaw or pitch) with a flip past 90 degrees, 40-170 degrees
OV   the target is pushed against a frame side until 20-35 % of its box is outside; ground truth is clipped
BC   recoloured copies of the target move within 2 target sizes of it
LR   the box area drops under 400 * otb_scale^2 px
==== ===========================================================================================================

The unflagged geometric attributes are enforced, not hoped for: without SV the area ratio is planned inside
[0.82, 1.22] (the rendered box is re-measured and rescaled to the plan); without FM the centre speed is capped at
0.5 x the FM threshold; without LR the area is planned above 1.6 x the LR threshold; without OV the box is clamped
inside the frame with a margin of 2 % of the frame. Every val/test sequence is then re-checked with the same code as
``verify_attributes`` plus a clearance rule (SV/FM/LR clear of their thresholds by 15-60 %, so a one-pixel
re-annotation cannot flip a flag) and regenerated with the next attempt seed until the flags it carries are exactly
the ones measured. Train sequences carry the flags measured on them.

Ground truth = tight box of the target's alpha > 0.5 (before blur, ignoring occluders as OTB annotators do),
clipped to the image like OTB annotates partly out-of-view targets, written 1-based as integers.
"""
from __future__ import annotations

import json
import math
import shutil
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError, DataError
from .sources import (SPLITS, Background, Cutout, SourceSplit, collect_sources, feathered_alpha, premultiply,
                      pyramid_resize)

ATTRIBUTES = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")
GENERATOR = "automatch_lib.data.synthetic"
GENERATOR_VERSION = 1
_SPLIT_ID = {"train": 0, "val": 1, "test": 2, "stills": 3}
_PREFIX = {"train": "Tr", "val": "Va", "test": "Te"}
_MAX_ATTEMPTS = 24


# ----------------------------------------------------------------------------------------------------------------
# configuration


@dataclass
class SyntheticConfig:
    """Parameters of the generated benchmark (plain types, so params.yaml maps onto it directly).

    Attributes:
        seed: master seed; every sequence uses its own ``SeedSequence([seed, split_id, index, attempt])``.
        frame_size: (W, H) of the frames in pixels.
        seq_len: frames per sequence.
        n_sequences: sequences per split, keys ``train``, ``val``, ``test``.
        n_stills: still-image training samples (one frame, one box) made from train sources.
        attributes: OTB attribute codes the generator may switch on; the others are kept off.
        attrs_per_sequence: (min, max) attributes per val/test sequence; attributes are dealt round-robin so every one
            appears at least once in a split of >= len(attributes) sequences, plus random extras.
        use_debian: fetch the Debian photo packages (else, or on failure, PyPI photographs only).
        cache_dir: where Debian packages are unpacked.
        jpeg_quality: JPEG quality of the frames.
    """

    seed: int = 0
    frame_size: tuple = (320, 240)
    seq_len: int = 60
    n_sequences: dict = field(default_factory=lambda: {"train": 24, "val": 6, "test": 12})
    n_stills: int = 200
    attributes: tuple = ATTRIBUTES
    attrs_per_sequence: tuple = (1, 3)
    use_debian: bool = True
    cache_dir: str = "data/cache/debian"
    jpeg_quality: int = 90

    def __post_init__(self) -> None:
        def bad(name, value, want):
            raise ConfigError(f"SyntheticConfig.{name} = {value!r}: {want}")

        def is_int(v):
            return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

        if not is_int(self.seed) or self.seed < 0:
            bad("seed", self.seed, "expected a non-negative integer")
        self.seed = int(self.seed)
        fs = self.frame_size
        if (not isinstance(fs, (list, tuple)) or len(fs) != 2 or not all(is_int(v) for v in fs)
                or not (96 <= fs[0] <= 4096 and 72 <= fs[1] <= 4096)):
            bad("frame_size", fs, "expected (W, H) integers with 96 <= W <= 4096 and 72 <= H <= 4096")
        self.frame_size = (int(fs[0]), int(fs[1]))
        if not is_int(self.seq_len) or not 16 <= self.seq_len <= 100000:
            bad("seq_len", self.seq_len, "expected an integer >= 16 (attribute mechanisms need room)")
        self.seq_len = int(self.seq_len)
        ns = self.n_sequences
        if not isinstance(ns, dict) or not set(ns) <= set(SPLITS):
            bad("n_sequences", ns, f"expected a dict with keys among {list(SPLITS)}")
        for k, v in ns.items():
            if not is_int(v) or v < 0:
                bad(f"n_sequences[{k!r}]", v, "expected a non-negative integer")
        self.n_sequences = {s: int(ns.get(s, 0)) for s in SPLITS}
        if not is_int(self.n_stills) or self.n_stills < 0:
            bad("n_stills", self.n_stills, "expected a non-negative integer")
        self.n_stills = int(self.n_stills)
        at = self.attributes
        if (isinstance(at, str) or not isinstance(at, (list, tuple)) or not at
                or any(a not in ATTRIBUTES for a in at) or len(set(at)) != len(at)):
            bad("attributes", at, f"expected a non-empty list of distinct codes among {list(ATTRIBUTES)}")
        self.attributes = tuple(at)
        ap = self.attrs_per_sequence
        if (not isinstance(ap, (list, tuple)) or len(ap) != 2 or not all(is_int(v) for v in ap)
                or not 1 <= ap[0] <= ap[1] <= len(self.attributes)):
            bad("attrs_per_sequence", ap, f"expected (min, max) with 1 <= min <= max <= {len(self.attributes)}")
        self.attrs_per_sequence = (int(ap[0]), int(ap[1]))
        if "LR" in self.attributes and math.hypot(*self.frame_size) < 150:
            bad("frame_size", self.frame_size, "too small for LR: OTB's low-resolution threshold 400 * otb_scale^2 "
                "px would leave boxes of a few pixels (use a frame diagonal >= 150 px or drop LR from attributes)")
        if not isinstance(self.use_debian, bool):
            bad("use_debian", self.use_debian, "expected true or false")
        if not isinstance(self.cache_dir, (str, Path)) or not str(self.cache_dir):
            bad("cache_dir", self.cache_dir, "expected a folder path")
        self.cache_dir = str(self.cache_dir)
        if not is_int(self.jpeg_quality) or not 1 <= self.jpeg_quality <= 100:
            bad("jpeg_quality", self.jpeg_quality, "expected an integer in [1, 100]")
        self.jpeg_quality = int(self.jpeg_quality)

    @classmethod
    def from_dict(cls, d: dict) -> "SyntheticConfig":
        """Build from a mapping (e.g. a params.yaml section); unknown keys raise ConfigError naming them."""
        if not isinstance(d, dict):
            raise ConfigError(f"synthetic config must be a mapping, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown SyntheticConfig field(s) {unknown}; known: {sorted(known)}")
        return cls(**d)


def otb_scale(frame_size: tuple[int, int]) -> float:
    """Frame diagonal / diagonal of 640x480 (OTB's typical frame): multiplies OTB's pixel thresholds."""
    return math.hypot(frame_size[0], frame_size[1]) / 800.0


def thresholds(frame_size: tuple[int, int]) -> dict:
    """The attribute thresholds used by the generator and ``verify_attributes`` for this frame size."""
    s = otb_scale(frame_size)
    return {"otb_scale": round(s, 6), "sv_ratio": 2.0, "fm_px": round(20.0 * s, 6), "lr_area": round(400.0 * s * s, 6),
            "occ_fraction": 0.2, "iv_gain": 0.25, "mb_length_px": round(3.0 * s, 6), "ipr_deg": 20.0,
            "opr_deg": 30.0, "def_magnitude": 0.05, "bc_distance": 2.0}


# ----------------------------------------------------------------------------------------------------------------
# small helpers


def _r(x, nd: int = 3):
    return float(round(float(x), nd))


def _smooth(rng: np.random.Generator, T: int, n_knots: int = 4) -> np.ndarray:
    """Smooth random curve in [-1, 1] over T frames (cosine interpolation between random knots)."""
    n_knots = max(2, n_knots)
    knots = rng.uniform(-1.0, 1.0, n_knots)
    if T == 1:
        return knots[:1].copy()
    x = np.linspace(0.0, n_knots - 1.0, T)
    i = np.minimum(np.floor(x).astype(int), n_knots - 2)
    f = 0.5 - 0.5 * np.cos(np.pi * (x - i))
    return knots[i] * (1 - f) + knots[i + 1] * f


def _ramp(T: int, t0: float, t1: float) -> np.ndarray:
    """0 before t0, cosine rise, 1 from t1 on."""
    t = np.arange(T, dtype=np.float64)
    if t1 <= t0:
        return (t >= t0).astype(np.float64)
    u = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def _profile(rng: np.random.Generator, T: int, min_len: int, back: bool) -> np.ndarray:
    """A 0 -> 1 ramp of at least ``min_len`` frames (optionally going back to 0 later) placed inside the sequence."""
    min_len = int(max(1, min(min_len, T - 2)))
    t0 = int(rng.integers(1, max(2, T - min_len)))
    L = int(rng.integers(min_len, max(min_len + 1, min(T - 1 - t0, 2 * min_len) + 1)))
    up = _ramp(T, t0, t0 + L)
    if back and t0 + L + 1 + min_len <= T - 1:
        t2 = int(rng.integers(t0 + L + 1, T - min_len))
        up = up - _ramp(T, t2, t2 + L)
    return up


def _mask_box(alpha: np.ndarray, thr: float = 0.5):
    """Inclusive (x0, y0, x1, y1) of alpha > thr, or None."""
    m = alpha > thr
    cols = np.flatnonzero(m.any(axis=0))
    if cols.size == 0:
        return None
    rows = np.flatnonzero(m.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def _line_kernel(length: float, angle_deg: float) -> np.ndarray:
    """Normalised anti-aliased line kernel of the given length (px) and direction."""
    n = int(math.ceil(length)) + 2
    n += 1 - n % 2
    k = np.zeros((n, n), np.uint8)
    c = (n - 1) / 2.0
    dx, dy = math.cos(math.radians(angle_deg)) * length / 2, math.sin(math.radians(angle_deg)) * length / 2
    p0 = (int(round((c - dx) * 16)), int(round((c - dy) * 16)))
    p1 = (int(round((c + dx) * 16)), int(round((c + dy) * 16)))
    cv2.line(k, p0, p1, 255, 1, cv2.LINE_AA, shift=4)
    kf = k.astype(np.float32)
    return kf / max(kf.sum(), 1e-6)


def _shape(prem: np.ndarray, rot: float, squash: float, flip: bool, axis: str, grid: np.ndarray | None,
           amp: float, aniso: float) -> tuple[np.ndarray, float]:
    """Deform, squash/flip (out-of-plane), anisotropic scale and rotate a premultiplied BGRA patch.

    Returns (patch cropped to its alpha support, realised deformation = max non-rigid displacement in object-normalised
    coordinates, i.e. x displacement / width and y displacement / height, after removing the mean translation).
    """
    img = prem
    h, w = img.shape[:2]
    size = float(max(h, w))
    def_mag = 0.0
    if grid is not None and amp > 0:
        # displacement in object-normalised coordinates (x scaled by the width, y by the height), so the warp is
        # the same at any resolution; the border replicates the field over the padding
        pad = int(math.ceil(amp * size)) + 2
        disp = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        disp = cv2.copyMakeBorder(disp, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        disp *= np.array([amp * w, amp * h], np.float32)
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
        hp, wp = img.shape[:2]
        xx = np.arange(wp, dtype=np.float32)[None, :] + disp[..., 0]
        yy = np.arange(hp, dtype=np.float32)[:, None] + disp[..., 1]
        img = cv2.remap(img, xx, yy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
        obj = img[..., 3] > 0.5
        if obj.any():
            d = disp[obj] / np.array([w, h], np.float32)
            def_mag = float(np.sqrt(((d - d.mean(axis=0)) ** 2).sum(axis=1)).max())
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
        hh, ww = img.shape[:2]
        th = math.radians(rot)
        cs, sn = abs(math.cos(th)), abs(math.sin(th))
        nw, nh = int(math.ceil(ww * cs + hh * sn)) + 2, int(math.ceil(ww * sn + hh * cs)) + 2
        M = cv2.getRotationMatrix2D(((ww - 1) / 2.0, (hh - 1) / 2.0), rot, 1.0)
        M[0, 2] += (nw - 1) / 2.0 - (ww - 1) / 2.0
        M[1, 2] += (nh - 1) / 2.0 - (hh - 1) / 2.0
        img = cv2.warpAffine(img, M, (nw, nh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                             borderValue=(0, 0, 0, 0))
    box = _mask_box(img[..., 3], 1.0 / 255)
    if box is None:
        return img[:1, :1] * 0, def_mag
    x0, y0, x1, y1 = box
    return np.ascontiguousarray(img[y0:y1 + 1, x0:x1 + 1]), def_mag


def _paste(frame: np.ndarray, patch: np.ndarray, ox: int, oy: int) -> None:
    """Composite premultiplied BGRA ``patch`` over float BGR ``frame`` with its top-left at (ox, oy), clipped."""
    H, W = frame.shape[:2]
    h, w = patch.shape[:2]
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + w, W), min(oy + h, H)
    if x1 <= x0 or y1 <= y0:
        return
    p = patch[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
    region = frame[y0:y1, x0:x1]
    region *= 1.0 - p[..., 3:4]
    region += p[..., :3]


def _alpha_into(canvas: np.ndarray, alpha: np.ndarray, ox: int, oy: int) -> None:
    """canvas = max(canvas, alpha placed at (ox, oy)), clipped."""
    H, W = canvas.shape[:2]
    h, w = alpha.shape[:2]
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + w, W), min(oy + h, H)
    if x1 > x0 and y1 > y0:
        np.maximum(canvas[y0:y1, x0:x1], alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox], out=canvas[y0:y1, x0:x1])


def _box_of_placed(alpha: np.ndarray, ox: int, oy: int, W: int, H: int):
    """(unclipped, clipped) inclusive boxes of alpha > 0.5 placed at (ox, oy); clipped = part inside the frame."""
    lb = _mask_box(alpha)
    if lb is None:
        return None, None
    un = (lb[0] + ox, lb[1] + oy, lb[2] + ox, lb[3] + oy)
    h, w = alpha.shape[:2]
    x0, y0, x1, y1 = max(ox, 0), max(oy, 0), min(ox + w, W), min(oy + h, H)
    if x1 <= x0 or y1 <= y0:
        return un, None
    cb = _mask_box(alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox])
    if cb is None:
        return un, None
    return un, (cb[0] + x0, cb[1] + y0, cb[2] + x0, cb[3] + y0)


def _xywh(b) -> list[int]:
    return [int(b[0]), int(b[1]), int(b[2] - b[0] + 1), int(b[3] - b[1] + 1)]


# ----------------------------------------------------------------------------------------------------------------
# verification (shared by the generator's self-check, verify_attributes and the tests)


def _verify_arrays(boxes: np.ndarray, log: dict) -> dict[str, bool]:
    """Attribute flags from (N, 4) x, y, w, h boxes (any origin) and the generator log."""
    W, H = log["frame_size"]
    th = thresholds((W, H))
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    area = boxes[:, 2] * boxes[:, 3]
    ratio = area / max(area[0], 1e-9)
    cx, cy = boxes[:, 0] + boxes[:, 2] / 2, boxes[:, 1] + boxes[:, 3] / 2
    motion = np.hypot(np.diff(cx), np.diff(cy))
    frames = log["frames"]

    def series(key, default=0.0):
        return np.array([f.get(key, default) for f in frames], dtype=np.float64)

    out = {}
    out["SV"] = bool(np.any((ratio > th["sv_ratio"]) | (ratio < 1.0 / th["sv_ratio"])))
    out["FM"] = bool(np.any(motion > th["fm_px"]))
    out["LR"] = bool(np.any(area < th["lr_area"]))
    ov = False
    for f in frames:
        x, y, w, h = f["box_unclipped"]
        if x < 0 or y < 0 or x + w > W or y + h > H:
            ov = True
            break
    out["OV"] = ov
    out["OCC"] = bool(series("occluded_fraction").max(initial=0.0) > th["occ_fraction"])
    gain = series("gain", 1.0)
    out["IV"] = bool(np.max(np.abs(gain / max(gain[0], 1e-9) - 1.0)) > th["iv_gain"])
    out["MB"] = bool(series("blur_length").max(initial=0.0) > th["mb_length_px"])
    rot = series("rotation_deg")
    out["IPR"] = bool(np.max(np.abs(rot - rot[0])) > th["ipr_deg"])
    opr = series("out_of_plane_deg")
    out["OPR"] = bool(np.max(np.abs(opr - opr[0])) > th["opr_deg"])
    out["DEF"] = bool(series("deformation").max(initial=0.0) > th["def_magnitude"])
    bc = False
    for i, f in enumerate(frames):
        tx, ty, tw, tht = boxes[i]
        tcx, tcy, size = tx + tw / 2, ty + tht / 2, max(tw, tht)
        for d in f.get("distractors", []):
            x, y, w, h = d["box"]
            dcx, dcy = x + w / 2, y + h / 2
            if 0 <= dcx < W and 0 <= dcy < H and math.hypot(dcx - tcx, dcy - tcy) <= th["bc_distance"] * size:
                bc = True
                break
        if bc:
            break
    out["BC"] = bc
    return {a: out[a] for a in ATTRIBUTES}


def _clear_margins(boxes: np.ndarray, flags: frozenset, th: dict) -> bool:
    """Val/test sequences must be clear of the SV/FM/LR thresholds, so that a one-pixel re-annotation cannot flip a
    flag: flagged -> beyond the threshold by a margin, unflagged -> inside it by a margin."""
    area = boxes[:, 2] * boxes[:, 3]
    ratio = area / area[0]
    c = boxes[:, :2] + boxes[:, 2:] / 2
    motion = np.linalg.norm(np.diff(c, axis=0), axis=1)
    sv = np.max(np.maximum(ratio, 1.0 / ratio))
    ok = (sv > 2.3) if "SV" in flags else (sv < 1.6)
    ok &= (motion.max() > 1.15 * th["fm_px"]) if "FM" in flags else (motion.max() < 0.8 * th["fm_px"])
    ok &= (area.min() < 0.9 * th["lr_area"]) if "LR" in flags else (area.min() > 1.15 * th["lr_area"])
    return bool(ok)


def verify_attributes(seq_dir: str | Path) -> dict[str, bool]:
    """Recompute the eleven OTB attribute flags of a generated sequence.

    SV, FM and LR come from ``groundtruth_rect.txt`` by OTB's definitions (area ratio to the first frame outside
    [1/2, 2]; centre motion > 20 * otb_scale px; area < 400 * otb_scale^2 px); OV from the unclipped box of
    ``log.json`` (part of the target outside the frame); OCC, IV, MB, IPR, OPR, DEF and BC from the logged mechanisms
    (occluded fraction > 0.2, |gain / first gain - 1| > 0.25, blur length > 3 * otb_scale px, |rotation| > 20 deg,
    out-of-plane > 30 deg, non-rigid displacement > 5 % of the object size, a look-alike distractor centred within
    2 target sizes). ``otb_scale`` = frame diagonal / 800.
    """
    from .sequence import read_boxes

    seq_dir = Path(seq_dir)
    boxes = read_boxes(seq_dir / "groundtruth_rect.txt")
    try:
        log = json.loads((seq_dir / "log.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read generator log {seq_dir / 'log.json'}: {exc}") from None
    if len(log.get("frames", [])) != len(boxes):
        raise DataError(f"{seq_dir}: log.json has {len(log.get('frames', []))} frames, ground truth {len(boxes)}")
    return _verify_arrays(boxes, log)


# ----------------------------------------------------------------------------------------------------------------
# one sequence


class _Retry(Exception):
    """The random draw cannot realise the plan; try the next attempt seed."""


@dataclass
class _Ctx:
    cfg: SyntheticConfig
    W: int
    H: int
    th: dict
    margin: int


def _prep_background(rng: np.random.Generator, bg: Background, W: int, H: int) -> np.ndarray:
    """The photo, downscaled (pyramid) so that it is 1.8-2.6 x the frame, never upscaled."""
    ph, pw = bg.bgr.shape[:2]
    ratio = min(pw / W, ph / H)
    want = rng.uniform(1.8, 2.6)
    if ratio > want:
        f = want / ratio
        return pyramid_resize(bg.bgr, (max(W, int(round(pw * f))), max(H, int(round(ph * f)))))
    return bg.bgr


def _camera(rng: np.random.Generator, photo: np.ndarray, W: int, H: int, T: int):
    """Per-frame crop windows (x0, y0, ww, wh) of a smooth pan and zoom; windows are >= the frame (no upsampling)."""
    ph, pw = photo.shape[:2]
    zmax = max(1.0, min(pw / W, ph / H) / 1.08)
    z0 = rng.uniform(1.0, min(1.6, zmax))
    z = np.clip(z0 * np.exp(0.12 * _smooth(rng, T, 3)), 1.0, zmax)
    speed = rng.uniform(0.0, 0.012) * W
    vx = speed * _smooth(rng, T, 4)
    vy = speed * 0.6 * _smooth(rng, T, 4)
    cx, cy = rng.uniform(0.35, 0.65) * pw, rng.uniform(0.35, 0.65) * ph
    out = []
    for t in range(T):
        ww, wh = min(pw, int(round(W * z[t]))), min(ph, int(round(H * z[t])))
        cx = float(np.clip(cx + vx[t], ww / 2, pw - ww / 2))
        cy = float(np.clip(cy + vy[t], wh / 2, ph - wh / 2))
        x0 = int(np.clip(round(cx - ww / 2), 0, pw - ww))
        y0 = int(np.clip(round(cy - wh / 2), 0, ph - wh))
        out.append((x0, y0, ww, wh))
    return out


def _crop(photo: np.ndarray, win, W: int, H: int) -> np.ndarray:
    x0, y0, ww, wh = win
    c = photo[y0:y0 + wh, x0:x0 + ww]
    if ww != W or wh != H:
        c = pyramid_resize(c, (W, H))
    return c.astype(np.float32) * np.float32(1.0 / 255.0)


def _pick(rng: np.random.Generator, items: list, exclude=()):
    cands = [x for x in items if x not in exclude] or list(items)
    return cands[int(rng.integers(len(cands)))]


def _aspect_ok(c: Cutout, lo: float, hi: float) -> bool:
    h, w = c.rgba.shape[:2]
    return lo <= w / h <= hi


def _render_sequence(ctx: _Ctx, pool: SourceSplit, split: str, index: int, planned: frozenset, train: bool,
                     attempt: int):
    cfg, W, H, th, m = ctx.cfg, ctx.W, ctx.H, ctx.th, ctx.margin
    T = cfg.seq_len
    seed_key = [cfg.seed, _SPLIT_ID[split], index, attempt]
    rng = np.random.default_rng(np.random.SeedSequence(seed_key))
    A = planned
    fm_thr, lr_thr = th["fm_px"], th["lr_area"]
    v_cap = 0.5 * fm_thr
    Fa = float(W * H)

    # ---- sources
    usable_bgs = [b for b in pool.backgrounds if min(b.bgr.shape[1] / W, b.bgr.shape[0] / H) >= 1.1]
    if not usable_bgs:
        raise DataError(f"no background photo of the {split} split is at least 1.1 x the frame size {W}x{H}")
    # cycle through the split's photos in a seeded order so that sequences use different ones
    order_rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, _SPLIT_ID[split], 77]))
    bg_order = [usable_bgs[j] for j in order_rng.permutation(len(usable_bgs))]
    obj_order = [pool.objects[j] for j in order_rng.permutation(len(pool.objects))]
    objs = obj_order
    if "LR" in A:
        objs = [o for o in objs if _aspect_ok(o, 0.45, 2.2)] or objs
    if attempt == 0:
        bg, target = bg_order[index % len(bg_order)], objs[index % len(objs)]
    else:  # a retry draws other photos
        bg, target = _pick(rng, bg_order), _pick(rng, objs)
    photo = _prep_background(rng, bg, W, H)
    cam = _camera(rng, photo, W, H, T)

    # ---- shape plan (scale-free)
    rot = np.zeros(T)
    if "IPR" in A:
        amp = rng.uniform(35, 100) * (1 if rng.random() < 0.5 else -1)
        amp = math.copysign(min(abs(amp), 8.0 * (T - 3)), amp)
        rot = amp * _profile(rng, T, int(math.ceil(abs(amp) / 8.0)), back=bool(rng.random() < 0.5))
    elif train and rng.random() < 0.3:
        rot = rng.uniform(-15, 15) * _smooth(rng, T, 3)
    yaw = np.zeros(T)
    axis = "x" if rng.random() < 0.75 else "y"
    if "OPR" in A:
        amp = rng.uniform(60, 170) if "SV" in A else rng.uniform(40, 60)
        amp = min(amp, 10.0 * (T - 3))
        yaw = amp * _profile(rng, T, int(math.ceil(amp / 10.0)), back=bool(rng.random() < 0.5))
    cosy = np.cos(np.radians(yaw))
    squash = np.maximum(np.abs(cosy), 0.12)
    flip = cosy < 0
    grids, amp_def = None, np.zeros(T)
    if "DEF" in A:
        gsz = int(rng.integers(3, 6))
        n_key = max(2, T // 8 + 1)
        keys = rng.normal(size=(n_key, gsz, gsz, 2)).astype(np.float32)
        keys /= np.abs(keys).max(axis=(1, 2, 3), keepdims=True)
        x = np.linspace(0, n_key - 1, T)
        i = np.minimum(np.floor(x).astype(int), n_key - 2)
        f = (0.5 - 0.5 * np.cos(np.pi * (x - i))).astype(np.float32)
        grids = [keys[i[t]] * (1 - f[t]) + keys[i[t] + 1] * f[t] for t in range(T)]
        amp_def = rng.uniform(0.08, 0.15) * (0.75 + 0.25 * _smooth(rng, T, 3))
    aniso = np.ones(T)
    if train and rng.random() < 0.4:
        aniso = np.exp(0.25 * _smooth(rng, T, 3))

    def shape_at(prem, t):
        return _shape(prem, float(rot[t]), float(squash[t]), bool(flip[t]), axis,
                      None if grids is None else grids[t], float(amp_def[t]), float(aniso[t]))

    # ---- measure the shape at low resolution
    nat = cv2.GaussianBlur(premultiply(target.rgba), (3, 3), 0.7)  # feather the mask edge (and colours with it)
    nh, nw = nat.shape[:2]
    lscale = min(1.0, 64.0 / max(nh, nw))
    low = pyramid_resize(nat, (max(1, round(nw * lscale)), max(1, round(nh * lscale)))) if lscale < 1 else nat
    meas = []
    for t in range(T):
        p, _ = shape_at(low, t)
        b = _mask_box(p[..., 3])
        if b is None:
            raise _Retry("empty mask")
        meas.append(((b[2] - b[0] + 1) / lscale, (b[3] - b[1] + 1) / lscale))
    bw = np.array([x[0] for x in meas])
    bh = np.array([x[1] for x in meas])
    a_nat = bw * bh

    # ---- area plan: A_t = A0 * r_t
    if "SV" in A:
        shrink = bool(rng.random() < 0.5)
        rstar = rng.uniform(0.22, 0.38) if shrink else rng.uniform(2.6, 4.0)
        r = np.exp(math.log(rstar) * _profile(rng, T, max(4, T // 3), back=bool(rng.random() < 0.4)))
    else:
        n = _smooth(rng, T, 3)
        r = np.exp(0.2 * (n - n[0]) / 2.0)
        if train and rng.random() < 0.3:
            r = np.exp(0.6 * (n - n[0]) / 2.0)
    ov_frac_max = 0.35
    lo_terms = [9.0 * a_nat / (np.minimum(bw, bh) ** 2 * r)]  # shortest side >= 3 px
    hi_terms = [a_nat / r,  # never upsample the cutout
                (0.45 * W) ** 2 * a_nat / (bw ** 2 * r), (0.45 * H) ** 2 * a_nat / (bh ** 2 * r)]
    if "LR" in A:
        hi_terms.append(np.full(T, 0.75 * lr_thr / r.min()))
    else:
        lo_terms.append((1.6 if "OV" not in A else 1.6 / (1 - ov_frac_max)) * lr_thr / r)
        lo_terms.append(16.0 * a_nat / (np.minimum(bw, bh) ** 2 * r))  # shortest side >= 4 px
    lo = max(float(np.max(x)) for x in lo_terms)
    hi = min(float(np.min(x)) for x in hi_terms)
    if lo > hi:
        raise _Retry("no feasible target size")
    if "LR" in A:  # as large as allowed: tiny boxes are quantised, which would break the area-ratio band
        plo, phi = max(lo, 0.8 * hi), hi
    else:
        plo, phi = max(lo, 0.008 * Fa), min(hi, (0.05 if "OV" not in A else 0.03) * Fa)
        if plo > phi:
            plo, phi = lo, hi
    A0 = float(math.exp(rng.uniform(math.log(plo), math.log(phi))))
    area_plan = A0 * r
    fscale = np.sqrt(area_plan / a_nat)  # final / native scale per frame
    omega = min(1.0, 1.1 * float(fscale.max()))
    work = (pyramid_resize(nat, (max(1, round(nw * omega)), max(1, round(nh * omega)))) if omega < 0.999 else nat)

    # ---- final target patches; one correction pass brings the measured box area back to the plan (thin parts
    # vanish and boxes are quantised at small sizes)
    def render_final(t, fs):
        p, dm = shape_at(work, t)
        q = min(1.0, fs / omega)
        if q < 0.999:
            ph_, pw_ = p.shape[:2]
            p = pyramid_resize(p, (max(1, int(round(pw_ * q))), max(1, int(round(ph_ * q)))))
        return p, _mask_box(p[..., 3]), dm

    patches, def_real = [], np.zeros(T)
    for t in range(T):
        p, lb, dm = render_final(t, fscale[t])
        if lb is not None:
            corr = math.sqrt(area_plan[t] / ((lb[2] - lb[0] + 1) * (lb[3] - lb[1] + 1)))
            if abs(math.log(corr)) > 0.08:
                p2, lb2, dm2 = render_final(t, fscale[t] * corr)
                if lb2 is not None:
                    p, lb, dm = p2, lb2, dm2
        if lb is None:
            raise _Retry("target vanished")
        patches.append((p, lb))
        def_real[t] = dm
    dims = np.array([[lb[2] - lb[0] + 1, lb[3] - lb[1] + 1] for _, lb in patches], dtype=np.float64)

    # ---- trajectory of the box centre
    e = np.full((T, 4), -float(m))  # allowed overflow per side (left, top, right, bottom); negative = margin
    push = np.zeros((T, 2))
    ov_window = (T, T)
    if "OV" in A:
        side = int(rng.integers(4))
        dim = dims[:, 0] if side in (0, 2) else dims[:, 1]
        f_out = rng.uniform(0.2, ov_frac_max if "SV" in A or "LR" in A else 0.3)
        v_ramp = 0.7 * v_cap
        over = np.maximum(f_out * dim, 1.0)  # at least one whole pixel outside
        need = float(m + over.max())
        n_r = int(math.ceil(need / v_ramp))
        n_h = int(rng.integers(1, max(2, T // 6)))
        while 2 * n_r + n_h > T - 2 and v_ramp < 0.45 * fm_thr:
            v_ramp = min(0.45 * fm_thr, v_ramp * 1.2)
            n_r = int(math.ceil(need / v_ramp))
        if 2 * n_r + n_h > T - 2:
            raise _Retry("sequence too short for OV")
        t0 = int(rng.integers(1, T - 1 - (2 * n_r + n_h) + 1))
        t = np.arange(T)
        lvl = np.clip(np.minimum((t - t0) / n_r, (t0 + 2 * n_r + n_h - t) / n_r), 0, 1)
        e[:, side] = -m + lvl * (m + over)
        nvec = [(-1, 0), (0, -1), (1, 0), (0, 1)][side]
        push[: t0 + n_r + n_h] = np.array(nvec, dtype=np.float64)
        ov_window = (t0, t0 + 2 * n_r + n_h)

    def region(t):
        w, h = dims[t]
        return (-e[t, 0] + w / 2, -e[t, 1] + h / 2, W + e[t, 2] - w / 2, H + e[t, 3] - h / 2)

    bursts: set[int] = set()
    if "FM" in A:
        free = [t for t in range(2, T) if not ov_window[0] - 1 <= t <= ov_window[1]]
        if not free:
            raise _Retry("no room for FM")
        n_b = int(rng.integers(1, 3))
        for t in sorted(rng.choice(free, size=min(n_b, len(free)), replace=False)):
            for k in range(int(rng.integers(1, 4))):
                if t + k < T and (t + k) in free:
                    bursts.add(int(t + k))
    train_fast = train and "FM" not in A and rng.random() < 0.2

    x0r, y0r, x1r, y1r = region(0)
    if "OV" in A:  # start against the side it will leave by
        nv = push[0]
        ux = 0.5 + 0.5 * nv[0] + (rng.uniform(-0.3, 0.3) if nv[0] == 0 else 0.0)
        uy = 0.5 + 0.5 * nv[1] + (rng.uniform(-0.3, 0.3) if nv[1] == 0 else 0.0)
    else:
        ux, uy = rng.uniform(0.25, 0.75), rng.uniform(0.25, 0.75)
    c = np.array([x0r + ux * max(0.0, x1r - x0r), y0r + uy * max(0.0, y1r - y0r)])
    heading = rng.uniform(0, 2 * math.pi)
    sp0 = rng.uniform(0.1, 0.8) * v_cap
    spn = _smooth(rng, T, 5)
    centres = [c.copy()]
    burst_speed = rng.uniform(1.4, 2.0) * fm_thr
    for t in range(1, T):
        heading += rng.normal(0, 0.3)
        sp = float(np.clip(sp0 * (1 + 0.6 * spn[t]), 0, v_cap))
        v = sp * np.array([math.cos(heading), math.sin(heading)])
        rx0, ry0, rx1, ry1 = region(t)
        if t in bursts:
            best, bd = None, -1.0
            for k in range(8):
                d = np.array([math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)])
                lim = []
                for comp, lo_, hi_ in ((0, rx0, rx1), (1, ry0, ry1)):
                    if d[comp] > 1e-9:
                        lim.append((hi_ - c[comp]) / d[comp])
                    elif d[comp] < -1e-9:
                        lim.append((lo_ - c[comp]) / d[comp])
                free_d = min(lim) if lim else 0.0
                if free_d > bd:
                    best, bd = d, free_d
            spd = min(burst_speed, 0.95 * bd)
            v = best * spd
            heading = math.atan2(best[1], best[0])
        elif train_fast and rng.random() < 0.1:
            v = v / max(np.linalg.norm(v), 1e-9) * rng.uniform(0.8, 1.8) * fm_thr
        if np.any(push[t]) and t not in bursts:
            # press against the side: outward normal speed 0.9 v_cap (faster than the allowed overflow grows),
            # tangential wander kept, total capped
            nvec = push[t]
            tang = v - nvec * float(v @ nvec)
            v = tang * 0.4 + nvec * 0.9 * v_cap
            nrm = np.linalg.norm(v)
            if nrm > v_cap:
                v *= v_cap / nrm
        c = c + v
        if not rx0 <= c[0] <= rx1:
            heading = math.pi - heading
        if not ry0 <= c[1] <= ry1:
            heading = -heading
        c = np.array([np.clip(c[0], rx0, max(rx0, rx1)), np.clip(c[1], ry0, max(ry0, ry1))])
        centres.append(c.copy())
    # integer placement, clamped to the allowed region in integer pixels
    place = []
    for t in range(T):
        p, lb = patches[t]
        w, h = dims[t]
        bx = int(round(centres[t][0] - w / 2))
        by = int(round(centres[t][1] - h / 2))
        bx = int(np.clip(bx, math.ceil(-e[t, 0]), max(math.ceil(-e[t, 0]), math.floor(W + e[t, 2] - w))))
        by = int(np.clip(by, math.ceil(-e[t, 1]), max(math.ceil(-e[t, 1]), math.floor(H + e[t, 3] - h))))
        place.append((bx - lb[0], by - lb[1]))

    # ---- boxes
    un_boxes, gt_boxes = [], []
    for t in range(T):
        p, _ = patches[t]
        un, cl = _box_of_placed(p[..., 3], *place[t], W, H)
        if cl is None:
            raise _Retry("target fully out of view")
        un_boxes.append(un)
        gt_boxes.append(cl)
    gt = np.array([_xywh(b) for b in gt_boxes], dtype=np.float64)
    gcx, gcy = gt[:, 0] + gt[:, 2] / 2, gt[:, 1] + gt[:, 3] / 2

    # ---- illumination
    gain_global = np.ones(T)
    grad_amp, grad_ang = np.zeros(T), 0.0
    if "IV" in A:
        g = rng.uniform(0.35, 0.55) if rng.random() < 0.5 else rng.uniform(1.5, 1.75)
        prof = _profile(rng, T, max(3, T // 6), back=bool(rng.random() < 0.5))
        gain_global = 1.0 + (g - 1.0) * prof
        if rng.random() < 0.5:
            grad_amp = rng.uniform(0.15, 0.3) * prof
            grad_ang = rng.uniform(0, 360)
    elif train and rng.random() < 0.2:
        gain_global = 1.0 + 0.2 * _smooth(rng, T, 3)
    ga = math.radians(grad_ang)
    gu = np.array([math.cos(ga), math.sin(ga)])

    def proj(x, y):
        return ((x - W / 2) * gu[0] + (y - H / 2) * gu[1]) / math.hypot(W, H)

    gain_tgt = gain_global * (1.0 + grad_amp * proj(gcx, gcy))
    if grad_amp.any():
        yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
        pfield = proj(xx, yy).astype(np.float32)

    # ---- motion blur
    blur_len, blur_ang = np.zeros(T), np.zeros(T)
    cam_blur = False
    if "MB" in A:
        prof = _profile(rng, T, max(2, T // 6), back=True) > 0.3
        prof[int(rng.integers(1, T))] = True
        speed = np.r_[0.0, np.hypot(np.diff(gcx), np.diff(gcy))]
        expo = rng.uniform(0.6, 1.0)
        lmin = rng.uniform(4.5, 9.0) * th["otb_scale"]
        ang0 = rng.uniform(0, 180)
        for t in range(T):
            if prof[t]:
                blur_len[t] = min(max(expo * speed[t], lmin * (1 + 0.3 * rng.random())), 24.0 * th["otb_scale"])
                blur_ang[t] = (math.degrees(math.atan2(gcy[t] - gcy[t - 1], gcx[t] - gcx[t - 1]))
                               if t > 0 and speed[t] > 0.5 else ang0)
        cam_blur = bool(rng.random() < 0.3)

    # ---- distractors (BC): recoloured copies of the target near it
    distractors = []
    if "BC" in A or (train and rng.random() < 0.35):
        for _ in range(int(rng.integers(1, 3))):
            distractors.append({"gain": (1.0 + rng.uniform(-0.12, 0.12, 3)).astype(np.float32),
                                "scale": rng.uniform(0.72, 1.0), "dist": rng.uniform(1.1, 1.7),
                                "phi": math.atan2(H / 2 - gcy[0], W / 2 - gcx[0]) + rng.uniform(-1.0, 1.0),
                                "omega": rng.uniform(-0.04, 0.04),
                                "flip": bool(rng.random() < 0.5)})

    # ---- occluders in front
    occluders = []
    if "OCC" in A or (train and rng.random() < 0.3):
        n_occ = int(rng.integers(1, 3))
        for _ in range(n_occ):
            tc = int(rng.integers(max(1, T // 5), max(2, T - T // 5)))
            size_t = float(max(gt[tc, 2], gt[tc, 3]))
            if rng.random() < 0.7 and len(pool.objects) > 1:
                oc = _pick(rng, pool.objects, exclude=(target,))
                onat = premultiply(oc.rgba)
                ob = _mask_box(onat[..., 3])
                oa = (ob[2] - ob[0] + 1) * (ob[3] - ob[1] + 1)
                f = min(1.0, math.sqrt(rng.uniform(0.8, 1.8) * gt[tc, 2] * gt[tc, 3] / oa))
                oh, ow = onat.shape[:2]
                opatch = pyramid_resize(onat, (max(1, round(ow * f)), max(1, round(oh * f))))
                ang = rng.uniform(-30, 30)
                opatch, _ = _shape(opatch, ang, 1.0, bool(rng.random() < 0.5), "x", None, 0.0, 1.0)
                oname, osrc = oc.name, oc.source
            else:
                ob_bg = _pick(rng, pool.backgrounds)
                bgp = ob_bg.bgr
                dw = int(min(bgp.shape[1] - 1, max(4, gt[tc, 2] * rng.uniform(1.0, 1.5))))
                dh = int(min(bgp.shape[0] - 1, max(4, gt[tc, 3] * rng.uniform(1.0, 1.5))))
                z = rng.uniform(1.0, max(1.0, min(2.0, bgp.shape[1] / dw / 1.01, bgp.shape[0] / dh / 1.01)))
                cw, ch = int(dw * z), int(dh * z)
                xx0, yy0 = int(rng.integers(0, bgp.shape[1] - cw + 1)), int(rng.integers(0, bgp.shape[0] - ch + 1))
                crop = pyramid_resize(bgp[yy0:yy0 + ch, xx0:xx0 + cw], (dw, dh))
                opatch = premultiply(np.dstack([crop, feathered_alpha(dh, dw, bool(rng.random() < 0.5))]))
                oname, osrc = f"{ob_bg.name}@{xx0},{yy0},{cw},{ch}", ob_bg.source
            u = rng.uniform(0.0, 1.5) * fm_thr * np.array([math.cos(a := rng.uniform(0, 2 * math.pi)), math.sin(a)])
            perp = np.array([-u[1], u[0]]) / max(np.linalg.norm(u), 1e-9)
            delta = perp * rng.uniform(-0.2, 0.2) * size_t
            occluders.append({"patch": opatch, "tc": tc, "c0": np.array([gcx[tc], gcy[tc]]) + delta, "u": u,
                              "name": oname, "source": osrc})

    # ---- render
    frames, log_frames = [], []
    for t in range(T):
        frame = _crop(photo, cam[t], W, H)
        p, lb = patches[t]
        ox, oy = place[t]
        dlog = []
        for d in distractors:
            q = d["scale"]
            dp = pyramid_resize(p, (max(1, round(p.shape[1] * q)), max(1, round(p.shape[0] * q)))) if q < 0.999 else p
            dp = dp.copy()
            dp[..., :3] *= d["gain"]
            if d["flip"]:
                dp = cv2.flip(dp, 1)
            size = max(gt[t, 2], gt[t, 3])
            ang = d["phi"] + d["omega"] * t
            dcx = gcx[t] + d["dist"] * size * math.cos(ang)
            dcy = gcy[t] + d["dist"] * size * math.sin(ang)
            dox, doy = int(round(dcx - dp.shape[1] / 2)), int(round(dcy - dp.shape[0] / 2))
            _paste(frame, dp, dox, doy)
            db = _mask_box(dp[..., 3])
            if db is not None:
                dlog.append({"box": _xywh((db[0] + dox, db[1] + doy, db[2] + dox, db[3] + doy))})
        tp, tox, toy = p, ox, oy
        if blur_len[t] > 0.5:
            k = _line_kernel(blur_len[t], blur_ang[t])
            pad = k.shape[0] // 2 + 1
            tp = cv2.copyMakeBorder(p, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0, 0))
            tp = cv2.filter2D(tp, -1, k, borderType=cv2.BORDER_CONSTANT)
            tox, toy = ox - pad, oy - pad
        _paste(frame, tp, tox, toy)
        olog, occ_frac = [], 0.0
        if occluders:
            occ_alpha = np.zeros((H, W), np.float32)
            for o in occluders:
                op = o["patch"]
                cc = o["c0"] + o["u"] * (t - o["tc"])
                oox, ooy = int(round(cc[0] - op.shape[1] / 2)), int(round(cc[1] - op.shape[0] / 2))
                _paste(frame, op, oox, ooy)
                _alpha_into(occ_alpha, op[..., 3], oox, ooy)
                un, cl = _box_of_placed(op[..., 3], oox, ooy, W, H)
                olog.append({"name": o["name"], "box": None if cl is None else _xywh(un)})
            # fraction of the visible target mask covered by occluders
            tm = np.zeros((H, W), np.float32)
            _alpha_into(tm, p[..., 3], ox, oy)
            tmask = tm > 0.5
            n_t = int(tmask.sum())
            occ_frac = float((occ_alpha[tmask] > 0.5).sum()) / max(n_t, 1)
        if blur_len[t] > 0.5 and cam_blur:
            frame = cv2.filter2D(frame, -1, _line_kernel(blur_len[t] * 0.5, blur_ang[t]),
                                 borderType=cv2.BORDER_REFLECT)
        if grad_amp[t] != 0:
            frame *= (gain_global[t] * (1.0 + grad_amp[t] * pfield))[..., None]
        elif gain_global[t] != 1.0:
            frame *= np.float32(gain_global[t])
        frames.append(np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8))
        un = un_boxes[t]
        x, y, w, h = _xywh(un)
        log_frames.append({
            "frame": t + 1,
            "box": _xywh(gt_boxes[t]),
            "box_unclipped": [x, y, w, h],
            "out_of_view": bool(x < 0 or y < 0 or x + w > W or y + h > H),
            "area_ratio_plan": _r(r[t], 4),
            "rotation_deg": _r(rot[t], 2),
            "out_of_plane_deg": _r(yaw[t], 2),
            "out_of_plane_axis": axis,
            "flipped": bool(flip[t]),
            "deformation": _r(def_real[t], 4),
            "blur_length": _r(blur_len[t], 3),
            "blur_angle_deg": _r(blur_ang[t], 1),
            "camera_blur": bool(cam_blur and blur_len[t] > 0.5),
            "gain": _r(gain_tgt[t], 4),
            "global_gain": _r(gain_global[t], 4),
            "gain_gradient": [_r(grad_amp[t], 4), _r(grad_ang, 1)],
            "occluders": olog,
            "occluded_fraction": _r(occ_frac, 4),
            "distractors": dlog,
            "camera": {"x": cam[t][0], "y": cam[t][1], "w": cam[t][2], "h": cam[t][3]},
        })
    log = {
        "name": "", "split": split, "generator": GENERATOR, "generator_version": GENERATOR_VERSION,
        "seed": seed_key, "frame_size": [W, H], "thresholds": th,
        "attributes_planned": [a for a in ATTRIBUTES if a in A],
        "target": {"name": target.name, "source": target.source, "license": target.license,
                   "group": target.group},
        "background": {"name": bg.name, "source": bg.source, "license": bg.license, "group": bg.group},
        "occluder_sources": [o["source"] for o in occluders],
        "frames": log_frames,
    }
    return frames, gt, log


# ----------------------------------------------------------------------------------------------------------------
# stills


def _render_still(ctx: _Ctx, pool: SourceSplit, index: int):
    """One still training sample: a target (random scale, rotation, squash, lighting) over a background crop,
    sometimes with a look-alike distractor or a partial occluder; the box stays inside the image."""
    W, H, m = ctx.W, ctx.H, ctx.margin
    rng = np.random.default_rng(np.random.SeedSequence([ctx.cfg.seed, _SPLIT_ID["stills"], index]))
    usable = [b for b in pool.backgrounds if min(b.bgr.shape[1] / W, b.bgr.shape[0] / H) >= 1.1]
    if not usable:
        raise DataError(f"no train background photo is at least 1.1 x the frame size {W}x{H}")
    bg = _pick(rng, usable)
    photo = _prep_background(rng, bg, W, H)
    frame = _crop(photo, _camera(rng, photo, W, H, 1)[0], W, H)
    for _ in range(20):
        target = _pick(rng, pool.objects)
        nat = premultiply(target.rgba)
        rot = rng.uniform(-40, 40) if rng.random() < 0.4 else 0.0
        sq = rng.uniform(0.5, 1.0) if rng.random() < 0.3 else 1.0
        p, _ = _shape(nat, rot, sq, bool(rng.random() < 0.5), "x", None, 0.0, float(np.exp(rng.uniform(-0.2, 0.2))))
        lb = _mask_box(p[..., 3])
        if lb is None:
            continue
        bw, bh = lb[2] - lb[0] + 1, lb[3] - lb[1] + 1
        area = math.exp(rng.uniform(math.log(2.0 * ctx.th["lr_area"]), math.log(0.06 * W * H)))
        f = min(1.0, math.sqrt(area / (bw * bh)), 0.6 * W / bw, 0.6 * H / bh)
        if f < 1:
            p = pyramid_resize(p, (max(1, round(p.shape[1] * f)), max(1, round(p.shape[0] * f))))
        lb = _mask_box(p[..., 3])
        if lb is None:
            continue
        bw, bh = lb[2] - lb[0] + 1, lb[3] - lb[1] + 1
        if bw < 4 or bh < 4 or bw > W - 2 * m or bh > H - 2 * m:
            continue
        bx = int(rng.integers(m, W - m - bw + 1))
        by = int(rng.integers(m, H - m - bh + 1))
        break
    else:
        raise DataError("could not place a still target (objects too small or too large for the frame)")
    ox, oy = bx - lb[0], by - lb[1]
    if rng.random() < 0.3:
        dp = p.copy()
        dp[..., :3] *= (1.0 + rng.uniform(-0.12, 0.12, 3)).astype(np.float32)
        ang = rng.uniform(0, 2 * math.pi)
        d = rng.uniform(1.1, 1.7) * max(bw, bh)
        _paste(frame, dp, int(round(ox + d * math.cos(ang))), int(round(oy + d * math.sin(ang))))
    _paste(frame, p, ox, oy)
    if rng.random() < 0.2:
        oc = _pick(rng, pool.objects, exclude=(target,))
        on = premultiply(oc.rgba)
        f = min(1.0, 0.6 * max(bw, bh) / max(on.shape[:2]))
        on = pyramid_resize(on, (max(1, round(on.shape[1] * f)), max(1, round(on.shape[0] * f))))
        _paste(frame, on, int(bx + rng.uniform(-0.3, 0.9) * bw), int(by + rng.uniform(-0.3, 0.9) * bh))
    frame *= np.float32(rng.uniform(0.6, 1.4) if rng.random() < 0.3 else 1.0)
    img = np.clip(frame * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return img, [bx, by, bw, bh], target


# ----------------------------------------------------------------------------------------------------------------
# benchmark


def _assign_attributes(cfg: SyntheticConfig, split: str, n: int) -> tuple[list[str], list[frozenset]]:
    """Round-robin primary attribute (every attribute once per len(attributes) sequences) + random extras."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, _SPLIT_ID[split], 1_000_003]))
    attrs = list(cfg.attributes)
    order = [attrs[i] for i in rng.permutation(len(attrs))]
    lo, hi = cfg.attrs_per_sequence
    out, primaries = [], []
    for i in range(n):
        primary = order[i % len(order)]
        primaries.append(primary)
        k = int(rng.integers(lo, hi + 1))
        others = [a for a in attrs if a != primary]
        extra = []
        if k > 1:
            extra = [others[j] for j in rng.choice(len(others), size=min(k - 1, len(others)), replace=False)]
        out.append(frozenset([primary, *extra]))
    return primaries, out


def _train_attributes(cfg: SyntheticConfig, index: int) -> frozenset:
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, _SPLIT_ID["train"], 2_000_003, index]))
    attrs = list(cfg.attributes)
    k = int(rng.integers(0, min(4, len(attrs)) + 1))
    return frozenset(attrs[j] for j in rng.choice(len(attrs), size=k, replace=False))


def _write_text(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def _write_jpeg(path: Path, img: np.ndarray, quality: int) -> None:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise DataError(f"JPEG encoding failed for {path}")
    path.write_bytes(buf.tobytes())


def _gt_text(boxes: np.ndarray) -> str:
    """1-based integer x,y,w,h lines as in OTB."""
    return "".join(f"{int(b[0]) + 1},{int(b[1]) + 1},{int(b[2])},{int(b[3])}\n" for b in boxes)


def _dump_log(log: dict) -> str:
    """Valid JSON, sorted keys, one line per frame (readable, diffable, byte-stable)."""
    items = [f" {json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in sorted(log.items()) if k != "frames"]
    frames = ",\n".join("  " + json.dumps(f, sort_keys=True) for f in log["frames"])
    items.append(' "frames": [\n' + frames + "\n ]")
    return "{\n" + ",\n".join(items) + "\n}\n"


def _prepare_out(out_dir: Path) -> None:
    parts = [out_dir / s for s in (*SPLITS, "stills")]
    man = out_dir / "manifest.json"
    ours = False
    if man.is_file():
        try:
            ours = json.loads(man.read_text()).get("generator") == GENERATOR
        except ValueError:
            ours = False
    if ours:
        for p in parts:
            if p.exists():
                shutil.rmtree(p)
        man.unlink()
    else:
        busy = [str(p) for p in parts if p.exists() and any(p.iterdir())]
        if busy:
            raise DataError(f"refusing to overwrite non-empty folders not made by this generator: {busy}")
    out_dir.mkdir(parents=True, exist_ok=True)


def generate_benchmark(out_dir: str | Path, cfg: SyntheticConfig | None = None, progress: bool = True) -> dict:
    """Write the generated benchmark under ``out_dir`` and return its manifest.

    Layout (OTB): ``out_dir/{train,val,test}/<Seq>/img/0001.jpg ...``, ``groundtruth_rect.txt`` (1-based integer
    x,y,w,h), ``attrs.txt`` (``IV, SV, ...`` or empty) and ``log.json`` (per-frame generator log);
    ``out_dir/stills/<Still>/img/0001.jpg`` + ``groundtruth_rect.txt`` (one row); ``out_dir/manifest.json``.
    Same config -> byte-identical annotation files (and JPEGs with the same OpenCV build).
    """
    from tqdm import tqdm

    cfg = cfg or SyntheticConfig()
    if not isinstance(cfg, SyntheticConfig):
        raise ConfigError(f"cfg must be a SyntheticConfig, got {type(cfg).__name__}")
    out_dir = Path(out_dir)
    W, H = cfg.frame_size
    ctx = _Ctx(cfg=cfg, W=W, H=H, th=thresholds((W, H)), margin=max(2, int(round(0.02 * min(W, H)))))
    pool = collect_sources(cfg.cache_dir, cfg.use_debian, cfg.seed,
                           background_max_side=max(1024, int(2.7 * max(W, H))),
                           object_max_side=max(384, int(0.6 * max(W, H))))
    _prepare_out(out_dir)
    total = sum(cfg.n_sequences.values()) + cfg.n_stills
    bar = tqdm(total=total, desc="synthetic benchmark", unit="seq", disable=not progress)
    splits_out = {}
    attr_counts = {}
    gen_warnings = list(pool.warnings)
    n_frames = 0
    for split in SPLITS:
        n = cfg.n_sequences[split]
        sp = pool.splits[split]
        primaries, planned_all = _assign_attributes(cfg, split, n) if split != "train" else ([], [])
        seqs = []
        for i in range(n):
            train = split == "train"
            planned = _train_attributes(cfg, i) if train else planned_all[i]
            result = None
            for attempt in range(_MAX_ATTEMPTS):
                plan = planned
                if attempt >= _MAX_ATTEMPTS // 2 and len(planned) > 1:
                    # after many failures drop the random extras (val/test keep the round-robin primary attribute;
                    # train sequences are labelled with what they measure anyway)
                    plan = frozenset() if train else frozenset([primaries[i]])
                try:
                    frames, gt, log = _render_sequence(ctx, sp, split, i, plan, train, attempt)
                except _Retry:
                    continue
                measured = _verify_arrays(gt, log)
                if train:
                    result = (frames, gt, log, frozenset(a for a, v in measured.items() if v), attempt)
                    break
                if all(measured[a] == (a in plan) for a in ATTRIBUTES) and _clear_margins(gt, plan, ctx.th):
                    result = (frames, gt, log, plan, attempt)
                    break
            if result is None:
                raise DataError(f"{split} sequence {i}: could not realise attributes {sorted(planned)} in "
                                f"{_MAX_ATTEMPTS} attempts (frame size {W}x{H}, seq_len {cfg.seq_len}); use longer "
                                f"sequences or larger frames")
            frames, gt, log, flags, attempt = result
            if flags != planned and not train:
                gen_warnings.append(f"{split} sequence {i}: extras of {sorted(planned)} dropped, kept {sorted(flags)}")
            tname = log["target"]["name"].removeprefix("tux_")
            name = f"{_PREFIX[split]}{i + 1:03d}_{tname}"
            log["name"] = name
            log["attributes"] = [a for a in ATTRIBUTES if a in flags]
            log["attempt"] = attempt
            sdir = out_dir / split / name
            (sdir / "img").mkdir(parents=True, exist_ok=True)
            for t, img in enumerate(frames):
                _write_jpeg(sdir / "img" / f"{t + 1:04d}.jpg", img, cfg.jpeg_quality)
            _write_text(sdir / "groundtruth_rect.txt", _gt_text(gt))
            _write_text(sdir / "attrs.txt", ", ".join(log["attributes"]) + ("\n" if log["attributes"] else ""))
            _write_text(sdir / "log.json", _dump_log(log))
            n_frames += len(frames)
            seqs.append({"name": name, "attributes": log["attributes"], "frames": len(frames),
                         "target": log["target"]["name"], "target_group": log["target"]["group"],
                         "background": log["background"]["name"], "background_group": log["background"]["group"],
                         "attempt": attempt})
            bar.update(1)
        splits_out[split] = {"source_photos": sp.groups, "sequences": seqs}
        attr_counts[split] = {a: sum(a in s["attributes"] for s in seqs) for a in ATTRIBUTES}
    stills = []
    for i in range(cfg.n_stills):
        img, box, target = _render_still(ctx, pool.splits["train"], i)
        name = f"Still{i + 1:04d}_{target.name.removeprefix('tux_')}"
        sdir = out_dir / "stills" / name
        (sdir / "img").mkdir(parents=True, exist_ok=True)
        _write_jpeg(sdir / "img" / "0001.jpg", img, cfg.jpeg_quality)
        _write_text(sdir / "groundtruth_rect.txt", _gt_text(np.array([box])))
        _write_text(sdir / "attrs.txt", "")
        stills.append({"name": name, "target": target.name, "target_group": target.group})
        bar.update(1)
    bar.close()
    manifest = {
        "generator": GENERATOR, "generator_version": GENERATOR_VERSION,
        "config": _jsonable(asdict(cfg)), "seed": cfg.seed, "frame_size": [W, H], "thresholds": ctx.th,
        "sources": pool.describe(),
        "splits": splits_out,
        "stills": {"count": len(stills), "source_split": "train", "items": stills},
        "counts": {**{s: len(splits_out[s]["sequences"]) for s in SPLITS}, "stills": len(stills),
                   "frames": n_frames},
        "attribute_counts": attr_counts,
        "warnings": gen_warnings,
    }
    _write_text(out_dir / "manifest.json", json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    return manifest


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    return x


# ----------------------------------------------------------------------------------------------------------------
# analysis helpers for the data notebook


def _sequence_dirs(root: Path):
    for split in SPLITS:
        d = root / split
        if d.is_dir():
            for s in sorted(p for p in d.iterdir() if (p / "groundtruth_rect.txt").is_file()):
                yield split, s


def attribute_table(root: str | Path, verify: bool = False):
    """pandas DataFrame, one row per sequence: split, name, frames and one bool column per attribute (from
    ``attrs.txt``); with ``verify=True`` also ``<attr>_verified`` columns from ``verify_attributes``."""
    import pandas as pd

    from .sequence import read_boxes

    rows = []
    for split, s in _sequence_dirs(Path(root)):
        txt = (s / "attrs.txt").read_text().strip() if (s / "attrs.txt").is_file() else ""
        flags = {a.strip() for a in txt.split(",") if a.strip()}
        row = {"split": split, "name": s.name, "frames": len(read_boxes(s / "groundtruth_rect.txt"))}
        row.update({a: a in flags for a in ATTRIBUTES})
        if verify:
            row.update({f"{a}_verified": v for a, v in verify_attributes(s).items()})
        rows.append(row)
    cols = ["split", "name", "frames", *ATTRIBUTES] + ([f"{a}_verified" for a in ATTRIBUTES] if verify else [])
    return pd.DataFrame(rows, columns=cols)


def box_stats(root: str | Path):
    """pandas DataFrame, one row per frame of every sequence: split, name, frame, x, y, w, h (1-based), area,
    area_ratio (to the first frame), aspect (w/h), centre_motion (px from the previous frame, NaN on frame 1), and the
    same normalised by OTB's thresholds at this frame size (motion_over_fm, area_over_lr)."""
    import pandas as pd

    from .sequence import read_boxes

    parts = []
    for split, s in _sequence_dirs(Path(root)):
        b = read_boxes(s / "groundtruth_rect.txt")
        try:
            W, H = json.loads((s / "log.json").read_text())["frame_size"]
        except (OSError, ValueError, KeyError):
            from .sequence import read_image
            H, W = read_image(s / "img" / "0001.jpg").shape[:2]
        th = thresholds((W, H))
        area = b[:, 2] * b[:, 3]
        cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
        motion = np.r_[np.nan, np.hypot(np.diff(cx), np.diff(cy))]
        parts.append(pd.DataFrame({
            "split": split, "name": s.name, "frame": np.arange(1, len(b) + 1),
            "x": b[:, 0], "y": b[:, 1], "w": b[:, 2], "h": b[:, 3], "area": area, "area_ratio": area / area[0],
            "aspect": b[:, 2] / b[:, 3], "centre_motion": motion, "motion_over_fm": motion / th["fm_px"],
            "area_over_lr": area / th["lr_area"]}))
    if not parts:
        return pd.DataFrame(columns=["split", "name", "frame", "x", "y", "w", "h", "area", "area_ratio", "aspect",
                                     "centre_motion", "motion_over_fm", "area_over_lr"])
    return pd.concat(parts, ignore_index=True)
