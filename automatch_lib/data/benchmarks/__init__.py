"""Loaders for real tracking benchmarks in their native on-disk layouts.

``load_benchmark(name, root, split=None, sequences=None)`` returns a list of :class:`Sequence` sorted by name.
Supported names (``LOADERS``): ``otb`` (aliases ``otb100``, ``otb2015``), ``lasot``, ``got10k`` (``got-10k``),
``trackingnet``, ``tnl2k``, ``vot``, ``dtb70``, ``uav123`` (``uav``). Each loader documents its layout, validity
policy and pixel origin. Frames are not decoded at load time (``Sequence.image(i)`` reads them), but every frame
file the ground truth refers to must exist: a gap in the numbering raises instead of being skipped.

Every problem raises :class:`DataError` naming the file or folder at fault (and the line, for text files).

Modules, one per layout family: ``otb`` (OTB, DTB70, UAV123), ``lasot`` (LaSOT, TNL2K), ``got10k`` (GOT-10k,
TrackingNet), ``vot``; ``files`` holds the readers and catalog helpers they share.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ...errors import DataError
from ..sequence import Sequence
from .files import (IMAGE_EXTS, KNOWN_ATTRIBUTES, list_images, numbered_frames, read_attributes, read_labels,
                    read_list_file)
from .got10k import load_got10k, load_trackingnet, read_meta_info
from .lasot import load_lasot, load_tnl2k
from .otb import load_dtb70, load_otb, load_uav123
from .vot import load_vot

# The registry: benchmark name (as given to ``--benchmark``) -> loader(root, split=None, sequences=None).
LOADERS: dict[str, Callable[..., list[Sequence]]] = {
    "otb": load_otb,
    "lasot": load_lasot,
    "got10k": load_got10k,
    "trackingnet": load_trackingnet,
    "tnl2k": load_tnl2k,
    "vot": load_vot,
    "dtb70": load_dtb70,
    "uav123": load_uav123,
}

# Other spellings accepted for a registry name.
ALIASES = {"otb100": "otb", "otb2015": "otb", "got-10k": "got10k", "uav": "uav123"}



def benchmark_name(name: str) -> str:
    """Canonical registry key for ``name`` (case-insensitive, aliases resolved); DataError lists the known names."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in LOADERS:
        raise DataError(f"unknown benchmark {name!r}; known: {', '.join(sorted(LOADERS))} "
                        f"(aliases: {', '.join(f'{a}->{b}' for a, b in ALIASES.items())})")
    return key


def load_benchmark(name: str, root: str | Path, split: str | None = None,
                   sequences: list[str] | None = None) -> list[Sequence]:
    """Load the sequences of benchmark ``name`` stored at ``root`` in its native layout, sorted by name.

    ``split`` selects a subset as each loader documents (a split name or a list file); ``sequences`` keeps only
    the named sequences and raises DataError naming any that does not exist.
    """
    loader = LOADERS[benchmark_name(name)]
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"benchmark root not found: {root}")
    return loader(root, split=split, sequences=sequences)


__all__ = ["LOADERS", "ALIASES", "IMAGE_EXTS", "KNOWN_ATTRIBUTES", "benchmark_name",
           "load_benchmark", "list_images", "numbered_frames", "read_list_file", "read_labels", "read_attributes",
           "read_meta_info", "load_otb", "load_dtb70", "load_lasot", "load_got10k", "load_trackingnet",
           "load_tnl2k", "load_vot", "load_uav123"]
