"""A planted answer for the search: one operator carries the signal, the others cannot, and the search must find it.

The task is tracking on synthetic backbone maps: the template's object is a random feature vector v at the template
box, and the search map holds v at the target's cell among Gaussian clutter. `point_dw` (embedded search times the
embedded template vector) can find v; `noise` returns fresh Gaussian noise at every call and `zeros` returns
nothing. The real bilevel search (`run_search`: BCM supernets in both branches, weights on train pairs,
manipulators on val pairs) must rank `point_dw` first in both branches and close the gates (w <= 0) of the useless
operators. A zero operator gives its gates no gradient at all, so only the sparsity price closes them; noise is
closed by the validation loss alone.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from automatch_lib.config import ResourcesConfig, SearchConfig, TrainConfig
from automatch_lib.geometry import grid_centers
from automatch_lib.model.network import SiameseNet
from automatch_lib.operators import OPERATORS
from automatch_lib.search.bilevel import run_search

SEARCH_SIZE, STRIDE, HX, HZ = 64, 8, 8, 4
MID, DEEP = 48, 64   # the small backbone's map channels, which the necks expect


class Noise(nn.Module):
    """Useless operator: fresh Gaussian noise, whatever the inputs."""

    def __init__(self, channels: int):
        super().__init__()

    def forward(self, search_feat, template_feat, template_box):
        return torch.randn_like(search_feat)


class Zeros(nn.Module):
    """Useless operator: nothing at all."""

    def __init__(self, channels: int):
        super().__init__()

    def forward(self, search_feat, template_feat, template_box):
        return torch.zeros_like(search_feat)


class PlantedPairs(Dataset):
    """Cached-map pairs (the FeatureSet item layout) with the object vector planted at the target cell."""

    in_memory = True

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.items = []
        gx, gy = grid_centers(HX, HX, (SEARCH_SIZE, SEARCH_SIZE), STRIDE, torch.device("cpu"), torch.float32)
        for _ in range(n):
            v_mid, v_deep = 3 * torch.randn(MID, 1, 1, generator=g), 3 * torch.randn(DEEP, 1, 1, generator=g)
            z_mid, z_deep = torch.randn(MID, HZ, HZ, generator=g), torch.randn(DEEP, HZ, HZ, generator=g)
            z_mid[:, 1:3, 1:3], z_deep[:, 1:3, 1:3] = v_mid, v_deep
            x_mid, x_deep = torch.randn(MID, HX, HX, generator=g), torch.randn(DEEP, HX, HX, generator=g)
            i, j = (int(k) for k in torch.randint(1, HX - 1, (2,), generator=g))
            x_mid[:, i, j], x_deep[:, i, j] = v_mid[:, 0, 0], v_deep[:, 0, 0]
            cx, cy = float(gx[j]), float(gy[i])
            self.items.append({"template": [z_mid, z_deep], "search": [x_mid, x_deep],
                               "template_box": torch.tensor([8.0, 8.0, 24.0, 24.0]),
                               "search_box": torch.tensor([cx - 20, cy - 20, cx + 20, cy + 20]),
                               "negative": torch.tensor(False)})
        self.order = np.arange(n)

    def set_epoch(self, epoch: int) -> None:
        self.order = np.random.default_rng(epoch).permutation(len(self.items))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        return self.items[int(self.order[index])]


@pytest.fixture
def planted_ops(monkeypatch):
    monkeypatch.setitem(OPERATORS, "noise", Noise)
    monkeypatch.setitem(OPERATORS, "zeros", Zeros)
    return ["noise", "point_dw", "zeros"]   # the informative operator is not first: order breaks no tie for it


def _search(ops: list[str], sparsity: float) -> dict:
    torch.manual_seed(0)
    model = SiameseNet(ops, ops, channels=8, matching="bcm", head_layers=1)
    cfg = SearchConfig(epochs=8, pairs_per_epoch=256, batch_size=16, lr=3e-3, lr_end=1e-3, arch_lr=0.05,
                       warmup_fraction=0.2, sparsity=sparsity, retain=1, seeds=[0])
    return run_search(model, PlantedPairs(256, 0), PlantedPairs(128, 1), SEARCH_SIZE, cfg, TrainConfig(),
                      ResourcesConfig(progress=False, workers=0, log_every=8), seed=0)


def test_search_finds_the_planted_operator_and_closes_the_useless_gates(planted_ops):
    result = _search(planted_ops, sparsity=0.1)
    for branch in ("cls", "reg"):
        pots, off = result["potentials"][branch], result["gated_off"][branch]
        assert result["retained"][branch] == ["point_dw"], (branch, pots)
        assert pots["point_dw"] > max(pots["noise"], pots["zeros"]) + 1.0, (branch, pots)
        assert off["noise"] >= 0.75 and off["zeros"] >= 0.75, (branch, off)
        assert off["point_dw"] < 0.5, (branch, off)          # most of its channels stay open
        assert result["settling"][branch]["stable_last_quarter"], (branch, result["settling"])


def test_without_a_price_noise_closes_but_a_zero_operator_keeps_its_gates(planted_ops):
    """The validation loss alone closes the gates of an operator that hurts (noise), not of one that does nothing."""
    result = _search(planted_ops, sparsity=0.0)
    for branch in ("cls", "reg"):
        off = result["gated_off"][branch]
        assert result["retained"][branch] == ["point_dw"], (branch, result["potentials"][branch])
        assert off["noise"] >= 0.5, (branch, off)
        assert off["zeros"] == 0.0, (branch, off)      # no gradient reaches a zero operator's manipulators
