"""One record for every tracking sequence, whatever benchmark it comes from, plus checked frame/annotation readers.

A `Sequence` holds frame paths (read lazily), the ground truth as an (N, 4) float array of x, y, w, h in the
benchmark's own pixel convention (`origin` = 1 for OTB/LaSOT MATLAB-style files, 0 otherwise), a validity mask
(False where the protocol says the target is absent or the row is unusable) and OTB-style attribute flags.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import BoxError, DataError

_SEPARATORS = re.compile(r"[,\t; ]+")

# OTB's eleven attribute codes (TB-100, Wu et al. TPAMI 2015), in the order of the paper's tables: illumination
# variation, scale variation, occlusion, deformation, motion blur, fast motion, in-plane rotation, out-of-plane
# rotation, out of view, background clutter, low resolution.
OTB_ATTRIBUTES = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")


@dataclass
class Sequence:
    """A tracking sequence.

    Attributes:
        name: sequence name as the benchmark spells it (e.g. ``Jogging-1``).
        frames: paths of the frames, in order, one per ground-truth row.
        boxes: (N, 4) float64 ground truth, x, y, w, h (top-left corner and size) in the file's convention.
        valid: (N,) bool, False for frames the protocol treats as target-absent or invalid.
        attributes: OTB-style attribute codes present in the sequence (``IV``, ``SV``, ...).
        origin: 1 when the file's pixel coordinates are 1-based (OTB, LaSOT), 0 otherwise.
        meta: free-form extras (e.g. GOT-10k cover labels, image resolution, language description).
    """

    name: str
    frames: list[Path]
    boxes: np.ndarray
    valid: np.ndarray | None = None
    attributes: tuple[str, ...] = ()
    origin: int = 0
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if self.valid is None:
            self.valid = np.all(np.isfinite(self.boxes), axis=1) & (self.boxes[:, 2] > 0) & (self.boxes[:, 3] > 0)
        self.valid = np.asarray(self.valid, dtype=bool)
        if len(self.frames) == 0:
            raise DataError(f"sequence {self.name!r}: no frames")
        if len(self.boxes) not in (1, len(self.frames)):
            # one row is allowed: test splits (GOT-10k test, TrackingNet TEST) only give the first box
            raise DataError(
                f"sequence {self.name!r}: {len(self.frames)} frames but {len(self.boxes)} ground-truth rows")
        if len(self.valid) != len(self.boxes):
            raise DataError(f"sequence {self.name!r}: validity mask has {len(self.valid)} entries for "
                            f"{len(self.boxes)} boxes")

    def __len__(self) -> int:
        return len(self.frames)

    def image(self, i: int) -> np.ndarray:
        """Frame ``i`` as an H x W x 3 uint8 BGR array (grayscale frames are expanded to 3 channels)."""
        return read_image(self.frames[i])

    def box(self, i: int) -> np.ndarray:
        """The box of frame ``i`` converted to 0-based pixels [x, y, w, h] (what trackers and crops consume)."""
        return self.boxes[i] - np.array([self.origin, self.origin, 0, 0], dtype=np.float64)

    def init_box(self) -> np.ndarray:
        """The first-frame box in 0-based pixels (what a tracker is initialised with)."""
        return self.box(0)


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as H x W x 3 uint8 BGR.

    Raises DataError naming the file when it is missing, empty, or cannot be decoded (truncated or corrupt data).
    Grayscale and 16-bit/alpha images are converted so that every caller sees the same layout.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing frame: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise DataError(f"empty frame file: {path}")
    if path.suffix.lower() in (".jpg", ".jpeg") and not _jpeg_complete(data):
        raise DataError(f"corrupt or truncated JPEG (no end-of-image marker): {path}")
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise DataError(f"cannot decode image (corrupt or unsupported format): {path}")
    if img.dtype != np.uint8:
        img = cv2.convertScaleAbs(img, alpha=255.0 / max(1.0, float(img.max())))
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    elif img.shape[2] == 1:
        img = cv2.cvtColor(img[:, :, 0], cv2.COLOR_GRAY2BGR)
    return img


def _jpeg_complete(data: np.ndarray) -> bool:
    """True when a JPEG byte stream ends with the EOI marker (allowing trailing padding bytes)."""
    tail = data[-64:].tobytes()
    return b"\xff\xd9" in tail


def read_boxes(path: str | Path, ncols: tuple[int, ...] = (4,), allow_nan: bool = False,
               empty_ok: bool = False) -> np.ndarray:
    """Parse a ground-truth text file into an (N, k) float64 array.

    Accepts comma, tab, semicolon or space separators (OTB files mix them). Every row must have one of ``ncols``
    numbers; the first row fixes k. A wrong count or a non-number raises DataError with file, line and content.
    NaN rows raise too unless ``allow_nan`` (some protocols mark absent frames with NaN; callers then mask them).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing ground-truth file: {path}")
    rows: list[list[float]] = []
    width = None
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.strip()
            if not text:
                continue
            parts = [p for p in _SEPARATORS.split(text) if p]
            try:
                values = [float(p) for p in parts]
            except ValueError:
                raise DataError(f"{path}:{lineno}: non-numeric value in {text!r}") from None
            if len(values) not in ncols or (width is not None and len(values) != width):
                want = width if width is not None else " or ".join(map(str, ncols))
                raise DataError(f"{path}:{lineno}: expected {want} numbers, found {len(values)} in {text!r}")
            width = len(values)
            if not allow_nan and not all(math.isfinite(v) for v in values):
                raise DataError(f"{path}:{lineno}: NaN or infinite value in {text!r}")
            rows.append(values)
    if not rows:
        if empty_ok:
            return np.zeros((0, ncols[0]), dtype=np.float64)
        raise DataError(f"empty ground-truth file: {path}")
    return np.asarray(rows, dtype=np.float64)


def polygon_to_box(poly: np.ndarray) -> np.ndarray:
    """Axis-aligned bounding box (x, y, w, h) of VOT polygons (N, 8) as x1,y1,...,x4,y4; (N, 4) passes through."""
    poly = np.asarray(poly, dtype=np.float64)
    if poly.shape[1] == 4:
        return poly.copy()
    xs, ys = poly[:, 0::2], poly[:, 1::2]
    x1, y1 = xs.min(axis=1), ys.min(axis=1)
    return np.stack([x1, y1, xs.max(axis=1) - x1, ys.max(axis=1) - y1], axis=1)


def check_box_in_image(box: np.ndarray, shape: tuple[int, ...], where: str = "") -> None:
    """Raise BoxError unless box (x, y, w, h, 0-based) has positive size and overlaps the image of ``shape``."""
    x, y, w, h = values = [float(v) for v in box]
    H, W = shape[:2]
    prefix = f"{where}: " if where else ""
    if not all(math.isfinite(v) for v in values):
        raise BoxError(f"{prefix}box {values} has a non-finite value")
    if w <= 0 or h <= 0:
        raise BoxError(f"{prefix}box {values} has non-positive size")
    if x >= W or y >= H or x + w <= 0 or y + h <= 0:
        raise BoxError(f"{prefix}box {values} lies outside the {W}x{H} image")
