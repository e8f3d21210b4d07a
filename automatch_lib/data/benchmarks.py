"""Loaders for real tracking benchmarks in their native on-disk layouts.

``load_benchmark(name, root, split=None, sequences=None)`` returns a list of :class:`Sequence` sorted by name.
Supported names (``BENCHMARKS``): ``otb`` (aliases ``otb100``, ``otb2015``), ``lasot``, ``got10k`` (``got-10k``),
``trackingnet``, ``tnl2k``, ``vot``, ``dtb70``, ``uav123`` (``uav``). Each loader documents its layout, validity
policy and pixel origin. Frames are not decoded at load time (``Sequence.image(i)`` reads them), but every frame
file the ground truth refers to must exist: a gap in the numbering raises instead of being skipped.

Every problem raises :class:`DataError` naming the file or folder at fault (and the line, for text files).
"""
from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ..errors import DataError
from .sequence import Sequence, polygon_to_box, read_boxes

IMAGE_EXTS = (".jpg", ".jpeg", ".png")

# OTB attribute codes (TB-100) plus the extra LaSOT / TNL2K codes, accepted in per-folder attrs.txt files.
OTB_ATTRIBUTES = ("IV", "SV", "OCC", "DEF", "MB", "FM", "IPR", "OPR", "OV", "BC", "LR")
KNOWN_ATTRIBUTES = OTB_ATTRIBUTES + ("POC", "FOC", "ROT", "CM", "VC", "ARC", "AS", "TC", "MS")

Catalog = dict  # name -> zero-argument callable building the Sequence


# --------------------------------------------------------------------------------------------------------------
# shared helpers


def _natural_key(path: Path) -> list:
    """Sort key comparing digit runs as numbers: ``9.jpg`` < ``10.jpg``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_images(folder: str | Path) -> list[Path]:
    """Image files (.jpg/.jpeg/.png, any case) directly in ``folder``, sorted numerically (``9.jpg`` < ``10.jpg``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"missing frame folder: {folder}")
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()), key=_natural_key)


def numbered_frames(folder: str | Path, count: int | None, gt_path: str | Path, start: int | None = None,
                    allow_extra: bool = False) -> list[Path]:
    """Frames ``start, start+1, ...`` of a folder of numbered images (``0001.jpg``, ``00000001.jpg``, ``7.jpg``).

    ``count`` frames are returned (``None``: every frame from ``start`` to the last one, for test splits whose
    ground truth only holds the first box). ``start`` defaults to the lowest number present. A number inside the
    range with no file raises "missing frame <path>"; more ground-truth rows than frames raises naming ``gt_path``
    and both counts; frames left over after ``count`` raise too unless ``allow_extra`` (benchmarks whose official
    frame range stops before the end of the folder).
    """
    folder = Path(folder)
    images = list_images(folder)
    if not images:
        raise DataError(f"empty sequence folder (no .jpg/.jpeg/.png frames): {folder}")
    by_number: dict[int, Path] = {}
    for p in images:
        if not p.stem.isdigit():
            raise DataError(f"frame file name is not a frame number: {p}")
        n = int(p.stem)
        if n in by_number:
            raise DataError(f"two files for frame {n}: {by_number[n]} and {p}")
        by_number[n] = p
    numbers = sorted(by_number)
    first = numbers[0] if start is None else start
    last = numbers[-1]
    stop = last + 1 if count is None else first + count
    width, ext = len(images[0].stem), images[0].suffix
    frames = []
    for n in range(first, stop):
        if n not in by_number:
            if n <= last:
                raise DataError(f"missing frame {folder / f'{n:0{width}d}{ext}'}")
            available = sum(1 for k in numbers if k >= first)
            raise DataError(f"{gt_path}: {count} ground-truth rows but only {available} frames in {folder}"
                            + (f" from frame {first}" if first != numbers[0] else ""))
        frames.append(by_number[n])
    extra = sum(1 for k in numbers if k >= stop)
    if extra and not allow_extra:
        raise DataError(f"{gt_path}: {count} ground-truth rows but {len(frames) + extra} frames in {folder}")
    if not frames:
        raise DataError(f"no frames from number {first} in {folder}")
    return frames


def read_list_file(path: str | Path) -> list[str]:
    """Sequence names, one per line (blank lines and ``#`` comments skipped; a missing final newline is fine)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing list file: {path}")
    names: list[str] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            name = line.strip()
            if not name or name.startswith("#"):
                continue
            if name in seen:
                raise DataError(f"{path}:{lineno}: sequence {name!r} already listed on line {seen[name]}")
            seen[name] = lineno
            names.append(name)
    if not names:
        raise DataError(f"empty list file: {path}")
    return names


def read_labels(path: str | Path, count: int | None = None) -> np.ndarray:
    """Integer per-frame labels (``0,0,1,...`` on one line or one per line) as an int64 array.

    Raises naming the file and line on a non-integer, and naming the file and both counts when ``count`` is given
    and the number of labels differs.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing label file: {path}")
    values: list[int] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            for tok in (t for t in re.split(r"[,;\s]+", line.strip()) if t):
                try:
                    v = float(tok)
                except ValueError:
                    v = float("nan")
                if not v.is_integer():
                    raise DataError(f"{path}:{lineno}: expected an integer label, found {tok!r}")
                values.append(int(v))
    if count is not None and len(values) != count:
        raise DataError(f"{path}: {len(values)} labels for {count} ground-truth rows")
    return np.asarray(values, dtype=np.int64)


def read_attributes(path: str | Path) -> tuple[str, ...]:
    """Attribute codes from an OTB-style ``attrs.txt`` (``IV, SV, OCC`` on one line, or one code per line)."""
    path = Path(path)
    codes: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            for tok in (t for t in re.split(r"[,;\s]+", line.strip()) if t):
                code = tok.upper()
                if code not in KNOWN_ATTRIBUTES:
                    raise DataError(f"{path}:{lineno}: unknown attribute code {tok!r} "
                                    f"(known: {', '.join(KNOWN_ATTRIBUTES)})")
                if code not in codes:
                    codes.append(code)
    return tuple(codes)


def _read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8", errors="replace").strip() if path.is_file() else None


def _attributes_of(folder: Path) -> tuple[str, ...]:
    path = folder / "attrs.txt"
    return read_attributes(path) if path.is_file() else ()


def _resolve_list(root: Path, split: str) -> Path:
    """A list file given as ``split``: absolute, relative to the benchmark root, or relative to the cwd."""
    candidates = [Path(split)] if Path(split).is_absolute() else [root / split, Path(split)]
    for c in candidates:
        if c.is_file():
            return c
    raise DataError(f"split {split!r}: no such list file (looked for {', '.join(str(c) for c in candidates)})")


def _check_listed(list_file: Path, names: Iterable[str], exists: Callable[[str], bool], root: Path) -> list[str]:
    names = list(names)
    missing = [n for n in names if not exists(n)]
    if missing:
        raise DataError(f"{list_file}: lists sequence(s) not found under {root}: {', '.join(missing)}")
    return names


def _pick(catalog: Catalog, requested, where: str, groups: dict[str, list[str]] | None = None) -> list[Sequence]:
    """Build the requested sequences (all when ``requested`` is None), sorted by name.

    Names match exactly, else case-insensitively; ``groups`` maps a folder name to the sequences it holds
    (OTB ``Jogging`` -> ``Jogging-1``, ``Jogging-2``).
    """
    groups = groups or {}
    if not catalog:
        raise DataError(f"{where}: no sequences found (wrong root or layout?)")
    if requested is None:
        chosen = list(catalog)
    else:
        if isinstance(requested, str):
            requested = [requested]
        lower = {}
        for key in list(catalog) + list(groups):
            lower.setdefault(key.lower(), key)
        chosen, missing = [], []
        for name in requested:
            key = name if (name in catalog or name in groups) else lower.get(str(name).lower())
            if key is None:
                missing.append(str(name))
            else:
                chosen.extend(groups.get(key, [key]) if key not in catalog else [key])
        if missing:
            known = sorted(catalog)
            shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
            raise DataError(f"{where}: no sequence named {', '.join(map(repr, missing))} "
                            f"({len(known)} available: {shown})")
    return sorted((catalog[n]() for n in dict.fromkeys(chosen)), key=lambda s: s.name)


def _sub_dirs(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


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
    return Sequence(name, frames, boxes, attributes=_attributes_of(folder), origin=origin, meta=meta)


def _folder_benchmark(root: Path, split, sequences, bench: str, origin: int, special: dict | None) -> list[Sequence]:
    catalog: Catalog = {}
    groups: dict[str, list[str]] = {}
    for folder in _sub_dirs(root):
        targets = _otb_targets(folder)
        for name, gt in targets:
            catalog[name] = (lambda n=name, f=folder, g=gt: _load_folder_sequence(n, f, g, origin, special))
        if len(targets) > 1:
            groups[folder.name] = [n for n, _ in targets]
    where = f"{bench} root {root}"
    if split not in (None, "all"):
        list_file = _resolve_list(root, split)
        listed = [_otb_name(n, catalog) for n in read_list_file(list_file)]
        _check_listed(list_file, listed, lambda n: n in catalog or n in groups, root)
        names = [m for n in listed for m in groups.get(n, [n])]
        catalog = {n: catalog[n] for n in names}
        groups = {g: m for g, m in groups.items() if all(x in catalog for x in m)}
        where = f"{bench} split {list_file}"
    if sequences is not None:
        sequences = [_otb_name(n, catalog) for n in ([sequences] if isinstance(sequences, str) else sequences)]
    return _pick(catalog, sequences, where, groups)


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
    language = _read_text(folder / "nlp.txt")
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
    for d in _sub_dirs(root):
        if (d / "groundtruth.txt").is_file() or (d / "img").is_dir():
            folders[d.name] = d
        else:
            for s in _sub_dirs(d):
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
            list_file = _resolve_list(root, split)
        if list_file is not None:
            names = _check_listed(list_file, read_list_file(list_file), lambda n: n in folders, root)
            where = f"lasot split {list_file}"
    catalog = {n: (lambda n=n: _lasot_sequence(n, folders[n])) for n in names}
    return _pick(catalog, sequences, where)


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
            raise DataError(f"{folder / 'cover.label'}:{bad[0] + 1}: cover must be 0..8, found {cover[bad[0]]}")
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
        matches = [d for d in _sub_dirs(root) if d.name.lower() == str(split).lower()]
        if not matches:
            raise DataError(f"got10k: no split folder {split!r} in {root} "
                            f"(found: {', '.join(d.name for d in _sub_dirs(root)) or 'nothing'})")
        folder = matches[0]
    list_file = folder / "list.txt"
    names = _check_listed(list_file, read_list_file(list_file), lambda n: (folder / n).is_dir(), folder)
    test = folder.name.lower() == "test"
    catalog = {n: (lambda n=n: _got10k_sequence(n, folder / n, test)) for n in names}
    return _pick(catalog, sequences, f"got10k split {list_file}")


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
    chunks = [d for d in _sub_dirs(root) if re.fullmatch(r"TEST|TRAIN_\d+", d.name, re.IGNORECASE)]
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
    return _pick(catalog, sequences, f"trackingnet root {root}")


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
    language = _read_text(folder / "language.txt")
    if language is not None:
        meta["language"] = language
    return Sequence(name, frames, boxes, origin=0, meta=meta)


def load_tnl2k(root, split=None, sequences=None) -> list[Sequence]:
    """TNL2K: ``<root>/<seq>/imgs/*`` (png or jpg, sorted by name), ``groundtruth.txt`` (comma x,y,w,h),
    ``language.txt`` (-> ``meta['language']``).

    Origin = 0. Validity: w > 0 and h > 0 (absent frames are written with zero size). Frame count must equal GT
    rows. ``split`` may name a list file (e.g. ``TNL2K_testing_set.txt``).
    """
    return _list_or_scan(Path(root), split, sequences, "tnl2k", "groundtruth.txt", _tnl2k_sequence)


def _list_or_scan(root: Path, split, sequences, bench: str, marker: str, build, default_list: str | None = None):
    """Sequences = folders holding ``marker``, or the names in a list file (``split`` or ``default_list``)."""
    list_file = None
    if split not in (None, "all"):
        list_file = _resolve_list(root, split)
    elif default_list and (root / default_list).is_file():
        list_file = root / default_list
    if list_file is not None:
        names = _check_listed(list_file, read_list_file(list_file), lambda n: (root / n).is_dir(), root)
        where = f"{bench} list {list_file}"
    else:
        names = [d.name for d in _sub_dirs(root) if (d / marker).is_file()]
        where = f"{bench} root {root}"
    catalog = {n: (lambda n=n: build(n, root / n)) for n in names}
    return _pick(catalog, sequences, where)


# --------------------------------------------------------------------------------------------------------------
# VOT


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
    return _list_or_scan(Path(root), split, sequences, "vot", "groundtruth.txt", _vot_sequence, "list.txt")


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
    return _pick(catalog, sequences, f"uav123 annotations {anno}")


# --------------------------------------------------------------------------------------------------------------
# registry

BENCHMARKS: dict[str, Callable[..., list[Sequence]]] = {
    "otb": load_otb,
    "lasot": load_lasot,
    "got10k": load_got10k,
    "trackingnet": load_trackingnet,
    "tnl2k": load_tnl2k,
    "vot": load_vot,
    "dtb70": load_dtb70,
    "uav123": load_uav123,
}

ALIASES = {"otb100": "otb", "otb2015": "otb", "got-10k": "got10k", "uav": "uav123"}


def benchmark_name(name: str) -> str:
    """Canonical registry key for ``name`` (case-insensitive, aliases resolved); DataError lists the known names."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in BENCHMARKS:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))} "
                        f"(aliases: {', '.join(f'{a}->{b}' for a, b in ALIASES.items())})")
    return key


def load_benchmark(name: str, root: str | Path, split: str | None = None,
                   sequences: list[str] | None = None) -> list[Sequence]:
    """Load the sequences of benchmark ``name`` stored at ``root`` in its native layout, sorted by name.

    ``split`` selects a subset as each loader documents (a split name or a list file); ``sequences`` keeps only
    the named sequences and raises DataError naming any that does not exist.
    """
    loader = BENCHMARKS[benchmark_name(name)]
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"benchmark root not found: {root}")
    return loader(root, split=split, sequences=sequences)


__all__ = ["BENCHMARKS", "ALIASES", "IMAGE_EXTS", "OTB_ATTRIBUTES", "KNOWN_ATTRIBUTES", "benchmark_name",
           "load_benchmark", "list_images", "numbered_frames", "read_list_file", "read_labels", "read_attributes",
           "read_meta_info", "load_otb", "load_dtb70", "load_lasot", "load_got10k", "load_trackingnet",
           "load_tnl2k", "load_vot", "load_uav123"]
