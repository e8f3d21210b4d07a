"""What the sources are made of: cut-out objects, background photographs, and their split."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
