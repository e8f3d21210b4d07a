"""The records shared by the planner, the effects and the renderer: what one benchmark shares (`Context`) and
everything drawn for one sequence (`SequencePlan`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..sources.records import Background, Cutout, SourceSplit
from .compose import transform
from .config import SyntheticConfig
from .verify import thresholds

GENERATOR = "automatch_lib.data.synthetic"   # recorded in logs and manifests; a manifest naming it marks our output
GENERATOR_VERSION = 2   # 2: outlines feathered in frame pixels, real-video training sequences
SPLIT_ID = {"train": 0, "val": 1, "test": 2, "stills": 3}  # second word of every SeedSequence
FRAME_MARGIN = 0.02   # without OV the box stays this fraction of the frame (at least 2 px) away from its sides


class Retry(Exception):
    """The random draw cannot realise the plan; try the next attempt seed."""


@dataclass
class Context:
    """What every sequence and still of one benchmark shares: the config, frame size, OTB thresholds and margin."""

    cfg: SyntheticConfig
    W: int
    H: int
    th: dict
    margin: int

    @classmethod
    def of(cls, cfg: SyntheticConfig) -> "Context":
        W, H = cfg.frame_size
        return cls(cfg=cfg, W=W, H=H, th=thresholds((W, H)), margin=max(2, int(round(FRAME_MARGIN * min(W, H)))))


@dataclass(eq=False)
class SequencePlan:
    """One sequence as it is drawn, phase by phase (see `plan.plan_sequence`): arrays are per frame (length T).

    The effects (`effects.EFFECTS`) write their own fields when they draw and read them back when they render.
    """

    ctx: Context
    pool: SourceSplit
    split: str
    index: int
    attempt: int
    planned: frozenset           # attribute codes switched on
    train: bool
    seed_key: list
    # scene
    background: Background | None = None
    target: Cutout | None = None
    photo: np.ndarray | None = None
    camera: list = field(default_factory=list)     # (x0, y0, w, h) windows on the photo
    # shape: IPR rotation, OPR out-of-plane angle (squash and flip along `axis`), DEF warp, train stretch
    rotation: np.ndarray | None = None
    axis: str = "x"
    yaw: np.ndarray | None = None
    squash: np.ndarray | None = None
    flip: np.ndarray | None = None
    def_grids: list | None = None
    def_amp: np.ndarray | None = None
    aniso: np.ndarray | None = None
    # size: SV area ratio to the first frame; rendered target patches, their local boxes and box sizes
    area_ratio: np.ndarray | None = None
    patches: list = field(default_factory=list)     # (premultiplied BGRA patch, inclusive box in the patch)
    deformation: np.ndarray | None = None           # realised DEF magnitude
    dims: np.ndarray | None = None                  # (T, 2) box w, h
    feather: float = 0.0                            # sigma (px) of the outline's fade (plan._feather_patches)
    # motion: allowed overflow per side (left, top, right, bottom; negative = margin), OV push, FM bursts
    overflow: np.ndarray | None = None
    push: np.ndarray | None = None
    ov_window: tuple = ()
    bursts: set = field(default_factory=set)
    train_fast: bool = False
    place: list = field(default_factory=list)       # top-left of each patch in the frame
    # boxes: unclipped and clipped inclusive boxes, ground truth (x, y, w, h) and its centre
    unclipped: list = field(default_factory=list)
    boxes: list = field(default_factory=list)
    gt: np.ndarray | None = None
    gcx: np.ndarray | None = None
    gcy: np.ndarray | None = None
    # look: IV lighting, MB blur, BC distractors, OCC occluders
    gain_global: np.ndarray | None = None
    grad_amp: np.ndarray | None = None
    grad_ang: float = 0.0
    gain_target: np.ndarray | None = None
    gain_field: np.ndarray | None = None
    blur_len: np.ndarray | None = None
    blur_ang: np.ndarray | None = None
    camera_blur: bool = False
    distractors: list = field(default_factory=list)
    occluders: list = field(default_factory=list)

    @property
    def T(self) -> int:
        return self.ctx.cfg.seq_len

    @property
    def W(self) -> int:
        return self.ctx.W

    @property
    def H(self) -> int:
        return self.ctx.H

    @property
    def th(self) -> dict:
        return self.ctx.th

    def on(self, code: str) -> bool:
        """Is attribute ``code`` planned for this sequence?"""
        return code in self.planned

    def shape_at(self, prem: np.ndarray, t: int) -> tuple[np.ndarray, float]:
        """``prem`` deformed, squashed, flipped, stretched and rotated as planned for frame ``t``."""
        return transform(prem, float(self.rotation[t]), float(self.squash[t]), bool(self.flip[t]), self.axis,
                         None if self.def_grids is None else self.def_grids[t], float(self.def_amp[t]),
                         float(self.aniso[t]))

    def centre_region(self, t: int) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1) where the box centre may be at frame ``t`` (the box keeps its margin or overflow)."""
        w, h = self.dims[t]
        e = self.overflow
        return (-e[t, 0] + w / 2, -e[t, 1] + h / 2, self.W + e[t, 2] - w / 2, self.H + e[t, 3] - h / 2)
