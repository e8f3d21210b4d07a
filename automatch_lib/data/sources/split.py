"""The train/val/test split of the source photographs: two cutouts of one photograph never land in two splits."""
from __future__ import annotations

import numpy as np

from ...errors import DataError
from .records import Background, Cutout, SourceSplit

SPLITS = ("train", "val", "test")
SPLIT_FRACTIONS = {"train": 0.60, "val": 0.15, "test": 0.25}
_SPLIT_SEED_TAG = 0x5EED  # second word of the split's SeedSequence, so it draws apart from the other uses of `seed`


def split_by_group(objects: list[Cutout], backgrounds: list[Background], seed: int,
                   fractions: dict[str, float] | None = None) -> dict[str, SourceSplit]:
    """Deterministic split on source photos: groups holding both objects and backgrounds, object-only groups and
    background-only groups are each shuffled (seeded) and dealt out by ``fractions`` (every split gets at least one
    group of a kind when there are three or more). Raises DataError if a split ends with no background or fewer than
    two objects (the generator needs a target and a different occluder)."""
    fractions = dict(fractions or SPLIT_FRACTIONS)
    kinds: dict[str, set[str]] = {}
    for o in objects:
        kinds.setdefault(o.group, set()).add("o")
    for b in backgrounds:
        kinds.setdefault(b.group, set()).add("b")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _SPLIT_SEED_TAG]))
    assign: dict[str, str] = {}
    for kind in (frozenset("ob"), frozenset("o"), frozenset("b")):
        groups = sorted(g for g, k in kinds.items() if frozenset(k) == kind)
        order = [groups[i] for i in rng.permutation(len(groups))]
        n = len(order)
        if n < 3:
            for i, g in enumerate(order):
                assign[g] = ("train", "test", "val")[i]
            continue
        n_test = max(1, int(round(fractions["test"] * n)))
        n_val = max(1, int(round(fractions["val"] * n)))
        n_test = min(n_test, n - 2)
        n_val = min(n_val, n - n_test - 1)
        for i, g in enumerate(order):
            assign[g] = "test" if i < n_test else ("val" if i < n_test + n_val else "train")
    out = {}
    for s in SPLITS:
        objs = [o for o in objects if assign[o.group] == s]
        bgs = [b for b in backgrounds if assign[b.group] == s]
        if not bgs or len(objs) < 2:
            raise DataError(f"source split {s!r} has {len(objs)} objects and {len(bgs)} backgrounds; need >= 2 and "
                            f">= 1 (too few source photographs)")
        out[s] = SourceSplit(objects=objs, backgrounds=bgs, groups=sorted(g for g, v in assign.items() if v == s))
    return out
