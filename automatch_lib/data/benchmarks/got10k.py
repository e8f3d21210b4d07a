"""GOT-10k and TrackingNet: large training-scale benchmarks split into folders (``train``/``val``/``test``, or
``TRAIN_<k>``/``TEST`` chunks), with 0-based ground truth whose test split holds only the first box.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np

from ...errors import DataError
from ..sequence import Sequence, read_boxes
from .files import Catalog, check_listed, numbered_frames, pick, read_labels, read_list_file, sub_dirs

# --------------------------------------------------------------------------------------------------------------
# GOT-10k


def read_meta_info(path: str | Path) -> dict:
    """GOT-10k ``meta_info.ini``: ``[METAINFO]`` then ``key: value`` lines; ``resolution`` -> (width, height)."""
    path = Path(path)
    meta: dict = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            text = line.strip()
            if not text or text.startswith("[") or text.startswith(("#", ";")):
                continue
            if ":" not in text:
                raise DataError(f"{path}:{lineno}: expected 'key: value', found {text!r}")
            key, value = (t.strip() for t in text.split(":", 1))
            if key == "resolution":
                try:
                    res = ast.literal_eval(value)
                    value = (int(res[0]), int(res[1]))
                except (ValueError, SyntaxError, TypeError, IndexError):
                    raise DataError(f"{path}:{lineno}: cannot parse resolution {value!r}") from None
            meta[key] = value
    return meta


def _got10k_sequence(name: str, folder: Path, test: bool) -> Sequence:
    gt = folder / "groundtruth.txt"
    boxes = read_boxes(gt)
    first_only = test and len(boxes) == 1
    frames = numbered_frames(folder, None if first_only else len(boxes), gt)
    meta: dict = {"groundtruth": str(gt)}
    if (folder / "meta_info.ini").is_file():
        meta.update(read_meta_info(folder / "meta_info.ini"))
    valid = None
    if not first_only and (folder / "cover.label").is_file():
        cover = read_labels(folder / "cover.label", len(boxes))
        bad = np.flatnonzero((cover < 0) | (cover > 8))
        if bad.size:
            row = int(bad[0])
            raise DataError(f"{folder / 'cover.label'}:{row + 1}: cover must be 0..8, found {int(cover[row])}")
        meta["cover"] = cover
        valid = cover > 0
        for label, key in (("absence", "absent"), ("cut_by_image", "cut_by_image")):
            path = folder / f"{label}.label"
            if path.is_file():
                meta[key] = read_labels(path, len(boxes)).astype(bool)
        if "absent" in meta:
            valid = valid & ~meta["absent"]
    return Sequence(name, frames, boxes, valid=valid, origin=0, meta=meta)


def load_got10k(root, split=None, sequences=None) -> list[Sequence]:
    """GOT-10k: ``<root>/<split>/list.txt`` + ``<root>/<split>/GOT-10k_<Split>_NNNNNN/00000001.jpg``,
    ``groundtruth.txt`` (comma floats), ``absence.label``, ``cover.label`` (0..8), ``cut_by_image.label``,
    ``meta_info.ini`` (all keys into ``meta``; ``meta['resolution']`` = (width, height)).

    Origin = 0. Validity: cover > 0 and not absent (``meta['cover']`` keeps the labels); without labels, positive
    size. ``split`` is ``train``/``val``/``test`` (folder names, any case); test ground truth holds only the first
    box (one row for all frames). ``split=None`` works when ``root`` is itself a split folder (has list.txt).
    """
    root = Path(root)
    if split is None:
        if not (root / "list.txt").is_file():
            raise DataError(f"got10k: give split='train', 'val' or 'test' (no list.txt in {root})")
        folder = root
    else:
        matches = [d for d in sub_dirs(root) if d.name.lower() == str(split).lower()]
        if not matches:
            raise DataError(f"got10k: no split folder {split!r} in {root} "
                            f"(found: {', '.join(d.name for d in sub_dirs(root)) or 'nothing'})")
        folder = matches[0]
    list_file = folder / "list.txt"
    names = check_listed(list_file, read_list_file(list_file), lambda n: (folder / n).is_dir(), folder)
    test = folder.name.lower() == "test"
    catalog = {n: (lambda n=n: _got10k_sequence(n, folder / n, test)) for n in names}
    return pick(catalog, sequences, f"got10k split {list_file}")


# --------------------------------------------------------------------------------------------------------------
# TrackingNet


def _trackingnet_sequence(name: str, chunk: Path, test: bool) -> Sequence:
    gt = chunk / "anno" / f"{name}.txt"
    boxes = read_boxes(gt)
    first_only = test and len(boxes) == 1
    frames = numbered_frames(chunk / "frames" / name, None if first_only else len(boxes), gt, start=0)
    return Sequence(name, frames, boxes, origin=0, meta={"groundtruth": str(gt), "chunk": chunk.name})


def load_trackingnet(root, split=None, sequences=None) -> list[Sequence]:
    """TrackingNet: ``<root>/{TEST,TRAIN_0..TRAIN_11}/frames/<seq>/<i>.jpg`` (0-based, unpadded, numeric order)
    and ``<root>/<chunk>/anno/<seq>.txt`` (comma x,y,w,h; TEST: first box only).

    Origin = 0. Validity: positive size. ``split``: ``'test'`` (TEST), ``'train'`` (every TRAIN_* present), a chunk
    name such as ``'TRAIN_3'``, or None for every chunk present.
    """
    root = Path(root)
    chunks = [d for d in sub_dirs(root) if re.fullmatch(r"TEST|TRAIN_\d+", d.name, re.IGNORECASE)]
    if split is not None:
        s = str(split).upper()
        wanted = [d for d in chunks if (d.name.upper().startswith("TRAIN_") if s == "TRAIN" else d.name.upper() == s)]
        if not wanted:
            raise DataError(f"trackingnet: no chunk folder for split {split!r} in {root} "
                            f"(found: {', '.join(d.name for d in chunks) or 'nothing'})")
        chunks = wanted
    if not chunks:
        raise DataError(f"trackingnet: no TEST or TRAIN_<k> folder in {root}")
    catalog: Catalog = {}
    for chunk in chunks:
        if not (chunk / "anno").is_dir():
            raise DataError(f"trackingnet chunk without an anno/ folder: {chunk}")
        test = chunk.name.upper() == "TEST"
        for gt in sorted((chunk / "anno").glob("*.txt")):
            if gt.stem in catalog:
                raise DataError(f"trackingnet: sequence {gt.stem!r} appears in two chunks (second: {gt})")
            catalog[gt.stem] = (lambda n=gt.stem, c=chunk, t=test: _trackingnet_sequence(n, c, t))
    return pick(catalog, sequences, f"trackingnet root {root}")
