"""Cached features of the frozen backbone: each augmented training pair goes through the backbone once.

Once the shared backbone is pretrained and frozen, every matching-network experiment (search, retraining, random
search, ablations) trains only necks, matching networks and heads. Drawing a pair (decode, crop, augment: ~5 ms)
and the backbone's forward pass then dominate a step, so both are done once here and stored as one versioned file
per split (`data/features/<split>.pt`, float16):

    z_mid (N, Cm, Hz, Wz), z_deep (N, Cd, Hz, Wz)     template maps ('conv3', 'conv4')
    x_mid (N, Cm, Hx, Wx), x_deep (N, Cd, Hx, Wx)     search maps
    z_<name>, x_<name>                                every further level of `backbone.maps` (the small
                                                      backbone's 'inner', PG-Net's middle level)
    template_box (N, 4), search_box (N, 4)            x1, y1, x2, y2 in crop pixels
    negative (N,) bool                                different-object pairs

The price is a fixed set of augmented pairs instead of a fresh draw per step; `FeatureSet` visits them in a new
seeded order each epoch.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..io import save_torch
from ..threads import worker_init

SIAMESE_LEVELS = ("mid", "deep")
MAPS = tuple(f"{z}_{n}" for z in "zx" for n in SIAMESE_LEVELS)   # AutoMatch's two levels; every cache holds them


@torch.no_grad()
def extract_features(backbone: nn.Module, pairs: Dataset, batch_size: int = 64, workers: int = 0,
                     progress: bool = True) -> dict[str, torch.Tensor]:
    """Run every pair of `pairs` (a PairDataset) through `backbone` in eval mode; float16 maps of every level of
    `backbone.maps`, see module doc."""
    backbone.eval()
    loader = DataLoader(pairs, batch_size=batch_size, shuffle=False, num_workers=workers,
                        worker_init_fn=worker_init if workers else None)
    parts: dict[str, list[torch.Tensor]] = {}
    for batch in tqdm(loader, desc="backbone features", disable=not progress, leave=False):
        for prefix, images in (("z", batch["template"]), ("x", batch["search"])):
            for name, fmap in backbone.maps(images).items():
                parts.setdefault(f"{prefix}_{name}", []).append(fmap.half())
        for key in ("template_box", "search_box", "negative"):
            parts.setdefault(key, []).append(batch[key])
    return {k: torch.cat(v) for k, v in parts.items()}


def save_features(path: str | Path, features: dict[str, torch.Tensor], **meta) -> None:
    """Atomically write a feature file (tensors + plain `meta`, e.g. the backbone file it came from)."""
    save_torch(path, {**features, "meta": meta})


class FeatureSet(Dataset):
    """Pairs of cached backbone maps, in a seeded order per epoch, as training batches expect them.

    Item: dict(template [z_<level> for level in `levels`], search [x_<level> ...] float32, template_box, search_box,
    negative), the same keys as a PairDataset item with the images replaced by their maps (a network's `features`
    accepts either). `levels` are the backbone levels the network reads: AutoMatch's ('mid', 'deep') by default,
    the backbone's `pyramid` for PG-Net. `length` items make an epoch: the cached pairs in the order of a
    permutation seeded by (seed, epoch), continued with the next permutation when length exceeds the cache.
    """

    in_memory = True   # training loads no images: no DataLoader workers needed

    def __init__(self, path: str | Path, length: int | None = None, seed: int = 0,
                 levels: tuple[str, ...] = SIAMESE_LEVELS):
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"feature cache not found: {path.resolve()} (run the features stage)")
        data = torch.load(path, map_location="cpu", weights_only=True)
        missing = [k for k in (*MAPS, "template_box", "search_box", "negative") if k not in data]
        if missing:
            raise ValueError(f"{path}: not a feature cache, missing {missing}")
        absent = [name for name in levels if f"z_{name}" not in data]
        if absent:
            cached = sorted(k[2:] for k in data if k.startswith("z_"))
            raise ValueError(f"{path}: the cache holds the levels {cached}, not {absent} (recompute it, the features "
                             f"stage, with a backbone that has them)")
        self.levels = tuple(levels)
        keep = {f"{z}_{n}" for z in "zx" for n in levels} | {"template_box", "search_box", "negative"}
        self.data, self.meta = {k: v for k, v in data.items() if k in keep}, data.get("meta", {})   # the rest is freed
        self.size = int(data["negative"].shape[0])
        self.length, self.seed, self.epoch = int(length or self.size), seed, 0
        self._order = self._permutation()

    def _permutation(self) -> np.ndarray:
        rounds = -(-self.length // self.size)
        rngs = [np.random.default_rng([self.seed, self.epoch, r]) for r in range(rounds)]
        return np.concatenate([rng.permutation(self.size) for rng in rngs])[:self.length]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._order = self._permutation()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict:
        i = int(self._order[index])
        d = self.data
        return {"template": [d[f"z_{n}"][i].float() for n in self.levels],
                "search": [d[f"x_{n}"][i].float() for n in self.levels],
                "template_box": d["template_box"][i], "search_box": d["search_box"][i], "negative": d["negative"][i]}
