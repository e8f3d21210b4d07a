"""``collect_sources``: every photograph the generator may use, cut into objects and backgrounds and split by
source photograph."""
from __future__ import annotations

import subprocess
import warnings
from pathlib import Path

import numpy as np

from ...errors import ConfigError, DataError
from .debian import DEBIAN_PACKAGES, TUXPAINT, fetch_debian_package
from .extract import debian_backgrounds, tuxpaint_cutouts
from .pypi import pypi_sources
from .records import Background, Cutout, SourcePool
from .split import split_by_group

_SOURCES_SEED_TAG = 0xC0FFEE  # second word of the SeedSequence of the random PyPI object regions


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
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SOURCES_SEED_TAG]))
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
                    got = tuxpaint_cutouts(root, version, object_max_side)
                    objects += got
                    role, n = "objects", len(got)
                else:
                    got_bg = debian_backgrounds(pkg, root, version, background_max_side)
                    backgrounds += got_bg
                    role, n = "backgrounds", len(got_bg)
                if n == 0:
                    raise DataError(f"no usable photographs found in {root}")
                packages.append({"kind": "debian", "package": pkg, "version": version, "role": role, "count": n})
                used_debian = True
            except (DataError, OSError, subprocess.SubprocessError) as exc:
                notes.append(f"Debian package {pkg} unavailable ({exc})")
    need_pypi_objects = not objects
    pobj, pbg, ppk = pypi_sources(rng, need_pypi_objects, object_max_side, background_max_side)
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
