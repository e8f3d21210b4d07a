"""Real photographs for the generated benchmark: where they come from, how they are fetched, and how they are split.

Two kinds of sources:

* Debian packages, fetched by name with ``apt-get download`` and unpacked with ``dpkg -x`` into a cache folder
  (never installed): ``tuxpaint-stamps-default`` (photographs of real objects cut out with exact alpha masks, so the
  ground-truth box of a composited object is exact), ``lomiri-wallpapers-16.04`` (large sharp photographs) and
  ``opencv-doc`` (the photographs of OpenCV's ``samples/data``) for backgrounds.
* PyPI packages that are always installed with the library: the photographs bundled with scikit-image, scikit-learn
  (``china.jpg``, ``flower.jpg``) and matplotlib (``grace_hopper.jpg``). Objects cut from them are rectangles from
  known object regions (or random regions) with a feathered elliptical or rectangular alpha.

When Debian packages cannot be fetched (no ``apt-get``, no network, no lists) ``collect_sources`` falls back to the
PyPI photographs with a warning: the generated benchmark is then different and so are the numbers measured on it.

Every object and background belongs to a *group* = the source photograph it was taken from. The train/val/test split
is made on groups, so two cutouts from the same photograph never land in different splits.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError, DataError

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = {"train": 0.60, "val": 0.15, "test": 0.25}

TUXPAINT = "tuxpaint-stamps-default"
LOMIRI = "lomiri-wallpapers-16.04"
OPENCV_DOC = "opencv-doc"
DEBIAN_PACKAGES = (TUXPAINT, LOMIRI, OPENCV_DOC)

_TUX_ROOT = "usr/share/tuxpaint/stamps"
_TUX_LICENSE = "GPL-2 (tuxpaint-stamps, Debian copyright file)"
_OCV_ROOT = "usr/share/doc/opencv-doc/examples/data"
_OCV_LICENSE = "Apache-2.0 AND BSD-3-Clause (OpenCV samples/data, Debian copyright file)"
# Sharp real scene photographs of OpenCV's samples/data (calibration boards, text, blurred or shallow depth-of-field
# shots, synthetic images, paintings and one image of each stereo/sequence pair are left out on purpose).
_OCV_PHOTOS = ("aero1.jpg", "baboon.jpg", "basketball1.png", "board.jpg", "building.jpg", "fruits.jpg", "home.jpg",
               "leuvenA.jpg", "stuff.jpg", "box_in_scene.png", "graf1.png",
               "rubberwhale1.png", "left.jpg", "aloeL.jpg", "smarties.png")
_LOMIRI_ROOT = "usr/share/backgrounds"
# Lomiri wallpapers that are sharp scene photographs (abstract patterns and shallow-depth-of-field shots left out).
_LOMIRI_PHOTOS = ("Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg",
                  "Wine_by_Jakkub_Mede.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg",
                  "friends_by_Aitzol_Berasategi.jpg", "greentock_by_Peter_Nerlich.jpg",
                  "life_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
                  "sunset_by_Aitzol_Berasategi.jpg")

# PyPI photographs: (group, package, file, licence, usable as background, [(object name, (x0, y0, x1, y1))]).
_PYPI_PHOTOS = (
    ("astronaut", "scikit-image", "astronaut.png", "public domain (NASA), via scikit-image", True,
     [("astronaut_head", (150, 15, 305, 170)), ("shuttle_model", (355, 0, 475, 280)),
      ("helmet", (275, 340, 505, 512))]),
    ("chelsea", "scikit-image", "chelsea.png", "CC0 (Stefan van der Walt), via scikit-image", False,
     [("cat_face", (60, 20, 400, 300)), ("cat_eye", (130, 80, 215, 150))]),
    ("coffee", "scikit-image", "coffee.png", "CC0 (Rachel Michetti), via scikit-image", True,
     [("coffee_cup", (75, 15, 480, 390)), ("spoon", (325, 65, 425, 325))]),
    ("rocket", "scikit-image", "rocket.jpg", "public domain (SpaceX), via scikit-image", True,
     [("rocket", (300, 125, 345, 405)), ("launch_tower", (440, 120, 475, 410))]),
    ("motorcycle", "scikit-image", "motorcycle_left.png",
     "Middlebury 2014 stereo data set (Scharstein et al.), as redistributed by scikit-image", True,
     [("motorcycle", (90, 95, 690, 450)), ("headlight", (500, 115, 570, 190))]),
    ("hubble_deep_field", "scikit-image", "hubble_deep_field.jpg", "public domain (NASA), via scikit-image", True,
     []),
    ("grass", "scikit-image", "grass.png", "CC0, via scikit-image", True, []),
    ("gravel", "scikit-image", "gravel.png", "CC0 (cc0textures), via scikit-image", True, []),
    ("brick", "scikit-image", "brick.png", "CC0 (cc0textures), via scikit-image", True, []),
    ("china", "scikit-learn", "china.jpg", "CC BY 2.0 (danielbuechele, Flickr), via scikit-learn", True,
     [("pagoda", (60, 25, 355, 390))]),
    ("flower", "scikit-learn", "flower.jpg", "CC BY 2.0 (vultilion, Flickr), via scikit-learn", False,
     [("dahlia", (165, 80, 450, 360))]),
    ("grace_hopper", "matplotlib", "grace_hopper.jpg", "public domain (US Navy), via matplotlib", True,
     [("hopper_head", (150, 20, 375, 330)), ("medal_ribbons", (320, 485, 455, 530))]),
)


@dataclass(eq=False)
class Cutout:
    """A photographed object with its alpha mask.

    Attributes:
        name: unique name (``tux_badger``, ``coffee_cup``...).
        rgba: H x W x 4 uint8, B, G, R, alpha (not premultiplied), cropped to the alpha > 0 region.
        source: provenance string ``debian:<package>=<version>:<path>`` or ``pypi:<package>=<version>:<file>``.
        license: licence of the source photograph.
        group: id of the source photograph (the unit of the train/val/test split).
        category: coarse category (tuxpaint folder, or ``photo_region``/``random_region``).
    """

    name: str
    rgba: np.ndarray
    source: str
    license: str
    group: str = ""
    category: str = ""


@dataclass(eq=False)
class Background:
    """A scene photograph (BGR uint8) the camera pans and zooms over."""

    name: str
    bgr: np.ndarray
    source: str
    license: str
    group: str = ""


@dataclass
class SourceSplit:
    """The objects and backgrounds of one split, and the source photographs (groups) they come from."""

    objects: list[Cutout]
    backgrounds: list[Background]
    groups: list[str]


@dataclass
class SourcePool:
    """Everything ``collect_sources`` found, plus its deterministic split into train/val/test by source photo."""

    objects: list[Cutout]
    backgrounds: list[Background]
    splits: dict[str, SourceSplit]
    packages: list[dict] = field(default_factory=list)
    used_debian: bool = False
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        """JSON-ready summary for manifests: packages with versions, counts, groups per split."""
        return {
            "used_debian": self.used_debian,
            "packages": self.packages,
            "warnings": list(self.warnings),
            "n_objects": len(self.objects),
            "n_backgrounds": len(self.backgrounds),
            "splits": {s: {"groups": sp.groups,
                           "objects": [o.name for o in sp.objects],
                           "backgrounds": [b.name for b in sp.backgrounds]} for s, sp in self.splits.items()},
        }


# ----------------------------------------------------------------------------------------------------------------
# image helpers shared with the generator


def pyramid_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to ``size`` = (w, h) without aliasing: pyrDown while the image is at least twice as large, then
    INTER_AREA (INTER_LINEAR only for the rare small upscale). Works on uint8 or float32, 1 to 4 channels."""
    w, h = int(size[0]), int(size[1])
    if w < 1 or h < 1:
        raise ValueError(f"pyramid_resize: bad target size {size}")
    while img.shape[1] >= 2 * w and img.shape[0] >= 2 * h and min(img.shape[:2]) >= 4:
        img = cv2.pyrDown(img)
    if img.shape[1] == w and img.shape[0] == h:
        return img
    interp = cv2.INTER_AREA if (img.shape[1] >= w and img.shape[0] >= h) else cv2.INTER_LINEAR
    return cv2.resize(img, (w, h), interpolation=interp)


def premultiply(rgba: np.ndarray) -> np.ndarray:
    """uint8 BGRA -> float32 premultiplied BGRA in [0, 1]."""
    out = rgba.astype(np.float32) * (1.0 / 255.0)
    out[..., :3] *= out[..., 3:4]
    return out


def unpremultiply(prem: np.ndarray) -> np.ndarray:
    """float32 premultiplied BGRA in [0, 1] -> uint8 BGRA."""
    a = prem[..., 3:4]
    rgb = np.where(a > 1e-6, prem[..., :3] / np.maximum(a, 1e-6), 0.0)
    out = np.concatenate([np.clip(rgb, 0, 1), np.clip(a, 0, 1)], axis=-1)
    return np.round(out * 255.0).astype(np.uint8)


def _cap_rgba(rgba: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = rgba.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return rgba
    f = max_side / max(h, w)
    return unpremultiply(pyramid_resize(premultiply(rgba), (max(1, round(w * f)), max(1, round(h * f)))))


def _cap_bgr(bgr: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = bgr.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return bgr
    f = max_side / max(h, w)
    return pyramid_resize(bgr, (max(1, round(w * f)), max(1, round(h * f))))


def _read(path: Path, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, flags) if data.size else None
    if img is None:
        raise DataError(f"cannot decode image: {path}")
    return img


def _read_bgr(path: Path, max_side: int | None) -> np.ndarray:
    """Read a photograph as BGR; big JPEGs are decoded at 1/2, 1/4 or 1/8 scale (DCT scaling) when that still
    leaves at least ``max_side`` pixels, then capped with the pyramid."""
    flags = cv2.IMREAD_COLOR
    if max_side is not None and path.suffix.lower() in (".jpg", ".jpeg"):
        hdr = _read(path, cv2.IMREAD_REDUCED_GRAYSCALE_8)  # cheap: size at 1/8
        full = max(hdr.shape[:2]) * 8
        for factor, flag in ((8, cv2.IMREAD_REDUCED_COLOR_8), (4, cv2.IMREAD_REDUCED_COLOR_4),
                             (2, cv2.IMREAD_REDUCED_COLOR_2)):
            if full // factor >= max_side:
                flags = flag
                break
    img = _read(path, flags)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return _cap_bgr(img, max_side)


# ----------------------------------------------------------------------------------------------------------------
# Debian packages


_APT_UPDATED = False


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=None if cwd is None else str(cwd), capture_output=True, text=True,
                          timeout=timeout, check=False)


def _keep_file(package: str, rel: str) -> bool:
    """Which unpacked files are kept in the cache (the rest, e.g. tuxpaint's 8000 sound files, is deleted)."""
    if rel.endswith("/copyright") and rel.startswith("usr/share/doc/"):
        return True
    if package == TUXPAINT:
        return rel.startswith(_TUX_ROOT + "/") and rel.endswith((".png", ".dat"))
    if package == LOMIRI:
        return rel.startswith(_LOMIRI_ROOT + "/") and os.path.basename(rel) in _LOMIRI_PHOTOS
    if package == OPENCV_DOC:
        return rel.startswith(_OCV_ROOT + "/") and os.path.basename(rel) in _OCV_PHOTOS
    return True


def fetch_debian_package(package: str, cache_dir: str | Path) -> tuple[Path, str]:
    """Download ``package`` with ``apt-get download`` and unpack it with ``dpkg -x`` into ``cache_dir/<package>``.

    Returns (unpacked root, package version). Already unpacked packages are reused (the version is kept in
    ``cache_dir/<package>.json``). Runs ``apt-get update`` once if the first download fails (missing lists).
    Raises DataError when apt/dpkg are missing or the package cannot be fetched.
    """
    global _APT_UPDATED
    cache_dir = Path(cache_dir)
    root = cache_dir / package
    marker = cache_dir / f"{package}.json"
    if marker.is_file() and root.is_dir():
        try:
            return root, json.loads(marker.read_text())["version"]
        except (ValueError, KeyError):
            pass
    for tool in ("apt-get", "dpkg", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise DataError(f"cannot fetch Debian package {package!r}: {tool} not found on this machine")
    debs = cache_dir / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        res = _run(["apt-get", "download", package], cwd=debs)
        if res.returncode != 0 and not _APT_UPDATED:
            _APT_UPDATED = True
            _run(["apt-get", "update"], timeout=900)
            res = _run(["apt-get", "download", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if res.returncode != 0 or not found:
            raise DataError(f"apt-get download {package} failed: {(res.stderr or res.stdout).strip()[-400:]}")
    deb = found[-1]
    res = _run(["dpkg-deb", "-f", str(deb), "Version"])
    if res.returncode != 0:
        raise DataError(f"dpkg-deb -f {deb} Version failed: {res.stderr.strip()[-400:]}")
    version = res.stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix=f".{package}.", dir=str(cache_dir)))
    try:
        res = _run(["dpkg", "-x", str(deb), str(tmp)])
        if res.returncode != 0:
            raise DataError(f"dpkg -x {deb} failed: {res.stderr.strip()[-400:]}")
        for dirpath, _dirs, files in os.walk(tmp):
            for fn in files:
                p = Path(dirpath) / fn
                if p.is_symlink() or not _keep_file(package, p.relative_to(tmp).as_posix()):
                    p.unlink()
        if root.exists():
            shutil.rmtree(root)
        os.replace(tmp, root)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    marker.write_text(json.dumps({"package": package, "version": version, "deb": deb.name}) + "\n")
    deb.unlink()  # the pruned unpacked tree is the cache; the .deb is 16-160 MB
    return root, version


def _dep5_licenses(copyright_file: Path) -> dict[str, str]:
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


_TUX_EXCLUDE_DIRS = ("symbols", "roadsigns", "flags", "cartoon", "easter")
# drawings or renderings that pass the colour/flatness test
_TUX_EXCLUDE_STEMS = ("button", "6_saturn", "balloon360")


def _tux_group(rel: str) -> str:
    """Source-photo id of a stamp: folder + stem without variant suffixes (``_mirror``, ``-2``, ``_b``...)."""
    folder, stem = os.path.split(rel[:-4])
    prev = None
    while prev != stem:
        prev = stem
        stem = re.sub(r"(?:[_-](?:\d+|mirror|left|right|[a-z])|\d+)$", "", stem)
    return f"tux:{folder}/{stem or prev}"


def _photo_like(rgba: np.ndarray) -> bool:
    """A real photograph, not a flat-colour drawing: many colours and little flat area inside the mask."""
    h, w = rgba.shape[:2]
    f = min(1.0, 160.0 / max(h, w))
    if f < 1:
        rgba = cv2.resize(rgba, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    m = rgba[:, :, 3] > 127
    inner = cv2.erode(m.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    if inner.sum() < 200:
        return False
    bgr = rgba[:, :, :3]
    q = (bgr[m] // 8).astype(np.int32)
    n_colours = len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]))
    lap = np.abs(cv2.Laplacian(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.CV_16S))
    flat = float((lap[inner] <= 1).mean())
    return n_colours >= 300 and flat < 0.2


def _tuxpaint_cutouts(root: Path, version: str, max_side: int | None) -> list[Cutout]:
    stamps = root / _TUX_ROOT
    index_file = root / ".photo_index.json"
    if index_file.is_file():
        selected = json.loads(index_file.read_text())
    else:
        selected = []
        for p in sorted(stamps.rglob("*.png")):
            rel = p.relative_to(stamps).as_posix()
            if any(part in _TUX_EXCLUDE_DIRS for part in rel.split("/")[:-1]) or p.stem in _TUX_EXCLUDE_STEMS:
                continue
            dat = p.with_suffix(".dat")
            if dat.is_file() and re.search(r"colorable|tintable", dat.read_text(errors="replace")):
                continue
            img = _read(p)
            if img.ndim != 3 or img.shape[2] != 4:
                continue
            ys, xs = np.nonzero(img[:, :, 3] > 0)
            if len(xs) == 0 or xs.max() - xs.min() < 47 or ys.max() - ys.min() < 47:
                continue
            if _photo_like(img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]):
                selected.append(rel)
        index_file.write_text(json.dumps(selected, indent=0) + "\n")
    out = []
    seen: set[str] = set()
    for rel in selected:
        img = _read(stamps / rel)
        ys, xs = np.nonzero(img[:, :, 3] > 0)
        rgba = _cap_rgba(np.ascontiguousarray(img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]), max_side)
        name = "tux_" + re.sub(r"[^A-Za-z0-9]+", "_", Path(rel).stem).strip("_").lower()
        while name in seen:
            name += "_b"
        seen.add(name)
        out.append(Cutout(name=name, rgba=rgba, source=f"debian:{TUXPAINT}={version}:{_TUX_ROOT}/{rel}",
                          license=_TUX_LICENSE, group=_tux_group(rel), category=os.path.dirname(rel)))
    return out


def _debian_backgrounds(package: str, root: Path, version: str, max_side: int | None) -> list[Background]:
    if package == LOMIRI:
        folder, names = root / _LOMIRI_ROOT, _LOMIRI_PHOTOS
        lic = _dep5_licenses(root / "usr/share/doc" / package / "copyright")
        licence = lambda n: f"{lic.get(n, 'see Debian copyright file')} (lomiri-wallpapers)"  # noqa: E731
    else:
        folder, names = root / _OCV_ROOT, _OCV_PHOTOS
        licence = lambda n: _OCV_LICENSE  # noqa: E731
    out = []
    for n in names:
        p = folder / n
        if not p.is_file():
            continue
        stem = re.sub(r"[^A-Za-z0-9]+", "_", Path(n).stem).strip("_").lower()
        rel = p.relative_to(root).as_posix()
        out.append(Background(name=f"{'lom' if package == LOMIRI else 'ocv'}_{stem}", bgr=_read_bgr(p, max_side),
                              source=f"debian:{package}={version}:{rel}", license=licence(n),
                              group=f"{package}:{stem}"))
    return out


# ----------------------------------------------------------------------------------------------------------------
# PyPI photographs


def _pypi_file(package: str, name: str) -> tuple[Path, str]:
    if package == "scikit-image":
        import skimage
        import skimage.data
        return Path(skimage.data.__file__).parent / name, skimage.__version__
    if package == "scikit-learn":
        import sklearn
        return Path(sklearn.__file__).parent / "datasets" / "images" / name, sklearn.__version__
    if package == "matplotlib":
        import matplotlib
        import matplotlib.cbook
        return Path(matplotlib.cbook.get_sample_data(name, asfileobj=False)), matplotlib.__version__
    raise ValueError(package)


def feathered_alpha(h: int, w: int, ellipse: bool) -> np.ndarray:
    """uint8 alpha: an inscribed ellipse (or rounded rectangle) with a soft edge of ~6% of the size."""
    a = np.zeros((h, w), np.uint8)
    feather = max(1.0, 0.06 * min(h, w))
    pad = int(round(feather))
    if ellipse:
        cv2.ellipse(a, (w // 2, h // 2), (max(1, w // 2 - pad), max(1, h // 2 - pad)), 0, 0, 360, 255, -1,
                    cv2.LINE_AA)
    else:
        a[pad:h - pad, pad:w - pad] = 255
    k = 2 * int(round(feather)) + 1
    return cv2.GaussianBlur(a, (k, k), feather / 2)


def _region_cutout(photo: np.ndarray, box: tuple[int, int, int, int], ellipse: bool) -> np.ndarray:
    x0, y0, x1, y1 = box
    crop = photo[y0:y1, x0:x1]
    return np.dstack([crop, feathered_alpha(crop.shape[0], crop.shape[1], ellipse)])


_PYPI_NOT_SCENES = ("hubble_deep_field", "grass", "gravel", "brick")  # textures / sky survey: fallback backgrounds only


def _pypi_sources(rng: np.random.Generator, with_objects: bool, max_obj: int | None, max_bg: int | None,
                  n_random: int = 2) -> tuple[list[Cutout], list[Background], list[dict]]:
    objects: list[Cutout] = []
    backgrounds: list[Background] = []
    versions: dict[str, str] = {}
    counts: dict[str, int] = {}
    for group, package, fname, lic, as_bg, regions in _PYPI_PHOTOS:
        if not with_objects and (group in _PYPI_NOT_SCENES or not as_bg):
            continue
        try:
            path, version = _pypi_file(package, fname)
            photo = _read_bgr(path, None)
        except (ImportError, DataError, OSError, ValueError) as exc:  # a missing optional photo is not fatal
            warnings.warn(f"PyPI photo {package}:{fname} unavailable ({exc}); skipped", stacklevel=2)
            continue
        versions[package] = version
        counts[package] = counts.get(package, 0) + 1
        src = f"pypi:{package}={version}:{fname}"
        gid = f"pypi:{group}"
        if as_bg:
            backgrounds.append(Background(name=f"pypi_{group}", bgr=_cap_bgr(photo, max_bg), source=src, license=lic,
                                          group=gid))
        if not with_objects:
            continue
        H, W = photo.shape[:2]
        for name, box in regions:
            objects.append(Cutout(name=name, rgba=_cap_rgba(_region_cutout(photo, box, True), max_obj), source=src,
                                  license=lic, group=gid, category="photo_region"))
        for k in range(n_random):
            w = int(W * rng.uniform(0.15, 0.4))
            h = int(np.clip(w * np.exp(rng.uniform(-0.9, 0.9)), 0.12 * H, 0.5 * H))
            x0, y0 = int(rng.integers(0, W - w + 1)), int(rng.integers(0, H - h + 1))
            rgba = _region_cutout(photo, (x0, y0, x0 + w, y0 + h), bool(rng.random() < 0.5))
            objects.append(Cutout(name=f"{group}_region{k + 1}", rgba=_cap_rgba(rgba, max_obj),
                                  source=f"{src}@{x0},{y0},{w},{h}", license=lic, group=gid,
                                  category="random_region"))
    packages = [{"kind": "pypi", "package": p, "version": v, "count": counts[p],
                 "role": "objects+backgrounds" if with_objects else "backgrounds"} for p, v in sorted(versions.items())]
    return objects, backgrounds, packages


# ----------------------------------------------------------------------------------------------------------------
# split and entry point


def split_by_group(objects: list[Cutout], backgrounds: list[Background], seed: int,
                   fractions: dict[str, float] | None = None) -> dict[str, SourceSplit]:
    """Deterministic split on source photos: groups holding both objects and backgrounds, object-only groups and
    background-only groups are each shuffled (seeded) and dealt out by ``fractions`` (every split gets at least one
    group of a kind when there are three or more). Raises DataError if a split ends with no background or fewer than
    two objects (the generator needs a target and a different occluder)."""
    fractions = dict(fractions or SPLIT_FRACTIONS)
    kinds: dict[str, set[str]] = {}
    for o in objects:
        kinds.setdefault(o.group, set()).add("o")
    for b in backgrounds:
        kinds.setdefault(b.group, set()).add("b")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))
    assign: dict[str, str] = {}
    for kind in (frozenset("ob"), frozenset("o"), frozenset("b")):
        groups = sorted(g for g, k in kinds.items() if frozenset(k) == kind)
        order = [groups[i] for i in rng.permutation(len(groups))]
        n = len(order)
        if n < 3:
            for i, g in enumerate(order):
                assign[g] = ("train", "test", "val")[i]
            continue
        n_test = max(1, int(round(fractions["test"] * n)))
        n_val = max(1, int(round(fractions["val"] * n)))
        n_test = min(n_test, n - 2)
        n_val = min(n_val, n - n_test - 1)
        for i, g in enumerate(order):
            assign[g] = "test" if i < n_test else ("val" if i < n_test + n_val else "train")
    out = {}
    for s in SPLITS:
        objs = [o for o in objects if assign[o.group] == s]
        bgs = [b for b in backgrounds if assign[b.group] == s]
        if not bgs or len(objs) < 2:
            raise DataError(f"source split {s!r} has {len(objs)} objects and {len(bgs)} backgrounds; need >= 2 and "
                            f">= 1 (too few source photographs)")
        out[s] = SourceSplit(objects=objs, backgrounds=bgs, groups=sorted(g for g, v in assign.items() if v == s))
    return out


def collect_sources(cache_dir: str | Path = "data/cache/debian", use_debian: bool = True, seed: int = 0,
                    object_max_side: int | None = 384, background_max_side: int | None = 1280) -> SourcePool:
    """Find the real photographs, cut objects and split them by source photo.

    Args:
        cache_dir: folder for the fetched Debian packages (created; reused on later calls).
        use_debian: fetch the Debian packages (tuxpaint stamps with exact alpha masks, wallpapers, OpenCV samples).
            False, or any failure to fetch, uses the PyPI photographs only (with a warning in the second case).
        seed: seeds the random object regions of PyPI photographs and the split.
        object_max_side, background_max_side: larger images are downscaled (pyramid) to this many pixels.
    """
    if not isinstance(use_debian, bool):
        raise ConfigError(f"use_debian must be a bool, got {use_debian!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xC0FFEE]))
    notes: list[str] = []
    packages: list[dict] = []
    objects: list[Cutout] = []
    backgrounds: list[Background] = []
    used_debian = False
    if use_debian:
        for pkg in DEBIAN_PACKAGES:
            try:
                root, version = fetch_debian_package(pkg, cache_dir)
                if pkg == TUXPAINT:
                    got = _tuxpaint_cutouts(root, version, object_max_side)
                    objects += got
                    role, n = "objects", len(got)
                else:
                    got_bg = _debian_backgrounds(pkg, root, version, background_max_side)
                    backgrounds += got_bg
                    role, n = "backgrounds", len(got_bg)
                if n == 0:
                    raise DataError(f"no usable photographs found in {root}")
                packages.append({"kind": "debian", "package": pkg, "version": version, "role": role, "count": n})
                used_debian = True
            except (DataError, OSError, subprocess.SubprocessError) as exc:
                notes.append(f"Debian package {pkg} unavailable ({exc})")
    need_pypi_objects = not objects
    pobj, pbg, ppk = _pypi_sources(rng, need_pypi_objects, object_max_side, background_max_side)
    objects += pobj
    backgrounds += pbg
    packages += ppk
    if use_debian and notes:
        msg = ("; ".join(notes) + ". Falling back to PyPI photographs for what is missing: the generated benchmark "
               "differs from the one built with the Debian photographs, so numbers measured on it will differ.")
        warnings.warn(msg, stacklevel=2)
        notes = [msg]
    return SourcePool(objects=objects, backgrounds=backgrounds, splits=split_by_group(objects, backgrounds, seed),
                      packages=packages, used_debian=used_debian, warnings=notes)
