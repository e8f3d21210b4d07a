"""Label assignment of the anchor-free head: positives stay inside the object at any crop size."""
from __future__ import annotations

import torch

from automatch_lib.geometry import grid_centers
from automatch_lib.model.losses import make_targets


def _targets(box, radius, size=96, stride=8, negative=False):
    H = W = size // stride
    return make_targets(torch.tensor([box], dtype=torch.float32), torch.tensor([negative]), (H, W), (size, size),
                        stride, radius)


def test_positives_of_a_small_target_stay_inside_its_box():
    # a 20 x 20 px target (2.5 cells) centred in a 96 crop: the radius-2 diamond would hold 13 cells, most outside
    t = _targets([38.0, 38.0, 58.0, 58.0], radius=2)
    pos = t["cls"][0, 0] > 0
    assert pos.any()
    assert (t["reg_weight"][0, 0][pos] > 0).all(), "a positive cell without regression training"
    assert int(pos.sum()) < 13


def test_a_large_target_keeps_the_whole_diamond_and_the_centre_cell_is_always_positive():
    big = _targets([8.0, 8.0, 88.0, 88.0], radius=2)
    assert int(big["cls"].sum()) == 13
    # a box thinner than a cell between two cell centres: the nearest cell is still the one positive
    thin = _targets([50.0, 20.0, 51.0, 80.0], radius=2)
    assert int(thin["cls"].sum()) >= 1
    gx, gy = grid_centers(12, 12, (96, 96), 8)
    i, j = (int(v) for v in torch.nonzero(thin["cls"][0, 0])[0])
    assert abs(float(gx[j]) - 50.5) <= 4 and 20 <= float(gy[i]) <= 80


def test_negative_pairs_have_no_positives():
    assert float(_targets([30.0, 30.0, 70.0, 70.0], radius=2, negative=True)["cls"].sum()) == 0.0
