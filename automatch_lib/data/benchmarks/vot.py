"""VOT short-term (2013-2019 style): rotated-polygon ground truth reduced to axis-aligned boxes, NaN rows for frames
VOT marks unknown.
"""
from __future__ import annotations

from pathlib import Path

from ..sequence import Sequence, polygon_to_box, read_boxes
from .files import list_or_scan, numbered_frames


def _vot_sequence(name: str, folder: Path) -> Sequence:
    gt = folder / "groundtruth.txt"
    polygons = read_boxes(gt, ncols=(4, 8), allow_nan=True)
    img_dir = folder / "color" if (folder / "color").is_dir() else folder
    frames = numbered_frames(img_dir, len(polygons), gt)
    return Sequence(name, frames, polygon_to_box(polygons), origin=0,
                    meta={"groundtruth": str(gt), "polygons": polygons})


def load_vot(root, split=None, sequences=None) -> list[Sequence]:
    """VOT (short-term, 2013-2019 style): ``<root>/list.txt``, ``<seq>/color/00000001.jpg`` (older editions:
    ``<seq>/00000001.jpg``) and ``<seq>/groundtruth.txt`` with 8-number polygons or 4-number boxes per frame.

    Boxes are the axis-aligned bounds of the polygons (``meta['polygons']`` keeps the raw rows). Origin = 0.
    Validity: rows with NaN (frames VOT marks unknown) or non-positive size are invalid. Without list.txt, every
    folder holding a groundtruth.txt is a sequence.
    """
    return list_or_scan(Path(root), split, sequences, "vot", "groundtruth.txt", _vot_sequence, "list.txt")
