"""Tables of a generated benchmark for the data notebook: attribute flags per sequence, box statistics per frame."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ..sequence import OTB_ATTRIBUTES, read_boxes, read_image
from ..sources.split import SPLITS
from .verify import thresholds, verify_attributes

BOX_STATS_COLUMNS = ["split", "name", "frame", "x", "y", "w", "h", "area", "area_ratio", "aspect", "centre_motion",
                     "motion_over_fm", "area_over_lr"]


def _sequence_dirs(root: Path):
    for split in SPLITS:
        d = root / split
        if d.is_dir():
            for s in sorted(p for p in d.iterdir() if (p / "groundtruth_rect.txt").is_file()):
                yield split, s


def attribute_table(root: str | Path, verify: bool = False) -> pd.DataFrame:
    """pandas DataFrame, one row per sequence: split, name, frames and one bool column per attribute (from
    ``attrs.txt``); with ``verify=True`` also ``<attr>_verified`` columns from ``verify_attributes``."""
    rows = []
    for split, s in _sequence_dirs(Path(root)):
        txt = (s / "attrs.txt").read_text().strip() if (s / "attrs.txt").is_file() else ""
        flags = {a.strip() for a in txt.split(",") if a.strip()}
        row = {"split": split, "name": s.name, "frames": len(read_boxes(s / "groundtruth_rect.txt"))}
        row.update({a: a in flags for a in OTB_ATTRIBUTES})
        if verify:
            row.update({f"{a}_verified": v for a, v in verify_attributes(s).items()})
        rows.append(row)
    cols = ["split", "name", "frames", *OTB_ATTRIBUTES] + ([f"{a}_verified" for a in OTB_ATTRIBUTES] if verify else [])
    return pd.DataFrame(rows, columns=cols)


def _frame_size(seq: Path) -> tuple[int, int]:
    """(W, H) from the generator log, else from the first frame."""
    try:
        W, H = json.loads((seq / "log.json").read_text())["frame_size"]
    except (OSError, ValueError, KeyError):
        H, W = read_image(seq / "img" / "0001.jpg").shape[:2]
    return W, H


def box_stats(root: str | Path) -> pd.DataFrame:
    """pandas DataFrame, one row per frame of every sequence: split, name, frame, x, y, w, h (1-based), area,
    area_ratio (to the first frame), aspect (w/h), centre_motion (px from the previous frame, NaN on frame 1), and the
    same normalised by OTB's thresholds at this frame size (motion_over_fm, area_over_lr)."""
    parts = []
    for split, s in _sequence_dirs(Path(root)):
        b = read_boxes(s / "groundtruth_rect.txt")
        th = thresholds(_frame_size(s))
        area = b[:, 2] * b[:, 3]
        cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
        motion = np.r_[np.nan, np.hypot(np.diff(cx), np.diff(cy))]
        parts.append(pd.DataFrame({
            "split": split, "name": s.name, "frame": np.arange(1, len(b) + 1),
            "x": b[:, 0], "y": b[:, 1], "w": b[:, 2], "h": b[:, 3], "area": area, "area_ratio": area / area[0],
            "aspect": b[:, 2] / b[:, 3], "centre_motion": motion, "motion_over_fm": motion / th["fm_px"],
            "area_over_lr": area / th["lr_area"]}))
    if not parts:
        return pd.DataFrame(columns=BOX_STATS_COLUMNS)
    return pd.concat(parts, ignore_index=True)
