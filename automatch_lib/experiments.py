"""High-level experiment steps shared by the CLI and the notebooks (so no notebook repeats another's code).

Each function takes the validated `Params` and explicit paths; nothing reads params.yaml behind the caller's back.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from .config import Params
from .data.benchmarks import load_benchmark
from .data.pairs import PairDataset
from .data.sequence import Sequence
from .errors import ConfigError
from .evaluation.ope import evaluate_tracker
from .model.backbone import load_pretrained
from .model.network import SiameseNet, load_model
from .search.bilevel import random_genotypes, run_search, write_json
from .tracker import SiameseTracker, StaticTracker
from .train import train


def make_model(p: Params, cls_ops: list[str], reg_ops: list[str], matching: str = "fixed",
               seed: int | None = None) -> SiameseNet:
    """A SiameseNet with the run's backbone/channels and the given operators (BCM options from `search`).

    The weights are initialised from torch's RNG seeded with `seed` (default: train.seed), so the same params
    give the same network in every process.
    """
    torch.manual_seed(p.train.seed if seed is None else seed)
    kwargs = {}
    if matching in ("bcm", "bcm_operator"):
        kwargs = dict(init=p.search.init, tau=p.search.tau, noise=p.search.noise)
    model = SiameseNet(cls_ops, reg_ops, backbone=p.model.backbone, channels=p.model.channels,
                       matching=matching, matching_kwargs=kwargs, head_layers=p.model.head_layers)
    if p.model.pretrained:
        load_pretrained(model.backbone, p.model.pretrained)
    return model


def load_split(root: str | Path) -> list[Sequence]:
    """Sequences of an OTB-layout folder (a generated split or a real OTB-style benchmark)."""
    return load_benchmark("otb", root)


def training_sets(p: Params, data_root: str | Path, split: str = "train") -> tuple[list[Sequence], list[Sequence]]:
    """(sequences, stills) of a generated split; stills only exist for training."""
    data_root = Path(data_root)
    stills = load_split(data_root / "stills") if split == "train" and (data_root / "stills").is_dir() else []
    return load_split(data_root / split), stills


def extra_sources(p: Params) -> list[tuple[list[Sequence], float, int]]:
    """Real training sets listed in `pairs.extra_sources` that exist on disk, as (sequences, weight, frame_range).

    Each entry needs `benchmark` and `root`; `split` (default None), `weight` (1.0) and `frame_range`
    (pairs.frame_range) are optional. A listed root that does not exist is skipped with a message, so the same
    params.yaml runs with and without the real data.
    """
    groups = []
    for i, src in enumerate(p.pairs.extra_sources):
        unknown = set(src) - {"benchmark", "root", "split", "weight", "frame_range"}
        if not isinstance(src, dict) or "benchmark" not in src or "root" not in src or unknown:
            raise ConfigError(f"pairs.extra_sources[{i}] = {src!r}: needs benchmark and root; optional split, "
                              f"weight, frame_range")
        if not Path(src["root"]).exists():
            print(f"pairs.extra_sources[{i}]: {src['root']} not found, skipped")
            continue
        seqs = load_benchmark(src["benchmark"], src["root"], split=src.get("split"))
        groups.append((seqs, float(src.get("weight", 1.0)), int(src.get("frame_range", p.pairs.frame_range))))
    return groups


def pair_dataset(p: Params, data_root: str | Path, split: str, length: int, seed: int) -> PairDataset:
    """Training (or validation) pairs from a generated split, plus the real training sets when training."""
    seqs, stills = training_sets(p, data_root, split)
    extra = extra_sources(p) if split == "train" else []
    return PairDataset(seqs, p.pairs, length=length, seed=seed, stills=stills, extra=extra)


def train_tracker(p: Params, cls_ops: list[str], reg_ops: list[str], data_root: str | Path,
                  checkpoint: str | Path, progress: bool = True) -> dict:
    """Train one fixed-operator tracker from scratch with the `train` schedule; resumes an interrupted run."""
    model = make_model(p, cls_ops, reg_ops)
    data = pair_dataset(p, data_root, "train", p.train.pairs_per_epoch, p.train.seed)
    return train(model, data, p.pairs.search_size, p.train, checkpoint, progress=progress)


def search(p: Params, data_root: str | Path, out_json: str | Path, checkpoint: str | Path,
           progress: bool = True) -> dict:
    """Run the BCM bilevel search (weights on train pairs, manipulators on val pairs) for both branches."""
    ops = list(p.search.operators)
    kind = "bcm" if p.search.granularity == "channel" else "bcm_operator"
    model = make_model(p, ops, ops, matching=kind, seed=p.search.seed)
    train_set = pair_dataset(p, data_root, "train", p.search.pairs_per_epoch, p.search.seed)
    val_set = pair_dataset(p, data_root, "val", p.search.pairs_per_epoch, p.search.seed + 1)
    return run_search(model, train_set, val_set, p.pairs.search_size, p.search, p.train, out_json, checkpoint,
                      progress=progress)


def random_search_genotypes(p: Params) -> list[dict]:
    """The random-search baseline's operator sets (k per branch, one per seed)."""
    return random_genotypes(list(p.search.operators), p.random_search.k, list(p.random_search.seeds))


def plan_runs(p: Params, arch: str, checkpoint: str | Path) -> list[dict]:
    """Training runs of one pipeline stage as [{'name', 'cls_ops', 'reg_ops', 'checkpoint'}].

    arch: 'baseline' (params `baseline`), 'search:<search.json>' (the operators the search retained),
    'random' (one run per random-search seed, checkpoints `<checkpoint>/random_<seed>.pt`), or
    'ops:<cls,ops>/<reg,ops>' (explicit lists).
    """
    if arch == "baseline":
        return [{"name": Path(checkpoint).stem, "cls_ops": list(p.baseline.cls_ops),
                 "reg_ops": list(p.baseline.reg_ops), "checkpoint": str(checkpoint)}]
    if arch.startswith("search:"):
        retained = load_json(arch.split(":", 1)[1])["retained"]
        return [{"name": Path(checkpoint).stem, "cls_ops": retained["cls"], "reg_ops": retained["reg"],
                 "checkpoint": str(checkpoint)}]
    if arch == "random":
        return [{"name": f"random_{g['seed']}", "cls_ops": g["cls"], "reg_ops": g["reg"],
                 "checkpoint": str(Path(checkpoint) / f"random_{g['seed']}.pt")} for g in random_search_genotypes(p)]
    if arch.startswith("ops:"):
        cls_part, reg_part = arch[4:].split("/")
        return [{"name": Path(checkpoint).stem, "cls_ops": cls_part.split(","), "reg_ops": reg_part.split(","),
                 "checkpoint": str(checkpoint)}]
    raise ValueError(f"unknown architecture spec {arch!r}: use baseline, search:<json>, random or ops:<cls>/<reg>")


def make_tracker(p: Params, checkpoint: str | Path | None, device: str = "cpu"):
    """A SiameseTracker from a checkpoint, or the static-box tracker when checkpoint is None or 'static'."""
    if checkpoint is None or str(checkpoint) == "static":
        return StaticTracker()
    model, _ = load_model(checkpoint)
    tracker = SiameseTracker(model, p.track_config(), device=device)
    tracker.name = Path(checkpoint).stem
    return tracker


def evaluate_all(p: Params, trackers: dict[str, object], sequences: list[Sequence], results_dir: str | Path,
                 benchmark: str = "synthetic", progress: bool = True) -> dict[str, dict]:
    """Run each named tracker over the sequences; results in `<results_dir>/<benchmark>/<name>/`."""
    out = {}
    for name, tracker in trackers.items():
        out[name] = evaluate_tracker(tracker, sequences, Path(results_dir) / benchmark / name, progress=progress)
    return out


def load_json(path: str | Path) -> dict:
    """Read a JSON file (search results, metrics)."""
    return json.loads(Path(path).read_text())


def metrics_table(results: dict[str, dict]) -> list[dict]:
    """Rows {'tracker', 'success_auc', 'precision_20', 'success_50', 'fps'} sorted by AUC, for display."""
    rows = [{"tracker": n, **{k: float(np.round(m[k], 4)) for k in ("success_auc", "precision_20", "success_50",
                                                                     "fps")}}
            for n, m in results.items()]
    return sorted(rows, key=lambda r: -r["success_auc"])


def training_summary(runs: list[dict], histories: dict[str, dict], out_json: str | Path) -> dict:
    """Per run: operators, wall time, throughput and final losses; written as a DVC metrics file."""
    summary = {}
    for run in runs:
        epochs = histories[run["name"]]["epochs"]
        summary[run["name"]] = {
            "cls_ops": "+".join(run["cls_ops"]), "reg_ops": "+".join(run["reg_ops"]),
            "seconds": float(sum(e["seconds"] for e in epochs)),
            "pairs_per_second": float(np.mean([e["pairs_per_second"] for e in epochs])),
            "final_loss": float(epochs[-1]["loss/total"]), "first_loss": float(epochs[0]["loss/total"]),
        }
    write_json(out_json, summary)
    return summary


def search_summary(result: dict, out_json: str | Path) -> dict:
    """Final potentials, retained operators and wall time of a search, as a DVC metrics file."""
    summary = {"seconds": float(result["seconds"]), "steps": int(result["steps"]),
               "retained_cls": "+".join(result["retained"]["cls"]),
               "retained_reg": "+".join(result["retained"]["reg"]),
               "potentials": result["potentials"]}
    write_json(out_json, summary)
    return summary


def checkpoints_in(models_dir: str | Path, names: list[str]) -> dict[str, Path]:
    """{name: models_dir/name.pt} for the named trackers plus every models_dir/random/random_*.pt."""
    models_dir = Path(models_dir)
    found = {name: models_dir / f"{name}.pt" for name in names}
    found.update({c.stem: c for c in sorted((models_dir / "random").glob("random_*.pt"))})
    return found


def tune_all(p: Params, checkpoints: dict[str, Path], val_sequences: list[Sequence], progress: bool = False) -> dict:
    """Tune each tracker's online hyper-parameters on the validation sequences (`tune` section)."""
    from .evaluation.tune import tune_tracker

    return {name: tune_tracker(load_model(path)[0], p.track_config(), val_sequences, p.tune, progress)
            for name, path in checkpoints.items()}


def build_trackers(p: Params, checkpoints: dict[str, Path], tuned: dict | None = None) -> dict[str, object]:
    """{'static': StaticTracker, name: SiameseTracker} with each tracker's tuned setting when given."""
    trackers: dict[str, object] = {"static": StaticTracker()}
    for name, path in checkpoints.items():
        cfg = p.track_config()
        if tuned and name in tuned:
            cfg = dataclasses.replace(cfg, **tuned[name]["best"])
        trackers[name] = SiameseTracker(load_model(path)[0], cfg)
        trackers[name].name = name
    return trackers


def attribute_table(results: dict[str, dict], sequences: list[Sequence], codes: tuple[str, ...]) -> list[dict]:
    """Rows per tracker: overall AUC and the AUC on the sequences carrying each attribute (paper Table 1)."""
    from .evaluation.metrics import attribute_scores

    attrs = {s.name: s.attributes for s in sequences}
    rows = []
    for name, m in results.items():
        per = attribute_scores(m["_curves"], attrs, codes)
        rows.append({"tracker": name, "overall": round(m["success_auc"], 4),
                     **{c: round(per[c]["auc"], 4) for c in codes if c in per}})
    return rows


def write_eval_outputs(results: dict[str, dict], out_json: str | Path, plots_dir: str | Path,
                       extra: dict | None = None) -> dict:
    """metrics/eval.json (scores per tracker + extra) and plots/{success,precision}/<tracker>.json for DVC."""
    from .evaluation.metrics import CE_THRESHOLDS, IOU_THRESHOLDS

    metrics = {name: {k: float(m[k]) for k in ("success_auc", "precision_20", "success_50", "fps")}
               for name, m in results.items()}
    metrics.update(extra or {})
    write_json(out_json, metrics)
    for name, m in results.items():
        write_json(Path(plots_dir) / "success" / f"{name}.json",
                   [{"threshold": float(t), "success": float(v)} for t, v in zip(IOU_THRESHOLDS, m["success_curve"])])
        write_json(Path(plots_dir) / "precision" / f"{name}.json",
                   [{"threshold": int(t), "precision": float(v)} for t, v in zip(CE_THRESHOLDS, m["precision_curve"])])
    return metrics
