"""Helpers shared by every benchmark loader: finding frames on disk, reading the small text files benchmarks ship
(sequence lists, per-frame labels, attribute codes) and picking the requested sequences from a catalog.

A loader first builds a *catalog* (sequence name -> zero-argument callable building the :class:`Sequence`), so
that only the sequences asked for are read; :func:`pick` then resolves the requested names against it.
Every problem raises :class:`DataError` naming the file or folder at fault (and the line, for text files).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from ...errors import DataError
from ..sequence import OTB_ATTRIBUTES, Sequence

IMAGE_EXTS = (".jpg", ".jpeg", ".png")

# OTB attribute codes (TB-100) plus the extra LaSOT / TNL2K codes, accepted in per-folder attrs.txt files.
KNOWN_ATTRIBUTES = OTB_ATTRIBUTES + ("POC", "FOC", "ROT", "CM", "VC", "ARC", "AS", "TC", "MS")

Catalog = dict  # name -> zero-argument callable building the Sequence


# --------------------------------------------------------------------------------------------------------------
# frames on disk


def natural_key(path: Path) -> list:
    """Sort key comparing digit runs as numbers: ``9.jpg`` < ``10.jpg``."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_images(folder: str | Path) -> list[Path]:
    """Image files (.jpg/.jpeg/.png, any case) directly in ``folder``, sorted numerically (``9.jpg`` < ``10.jpg``)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"missing frame folder: {folder}")
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file()), key=natural_key)


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


def sub_dirs(folder: Path) -> list[Path]:
    """Sub-folders of ``folder`` by name, hidden ones (``.git``, ``.DS_Store`` folders) left out."""
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)


# --------------------------------------------------------------------------------------------------------------
# small text files


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


def attributes_of(folder: Path) -> tuple[str, ...]:
    """The codes in ``folder/attrs.txt``; none when the folder has no such file."""
    path = folder / "attrs.txt"
    return read_attributes(path) if path.is_file() else ()


def read_text(path: Path) -> str | None:
    """A whole text file, stripped (language descriptions); None when the file does not exist."""
    return path.read_text(encoding="utf-8", errors="replace").strip() if path.is_file() else None


# --------------------------------------------------------------------------------------------------------------
# choosing sequences


def resolve_list(root: Path, split: str) -> Path:
    """A list file given as ``split``: absolute, relative to the benchmark root, or relative to the cwd."""
    candidates = [Path(split)] if Path(split).is_absolute() else [root / split, Path(split)]
    for c in candidates:
        if c.is_file():
            return c
    raise DataError(f"split {split!r}: no such list file (looked for {', '.join(str(c) for c in candidates)})")


def check_listed(list_file: Path, names: Iterable[str], exists: Callable[[str], bool], root: Path) -> list[str]:
    """``names`` as a list, after checking that every one exists; raises naming ``list_file`` and the missing ones."""
    names = list(names)
    missing = [n for n in names if not exists(n)]
    if missing:
        raise DataError(f"{list_file}: lists sequence(s) not found under {root}: {', '.join(missing)}")
    return names


def pick(catalog: Catalog, requested, where: str, groups: dict[str, list[str]] | None = None) -> list[Sequence]:
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


def list_or_scan(root: Path, split, sequences, bench: str, marker: str, build: Callable[[str, Path], Sequence],
                 default_list: str | None = None) -> list[Sequence]:
    """Sequences = folders holding ``marker``, or the names in a list file (``split`` or ``default_list``).

    For the flat ``<root>/<seq>/`` layouts (TNL2K, VOT); ``build(name, folder)`` reads one sequence.
    """
    list_file = None
    if split not in (None, "all"):
        list_file = resolve_list(root, split)
    elif default_list and (root / default_list).is_file():
        list_file = root / default_list
    if list_file is not None:
        names = check_listed(list_file, read_list_file(list_file), lambda n: (root / n).is_dir(), root)
        where = f"{bench} list {list_file}"
    else:
        names = [d.name for d in sub_dirs(root) if (d / marker).is_file()]
        where = f"{bench} root {root}"
    catalog = {n: (lambda n=n: build(n, root / n)) for n in names}
    return pick(catalog, sequences, where)
