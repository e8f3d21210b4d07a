"""Effects on how a frame looks: illumination variation (IV) and motion blur (MB)."""
from __future__ import annotations

import math

import cv2
import numpy as np

from ..compose import TRANSPARENT, line_kernel
from ..draws import profile, smooth
from ..state import SequencePlan
from .base import BLUR_MIN_PX, Effect


class IlluminationVariation(Effect):
    code = "IV"
    definition = "the illumination in the target region is significantly changed"
    mechanism = "a global gain (and a linear light gradient) ramps to 0.35-0.55 or 1.5-1.75 of the first lighting"
    DARKER, BRIGHTER = (0.35, 0.55), (1.5, 1.75)
    GRADIENT = (0.15, 0.3)          # light gradient across the frame diagonal, at the full ramp
    TRAIN_FLICKER = 0.2             # off, 20 % of train sequences flicker by up to this gain

    def draw(self, rng, s):
        T, W, H = s.T, s.W, s.H
        gain_global = np.ones(T)
        grad_amp, grad_ang = np.zeros(T), 0.0
        if s.on(self.code):
            g = rng.uniform(*self.DARKER) if rng.random() < 0.5 else rng.uniform(*self.BRIGHTER)
            prof = profile(rng, T, max(3, T // 6), back=bool(rng.random() < 0.5))
            gain_global = 1.0 + (g - 1.0) * prof
            if rng.random() < 0.5:
                grad_amp = rng.uniform(*self.GRADIENT) * prof
                grad_ang = rng.uniform(0, 360)
        elif s.train and rng.random() < 0.2:
            gain_global = 1.0 + self.TRAIN_FLICKER * smooth(rng, T, 3)
        ga = math.radians(grad_ang)
        gu = np.array([math.cos(ga), math.sin(ga)])

        def proj(x, y):  # position along the gradient, in frame diagonals from the centre
            return ((x - W / 2) * gu[0] + (y - H / 2) * gu[1]) / math.hypot(W, H)

        s.gain_global, s.grad_amp, s.grad_ang = gain_global, grad_amp, grad_ang
        s.gain_target = gain_global * (1.0 + grad_amp * proj(s.gcx, s.gcy))
        if grad_amp.any():
            yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
            s.gain_field = proj(xx, yy).astype(np.float32)

    def light(self, frame: np.ndarray, s: SequencePlan, t: int) -> None:
        """Apply frame ``t``'s lighting to the finished frame, in place."""
        if s.grad_amp[t] != 0:
            frame *= (s.gain_global[t] * (1.0 + s.grad_amp[t] * s.gain_field))[..., None]
        elif s.gain_global[t] != 1.0:
            frame *= np.float32(s.gain_global[t])


class MotionBlur(Effect):
    code = "MB"
    definition = "the target region is blurred due to the motion of target or camera"
    mechanism = "a linear motion-blur kernel along the motion direction, length > 3 * otb_scale px"
    EXPOSURE = (0.6, 1.0)       # blur length = exposure x box speed ...
    MIN_LENGTH = (4.5, 9.0)     # ... but at least this x otb_scale px (x 1-1.3) ...
    MAX_LENGTH = 24.0           # ... and at most this x otb_scale px
    CAMERA_BLUR = 0.5           # when the camera shakes too, the whole frame gets half the target's blur

    def draw(self, rng, s):
        T, gcx, gcy, otb = s.T, s.gcx, s.gcy, s.th["otb_scale"]
        blur_len, blur_ang = np.zeros(T), np.zeros(T)
        cam_blur = False
        if s.on(self.code):
            prof = profile(rng, T, max(2, T // 6), back=True) > 0.3
            prof[int(rng.integers(1, T))] = True
            speed = np.r_[0.0, np.hypot(np.diff(gcx), np.diff(gcy))]
            expo = rng.uniform(*self.EXPOSURE)
            lmin = rng.uniform(*self.MIN_LENGTH) * otb
            ang0 = rng.uniform(0, 180)
            for t in range(T):
                if prof[t]:
                    blur_len[t] = min(max(expo * speed[t], lmin * (1 + 0.3 * rng.random())), self.MAX_LENGTH * otb)
                    blur_ang[t] = (math.degrees(math.atan2(gcy[t] - gcy[t - 1], gcx[t] - gcx[t - 1]))
                                   if t > 0 and speed[t] > 0.5 else ang0)
            cam_blur = bool(rng.random() < 0.3)
        s.blur_len, s.blur_ang, s.camera_blur = blur_len, blur_ang, cam_blur

    def blurred_target(self, s: SequencePlan, t: int) -> tuple[np.ndarray, int, int]:
        """Frame ``t``'s target patch and its top-left, blurred along the motion (padded so the blur fits)."""
        p, _ = s.patches[t]
        ox, oy = s.place[t]
        if s.blur_len[t] <= BLUR_MIN_PX:
            return p, ox, oy
        k = line_kernel(s.blur_len[t], s.blur_ang[t])
        pad = k.shape[0] // 2 + 1
        tp = cv2.copyMakeBorder(p, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=TRANSPARENT)
        tp = cv2.filter2D(tp, -1, k, borderType=cv2.BORDER_CONSTANT)
        return tp, ox - pad, oy - pad

    def shake(self, frame: np.ndarray, s: SequencePlan, t: int) -> np.ndarray:
        """The whole frame blurred when the camera moves too (after occluders, before lighting)."""
        if s.blur_len[t] > BLUR_MIN_PX and s.camera_blur:
            frame = cv2.filter2D(frame, -1, line_kernel(s.blur_len[t] * self.CAMERA_BLUR, s.blur_ang[t]),
                                 borderType=cv2.BORDER_REFLECT)
        return frame
