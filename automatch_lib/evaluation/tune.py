"""Tuning the tracker's online hyper-parameters on validation sequences (never on test data).

The official code tunes penalty_k, lr and window_influence per tracker and benchmark with TPE (facts 6); here a
seeded random search over the same ranges, the params.yaml values always being the first trial, maximises the
success AUC on the validation split. Each tracker gets its own best setting, so comparisons stay fair.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from ..data.sequence import Sequence
from ..model.network import SiameseNet
from ..tracker import SiameseTracker, TrackConfig
from .metrics import sequence_curves, summarize
from .ope import run_sequence


@dataclass
class TuneConfig:
    """The `tune` section of params.yaml: trials per tracker and the search ranges (official tune_sot.py searches
    penalty_k in [0.001, 0.2], lr in [0.3, 0.8], window_influence in [0.15, 0.65])."""

    trials: int = 6
    seed: int = 0
    penalty_k: list = dataclasses.field(default_factory=lambda: [0.02, 0.3])
    window_influence: list = dataclasses.field(default_factory=lambda: [0.2, 0.6])
    lr: list = dataclasses.field(default_factory=lambda: [0.05, 0.5])


def candidates(base: TrackConfig, cfg: TuneConfig) -> list[TrackConfig]:
    """The params.yaml setting followed by trials - 1 random settings drawn uniformly from the ranges."""
    rng = np.random.default_rng(cfg.seed)
    out = [base]
    for _ in range(max(cfg.trials - 1, 0)):
        out.append(dataclasses.replace(base, **{k: float(rng.uniform(*getattr(cfg, k)))
                                                for k in ("penalty_k", "window_influence", "lr")}))
    return out


def tune_tracker(model: SiameseNet, base: TrackConfig, sequences: list[Sequence], cfg: TuneConfig,
                 progress: bool = False) -> dict:
    """Evaluate every candidate setting on `sequences`; returns {'best': {...}, 'best_auc', 'trials': [...]}."""
    trials = []
    for cand in tqdm(candidates(base, cfg), desc="tuning", disable=not progress):
        tracker = SiameseTracker(model, cand)
        curves = {s.name: sequence_curves(run_sequence(tracker, s)[0], s.boxes, s.valid) for s in sequences}
        trials.append({"penalty_k": cand.penalty_k, "window_influence": cand.window_influence, "lr": cand.lr,
                       "auc": summarize(curves)["success_auc"]})
    best = max(trials, key=lambda t: t["auc"])
    return {"best": {k: best[k] for k in ("penalty_k", "window_influence", "lr")}, "best_auc": best["auc"],
            "trials": trials}
