"""The static box: reports the initial box in every frame. It shows how much of a score comes for free."""
from __future__ import annotations

import numpy as np

from ..data.sequence import check_box_in_image


class StaticTracker:
    """Keeps the first box."""

    name = "static"

    def init(self, image: np.ndarray, box) -> None:
        box = np.asarray(box, dtype=np.float64)
        check_box_in_image(box, image.shape, "initial box")
        self.box = box.copy()

    def update(self, image: np.ndarray) -> np.ndarray:
        return self.box.copy()
