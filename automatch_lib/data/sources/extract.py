"""Cutouts and backgrounds from the unpacked Debian packages: tuxpaint's photographed stamps (exact alpha masks,
drawings filtered out), and the scene photographs of the Lomiri wallpapers and OpenCV's samples."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import cv2
import numpy as np

from ...io import write_json
from .debian import LOMIRI, LOMIRI_PHOTOS, LOMIRI_ROOT, OCV_PHOTOS, OCV_ROOT, TUX_ROOT, TUXPAINT
from .images import cap_rgba, read_bgr, read_image
from .records import Background, Cutout

_TUX_LICENSE = "GPL-2 (tuxpaint-stamps, Debian copyright file)"
_OCV_LICENSE = "Apache-2.0 AND BSD-3-Clause (OpenCV samples/data, Debian copyright file)"
_TUX_EXCLUDE_DIRS = ("symbols", "roadsigns", "flags", "cartoon", "easter")
# drawings or renderings that pass the colour/flatness test
_TUX_EXCLUDE_STEMS = ("button", "6_saturn", "balloon360")
_TUX_MIN_SIDE = 47  # stamps whose alpha support spans fewer pixels than this (+1) on a side are icons, not objects
_TUX_INDEX = ".photo_index.json"  # the selected stamps, cached beside the unpacked package

# _photo_like: measured on a copy at most 160 px large; a photograph has >= 300 colours (5 bits per channel) inside
# its mask and under 20 % flat pixels (|Laplacian| <= 1) in the eroded mask (which needs >= 200 pixels)
_PHOTO_TEST_SIDE = 160
_PHOTO_MIN_COLOURS = 300
_PHOTO_MAX_FLAT = 0.2
_PHOTO_MIN_INNER = 200


def dep5_licenses(copyright_file: Path) -> dict[str, str]:
    """basename -> License from a machine-readable Debian copyright file (best effort)."""
    out: dict[str, str] = {}
    if not copyright_file.is_file():
        return out
    for para in copyright_file.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        files = re.search(r"^Files:(.*?)(?=^\S)", para + "\nX", re.S | re.M)
        lic = re.search(r"^License:\s*(\S.*)$", para, re.M)
        if files and lic:
            for f in files.group(1).split():
                out.setdefault(os.path.basename(f), lic.group(1).strip())
    return out


def tux_group(rel: str) -> str:
    """Source-photo id of a stamp: folder + stem without variant suffixes (``_mirror``, ``-2``, ``_b``...)."""
    folder, stem = os.path.split(rel[:-4])
    prev = None
    while prev != stem:
        prev = stem
        stem = re.sub(r"(?:[_-](?:\d+|mirror|left|right|[a-z])|\d+)$", "", stem)
    return f"tux:{folder}/{stem or prev}"


def photo_like(rgba: np.ndarray) -> bool:
    """A real photograph, not a flat-colour drawing: many colours and little flat area inside the mask."""
    h, w = rgba.shape[:2]
    f = min(1.0, _PHOTO_TEST_SIDE / max(h, w))
    if f < 1:
        rgba = cv2.resize(rgba, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    m = rgba[:, :, 3] > 127
    inner = cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < _PHOTO_MIN_INNER:
        return False
    bgr = rgba[:, :, :3]
    q = (bgr[m] // 8).astype(np.int32)
    n_colours = len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]))
    lap = np.abs(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.CV_16S))
    flat = float((lap[inner] <= 1).mean())
    return n_colours >= _PHOTO_MIN_COLOURS and flat < _PHOTO_MAX_FLAT


def _select_photo_stamps(stamps: Path) -> list[str]:
    """Relative paths of the stamps that are photographed objects (not colourable, not drawings, not icons)."""
    selected = []
    for p in sorted(stamps.rglob("*.png")):
        rel = p.relative_to(stamps).as_posix()
        if any(part in _TUX_EXCLUDE_DIRS for part in rel.split("/")[:-1]) or p.stem in _TUX_EXCLUDE_STEMS:
            continue
        dat = p.with_suffix(".dat")
        if dat.is_file() and re.search(r"colorable|tintable", dat.read_text(errors="replace")):
            continue
        img = read_image(p)
        if img.ndim != 3 or img.shape[2] != 4:
            continue
        ys, xs = np.nonzero(img[:, :, 3] > 0)
        if len(xs) == 0 or xs.max() - xs.min() < _TUX_MIN_SIDE or ys.max() - ys.min() < _TUX_MIN_SIDE:
            continue
        if photo_like(img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]):
            selected.append(rel)
    return selected


def tuxpaint_cutouts(root: Path, version: str, max_side: int | None) -> list[Cutout]:
    """The photographed stamps of the unpacked tuxpaint package, cropped to their alpha support (the selection is
    cached in ``root/.photo_index.json``)."""
    stamps = root / TUX_ROOT
    index_file = root / _TUX_INDEX
    if index_file.is_file():
        selected = json.loads(index_file.read_text())
    else:
        selected = _select_photo_stamps(stamps)
        write_json(index_file, selected, indent=0)
    out = []
    seen: set[str] = set()
    for rel in selected:
        img = read_image(stamps / rel)
        ys, xs = np.nonzero(img[:, :, 3] > 0)
        rgba = cap_rgba(np.ascontiguousarray(img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]), max_side)
        name = "tux_" + re.sub(r"[^A-Za-z0-9]+", "_", Path(rel).stem).strip("_").lower()
        while name in seen:
            name += "_b"
        seen.add(name)
        out.append(Cutout(name=name, rgba=rgba, source=f"debian:{TUXPAINT}={version}:{TUX_ROOT}/{rel}",
                          license=_TUX_LICENSE, group=tux_group(rel), category=os.path.dirname(rel)))
    return out


def debian_backgrounds(package: str, root: Path, version: str, max_side: int | None) -> list[Background]:
    """The scene photographs of an unpacked wallpaper (Lomiri) or OpenCV samples package."""
    if package == LOMIRI:
        folder, names = root / LOMIRI_ROOT, LOMIRI_PHOTOS
        lic = dep5_licenses(root / "usr/share/doc" / package / "copyright")
        licence = lambda n: f"{lic.get(n, 'see Debian copyright file')} (lomiri-wallpapers)"  # noqa: E731
    else:
        folder, names = root / OCV_ROOT, OCV_PHOTOS
        licence = lambda n: _OCV_LICENSE  # noqa: E731
    out = []
    for n in names:
        p = folder / n
        if not p.is_file():
            continue
        stem = re.sub(r"[^A-Za-z0-9]+", "_", Path(n).stem).strip("_").lower()
        rel = p.relative_to(root).as_posix()
        out.append(Background(name=f"{'lom' if package == LOMIRI else 'ocv'}_{stem}", bgr=read_bgr(p, max_side),
                              source=f"debian:{package}={version}:{rel}", license=licence(n),
                              group=f"{package}:{stem}"))
    return out
