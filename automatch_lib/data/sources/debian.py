"""Fetching the Debian photo packages: ``apt-get download`` + ``dpkg -x`` into a cache folder, pruned to the
photographs used (the packages are never installed)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from ...errors import DataError
from ...io import atomic_write, write_json

TUXPAINT = "tuxpaint-stamps-default"
LOMIRI = "lomiri-wallpapers-16.04"
OPENCV_DOC = "opencv-doc"
DEBIAN_PACKAGES = (TUXPAINT, LOMIRI, OPENCV_DOC)

TUX_ROOT = "usr/share/tuxpaint/stamps"
OCV_ROOT = "usr/share/doc/opencv-doc/examples/data"
# Sharp real scene photographs of OpenCV's samples/data (calibration boards, text, blurred or shallow depth-of-field
# shots, synthetic images, paintings and one image of each stereo/sequence pair are left out on purpose).
OCV_PHOTOS = ("aero1.jpg", "baboon.jpg", "basketball1.png", "board.jpg", "building.jpg", "fruits.jpg", "home.jpg",
              "leuvenA.jpg", "stuff.jpg", "box_in_scene.png", "graf1.png",
              "rubberwhale1.png", "left.jpg", "aloeL.jpg", "smarties.png")
# OpenCV's fixed-camera pedestrian video: pseudo-labelled real-video training sequences (data/video_labels.py)
OCV_VIDEOS = ("vtest.avi",)
LOMIRI_ROOT = "usr/share/backgrounds"
# Lomiri wallpapers that are sharp scene photographs (abstract patterns and shallow-depth-of-field shots left out).
LOMIRI_PHOTOS = ("Bridge_by_Sander_Klootwijk.jpg", "Dragonfly_by_Bolly.jpg", "Picture_0B_by_freespace.jpg",
                 "Wine_by_Jakkub_Mede.jpg", "aitzgorri_by_Aitzol_Berasategi.jpg",
                 "friends_by_Aitzol_Berasategi.jpg", "greentock_by_Peter_Nerlich.jpg",
                 "life_by_Aitzol_Berasategi.jpg", "picosdeeuropa_by_Aitzol_Berasategi.jpg",
                 "sunset_by_Aitzol_Berasategi.jpg")

_TOOLS = ("apt-get", "dpkg", "dpkg-deb")
_APT_UPDATED = False  # `apt-get update` runs at most once per process
_TAIL = 400  # characters of a failing tool's output kept in the error message
_LAYOUT = 2  # which files an unpacked cache keeps (2: + OpenCV's vtest.avi); an older cache is unpacked again


def _run(cmd: list[str], cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=None if cwd is None else str(cwd), capture_output=True, text=True,
                          timeout=timeout, check=False)


def _keep_file(package: str, rel: str) -> bool:
    """Which unpacked files are kept in the cache (the rest, e.g. tuxpaint's 8000 sound files, is deleted)."""
    if rel.endswith("/copyright") and rel.startswith("usr/share/doc/"):
        return True
    if package == TUXPAINT:
        return rel.startswith(TUX_ROOT + "/") and rel.endswith((".png", ".dat"))
    if package == LOMIRI:
        return rel.startswith(LOMIRI_ROOT + "/") and os.path.basename(rel) in LOMIRI_PHOTOS
    if package == OPENCV_DOC:
        return rel.startswith(OCV_ROOT + "/") and os.path.basename(rel) in OCV_PHOTOS + OCV_VIDEOS
    return True


def _download(package: str, debs: Path) -> Path:
    """The package's .deb in ``debs`` (downloaded unless already there); `apt-get update` once if the first download
    fails (missing lists)."""
    global _APT_UPDATED
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
            raise DataError(f"apt-get download {package} failed: {(res.stderr or res.stdout).strip()[-_TAIL:]}")
    return found[-1]


def _deb_version(deb: Path) -> str:
    res = _run(["dpkg-deb", "-f", str(deb), "Version"])
    if res.returncode != 0:
        raise DataError(f"dpkg-deb -f {deb} Version failed: {res.stderr.strip()[-_TAIL:]}")
    return res.stdout.strip()


def _unpack_pruned(package: str, deb: Path, tmp: Path, root: Path) -> None:
    """Unpack ``deb`` into the fresh folder ``tmp``, delete the files the generator does not use, and remove the old
    ``root`` so that `atomic_write` can rename ``tmp`` over it. ``tmp`` is removed again on failure."""
    if tmp.exists():  # left by an interrupted run
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        res = _run(["dpkg", "-x", str(deb), str(tmp)])
        if res.returncode != 0:
            raise DataError(f"dpkg -x {deb} failed: {res.stderr.strip()[-_TAIL:]}")
        for dirpath, _dirs, files in os.walk(tmp):
            for fn in files:
                p = Path(dirpath) / fn
                if p.is_symlink() or not _keep_file(package, p.relative_to(tmp).as_posix()):
                    p.unlink()
        if root.exists():
            shutil.rmtree(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fetch_debian_package(package: str, cache_dir: str | Path) -> tuple[Path, str]:
    """Download ``package`` with ``apt-get download`` and unpack it with ``dpkg -x`` into ``cache_dir/<package>``.

    Returns (unpacked root, package version). Already unpacked packages are reused (the version is kept in
    ``cache_dir/<package>.json``). Runs ``apt-get update`` once if the first download fails (missing lists).
    Raises DataError when apt/dpkg are missing or the package cannot be fetched.
    """
    cache_dir = Path(cache_dir)
    root = cache_dir / package
    marker = cache_dir / f"{package}.json"
    if marker.is_file() and root.is_dir():
        try:
            info = json.loads(marker.read_text())
            if info.get("layout", 1) == _LAYOUT:
                return root, info["version"]
        except (ValueError, KeyError):
            pass
    for tool in _TOOLS:
        if shutil.which(tool) is None:
            raise DataError(f"cannot fetch Debian package {package!r}: {tool} not found on this machine")
    deb = _download(package, cache_dir / "debs")
    version = _deb_version(deb)
    atomic_write(root, lambda tmp: _unpack_pruned(package, deb, tmp, root))
    write_json(marker, {"package": package, "version": version, "deb": deb.name, "layout": _LAYOUT}, indent=None)
    deb.unlink()  # the pruned unpacked tree is the cache; the .deb is 16-160 MB
    return root, version
