"""Effects of other things in the frame: background clutter (BC, look-alike distractors under the target) and
occlusion (OCC, occluders over it)."""
from __future__ import annotations

import math

import cv2
import numpy as np

from ...sources.images import feathered_alpha, premultiply, pyramid_resize
from ..compose import alpha_into, box_of_placed, feather_edge, mask_box, paste, scaled, transform, xywh
from ..draws import pick
from ..state import SequencePlan
from .base import Effect


def object_class(group: str) -> str:
    """The class of a cutout from its source group: a tuxpaint stamp's folder ('tux:animals/birds/eagle' ->
    'tux:animals/birds'); a PyPI photograph's objects form one class per photograph."""
    return group.rsplit("/", 1)[0] if group.startswith("tux:") else group


class BackgroundClutter(Effect):
    code = "BC"
    definition = "the background near the target has similar colour or texture as the target"
    mechanism = ("recoloured copies of the target, or other objects of its class, move within 2 target sizes of "
                 "it")
    RECOLOUR = 0.12           # per-channel gain 1 +- this
    SAME_CLASS = 0.5          # probability that a distractor is another object of the target's class, not a copy
    SCALE = (0.72, 1.0)       # x the target patch
    DISTANCE = (1.1, 1.7)     # centre distance, x the target size
    SPIN = 0.04               # radians per frame around the target

    def draw(self, rng, s):
        s.distractors = []
        if not (s.on(self.code) or (s.train and rng.random() < 0.35)):
            return
        W, H, gcx, gcy = s.W, s.H, s.gcx, s.gcy
        for _ in range(int(rng.integers(1, 3))):
            s.distractors.append({"gain": (1.0 + rng.uniform(-self.RECOLOUR, self.RECOLOUR, 3)).astype(np.float32),
                                  "scale": rng.uniform(*self.SCALE), "dist": rng.uniform(*self.DISTANCE),
                                  "phi": math.atan2(H / 2 - gcy[0], W / 2 - gcx[0]) + rng.uniform(-1.0, 1.0),
                                  "omega": rng.uniform(-self.SPIN, self.SPIN),
                                  "flip": bool(rng.random() < 0.5),
                                  "cutout": self._same_class(rng, s)})

    def _same_class(self, rng, s) -> np.ndarray | None:
        """With probability SAME_CLASS, another object of the target's class (its tuxpaint folder, e.g. animals/
        birds; for PyPI photographs, the same photograph) as a premultiplied patch; else None (a copy)."""
        if rng.random() >= self.SAME_CLASS:
            return None
        kin = [o for o in s.pool.objects if o is not s.target and object_class(o.group) == object_class(s.target.group)]
        return premultiply(pick(rng, kin).rgba) if kin else None

    @staticmethod
    def _patch(d: dict, p: np.ndarray, s: SequencePlan) -> np.ndarray:
        """The distractor's patch next to target patch ``p``: the copy scaled by d['scale'], or the same-class
        object scaled to d['scale'] x the target's longer side (never up) with the target's feathered outline."""
        if d["cutout"] is None:
            return (scaled(p, d["scale"]) if d["scale"] < 0.999 else p).copy()
        c = d["cutout"]
        f = min(1.0, d["scale"] * max(p.shape[:2]) / max(c.shape[:2]))
        return feather_edge(scaled(c, f) if f < 0.999 else c.copy(), s.feather)

    def paint(self, frame: np.ndarray, s: SequencePlan, t: int) -> list[dict]:
        """Paste the distractors into frame ``t`` (under the target); returns their logged boxes."""
        p, _ = s.patches[t]
        gt, gcx, gcy = s.gt, s.gcx, s.gcy
        dlog = []
        for d in s.distractors:
            dp = self._patch(d, p, s)
            dp[..., :3] *= d["gain"]
            if d["flip"]:
                dp = cv2.flip(dp, 1)
            size = max(gt[t, 2], gt[t, 3])
            ang = d["phi"] + d["omega"] * t
            dcx = gcx[t] + d["dist"] * size * math.cos(ang)
            dcy = gcy[t] + d["dist"] * size * math.sin(ang)
            dox, doy = int(round(dcx - dp.shape[1] / 2)), int(round(dcy - dp.shape[0] / 2))
            paste(frame, dp, dox, doy)
            db = mask_box(dp[..., 3])
            if db is not None:
                dlog.append({"box": xywh((db[0] + dox, db[1] + doy, db[2] + dox, db[3] + doy))})
        return dlog


class Occlusion(Effect):
    code = "OCC"
    definition = "the target is partially or fully occluded"
    mechanism = "other cutouts or feathered background patches pass in front of the target (covered fraction logged)"
    CUTOUT_AREA = (0.8, 1.8)      # occluding cutout area, x the target's box area when it passes
    CUTOUT_TILT = 30.0            # degrees
    PATCH_SIZE = (1.0, 1.5)       # background patch side, x the target's box side
    PATCH_ZOOM = 2.0              # the patch is cut from up to this many times its size of the photo
    SPEED = 1.5                   # x fm per frame
    OFFSET = 0.2                  # path offset from the target centre, x the target size

    def draw(self, rng, s):
        s.occluders = []
        if not (s.on(self.code) or (s.train and rng.random() < 0.3)):
            return
        T, gt = s.T, s.gt
        for _ in range(int(rng.integers(1, 3))):
            tc = int(rng.integers(max(1, T // 5), max(2, T - T // 5)))  # frame where it crosses the target
            size_t = float(max(gt[tc, 2], gt[tc, 3]))
            if rng.random() < 0.7 and len(s.pool.objects) > 1:
                opatch, oname, osrc = self._cutout(rng, s, tc)
            else:
                opatch, oname, osrc = self._background_patch(rng, s, tc)
            u = rng.uniform(0.0, self.SPEED) * s.th["fm_px"] * np.array(
                [math.cos(a := rng.uniform(0, 2 * math.pi)), math.sin(a)])
            perp = np.array([-u[1], u[0]]) / max(np.linalg.norm(u), 1e-9)
            delta = perp * rng.uniform(-self.OFFSET, self.OFFSET) * size_t
            s.occluders.append({"patch": opatch, "tc": tc, "c0": np.array([s.gcx[tc], s.gcy[tc]]) + delta, "u": u,
                                "name": oname, "source": osrc})

    def _cutout(self, rng, s, tc):
        """Another object of the split, scaled to about the target's area, tilted and maybe mirrored."""
        gt = s.gt
        oc = pick(rng, s.pool.objects, exclude=(s.target,))
        onat = premultiply(oc.rgba)
        ob = mask_box(onat[..., 3])
        oa = (ob[2] - ob[0] + 1) * (ob[3] - ob[1] + 1)
        f = min(1.0, math.sqrt(rng.uniform(*self.CUTOUT_AREA) * gt[tc, 2] * gt[tc, 3] / oa))
        opatch = scaled(onat, f)
        ang = rng.uniform(-self.CUTOUT_TILT, self.CUTOUT_TILT)
        opatch, _ = transform(opatch, ang, 1.0, bool(rng.random() < 0.5), "x", None, 0.0, 1.0)
        return feather_edge(opatch, s.feather), oc.name, oc.source

    def _background_patch(self, rng, s, tc):
        """A feathered patch cut from a background photo of the split, a bit larger than the target."""
        gt = s.gt
        ob_bg = pick(rng, s.pool.backgrounds)
        bgp = ob_bg.bgr
        lo, hi = self.PATCH_SIZE
        dw = int(min(bgp.shape[1] - 1, max(4, gt[tc, 2] * rng.uniform(lo, hi))))
        dh = int(min(bgp.shape[0] - 1, max(4, gt[tc, 3] * rng.uniform(lo, hi))))
        z = rng.uniform(1.0, max(1.0, min(self.PATCH_ZOOM, bgp.shape[1] / dw / 1.01, bgp.shape[0] / dh / 1.01)))
        cw, ch = int(dw * z), int(dh * z)
        xx0, yy0 = int(rng.integers(0, bgp.shape[1] - cw + 1)), int(rng.integers(0, bgp.shape[0] - ch + 1))
        crop = pyramid_resize(bgp[yy0:yy0 + ch, xx0:xx0 + cw], (dw, dh))
        opatch = premultiply(np.dstack([crop, feathered_alpha(dh, dw, bool(rng.random() < 0.5))]))
        return opatch, f"{ob_bg.name}@{xx0},{yy0},{cw},{ch}", ob_bg.source

    def paint(self, frame: np.ndarray, s: SequencePlan, t: int) -> tuple[list[dict], float]:
        """Paste the occluders over frame ``t`` (after the target); returns their log and the fraction of the visible
        target mask they cover."""
        if not s.occluders:
            return [], 0.0
        W, H = s.W, s.H
        olog = []
        occ_alpha = np.zeros((H, W), np.float32)
        for o in s.occluders:
            op = o["patch"]
            cc = o["c0"] + o["u"] * (t - o["tc"])
            oox, ooy = int(round(cc[0] - op.shape[1] / 2)), int(round(cc[1] - op.shape[0] / 2))
            paste(frame, op, oox, ooy)
            alpha_into(occ_alpha, op[..., 3], oox, ooy)
            un, cl = box_of_placed(op[..., 3], oox, ooy, W, H)
            olog.append({"name": o["name"], "box": None if cl is None else xywh(un)})
        tm = np.zeros((H, W), np.float32)
        alpha_into(tm, s.patches[t][0][..., 3], *s.place[t])
        tmask = tm > 0.5
        n_t = int(tmask.sum())
        return olog, float((occ_alpha[tmask] > 0.5).sum()) / max(n_t, 1)
