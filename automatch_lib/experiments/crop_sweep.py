"""Crop-size sweep: val accuracy against CPU minutes for several (exemplar, search) crop sizes.

The crop sizes set almost the whole cost of the default profile: pretraining, feature caching, training and tracking
all scale with the search crop's pixel count. Each size here runs the chain the pipeline runs (pretrain the shared
backbone, cache its features, train the baseline once per seed on them) and tracks the embedded VAL split with the
default online settings; test data chooses nothing. The jitter given in crop pixels (`pairs.search_shift`,
`pairs.template_shift`) is scaled with the crop, so every size sees the same relative displacement.

Cost is counted in CPU minutes: the user + system time of this process and of every child it waited for
(DDP ranks, DataLoader workers), so it does not depend on how many processes ran a step nor, to first order, on
what else the machine was doing meanwhile. Each size writes `<out_dir>/<E>x<S>/` (backbone, features,
checkpoints, `sweep.json`); an interrupted sweep resumes where it stopped and keeps the times it measured.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from ..config import Params
from ..evaluation.compare import compare
from ..evaluation.ope import evaluate_tracker
from ..io import read_json, write_json
from ..model.genotype import parse_arch
from ..threads import configure_threads
from ..trackers import make_tracker
from .pretraining import cache_features, pretrain
from .training import load_split, train_tracker


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """'32x64,48x96' -> [(32, 64), (48, 96)] (exemplar x search, pixels)."""
    sizes = []
    for part in text.split(","):
        try:
            e, s = (int(v) for v in part.lower().split("x"))
        except ValueError:
            raise ValueError(f"crop size {part!r}: expected EXEMPLARxSEARCH, e.g. 48x96") from None
        sizes.append((e, s))
    return sizes


def sized_params(p: Params, exemplar: int, search: int) -> Params:
    """A copy of `p` with the crop sizes set and the pixel-valued jitter scaled with them."""
    q = copy.deepcopy(p)
    q.pairs.search_shift = p.pairs.search_shift * search / p.crop.search_size
    q.pairs.template_shift = p.pairs.template_shift * exemplar / p.crop.exemplar_size
    q.crop.exemplar_size, q.crop.search_size = exemplar, search
    return q


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its terminated, waited-for children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _timed(record: dict, key: str, fn, *args):
    """Run fn(*args) unless `record` already holds its cost; store the CPU seconds it took (`cpu_seconds`)."""
    if key not in record:
        t0 = cpu_seconds()
        fn(*args)
        record[key] = cpu_seconds() - t0
    return record[key]


def sweep_size(p: Params, data_root: str | Path, out_dir: str | Path, seeds: list[int]) -> dict:
    """Pretrain, cache, train the baseline per seed and track val at p's crop sizes; returns the size's record:
    {'exemplar', 'search', 'cpu_seconds': {step: s}, 'cpu_minutes', 'val_auc': {seed: pooled},
    'per_sequence': {seed: {sequence: auc}}, 'fps'}."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record_file = out / "sweep.json"
    record = read_json(record_file) if record_file.exists() else {}
    cpu = record.setdefault("cpu_seconds", {})
    _timed(cpu, "pretrain", pretrain, p, data_root, out / "pretrain.pt", out / "backbone.pt")
    write_json(record_file, record)
    _timed(cpu, "features", cache_features, p, data_root, out / "backbone.pt", out / "features")
    write_json(record_file, record)
    genotype = parse_arch("baseline", p, name="baseline")
    for seed in seeds:
        _timed(cpu, f"train_seed_{seed}", train_tracker, p, genotype, out / f"seed_{seed}.pt", seed,
               out / "features", out / "backbone.pt")
        write_json(record_file, record)
    val = load_split(Path(data_root) / "val")
    configure_threads(p.resources.threads)
    aucs, per_seq, fps = {}, {}, []
    for seed in seeds:
        tracker = make_tracker("siamese", out / f"seed_{seed}.pt", name=f"baseline/seed_{seed}")
        m = evaluate_tracker(tracker, val, out / f"val_seed_{seed}", progress=p.resources.progress,
                             batch=p.evaluate.batch)
        aucs[str(seed)] = m["success_auc"]
        per_seq[str(seed)] = {k: v["success_auc"] for k, v in m["sequences"].items()}
        fps.append(m["fps"])
    record.update(exemplar=p.crop.exemplar_size, search=p.crop.search_size, val_auc=aucs, per_sequence=per_seq,
                  fps=float(np.mean(fps)), cpu_minutes=sum(cpu.values()) / 60)
    write_json(record_file, record)
    return record


def crop_sweep(p: Params, data_root: str | Path, sizes: list[tuple[int, int]], out_dir: str | Path,
               seeds: list[int], reference: tuple[int, int] | None = None) -> dict:
    """Every size through `sweep_size`, then each size against `reference` (default: p's own crop sizes, which
    must be among `sizes`) as a paired bootstrap over val sequences and seeds (`evaluation.compare`).

    Returns {'sizes': [record per size], 'comparisons': [...]}; also written to `<out_dir>/crop_sweep.json`.
    """
    reference = tuple(reference or (p.crop.exemplar_size, p.crop.search_size))
    if reference not in [tuple(s) for s in sizes]:
        raise ValueError(f"the reference crop size {reference} is not among the swept sizes {sizes}")
    records = {}
    for e, s in sizes:
        records[(e, s)] = sweep_size(sized_params(p, e, s), data_root, Path(out_dir) / f"{e}x{s}", seeds)

    def matrix(rec: dict) -> np.ndarray:
        names = sorted(rec["per_sequence"][str(seeds[0])])
        return np.array([[rec["per_sequence"][str(k)][n] for n in names] for k in seeds])

    ref = records[reference]
    comparisons = [compare(f"{e}x{s}", f"{reference[0]}x{reference[1]}", matrix(r), matrix(ref))
                   for (e, s), r in records.items() if (e, s) != reference]
    result = {"seeds": list(seeds), "reference": f"{reference[0]}x{reference[1]}",
              "sizes": list(records.values()), "comparisons": comparisons}
    write_json(Path(out_dir) / "crop_sweep.json", result)
    return result


def sweep_table(result: dict) -> list[dict]:
    """One row per size: crops, CPU minutes per step and in all, mean val AUC over seeds, AUC per CPU minute, FPS."""
    rows = []
    for r in result["sizes"]:
        auc = float(np.mean(list(r["val_auc"].values())))
        rows.append({"crops": f"{r['exemplar']}/{r['search']}",
                     **{f"cpu_min_{k}": round(v / 60, 2) for k, v in r["cpu_seconds"].items()},
                     "cpu_min": round(r["cpu_minutes"], 2), "val_auc": round(auc, 3),
                     "auc_per_cpu_min": round(auc / r["cpu_minutes"], 4), "fps": round(r["fps"], 1)})
    return rows
