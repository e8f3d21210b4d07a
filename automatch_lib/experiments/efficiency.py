"""08_efficiency: the paper's claim that AutoMatch beats its baseline with less than half of the baseline's training
data and time (Sec. 1 and 5). The baseline (Ocean's depthwise correlation in both branches) is trained with
`analysis.efficiency_pairs` times the training pairs of every other tracker and compared with the searched tracker
trained with the usual schedule.

Both 1x trackers exist already: the baseline of the train_baseline stage (same schedule, same seeds) and the
searched genotype of `retained@<search.retain>`; only the longer baseline is trained here. Every tracker is tracked
over the test split with the same untuned `track` settings (like every analysis variant). The features cache holds
a fixed set of pairs, so "more pairs" means more pair draws (passes over that set), i.e. more steps and time, not
more distinct pairs.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import Params
from .evaluating import evaluate_all
from .variants import analysis_params, train_and_track


def longer_schedule(p: Params) -> Params:
    """`p` whose `train.pairs_per_epoch` is `analysis.efficiency_pairs` times larger (same epochs and schedule
    shape, so the learning rate decays over the longer run)."""
    pairs = int(round(p.train.pairs_per_epoch * p.analysis.efficiency_pairs))
    return dataclasses.replace(p, train=dataclasses.replace(p.train, pairs_per_epoch=pairs))


def longer_name(p: Params) -> str:
    """The longer-trained baseline's name, e.g. 'baseline_x2.5'."""
    return f"baseline_x{p.analysis.efficiency_pairs:g}"


def pairs_seen(p: Params) -> int:
    """Training pairs one run of `p.train` draws: epochs x whole batches per epoch (the loader drops the rest)."""
    return p.train.epochs * (p.train.pairs_per_epoch // p.train.batch_size) * p.train.batch_size


def run_efficiency(p: Params, features: str | Path, backbone: str | Path, test_root: str | Path,
                   baseline_dir: str | Path, models_root: str | Path, results_dir: str | Path) -> dict:
    """Train the baseline with the longer schedule (`<models_root>/baseline_x<f>/seed_<s>.pt`), and track it and
    the train_baseline stage's checkpoints (`<baseline_dir>/seed_<s>.pt`, one per analysis seed, named
    `baseline_x1`) over the test split; results in `<results_dir>/<name>/seed_<s>/`. Returns the longer run's
    variant summary (`variants.variant_summary`)."""
    missing = [s for s in p.analysis.seeds if not (Path(baseline_dir) / f"seed_{s}.pt").is_file()]
    if missing:
        raise FileNotFoundError(f"{baseline_dir}: no baseline checkpoint of analysis seed(s) {missing}; "
                                f"analysis.seeds {p.analysis.seeds} must be among train.seeds {p.train.seeds}")
    name = longer_name(p)
    summary = train_and_track(longer_schedule(p), {name: "baseline"}, models_root, results_dir, features, backbone,
                              test_root)[name]
    evaluate_all(analysis_params(p), {f"baseline_x1/seed_{s}": ("siamese", Path(baseline_dir) / f"seed_{s}.pt")
                                      for s in p.analysis.seeds}, test_root, results_dir, track=p.track)
    return summary
