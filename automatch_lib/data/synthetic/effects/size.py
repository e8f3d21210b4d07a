"""Effects on the target's size: scale variation (SV) and low resolution (LR)."""
from __future__ import annotations

import math

import numpy as np

from ...sources.records import Cutout
from ..draws import profile, smooth
from ..state import SequencePlan
from .base import Effect
from .motion import OutOfView


class ScaleVariation(Effect):
    code = "SV"
    definition = "the ratio of the bounding boxes of the first and the current frame is out of [1/2, 2]"
    mechanism = "the planned box area ratio to the first frame ramps to 0.22-0.38 or 2.6-4; off, it stays in " \
                "[0.82, 1.22] (the rendered box is re-measured and rescaled to the plan)"
    SHRINK, GROW = (0.22, 0.38), (2.6, 4.0)
    WANDER, TRAIN_WANDER = 0.2, 0.6   # off: log area ratio wanders within +-WANDER / 2 (train: sometimes more)

    def draw(self, rng, s):
        T = s.T
        if s.on(self.code):
            shrink = bool(rng.random() < 0.5)
            rstar = rng.uniform(*self.SHRINK) if shrink else rng.uniform(*self.GROW)
            r = np.exp(math.log(rstar) * profile(rng, T, max(4, T // 3), back=bool(rng.random() < 0.4)))
        else:
            n = smooth(rng, T, 3)
            r = np.exp(self.WANDER * (n - n[0]) / 2.0)
            if s.train and rng.random() < 0.3:
                r = np.exp(self.TRAIN_WANDER * (n - n[0]) / 2.0)
        s.area_ratio = r


class LowResolution(Effect):
    code = "LR"
    definition = "the number of pixels inside the ground-truth box is less than tr (400 at 640x480)"
    mechanism = "the planned box area stays under 0.75 x 400 * otb_scale^2 px; off, above 1.6 x that"
    ASPECT = (0.45, 2.2)      # LR targets are compact: an elongated cutout cannot stay under the area cap with
                              # its shortest side >= 3 px
    CAP = 0.75                # on: area <= CAP x threshold (at the smallest planned ratio), and A0 is drawn in
    NEAR_CAP = 0.8            # [NEAR_CAP x the feasible top, top]: as large as allowed, since tiny boxes are
                              # quantised, which would break the area-ratio band
    FLOOR = 1.6               # off: area >= FLOOR x threshold (more when part of the box may be out of view)
    MIN_SIDE_AREA = 16.0      # off: shortest side >= 4 px
    AREA_OF_FRAME = (0.008, 0.05)   # off: usual first-frame area, fraction of the frame ...
    AREA_OF_FRAME_OV = 0.03         # ... smaller top with OV, so that the box can leave the frame

    def keeps(self, cutout: Cutout) -> bool:
        """Is ``cutout`` compact enough to be an LR target?"""
        h, w = cutout.rgba.shape[:2]
        return self.ASPECT[0] <= w / h <= self.ASPECT[1]

    def area_bounds(self, s: SequencePlan, r: np.ndarray, a_nat: np.ndarray, short2: np.ndarray,
                    lo_terms: list, hi_terms: list) -> None:
        """Add LR's bounds on the first frame's area A0 (area at frame t = A0 * r[t]; ``a_nat`` is the box area of
        the unscaled cutout, ``short2`` its shortest side squared)."""
        lr_thr, T = s.th["lr_area"], s.T
        if s.on(self.code):
            hi_terms.append(np.full(T, self.CAP * lr_thr / r.min()))
        else:
            floor = self.FLOOR if not s.on("OV") else self.FLOOR / (1 - OutOfView.MAX_OUTSIDE)
            lo_terms.append(floor * lr_thr / r)
            lo_terms.append(self.MIN_SIDE_AREA * a_nat / (short2 * r))

    def area_range(self, s: SequencePlan, lo: float, hi: float) -> tuple[float, float]:
        """The range A0 is drawn from, within the feasible [lo, hi]."""
        if s.on(self.code):
            return max(lo, self.NEAR_CAP * hi), hi
        Fa = float(s.W * s.H)
        top = self.AREA_OF_FRAME[1] if not s.on("OV") else self.AREA_OF_FRAME_OV
        plo, phi = max(lo, self.AREA_OF_FRAME[0] * Fa), min(hi, top * Fa)
        if plo > phi:
            plo, phi = lo, hi
        return plo, phi
