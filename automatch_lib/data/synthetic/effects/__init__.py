"""OTB's eleven attributes, one effect each, in one registry (``EFFECTS``, keyed by code in OTB's order).

An effect holds what its attribute does to a sequence: its planning draw (``draw``, called for every sequence at a
fixed point of `plan.plan_sequence`, with the attribute on or off: off, train sequences get a mild version of some
effects so that the training data is varied) and, for the attributes that change how a frame looks, its rendering
step (called by `render.render_frames`). Thresholds are TB-100's in pixels scaled by ``otb_scale`` = frame
diagonal / 800; ``fm`` below is the FM threshold 20 * otb_scale px.

The draws consume one random stream in a fixed order; any change to what or when an effect draws changes every
sequence generated after it.
"""
from __future__ import annotations

from .appearance import IlluminationVariation, MotionBlur
from .base import BLUR_MIN_PX, V_CAP, Effect
from .clutter import BackgroundClutter, Occlusion
from .motion import FastMotion, OutOfView
from .shape import Deformation, InPlaneRotation, OutOfPlaneRotation
from .size import LowResolution, ScaleVariation

EFFECTS: dict[str, Effect] = {e.code: e for e in (
    IlluminationVariation(), ScaleVariation(), Occlusion(), Deformation(), MotionBlur(), FastMotion(),
    InPlaneRotation(), OutOfPlaneRotation(), OutOfView(), BackgroundClutter(), LowResolution())}

__all__ = ["EFFECTS", "Effect", "BLUR_MIN_PX", "V_CAP"]
