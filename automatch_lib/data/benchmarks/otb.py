"""OTB, DTB70 and UAV123: the MATLAB-era benchmarks with 1-based x,y,w,h ground truth and numbered frames.

OTB and DTB70 share the ``<Seq>/img/ + groundtruth_rect.txt`` folder layout; UAV123 keeps annotations and frames
in two parallel trees (``anno/`` and ``data_seq/``) and lets several sub-sequences share one frame folder.
"""
from __future__ import annotations

import re
from pathlib import Path

from ...errors import DataError
from ..sequence import Sequence, read_boxes
from .files import (Catalog, attributes_of, check_listed, numbered_frames, pick, read_list_file, resolve_list,
                    sub_dirs)

# --------------------------------------------------------------------------------------------------------------
# OTB / DTB70 (MATLAB-era "<Seq>/img + groundtruth_rect.txt" layout)

# OTB sequences whose official frame range differs from "all image files": name -> (first frame number, frames
# omitted at the start). Their folders may hold more images than ground-truth rows (evaluation-protocols.md §3).
_OTB_SPECIAL = {
    "David": (300, 0), "Football1": (1, 0), "Freeman3": (1, 0), "Freeman4": (1, 0), "Diving": (1, 0),
    "BlurCar1": (247, 0), "BlurCar3": (3, 0), "BlurCar4": (18, 0), "Tiger1": (1, 5),
}


def _otb_targets(folder: Path) -> list[tuple[str, Path]]:
    """(sequence name, ground-truth file) pairs of an OTB folder; [] when the folder is not a sequence."""
    single = folder / "groundtruth_rect.txt"
    numbered = sorted(folder.glob("groundtruth_rect.*.txt"))
    numbered = [p for p in numbered if re.fullmatch(r"groundtruth_rect\.\d+\.txt", p.name)]
    has_img = (folder / "img").is_dir()
    if not single.is_file() and not numbered:
        if has_img:
            raise DataError(f"sequence folder without groundtruth_rect.txt: {folder}")
        return []  # not a sequence (e.g. an 'anno' folder)
    if not has_img:
        raise DataError(f"sequence folder without an img/ folder: {folder}")
    if single.is_file():
        return [(folder.name, single)]
    used = [p for p in numbered if p.read_text(encoding="utf-8", errors="replace").strip()]  # Human4: .1 is empty
    if not used:
        raise DataError(f"all ground-truth files are empty in {folder}: {', '.join(p.name for p in numbered)}")
    if len(used) == 1:
        return [(folder.name, used[0])]
    return [(f"{folder.name}-{p.name.split('.')[1]}", p) for p in used]


def _load_folder_sequence(name: str, folder: Path, gt: Path, origin: int, special: dict | None = None) -> Sequence:
    boxes = read_boxes(gt)
    start, omit = (special or {}).get(folder.name, (None, 0))
    frames = numbered_frames(folder / "img", len(boxes), gt, start=start, allow_extra=start is not None)
    meta = {"groundtruth": str(gt), "start_frame": int(frames[0].stem) + omit}
    if omit:
        frames, boxes = frames[omit:], boxes[omit:]
        meta["init_omit"] = omit
    return Sequence(name, frames, boxes, attributes=attributes_of(folder), origin=origin, meta=meta)


def _folder_benchmark(root: Path, split, sequences, bench: str, origin: int, special: dict | None) -> list[Sequence]:
    catalog: Catalog = {}
    groups: dict[str, list[str]] = {}
    for folder in sub_dirs(root):
        targets = _otb_targets(folder)
        for name, gt in targets:
            catalog[name] = (lambda n=name, f=folder, g=gt: _load_folder_sequence(n, f, g, origin, special))
        if len(targets) > 1:
            groups[folder.name] = [n for n, _ in targets]
    where = f"{bench} root {root}"
    if split not in (None, "all"):
        list_file = resolve_list(root, split)
        listed = [_otb_name(n, catalog) for n in read_list_file(list_file)]
        check_listed(list_file, listed, lambda n: n in catalog or n in groups, root)
        names = [m for n in listed for m in groups.get(n, [n])]
        catalog = {n: catalog[n] for n in names}
        groups = {g: m for g, m in groups.items() if all(x in catalog for x in m)}
        where = f"{bench} split {list_file}"
    if sequences is not None:
        sequences = [_otb_name(n, catalog) for n in ([sequences] if isinstance(sequences, str) else sequences)]
    return pick(catalog, sequences, where, groups)


def _otb_name(name: str, catalog: Catalog) -> str:
    """Accept the other spellings of two-target names: ``Jogging.1`` / ``Jogging_1`` -> ``Jogging-1``."""
    m = re.fullmatch(r"(.+)[._](\d)", name)
    if name not in catalog and m and f"{m.group(1)}-{m.group(2)}" in catalog:
        return f"{m.group(1)}-{m.group(2)}"
    return name


def load_otb(root, split=None, sequences=None) -> list[Sequence]:
    """OTB100 / OTB2015: ``<root>/<Seq>/img/NNNN.jpg`` + ``groundtruth_rect.txt`` (+ optional ``attrs.txt``).

    Ground truth: x,y,w,h separated by commas, tabs or spaces; origin = 1 (MATLAB pixels). Frames are the numbered
    images from the first one on, one per GT row; the known special ranges (David from 300, Football1, Freeman3/4,
    Diving, BlurCar1/3/4) may leave unused images at the end; elsewhere counts must match. Tiger1 drops its first 5
    frames and GT rows (349 frames, ``meta['init_omit'] = 5``, as pysot/SOTS). Jogging and Skating2 give
    ``<Seq>-1``/``<Seq>-2`` from ``groundtruth_rect.1/.2.txt``; Human4 uses its only non-empty ``.2.txt``.
    Validity: every frame annotated; rows with non-positive size are invalid. ``split`` may name a list file
    (relative to ``root``), e.g. ``'tb_100.txt'``.
    """
    return _folder_benchmark(Path(root), split, sequences, "otb", 1, _OTB_SPECIAL)


def load_dtb70(root, split=None, sequences=None) -> list[Sequence]:
    """DTB70: ``<root>/<Seq>/img/00001.jpg`` (5 digits) + ``groundtruth_rect.txt`` (comma x,y,w,h).

    Origin = 1 (MATLAB-derived); frame count must equal GT rows; rows with non-positive size are invalid.
    """
    return _folder_benchmark(Path(root), split, sequences, "dtb70", 1, None)


# --------------------------------------------------------------------------------------------------------------
# UAV123

# Sub-sequences of UAV123 sharing one image folder (``bird1_2`` lives in ``data_seq/UAV123/bird1`` from frame 775).
# First frame numbers from the official configSeqs (as copied in pytracking's uavdataset.py); ``_1`` parts start at 1.
_UAV123_STARTS = {
    "bird1_2": 775, "bird1_3": 1573, "car1_2": 751, "car1_3": 1627, "car16_2": 415, "car6_2": 487, "car6_3": 1807,
    "car6_4": 2953, "car6_5": 3925, "car8_2": 1357, "group1_2": 1333, "group1_3": 2515, "group1_4": 3925,
    "group2_2": 907, "group2_3": 1771, "group3_2": 1567, "group3_3": 2827, "group3_4": 4369, "person12_2": 601,
    "person14_2": 847, "person14_3": 1813, "person17_2": 1501, "person19_2": 1243, "person19_3": 2791,
    "person2_2": 1189, "person4_2": 1501, "person5_2": 877, "person7_2": 1249, "person8_2": 1075, "truck4_2": 577,
    "uav1_2": 1555, "uav1_3": 2473,
}


def _uav_sequence(name: str, gt: Path, data: Path, use_starts: bool) -> Sequence:
    boxes = read_boxes(gt, allow_nan=True)
    folder, start = data / name, None
    m = re.fullmatch(r"(.+)_(\d+)", name)
    if not folder.is_dir() and m and (data / m.group(1)).is_dir():
        folder = data / m.group(1)
        if m.group(2) == "1":
            start = 1
        elif use_starts and name in _UAV123_STARTS:
            start = _UAV123_STARTS[name]
        else:
            raise DataError(f"{gt}: first frame of sub-sequence {name!r} in {folder} is unknown")
    if not folder.is_dir():
        raise DataError(f"{gt}: no frame folder {data / name}")
    frames = numbered_frames(folder, len(boxes), gt, start=start, allow_extra=True)
    return Sequence(name, frames, boxes, origin=1,
                    meta={"groundtruth": str(gt), "folder": str(folder), "start_frame": int(frames[0].stem)})


def load_uav123(root, split=None, sequences=None) -> list[Sequence]:
    """UAV123: ``<root>/anno/UAV123/<seq>.txt`` (comma x,y,w,h; NaN rows when the target is absent) and frames
    ``<root>/data_seq/UAV123/<seq>/000001.jpg``; sub-sequences ``<base>_<k>`` read ``data_seq/UAV123/<base>/`` from
    their official first frame. Frames = one per GT row from the first; the folder may hold more frames after the
    annotated range (shared folders). Origin = 1 (MATLAB-derived). Validity: NaN or non-positive-size rows are
    invalid. ``split='UAV20L'`` reads ``anno/UAV20L`` with the same frame folders.
    """
    root = Path(root)
    split = split or "UAV123"
    anno = root / "anno" / split
    data = root / "data_seq" / split if (root / "data_seq" / split).is_dir() else root / "data_seq" / "UAV123"
    if not anno.is_dir():
        raise DataError(f"uav123: missing annotation folder {anno}")
    if not data.is_dir():
        raise DataError(f"uav123: missing frame folder {data}")
    use_starts = split.upper() == "UAV123"
    catalog = {gt.stem: (lambda g=gt: _uav_sequence(g.stem, g, data, use_starts)) for gt in sorted(anno.glob("*.txt"))}
    return pick(catalog, sequences, f"uav123 annotations {anno}")
