"""The evaluation step: tune each of our trackers on val, run them and the peers on the same test frames, tables.

Every comparison shows the static box and OpenCV's classical trackers (`PEERS`) beside ours, on the same frames
and under the same protocol, so a number is always read against what a standard CPU tracker reaches.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from ..config import Params
from ..data.sequence import Sequence
from ..evaluation.ope import evaluate_tracker
from ..evaluation.protocols import attribute_scores
from ..evaluation.tune import tune_tracker
from ..io import write_json
from ..trackers import Tracker, make_tracker

PEERS = ("csrt", "kcf", "mil")   # OpenCV's classical trackers, no model files needed
SCORE_KEYS = ("success_auc", "precision_20", "norm_precision_20", "success_50", "fps")   # what the metrics files keep


def checkpoints_in(models_dir: str | Path, names: list[str]) -> dict[str, Path]:
    """{name: models_dir/name.pt} for the named trackers plus every models_dir/random/random_*.pt."""
    models_dir = Path(models_dir)
    found = {name: models_dir / f"{name}.pt" for name in names}
    found.update({c.stem: c for c in sorted((models_dir / "random").glob("random_*.pt"))})
    return found


def tune_all(p: Params, checkpoints: dict[str, Path], val_sequences: list[Sequence],
             study_dir: str | Path | None = None) -> dict:
    """Tune each tracker's online hyper-parameters on the validation sequences (`tune` section); each study is
    kept as `<study_dir>/<name>.journal` when a folder is given."""
    return {name: tune_tracker(make_tracker("siamese", path, p.track, name=name), val_sequences, p.tune,
                               Path(study_dir) / f"{name}.journal" if study_dir else None)
            for name, path in checkpoints.items()}


def tuned_trackers(p: Params, checkpoints: dict[str, Path], tuned: dict | None = None,
                   export_dir: str | Path | None = None) -> dict[str, Tracker]:
    """Our trackers with each one's tuned setting; with `export_dir`, each is also written there as a deployable
    checkpoint (network + crop geometry + tuned settings) that `automatch track` and `evaluate` use alone."""
    out: dict[str, Tracker] = {}
    for name, path in checkpoints.items():
        track = dataclasses.replace(p.track, **tuned[name]["best"]) if tuned and name in tuned else p.track
        out[name] = make_tracker("siamese", path, track, name=name)
        if export_dir is not None:
            out[name].save(Path(export_dir) / f"{name}.pt")
    return out


def with_references(trackers: dict[str, Tracker], peers: tuple[str, ...] = PEERS) -> dict[str, Tracker]:
    """`trackers` plus the static box and the OpenCV peers."""
    return {**trackers, "static": make_tracker("static"), **{k: make_tracker(k) for k in peers}}


def evaluate_all(trackers: dict[str, Tracker], sequences: list[Sequence], results_dir: str | Path,
                 benchmark: str = "synthetic", protocol: str = "otb", progress: bool = True) -> dict[str, dict]:
    """Run each named tracker over the sequences; results in `<results_dir>/<benchmark>/<name>/`."""
    return {name: evaluate_tracker(tracker, sequences, Path(results_dir) / benchmark / name, progress, protocol)
            for name, tracker in trackers.items()}


def scores_of(results: dict[str, dict]) -> dict[str, dict]:
    """{tracker: {SCORE_KEYS present}} as plain floats: what a metrics file keeps of each tracker's result."""
    return {name: {k: float(m[k]) for k in SCORE_KEYS if k in m} for name, m in results.items()}


def metrics_table(results: dict[str, dict]) -> list[dict]:
    """Rows {'tracker', SCORE_KEYS...} rounded to 4 digits and sorted by AUC, for display."""
    rows = [{"tracker": n, **{k: round(v, 4) for k, v in s.items()}} for n, s in scores_of(results).items()]
    return sorted(rows, key=lambda r: -r["success_auc"])


def attribute_table(results: dict[str, dict], sequences: list[Sequence], codes: tuple[str, ...],
                    protocol: str = "otb") -> list[dict]:
    """Rows per tracker: overall AUC and the AUC on the sequences carrying each attribute (paper Table 1)."""
    attrs = {s.name: s.attributes for s in sequences}
    rows = []
    for name, m in results.items():
        per = attribute_scores(m["_curves"], attrs, protocol, codes)
        rows.append({"tracker": name, "overall": round(m["success_auc"], 4),
                     **{c: round(per[c]["auc"], 4) for c in codes if c in per}})
    return rows


def write_eval_outputs(results: dict[str, dict], out_json: str | Path, plots_dir: str | Path,
                       extra: dict | None = None) -> dict:
    """metrics/eval.json (scores per tracker + extra) and plots/{success,precision}/<tracker>.json for DVC."""
    metrics = {**scores_of(results), **(extra or {})}
    write_json(out_json, metrics)
    for name, m in results.items():
        write_json(Path(plots_dir) / "success" / f"{name}.json",
                   [{"threshold": t, "success": v} for t, v in zip(m["success_thresholds"], m["success_curve"])])
        write_json(Path(plots_dir) / "precision" / f"{name}.json",
                   [{"threshold": t, "precision": v}
                    for t, v in zip(m["precision_thresholds"], m["precision_curve"])])
    return metrics


# Real benchmarks under data/benchmarks/<folder>: the loader, and the split evaluated (the test split where the
# benchmark has one; GOT-10k's val split, since its test split is scored on the server).
REAL_BENCHMARKS = {"OTB100": ("otb", None), "LaSOT": ("lasot", "test"), "GOT-10k": ("got10k", "val"),
                   "TrackingNet": ("trackingnet", "test"), "TNL2K": ("tnl2k", None), "VOT": ("vot", None),
                   "DTB70": ("dtb70", None), "UAV123": ("uav123", None)}


def real_benchmarks(folder: str | Path) -> dict[str, tuple[str, Path, str | None]]:
    """{folder name: (loader, root, split)} of the real benchmarks present under `folder` (see REAL_BENCHMARKS)."""
    folder = Path(folder)
    return {name: (loader, folder / name, split) for name, (loader, split) in REAL_BENCHMARKS.items()
            if (folder / name).is_dir() and any((folder / name).iterdir())}


def trackers_from(folder: str | Path) -> dict[str, Tracker]:
    """Our trackers from the deployable checkpoints in `folder` (`<name>.pt`, as `tuned_trackers` exports)."""
    return {c.stem: make_tracker("siamese", c, name=c.stem) for c in sorted(Path(folder).glob("*.pt"))}
