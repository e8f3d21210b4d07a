"""Trained variants scored on the test split: the unit of the analysis stages (single operators, retained count).

A variant is an architecture spec (`model.genotype.parse_arch`) trained once per `analysis.seeds` entry with the
`train` schedule on the frozen shared backbone's cached features, exactly like the main comparison's trackers, then
tracked over the test split with the params' `track` settings. Those settings are not tuned per variant: every
variant tracks with the same values, so two rows of an analysis table differ only by their networks (the main
comparison in 04_evaluate tunes each family on val instead, at six val passes per family).

Each variant is its own DVC stage (a `foreach` over operators or k), so changing one entry reruns one training.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..config import Params
from ..io import read_json, write_json
from .evaluating import evaluate_all, family_of, score_matrix
from .training import plan_runs, train_all


def analysis_params(p: Params) -> Params:
    """`p` with `train.seeds` replaced by `analysis.seeds` (the seeds every analysis variant trains with)."""
    return dataclasses.replace(p, train=dataclasses.replace(p.train, seeds=list(p.analysis.seeds)))


def run_variant(p: Params, arch: str, models_dir: str | Path, results_dir: str | Path, metrics_json: str | Path,
                features: str | Path, backbone: str | Path, test_root: str | Path) -> dict:
    """Train `arch` once per analysis seed into `<models_dir>/seed_<s>.pt` (named after the folder), track the
    test split with each, results in `<results_dir>/<name>/seed_<s>/`; returns and writes the summary
    {'name', 'arch', 'cls_ops', 'reg_ops', 'success_auc' (mean over seeds), 'seeds': {seed: {...}}}."""
    q = analysis_params(p)
    runs = plan_runs(q, arch, models_dir)
    histories = train_all(q, runs, features=features, backbone=backbone)
    name = runs[0][0].name
    trackers = {f"{name}/seed_{s}": ("siamese", c) for _, s, c in runs}
    results = evaluate_all(q, trackers, test_root, results_dir, track=p.track)
    seeds = {}
    for (g, s, _), h in zip(runs, histories):
        m = results[f"{name}/seed_{s}"]
        seeds[str(s)] = {"success_auc": float(m["success_auc"]), "precision_20": float(m["precision_20"]),
                         "fps": float(m["fps"]), "train_seconds": float(sum(e["seconds"] for e in h["epochs"])),
                         "final_loss": float(h["epochs"][-1]["loss/total"])}
    g = runs[0][0]
    summary = {"name": name, "arch": arch, "cls_ops": "+".join(g.cls), "reg_ops": "+".join(g.reg),
               "success_auc": float(np.mean([v["success_auc"] for v in seeds.values()])), "seeds": seeds}
    write_json(metrics_json, summary)
    return summary


def load_results(results_dir: str | Path) -> dict[str, dict]:
    """{'<name>/seed_<s>': metrics} of every `<results_dir>/<name>/seed_<s>/metrics.json` (what `run_variant` and
    the OPE runner write), for `evaluating.score_matrix` and friends."""
    files = sorted(Path(results_dir).glob("*/seed_*/metrics.json"))
    if not files:
        raise FileNotFoundError(f"no results {Path(results_dir, '<name>', 'seed_<s>', 'metrics.json')}")
    return {f"{f.parent.parent.name}/{f.parent.name}": read_json(f) for f in files}


def families(results: dict[str, dict]) -> list[str]:
    """The variant names present in `results`, in order of first appearance."""
    return list(dict.fromkeys(family_of(n) for n in results))


def attribute_matrix(results: dict[str, dict], family: str, sequences: list, code: str | None) -> np.ndarray:
    """(n_seeds, n_sequences) per-sequence success AUC of `family` on the test sequences carrying attribute
    `code` (all sequences for None). Under the OTB protocol an attribute's AUC is the equal-weight mean of its
    sequences' AUCs, so the mean of this matrix is the attribute AUC averaged over seeds."""
    full = score_matrix(results, family)
    names = sorted(results[next(n for n in results if family_of(n) == family)]["sequences"])
    if code is None:
        return full
    carrying = {s.name for s in sequences if code in s.attributes}
    return full[:, [i for i, n in enumerate(names) if n in carrying]]


def response_maps(checkpoints: dict[str, str | Path], sequence, frames: list[int], track=None) -> dict[str, list]:
    """The paper's Fig. 4 material: for each tracker (name -> checkpoint), initialised on the sequence's first
    frame, its view of each of `frames` with the search region centred on the ground truth (so every operator sees
    the same pixels): {name: [{'frame', 'patch' (S, S, 3) BGR, 'score' (H, W)}, ...]}."""
    from ..trackers import make_tracker

    origin = np.array([sequence.origin, sequence.origin, 0, 0], dtype=np.float64)
    out = {}
    for name, ckpt in checkpoints.items():
        tracker = make_tracker("siamese", ckpt, track, name=name)
        tracker.init(sequence.image(0), sequence.init_box())
        out[name] = []
        for i in frames:
            view = tracker.response(sequence.image(i), sequence.boxes[i] - origin)
            out[name].append({"frame": i, "patch": view["patch"], "score": view["score"]})
    return out
