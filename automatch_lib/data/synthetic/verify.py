"""OTB's attribute definitions as measurements: the eleven flags of a generated sequence recomputed from its ground
truth and generator log, shared by the generator's self-check, ``verify_attributes`` and the tests.

Thresholds are TB-100's, in pixels of a 640x480 frame, scaled by ``otb_scale`` = frame diagonal / 800.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..sequence import OTB_ATTRIBUTES, read_boxes

OTB_DIAGONAL = 800.0  # diagonal of 640x480, OTB's typical frame

# clear-margin rule of val/test sequences (see `clear_margins`): how far beyond (flagged) or inside (unflagged) the
# SV, FM and LR thresholds the ground truth must stay
SV_FLAGGED_RATIO, SV_UNFLAGGED_RATIO = 2.3, 1.6
FM_FLAGGED_FACTOR, FM_UNFLAGGED_FACTOR = 1.15, 0.8
LR_FLAGGED_FACTOR, LR_UNFLAGGED_FACTOR = 0.9, 1.15


def otb_scale(frame_size: tuple[int, int]) -> float:
    """Frame diagonal / diagonal of 640x480 (OTB's typical frame): multiplies OTB's pixel thresholds."""
    return math.hypot(frame_size[0], frame_size[1]) / OTB_DIAGONAL


def thresholds(frame_size: tuple[int, int]) -> dict:
    """The attribute thresholds used by the generator and ``verify_attributes`` for this frame size."""
    s = otb_scale(frame_size)
    return {"otb_scale": round(s, 6), "sv_ratio": 2.0, "fm_px": round(20.0 * s, 6), "lr_area": round(400.0 * s * s, 6),
            "occ_fraction": 0.2, "iv_gain": 0.25, "mb_length_px": round(3.0 * s, 6), "ipr_deg": 20.0,
            "opr_deg": 30.0, "def_magnitude": 0.05, "bc_distance": 2.0}


def _clutter_near_target(boxes: np.ndarray, frames: list[dict], W: int, H: int, reach: float) -> bool:
    """BC: a logged look-alike distractor centred inside the frame within ``reach`` target sizes of the target."""
    for i, f in enumerate(frames):
        tx, ty, tw, tht = boxes[i]
        tcx, tcy, size = tx + tw / 2, ty + tht / 2, max(tw, tht)
        for d in f.get("distractors", []):
            x, y, w, h = d["box"]
            dcx, dcy = x + w / 2, y + h / 2
            if 0 <= dcx < W and 0 <= dcy < H and math.hypot(dcx - tcx, dcy - tcy) <= reach * size:
                return True
    return False


def verify_arrays(boxes: np.ndarray, log: dict) -> dict[str, bool]:
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

    def outside(f) -> bool:
        x, y, w, h = f["box_unclipped"]
        return x < 0 or y < 0 or x + w > W or y + h > H

    gain, rot, opr = series("gain", 1.0), series("rotation_deg"), series("out_of_plane_deg")
    out = {
        "SV": bool(np.any((ratio > th["sv_ratio"]) | (ratio < 1.0 / th["sv_ratio"]))),
        "FM": bool(np.any(motion > th["fm_px"])),
        "LR": bool(np.any(area < th["lr_area"])),
        "OV": any(outside(f) for f in frames),
        "OCC": bool(series("occluded_fraction").max(initial=0.0) > th["occ_fraction"]),
        "IV": bool(np.max(np.abs(gain / max(gain[0], 1e-9) - 1.0)) > th["iv_gain"]),
        "MB": bool(series("blur_length").max(initial=0.0) > th["mb_length_px"]),
        "IPR": bool(np.max(np.abs(rot - rot[0])) > th["ipr_deg"]),
        "OPR": bool(np.max(np.abs(opr - opr[0])) > th["opr_deg"]),
        "DEF": bool(series("deformation").max(initial=0.0) > th["def_magnitude"]),
        "BC": _clutter_near_target(boxes, frames, W, H, th["bc_distance"]),
    }
    return {a: out[a] for a in OTB_ATTRIBUTES}


def clear_margins(boxes: np.ndarray, flags: frozenset, th: dict) -> bool:
    """Val/test sequences must be clear of the SV/FM/LR thresholds, so that a one-pixel re-annotation cannot flip a
    flag: flagged -> beyond the threshold by a margin, unflagged -> inside it by a margin."""
    area = boxes[:, 2] * boxes[:, 3]
    ratio = area / area[0]
    c = boxes[:, :2] + boxes[:, 2:] / 2
    motion = np.linalg.norm(np.diff(c, axis=0), axis=1)
    sv = np.max(np.maximum(ratio, 1.0 / ratio))
    ok = (sv > SV_FLAGGED_RATIO) if "SV" in flags else (sv < SV_UNFLAGGED_RATIO)
    ok &= ((motion.max() > FM_FLAGGED_FACTOR * th["fm_px"]) if "FM" in flags
           else (motion.max() < FM_UNFLAGGED_FACTOR * th["fm_px"]))
    ok &= ((area.min() < LR_FLAGGED_FACTOR * th["lr_area"]) if "LR" in flags
           else (area.min() > LR_UNFLAGGED_FACTOR * th["lr_area"]))
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
    seq_dir = Path(seq_dir)
    boxes = read_boxes(seq_dir / "groundtruth_rect.txt")
    try:
        log = json.loads((seq_dir / "log.json").read_text())
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read generator log {seq_dir / 'log.json'}: {exc}") from None
    if len(log.get("frames", [])) != len(boxes):
        raise DataError(f"{seq_dir}: log.json has {len(log.get('frames', []))} frames, ground truth {len(boxes)}")
    return verify_arrays(boxes, log)
