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


def train_and_track(p: Params, archs: dict[str, str], models_root: str | Path, results_dir: str | Path,
                    features: str | Path, backbone: str | Path, test_root: str | Path) -> dict[str, dict]:
    """Train every variant (name -> architecture spec) once per analysis seed into
    `<models_root>/<name>/seed_<s>.pt`, all trainings in one pool and then all trackings in one pool, so the
    cores stay busy across variants; track the test split with `p.track`, results in
    `<results_dir>/<name>/seed_<s>/`. Returns {name: summary} (`variant_summary`)."""
    q = analysis_params(p)
    plans = {name: plan_runs(q, arch, Path(models_root) / name) for name, arch in archs.items()}
    runs = [r for plan in plans.values() for r in plan]
    histories = iter(train_all(q, runs, features=features, backbone=backbone))
    trackers = {f"{g.name}/seed_{s}": ("siamese", c) for g, s, c in runs}
    results = evaluate_all(q, trackers, test_root, results_dir, track=p.track)
    return {name: variant_summary(name, archs[name], plan, [next(histories) for _ in plan], results)
            for name, plan in plans.items()}


def variant_summary(name: str, arch: str, runs: list, histories: list[dict], results: dict[str, dict]) -> dict:
    """{'name', 'arch', 'cls_ops', 'reg_ops', 'success_auc' (mean over seeds), 'fps' (mean), 'seeds': {seed:
    {'success_auc', 'precision_20', 'fps', 'train_seconds', 'final_loss'}}} of one trained variant."""
    seeds = {}
    for (_, s, _), h in zip(runs, histories):
        m = results[f"{name}/seed_{s}"]
        seeds[str(s)] = {"success_auc": float(m["success_auc"]), "precision_20": float(m["precision_20"]),
                         "fps": float(m["fps"]), "train_seconds": float(sum(e["seconds"] for e in h["epochs"])),
                         "final_loss": float(h["epochs"][-1]["loss/total"])}
    genotype = runs[0][0]
    return {"name": name, "arch": arch, "cls_ops": "+".join(genotype.cls), "reg_ops": "+".join(genotype.reg),
            "success_auc": float(np.mean([v["success_auc"] for v in seeds.values()])),
            "fps": float(np.mean([v["fps"] for v in seeds.values()])), "seeds": seeds}


def run_variant(p: Params, arch: str, models_dir: str | Path, results_dir: str | Path, metrics_json: str | Path,
                features: str | Path, backbone: str | Path, test_root: str | Path) -> dict:
    """One variant (`train_and_track`), named after `models_dir`'s folder; writes its summary to `metrics_json`."""
    name = Path(models_dir).name
    summary = train_and_track(p, {name: arch}, Path(models_dir).parent, results_dir, features, backbone,
                              test_root)[name]
    write_json(metrics_json, summary)
    return summary


def load_results(results_dir: str | Path, only: dict[str, str] | None = None) -> dict[str, dict]:
    """{'<name>/seed_<s>': metrics} of every `<results_dir>/<name>/seed_<s>/metrics.json` (what `run_variant` and
    the OPE runner write), for `evaluating.score_matrix` and friends. `only` (folder name -> name to use) keeps and
    renames those variants, e.g. {'k2': 'main search'}; a missing one is an error."""
    files = sorted(Path(results_dir).glob("*/seed_*/metrics.json"))
    if only is not None:
        absent = sorted(set(only) - {f.parent.parent.name for f in files})
        if absent:
            raise FileNotFoundError(f"{results_dir}: no results of {absent}")
        files = [f for f in files if f.parent.parent.name in only]
    if not files:
        raise FileNotFoundError(f"no results {Path(results_dir, '<name>', 'seed_<s>', 'metrics.json')}")
    rename = only or {}
    return {f"{rename.get(f.parent.parent.name, f.parent.parent.name)}/{f.parent.name}": read_json(f) for f in files}


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

    out = {}
    for name, ckpt in checkpoints.items():
        tracker = make_tracker("siamese", ckpt, track, name=name)
        tracker.init(sequence.image(0), sequence.init_box())
        out[name] = []
        for i in frames:
            view = tracker.response(sequence.image(i), sequence.box(i))
            out[name].append({"frame": i, "patch": view["patch"], "score": view["score"]})
    return out
