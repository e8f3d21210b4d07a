"""What every effect is: an OTB attribute's code, definition and mechanism, and its planning draw."""
from __future__ import annotations

import numpy as np

from ..state import SequencePlan

BLUR_MIN_PX = 0.5   # shorter motion blur is not drawn
V_CAP = 0.5         # the box centre moves at most this many x fm per frame outside FM bursts


class Effect:
    """One OTB attribute: its code, TB-100's definition and the mechanism that produces it here."""

    code = ""
    definition = ""
    mechanism = ""

    def draw(self, rng: np.random.Generator, s: SequencePlan) -> None:
        """Draw this effect's plan into ``s`` (called for every sequence, the attribute on or off)."""
