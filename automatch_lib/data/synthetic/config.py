"""``SyntheticConfig``: the ``data`` section of params.yaml, checked by the project's one validation path
(`automatch_lib.validation`): types from the annotations, domain rules from each field's metadata.

Kept light on purpose (the root ``config.py`` imports it): nothing of the generator is imported here.
"""
from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field

from ...errors import ConfigError
from ...validation import Section
from ..sequence import OTB_ATTRIBUTES
from ..sources.split import SPLITS

# frame sizes the generator is built for: below this the attribute mechanisms have no room, above it JPEG writing
# dominates and nothing is gained
MIN_FRAME = (96, 72)
MAX_FRAME_SIDE = 4096
# OTB's LR threshold is 400 * otb_scale^2 px; under this frame diagonal it would leave boxes of a few pixels
MIN_DIAGONAL_FOR_LR = 150


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_frame_size(fs) -> str | None:
    (w_min, h_min), top = MIN_FRAME, MAX_FRAME_SIDE
    if not all(_is_int(v) for v in fs) or not (w_min <= fs[0] <= top and h_min <= fs[1] <= top):
        return f"expected (W, H) integers with {w_min} <= W <= {top} and {h_min} <= H <= {top}"
    return None


def _check_n_sequences(ns) -> str | None:
    if not set(ns) <= set(SPLITS):
        return f"expected keys among {list(SPLITS)}"
    bad = {k: v for k, v in ns.items() if not _is_int(v) or v < 0}
    if bad:
        return f"expected non-negative integers, got {bad}"
    return None


def _check_attributes(at) -> str | None:
    if not at or any(a not in OTB_ATTRIBUTES for a in at) or len(set(at)) != len(at):
        return f"expected a non-empty list of distinct codes among {list(OTB_ATTRIBUTES)}"
    return None


def _check_attrs_per_sequence(ap) -> str | None:
    if not all(_is_int(v) for v in ap) or not 1 <= ap[0] <= ap[1]:
        return "expected (min, max) integers with 1 <= min <= max"
    return None


def _check_videos(names) -> str | None:
    known = ("vtest", "bikes")  # automatch_lib.data.sources.videos.VIDEOS (not imported: this module stays light)
    if any(n not in known for n in names) or len(set(names)) != len(names):
        return f"expected distinct names among {list(known)}"
    return None


def _check_cache_dir(path) -> str | None:
    return None if path else "expected a folder path"


@dataclass
class SyntheticConfig(Section):
    """Parameters of the generated benchmark (plain types, so params.yaml maps onto it directly).

    Attributes:
        seed: master seed; every sequence uses its own ``SeedSequence([seed, split_id, index, attempt])``.
        frame_size: (W, H) of the frames in pixels.
        seq_len: frames per sequence (>= 16: the attribute mechanisms need room).
        n_sequences: sequences per split, keys ``train``, ``val``, ``test`` (missing splits get 0).
        n_stills: still-image training samples (one frame, one box) made from train sources.
        attributes: OTB attribute codes the generator may switch on; the others are kept off.
        attrs_per_sequence: (min, max) attributes per val/test sequence; attributes are dealt round-robin so every one
            appears at least once in a split of >= len(attributes) sequences, plus random extras.
        use_debian: fetch the Debian photo packages (else, or on failure, PyPI photographs only).
        videos: real videos shipped in packages to pseudo-label as training sequences (``train_video/``, see
            `automatch_lib.data.video_labels`): 'vtest' (Debian opencv-doc, needs use_debian), 'bikes' (PyPI).
        cache_dir: where Debian packages are unpacked.
        jpeg_quality: JPEG quality of the frames.
    """

    SECTION: typing.ClassVar[str] = "data"

    seed: int = field(default=0, metadata=dict(min=0))
    frame_size: tuple = field(default=(320, 240), metadata=dict(length=2, check=_check_frame_size))
    seq_len: int = field(default=60, metadata=dict(min=16, max=100000))
    n_sequences: dict = field(default_factory=lambda: {"train": 24, "val": 6, "test": 12},
                              metadata=dict(check=_check_n_sequences))
    n_stills: int = field(default=200, metadata=dict(min=0))
    attributes: tuple = field(default=OTB_ATTRIBUTES, metadata=dict(check=_check_attributes))
    attrs_per_sequence: tuple = field(default=(1, 3), metadata=dict(length=2, check=_check_attrs_per_sequence))
    use_debian: bool = True
    videos: tuple = field(default=(), metadata=dict(check=_check_videos))
    cache_dir: str = field(default="data/cache/debian", metadata=dict(check=_check_cache_dir))
    jpeg_quality: int = field(default=90, metadata=dict(min=1, max=100))

    def __post_init__(self) -> None:
        """Field checks (`Section`), the rules that span two fields, and one normalisation: every split gets a count."""
        super().__post_init__()
        where = self.SECTION
        if self.attrs_per_sequence[1] > len(self.attributes):
            raise ConfigError(f"{where}.attrs_per_sequence = {self.attrs_per_sequence!r}: expected max <= "
                              f"len(attributes) = {len(self.attributes)}")
        if "LR" in self.attributes and math.hypot(*self.frame_size) < MIN_DIAGONAL_FOR_LR:
            raise ConfigError(
                f"{where}.frame_size = {self.frame_size!r}: too small for LR: OTB's low-resolution threshold "
                f"400 * otb_scale^2 px would leave boxes of a few pixels (use a frame diagonal >= "
                f"{MIN_DIAGONAL_FOR_LR} px or drop LR from {where}.attributes)")
        self.n_sequences = {s: self.n_sequences.get(s, 0) for s in SPLITS}
