"""The evaluation step: tune each of our trackers on val, run them and the peers on the same test frames, tables.

Every comparison shows the static box and OpenCV's classical trackers (`PEERS`) beside ours, on the same frames
and under the same protocol, so a number is always read against what a standard CPU tracker reaches.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..config import Params, TrackConfig
from ..data.benchmarks import load_benchmark
from ..data.sequence import Sequence
from ..evaluation.compare import compare, mean_interval
from ..evaluation.ope import evaluate_tracker
from ..evaluation.protocols import attribute_scores
from ..evaluation.tune import tune_tracker
from ..io import write_json
from ..threads import run_jobs
from ..trackers import Tracker, make_tracker

PEERS = ("csrt", "kcf", "mil")   # OpenCV's classical trackers, no model files needed
SCORE_KEYS = ("success_auc", "precision_20", "norm_precision_20", "success_50", "fps")   # what the metrics files keep


def family_checkpoints(models_dir: str | Path, families: list[str]) -> dict[str, dict[int, Path]]:
    """{family: {seed: models_dir/family/seed_<s>.pt}} of the trained configurations (one checkpoint per seed)."""
    out = {}
    for family in families:
        found = {int(c.stem.split("_", 1)[1]): c for c in Path(models_dir, family).glob("seed_*.pt")}
        if not found:
            raise FileNotFoundError(f"no checkpoints {Path(models_dir, family, 'seed_<s>.pt')}: train {family} first")
        out[family] = dict(sorted(found.items()))
    return out


def tune_all(p: Params, families: dict[str, dict[int, Path]], val_sequences: list[Sequence],
             study_dir: str | Path | None = None) -> dict:
    """Tune each family's online hyper-parameters on the validation sequences (`tune` section), once per family
    on its first seed's network; every seed of the family then uses that setting. The families' studies run
    `resources.jobs` at a time (each study is sequential and seeded, so its result does not depend on that). Each
    study is kept as `<study_dir>/<family>.journal` when a folder is given."""
    jobs = [(p, family, next(iter(seeds.values())), val_sequences,
             Path(study_dir) / f"{family}.journal" if study_dir else None) for family, seeds in families.items()]
    return dict(zip(families, run_jobs(_tune_job, jobs, p.resources.jobs, p.resources.threads)))


def _tune_job(p: Params, family: str, checkpoint: Path, val_sequences: list[Sequence],
              journal: Path | None) -> dict:
    """One family's study (a job of `tune_all`, possibly in another process)."""
    return tune_tracker(make_tracker("siamese", checkpoint, p.track, name=family), val_sequences, p.tune, journal,
                        batch=p.evaluate.batch)


def export_tuned(p: Params, families: dict[str, dict[int, Path]], tuned: dict,
                 export_dir: str | Path) -> dict[str, Path]:
    """Write each seed's network with its family's tuned setting to `<export_dir>/<family>/seed_<s>.pt`, a
    deployable checkpoint (network + crop geometry + tuned settings) that `automatch track` and `evaluate` use
    alone. Returns {'<family>/seed_<s>': path}."""
    out = {}
    for family, seeds in families.items():
        track = dataclasses.replace(p.track, **tuned[family]["best"]) if family in tuned else p.track
        for seed, path in seeds.items():
            name = f"{family}/seed_{seed}"
            out[name] = Path(export_dir) / family / f"seed_{seed}.pt"
            make_tracker("siamese", path, track, name=name).save(out[name])
    return out


def _evaluate_job(name: str, kind: str, checkpoint: str | None, root: str, loader: str, split: str | None,
                  out_dir: str, protocol: str, track: TrackConfig | None = None, batch: int = 1) -> dict:
    """One tracker over one benchmark (a job of `evaluate_all`, possibly in another process)."""
    sequences = load_benchmark(loader, root, split=split)
    tracker = make_tracker(kind, checkpoint, track, name=name)
    return evaluate_tracker(tracker, sequences, out_dir, False, protocol, batch)


def evaluate_all(p: Params, trackers: dict[str, tuple[str, Path | None]], root: str | Path,
                 results_dir: str | Path, loader: str = "otb", split: str | None = None,
                 protocol: str = "otb", track: TrackConfig | None = None) -> dict[str, dict]:
    """Run each named tracker, given as (registry kind, checkpoint or None), over the benchmark at `root`,
    `resources.jobs` trackers at a time; results in `<results_dir>/<name>/`. Returns {name: metrics}. `track`
    overrides the online settings our checkpoints carry (None: each checkpoint's own). Ours track
    `evaluate.batch` sequences in lockstep (`evaluation.ope`)."""
    # the peers (no checkpoint: OpenCV's, slower per frame than ours) start first, so no long job runs alone at the end
    names = sorted(trackers, key=lambda n: trackers[n][1] is not None)
    jobs = [(n, trackers[n][0], str(trackers[n][1]) if trackers[n][1] else None, str(root), loader, split,
             str(Path(results_dir) / n), protocol, track, p.evaluate.batch) for n in names]
    done = dict(zip(names, run_jobs(_evaluate_job, jobs, p.resources.jobs, p.resources.threads)))
    return {n: done[n] for n in trackers}


def with_references(trackers: dict[str, tuple[str, Path | None]],
                    peers: tuple[str, ...] | list[str] = PEERS) -> dict[str, tuple[str, Path | None]]:
    """`trackers` plus the static box and the OpenCV peers (registry kinds without checkpoints)."""
    return {**trackers, "static": ("static", None), **{k: (k, None) for k in peers}}


def family_of(name: str) -> str:
    """'automatch/seed_0' -> 'automatch'; a peer's name is its own family."""
    return name.split("/", 1)[0]


def score_matrix(results: dict[str, dict], family: str, seeds: int = 1, key: str = "success_auc") -> np.ndarray:
    """(n_seeds, n_sequences) per-sequence scores of a family, sequences in sorted order. A family with one run
    (a peer, deterministic) is repeated `seeds` times so it pairs with every seed of the other side."""
    runs = [m for n, m in sorted(results.items()) if family_of(n) == family]
    if not runs:
        raise KeyError(f"no results of {family!r}")
    names = sorted(runs[0]["sequences"])
    rows = [[m["sequences"][s][key] for s in names] for m in runs]
    return np.array(rows * seeds if len(rows) == 1 else rows, dtype=float)


def comparisons(results: dict[str, dict], pairs: list[tuple[str, str]], key: str = "success_auc",
                seed: int = 0) -> list[dict]:
    """Each (a, b) family pair as a paired-bootstrap comparison (`evaluation.compare.compare`): mean difference,
    95% interval over test sequences and seeds, verdict, and every seed's mean score."""
    out = []
    for a, b in pairs:
        n = max(len(score_matrix(results, a, key=key)), len(score_matrix(results, b, key=key)))
        out.append(compare(a, b, score_matrix(results, a, n, key), score_matrix(results, b, n, key), seed=seed))
    return out


def family_interval(results: dict[str, dict], family: str) -> list[float] | None:
    """95% interval of a family's mean AUC over sequences and seeds (two-way bootstrap, `compare.mean_interval`);
    None where there is nothing to resample: splits scored on a server, or fewer than two sequences."""
    runs = [m for n, m in results.items() if family_of(n) == family]
    if any(m.get("scored_on_server") for m in runs) or min(len(m["sequences"]) for m in runs) < 2:
        return None
    return mean_interval(score_matrix(results, family))["ci95"]


def family_summary(results: dict[str, dict]) -> dict[str, dict]:
    """{family: {'success_auc': mean over seeds, 'ci95': its 95% interval (`family_interval`), 'seeds': [each
    seed's AUC], 'precision_20': mean, 'fps': mean}}."""
    fams: dict[str, list[dict]] = {}
    for name, m in sorted(results.items()):
        fams.setdefault(family_of(name), []).append(m)
    return {f: {"success_auc": float(np.mean([m["success_auc"] for m in ms])),
                "ci95": family_interval(results, f),
                "seeds": [float(m["success_auc"]) for m in ms],
                "precision_20": float(np.mean([m["precision_20"] for m in ms])),
                "fps": float(np.mean([m["fps"] for m in ms]))} for f, ms in fams.items()}


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
    """metrics/eval.json (scores per tracker + extra) and plots/{success,precision}/<tracker>.json for DVC ('/' in
    a tracker's name becomes '_')."""
    metrics = {**scores_of(results), **(extra or {})}
    write_json(out_json, metrics)
    for name, m in results.items():
        name = name.replace("/", "_")
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


def trackers_from(folder: str | Path) -> dict[str, tuple[str, Path]]:
    """Our trackers from the deployable checkpoints `<folder>/<family>/seed_<s>.pt` (as `export_tuned` writes
    them), as {'<family>/seed_<s>': ('siamese', path)} for `evaluate_all`."""
    return {f"{c.parent.name}/{c.stem}": ("siamese", c) for c in sorted(Path(folder).glob("*/seed_*.pt"))}
