"""Random curves and picks shared by the planner and the effects: smooth wanders, ramps placed inside a sequence."""
from __future__ import annotations

import numpy as np


def smooth(rng: np.random.Generator, T: int, n_knots: int = 4) -> np.ndarray:
    """Smooth random curve in [-1, 1] over T frames (cosine interpolation between random knots)."""
    n_knots = max(2, n_knots)
    knots = rng.uniform(-1.0, 1.0, n_knots)
    if T == 1:
        return knots[:1].copy()
    x = np.linspace(0.0, n_knots - 1.0, T)
    i = np.minimum(np.floor(x).astype(int), n_knots - 2)
    f = 0.5 - 0.5 * np.cos(np.pi * (x - i))
    return knots[i] * (1 - f) + knots[i + 1] * f


def ramp(T: int, t0: float, t1: float) -> np.ndarray:
    """0 before t0, cosine rise, 1 from t1 on."""
    t = np.arange(T, dtype=np.float64)
    if t1 <= t0:
        return (t >= t0).astype(np.float64)
    u = np.clip((t - t0) / (t1 - t0), 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * u)


def profile(rng: np.random.Generator, T: int, min_len: int, back: bool) -> np.ndarray:
    """A 0 -> 1 ramp of at least ``min_len`` frames (optionally going back to 0 later) placed inside the sequence:
    how an attribute switches on (and off) over time."""
    min_len = int(max(1, min(min_len, T - 2)))
    t0 = int(rng.integers(1, max(2, T - min_len)))
    L = int(rng.integers(min_len, max(min_len + 1, min(T - 1 - t0, 2 * min_len) + 1)))
    up = ramp(T, t0, t0 + L)
    if back and t0 + L + 1 + min_len <= T - 1:
        t2 = int(rng.integers(t0 + L + 1, T - min_len))
        up = up - ramp(T, t2, t2 + L)
    return up


def pick(rng: np.random.Generator, items: list, exclude=()):
    """One of ``items`` not in ``exclude`` (any of ``items`` when all are excluded)."""
    cands = [x for x in items if x not in exclude] or list(items)
    return cands[int(rng.integers(len(cands)))]
