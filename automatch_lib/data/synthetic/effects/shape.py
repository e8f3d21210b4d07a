"""Effects on the target's shape, drawn first: in-plane rotation (IPR), out-of-plane rotation (OPR) and
deformation (DEF)."""
from __future__ import annotations

import math

import numpy as np

from ..draws import profile, smooth
from .base import Effect


class InPlaneRotation(Effect):
    code = "IPR"
    definition = "the target rotates in the image plane"
    mechanism = "the cutout and mask rotate in the image plane by 35-100 degrees"
    ANGLE = (35, 100)
    MAX_SPEED = 8.0     # degrees per frame
    TRAIN_ANGLE = 15    # off, 30 % of train sequences wobble by up to this many degrees

    def draw(self, rng, s):
        T = s.T
        rot = np.zeros(T)
        if s.on(self.code):
            amp = rng.uniform(*self.ANGLE) * (1 if rng.random() < 0.5 else -1)
            amp = math.copysign(min(abs(amp), self.MAX_SPEED * (T - 3)), amp)
            rot = amp * profile(rng, T, int(math.ceil(abs(amp) / self.MAX_SPEED)), back=bool(rng.random() < 0.5))
        elif s.train and rng.random() < 0.3:
            rot = rng.uniform(-self.TRAIN_ANGLE, self.TRAIN_ANGLE) * smooth(rng, T, 3)
        s.rotation = rot


class OutOfPlaneRotation(Effect):
    code = "OPR"
    definition = "the target rotates out of the image plane"
    mechanism = "squash along one axis by |cos(theta)| (yaw or pitch) with a flip past 90 degrees, 40-170 degrees"
    ANGLE_WITH_SV = (60, 170)    # a large turn squashes the box area by more than 2: only when SV is on too
    ANGLE = (40, 60)
    MAX_SPEED = 10.0             # degrees per frame
    MIN_SQUASH = 0.12            # edge-on, the cutout keeps this fraction of its width

    def draw(self, rng, s):
        T = s.T
        yaw = np.zeros(T)
        s.axis = "x" if rng.random() < 0.75 else "y"   # yaw (x) or pitch (y); drawn for every sequence
        if s.on(self.code):
            amp = rng.uniform(*self.ANGLE_WITH_SV) if s.on("SV") else rng.uniform(*self.ANGLE)
            amp = min(amp, self.MAX_SPEED * (T - 3))
            yaw = amp * profile(rng, T, int(math.ceil(amp / self.MAX_SPEED)), back=bool(rng.random() < 0.5))
        cosy = np.cos(np.radians(yaw))
        s.yaw, s.squash, s.flip = yaw, np.maximum(np.abs(cosy), self.MIN_SQUASH), cosy < 0


class Deformation(Effect):
    code = "DEF"
    definition = "non-rigid object deformation"
    mechanism = "a smooth random displacement field, changing over time, warps the cutout and its mask"
    GRID = (3, 6)             # control grid of 3x3 to 5x5 displacements
    FRAMES_PER_KEY = 8        # a new random field every 8 frames, cosine-blended in between
    AMPLITUDE = (0.08, 0.15)  # displacement, fraction of the object size (TB-100 threshold: 0.05)
    AMPLITUDE_WANDER = 0.25

    def draw(self, rng, s):
        T = s.T
        s.def_grids, s.def_amp = None, np.zeros(T)
        if not s.on(self.code):
            return
        gsz = int(rng.integers(*self.GRID))
        n_key = max(2, T // self.FRAMES_PER_KEY + 1)
        keys = rng.normal(size=(n_key, gsz, gsz, 2)).astype(np.float32)
        keys /= np.abs(keys).max(axis=(1, 2, 3), keepdims=True)
        x = np.linspace(0, n_key - 1, T)
        i = np.minimum(np.floor(x).astype(int), n_key - 2)
        f = (0.5 - 0.5 * np.cos(np.pi * (x - i))).astype(np.float32)
        s.def_grids = [keys[i[t]] * (1 - f[t]) + keys[i[t] + 1] * f[t] for t in range(T)]
        wander = self.AMPLITUDE_WANDER
        s.def_amp = rng.uniform(*self.AMPLITUDE) * ((1 - wander) + wander * smooth(rng, T, 3))
