"""Effects on the box centre's motion: out of view (OV) and fast motion (FM)."""
from __future__ import annotations

import math

import numpy as np

from ..state import Retry
from .base import V_CAP, Effect


class OutOfView(Effect):
    code = "OV"
    definition = "some portion of the target leaves the view"
    mechanism = "the target is pushed against a frame side until 20-35 % of its box is outside; the ground truth " \
                "is clipped; off, the box stays inside the frame with a margin of 2 % of the frame"
    MIN_OUTSIDE = 0.2            # fraction of the box pushed outside: from 20 % up to 35 % with SV or LR,
    MAX_OUTSIDE = 0.35           # up to 30 % otherwise
    MAX_OUTSIDE_ALONE = 0.3
    RAMP_SPEED = 0.7             # the overflow grows by this x the speed cap per frame ...
    MAX_RAMP_SPEED = 0.45        # ... or faster (steps of x 1.2), up to this x fm, when the sequence is short
    PRESS = (0.4, 0.9)           # pressing: tangential speed kept, outward speed x the speed cap
    _NORMALS = [(-1, 0), (0, -1), (1, 0), (0, 1)]   # outward normal of the left, top, right, bottom side

    def draw(self, rng, s):
        T, m, fm_thr = s.T, s.ctx.margin, s.th["fm_px"]
        v_cap = V_CAP * fm_thr
        s.overflow = np.full((T, 4), -float(m))
        s.push = np.zeros((T, 2))
        s.ov_window = (T, T)
        if not s.on(self.code):
            return
        side = int(rng.integers(4))
        dim = s.dims[:, 0] if side in (0, 2) else s.dims[:, 1]
        f_out = rng.uniform(self.MIN_OUTSIDE,
                            self.MAX_OUTSIDE if s.on("SV") or s.on("LR") else self.MAX_OUTSIDE_ALONE)
        v_ramp = self.RAMP_SPEED * v_cap
        over = np.maximum(f_out * dim, 1.0)  # at least one whole pixel outside
        need = float(m + over.max())
        n_r = int(math.ceil(need / v_ramp))
        n_h = int(rng.integers(1, max(2, T // 6)))   # frames held at the widest overflow
        while 2 * n_r + n_h > T - 2 and v_ramp < self.MAX_RAMP_SPEED * fm_thr:
            v_ramp = min(self.MAX_RAMP_SPEED * fm_thr, v_ramp * 1.2)
            n_r = int(math.ceil(need / v_ramp))
        if 2 * n_r + n_h > T - 2:
            raise Retry("sequence too short for OV")
        t0 = int(rng.integers(1, T - 1 - (2 * n_r + n_h) + 1))
        t = np.arange(T)
        lvl = np.clip(np.minimum((t - t0) / n_r, (t0 + 2 * n_r + n_h - t) / n_r), 0, 1)
        s.overflow[:, side] = -m + lvl * (m + over)
        s.push[: t0 + n_r + n_h] = np.array(self._NORMALS[side], dtype=np.float64)
        s.ov_window = (t0, t0 + 2 * n_r + n_h)

    def press(self, v: np.ndarray, nvec: np.ndarray, v_cap: float) -> np.ndarray:
        """Velocity pressing against the side of outward normal ``nvec``: outward normal speed 0.9 v_cap (faster than
        the allowed overflow grows), tangential wander kept, total capped."""
        keep, out = self.PRESS
        tang = v - nvec * float(v @ nvec)
        v = tang * keep + nvec * out * v_cap
        nrm = np.linalg.norm(v)
        if nrm > v_cap:
            v *= v_cap / nrm
        return v


class FastMotion(Effect):
    code = "FM"
    definition = "the motion of the ground truth is larger than tm pixels (20 at 640x480)"
    mechanism = "bursts where the box centre moves 1.4-2 x fm between consecutive frames; off, the centre speed " \
                "is capped at 0.5 x fm"
    BURST_SPEED = (1.4, 2.0)    # x fm (drawn by the trajectory for every sequence)
    TRAIN_FAST = (0.8, 1.8)     # off, 20 % of train sequences jump at this x fm on 10 % of their frames

    def draw(self, rng, s):
        T = s.T
        s.bursts = set()
        if s.on(self.code):
            free = [t for t in range(2, T) if not s.ov_window[0] - 1 <= t <= s.ov_window[1]]
            if not free:
                raise Retry("no room for FM")
            n_b = int(rng.integers(1, 3))
            for t in sorted(rng.choice(free, size=min(n_b, len(free)), replace=False)):
                for k in range(int(rng.integers(1, 4))):
                    if t + k < T and (t + k) in free:
                        s.bursts.add(int(t + k))
        s.train_fast = s.train and not s.on(self.code) and rng.random() < 0.2

    @staticmethod
    def burst(c: np.ndarray, region: tuple, burst_speed: float) -> tuple[np.ndarray, float]:
        """(velocity, heading) of a burst: along the one of 8 directions with the most room inside ``region``."""
        rx0, ry0, rx1, ry1 = region
        best, bd = None, -1.0
        for k in range(8):
            d = np.array([math.cos(k * math.pi / 4), math.sin(k * math.pi / 4)])
            lim = []
            for comp, lo_, hi_ in ((0, rx0, rx1), (1, ry0, ry1)):
                if d[comp] > 1e-9:
                    lim.append((hi_ - c[comp]) / d[comp])
                elif d[comp] < -1e-9:
                    lim.append((lo_ - c[comp]) / d[comp])
            free_d = min(lim) if lim else 0.0
            if free_d > bd:
                best, bd = d, free_d
        spd = min(burst_speed, 0.95 * bd)
        return best * spd, math.atan2(best[1], best[0])

    def jump(self, rng, v: np.ndarray, fm_thr: float) -> np.ndarray:
        """A train sequence's occasional fast step (same direction)."""
        return v / max(np.linalg.norm(v), 1e-9) * rng.uniform(*self.TRAIN_FAST) * fm_thr
