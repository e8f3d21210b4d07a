"""Every tracker behind one interface and one registry.

A tracker follows the `Tracker` protocol: `init(image, box)` on the first frame, then `update(image) -> box` per
frame; boxes are x, y, w, h in 0-based pixels, images H x W x 3 uint8 BGR (OpenCV order). `TRACKERS` maps a kind to
a factory `factory(checkpoint=None, track=None, device='cpu', name=None) -> Tracker`: 'siamese' builds our trackers
from a checkpoint of any network family (network, crop geometry and tuned settings come from the file), 'pgnet' the
same for PG-Net checkpoints only, 'static' keeps the first box.
`make_tracker(kind, ...)` is the one way the CLI, the notebooks and the benchmarks build a tracker.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ..config import TrackConfig
from ..errors import ConfigError
from .opencv import OPENCV_TRACKERS
from .siamese import SiameseTracker
from .static import StaticTracker


@runtime_checkable
class Tracker(Protocol):
    name: str

    def init(self, image: np.ndarray, box) -> None: ...

    def update(self, image: np.ndarray) -> np.ndarray: ...


def _siamese(checkpoint: str | Path | None = None, track: TrackConfig | None = None, device: str = "cpu",
             name: str | None = None) -> Tracker:
    if not checkpoint:
        raise ConfigError("the 'siamese' tracker needs a checkpoint (--checkpoint FILE)")
    return SiameseTracker.from_checkpoint(checkpoint, track, device, name)


def _pgnet(checkpoint: str | Path | None = None, track: TrackConfig | None = None, device: str = "cpu",
           name: str | None = None) -> Tracker:
    tracker = _siamese(checkpoint, track, device, name)
    if tracker.model.network != "pgnet":
        raise ConfigError(f"{checkpoint}: a {tracker.model.network!r} checkpoint, not PG-Net's (use --tracker siamese "
                          f"or a checkpoint of the train_pgnet stage)")
    return tracker


def _static(checkpoint=None, track=None, device: str = "cpu", name: str | None = None) -> Tracker:
    tracker = StaticTracker()
    tracker.name = name or "static"
    return tracker


TRACKERS: dict[str, Callable[..., Tracker]] = {"siamese": _siamese, "pgnet": _pgnet, "static": _static}
# OpenCV's trackers as peers: 'csrt', 'kcf', 'mil'; 'nano', 'vit', 'dasiamrpn' with --checkpoint model files.
TRACKERS.update(OPENCV_TRACKERS)


def make_tracker(kind: str, checkpoint: str | Path | None = None, track: TrackConfig | None = None,
                 device: str = "cpu", name: str | None = None) -> Tracker:
    """The tracker of registry kind `kind`; unknown kinds raise ConfigError listing the known ones."""
    if kind not in TRACKERS:
        raise ConfigError(f"unknown tracker {kind!r}; known: {', '.join(TRACKERS)}")
    return TRACKERS[kind](checkpoint=checkpoint, track=track, device=device, name=name)
