"""Tuning a Siamese tracker's online hyper-parameters on validation sequences (never on test or real data).

The official code tunes penalty_k, lr and window_influence per tracker and benchmark with TPE (facts 6); here they
and our per-frame size bound max_scale_change are tuned by optuna's TPE sampler (seeded, trials run one after
another, so the same inputs give the same study), maximising the success AUC on the validation split. The
params.yaml values are always the first trial, so tuning can only keep or improve the configured setting on val. Each tracker gets its own study: comparisons stay fair.

A study can be persisted in a journal file (`study_file`): an interrupted tuning resumes with the trials it has
finished, and the file is kept with the stage's outputs as the record of what was tried.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import optuna
from optuna.storages.journal import JournalFileBackend, JournalStorage

from ..config import TrackConfig, TuneConfig
from ..data.sequence import Sequence
from ..trackers.siamese import SiameseTracker
from .metrics import sequence_curves, summarize
from .ope import run_lockstep

TUNED = ("penalty_k", "window_influence", "lr", "max_scale_change")


def val_auc(tracker: SiameseTracker, cfg: TrackConfig, sequences: list[Sequence], batch: int = 1) -> float:
    """Success AUC (OTB protocol) of the tracker's network with online settings `cfg` on `sequences`, tracked in
    lockstep groups of `batch` (`ope.run_lockstep`)."""
    trial = SiameseTracker(tracker.model, cfg, tracker.crop)
    boxes = [b for i in range(0, len(sequences), batch) for b in run_lockstep(trial, sequences[i:i + batch])]
    return summarize({s.name: sequence_curves(b, s.boxes, s.valid) for s, b in zip(sequences, boxes)})["success_auc"]


def tune_tracker(tracker: SiameseTracker, sequences: list[Sequence], cfg: TuneConfig,
                 study_file: str | Path | None = None, progress: bool = False, batch: int = 1) -> dict:
    """TPE search of penalty_k / window_influence / lr / max_scale_change over the `tune` ranges, `cfg.trials`
    trials in all, starting from the tracker's own setting (`tracker.cfg`, the first trial); every trial tracks the
    sequences in lockstep groups of `batch`.

    Returns {'best': {penalty_k, window_influence, lr, max_scale_change}, 'best_auc', 'trials': [{..., 'auc'}]} in
    trial order.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    base = tracker.cfg
    storage = None
    if study_file is not None:
        Path(study_file).parent.mkdir(parents=True, exist_ok=True)
        storage = JournalStorage(JournalFileBackend(str(study_file)))
    study = optuna.create_study(study_name=tracker.name, storage=storage, direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=cfg.seed), load_if_exists=True)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not study.trials:
        study.enqueue_trial({k: getattr(base, k) for k in TUNED})

    def objective(trial: optuna.Trial) -> float:
        setting = {k: trial.suggest_float(k, *getattr(cfg, k)) for k in TUNED}
        return val_auc(tracker, dataclasses.replace(base, **setting), sequences, batch)

    study.optimize(objective, n_trials=max(cfg.trials - len(done), 0), show_progress_bar=progress)
    trials = [{**t.params, "auc": t.value} for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    return {"best": dict(study.best_params), "best_auc": study.best_value, "trials": trials}
