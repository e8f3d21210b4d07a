"""LaSOT and TNL2K: long-term benchmarks with ``groundtruth.txt`` per sequence folder and a natural-language
description of the target (kept in ``meta['language']``); absent frames are flagged (LaSOT) or written with zero
size (TNL2K) and are invalid.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..sequence import Sequence, read_boxes
from .files import (check_listed, list_images, list_or_scan, numbered_frames, pick, read_labels, read_list_file,
                    read_text, resolve_list, sub_dirs)

# --------------------------------------------------------------------------------------------------------------
# LaSOT


def _lasot_sequence(name: str, folder: Path) -> Sequence:
    gt = folder / "groundtruth.txt"
    boxes = read_boxes(gt)
    frames = numbered_frames(folder / "img", len(boxes), gt)
    valid = np.all(np.isfinite(boxes), axis=1) & (boxes[:, 2] > 0) & (boxes[:, 3] > 0)
    meta: dict = {"groundtruth": str(gt), "class": name.rsplit("-", 1)[0]}
    for flag in ("full_occlusion", "out_of_view"):
        path = folder / f"{flag}.txt"
        if path.is_file():
            meta[flag] = read_labels(path, len(boxes)).astype(bool)
            valid &= ~meta[flag]
    language = read_text(folder / "nlp.txt")
    if language is not None:
        meta["language"] = language
    return Sequence(name, frames, boxes, valid=valid, origin=1, meta=meta)


def load_lasot(root, split=None, sequences=None) -> list[Sequence]:
    """LaSOT: ``<root>/<class>/<class>-<k>/img/00000001.jpg``, ``groundtruth.txt`` (comma x,y,w,h),
    ``full_occlusion.txt`` / ``out_of_view.txt`` (one line of 0/1), ``nlp.txt`` (-> ``meta['language']``).

    Origin = 1. Validity: not fully occluded, not out of view, positive size (the flags are kept in ``meta``).
    ``split='test'`` reads ``<root>/testing_set.txt`` (``'train'``: ``training_set.txt``, else everything not in
    the test list) when present, else every sequence; any other split names a list file. A flat
    ``<root>/<class>-<k>/`` layout is accepted too.
    """
    root = Path(root)
    folders: dict[str, Path] = {}
    for d in sub_dirs(root):
        if (d / "groundtruth.txt").is_file() or (d / "img").is_dir():
            folders[d.name] = d
        else:
            for s in sub_dirs(d):
                if re.fullmatch(re.escape(d.name) + r"-\d+", s.name):
                    folders[s.name] = s
    where = f"lasot root {root}"
    names = list(folders)
    if split not in (None, "all"):
        test_file, train_file = root / "testing_set.txt", root / "training_set.txt"
        list_file = None
        if split == "test":
            list_file = test_file if test_file.is_file() else None
        elif split == "train":
            if train_file.is_file():
                list_file = train_file
            elif test_file.is_file():
                test = set(read_list_file(test_file))
                names = [n for n in names if n not in test]
        else:
            list_file = resolve_list(root, split)
        if list_file is not None:
            names = check_listed(list_file, read_list_file(list_file), lambda n: n in folders, root)
            where = f"lasot split {list_file}"
    catalog = {n: (lambda n=n: _lasot_sequence(n, folders[n])) for n in names}
    return pick(catalog, sequences, where)


# --------------------------------------------------------------------------------------------------------------
# TNL2K

# Sequences whose groundtruth.txt has one row more than frames (SOTS drops the last row; protocols §3).
_TNL2K_EXTRA_ROW = {"advSamp_Baseball_game_002-Done", "advSamp_monitor_bikeyellow"}


def _tnl2k_sequence(name: str, folder: Path) -> Sequence:
    gt = folder / "groundtruth.txt"
    boxes = read_boxes(gt)
    frames = list_images(folder / "imgs")
    if not frames:
        raise DataError(f"empty sequence folder (no .jpg/.jpeg/.png frames): {folder / 'imgs'}")
    meta: dict = {"groundtruth": str(gt)}
    if name in _TNL2K_EXTRA_ROW and len(boxes) == len(frames) + 1:
        boxes, meta["dropped_last_row"] = boxes[:-1], True
    if len(boxes) != len(frames):
        raise DataError(f"{gt}: {len(boxes)} ground-truth rows but {len(frames)} frames in {folder / 'imgs'}")
    language = read_text(folder / "language.txt")
    if language is not None:
        meta["language"] = language
    return Sequence(name, frames, boxes, origin=0, meta=meta)


def load_tnl2k(root, split=None, sequences=None) -> list[Sequence]:
    """TNL2K: ``<root>/<seq>/imgs/*`` (png or jpg, sorted by name), ``groundtruth.txt`` (comma x,y,w,h),
    ``language.txt`` (-> ``meta['language']``).

    Origin = 0. Validity: w > 0 and h > 0 (absent frames are written with zero size). Frame count must equal GT
    rows. ``split`` may name a list file (e.g. ``TNL2K_testing_set.txt``).
    """
    return list_or_scan(Path(root), split, sequences, "tnl2k", "groundtruth.txt", _tnl2k_sequence)
