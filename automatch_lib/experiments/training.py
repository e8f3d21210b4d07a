"""Training steps: the run's networks, its training pairs, and fixed-operator trackers trained from scratch."""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..config import Params
from ..data.benchmarks import load_benchmark
from ..data.pairs import PairDataset
from ..data.sequence import Sequence
from ..errors import ConfigError
from ..io import write_json
from ..model.backbone import load_pretrained
from ..model.genotype import Genotype, parse_arch
from ..model.network import SiameseNet
from ..train import train


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


def training_sets(data_root: str | Path, split: str = "train") -> tuple[list[Sequence], list[Sequence]]:
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
        if not isinstance(src, dict) or "benchmark" not in src or "root" not in src or \
                set(src) - {"benchmark", "root", "split", "weight", "frame_range"}:
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
    seqs, stills = training_sets(data_root, split)
    extra = extra_sources(p) if split == "train" else []
    return PairDataset(seqs, p.pairs, p.crop, length=length, seed=seed, stills=stills, extra=extra)


def plan_runs(p: Params, arch: str, checkpoint: str | Path) -> list[tuple[Genotype, Path]]:
    """The trainings of one stage as (genotype, checkpoint) pairs; `arch` is an architecture spec
    (`model.genotype.parse_arch`). 'random' names a genotype per seed and `checkpoint` is then a folder holding
    `<name>.pt` for each, however many seeds there are."""
    genotypes = parse_arch(arch, p, name=Path(checkpoint).stem)
    if arch == "random":
        return [(g, Path(checkpoint) / f"{g.name}.pt") for g in genotypes]
    return [(genotypes[0], Path(checkpoint))]


def plan_table(runs: list[tuple[Genotype, Path]]) -> list[dict]:
    """Rows {'name', 'cls_ops', 'reg_ops', 'checkpoint'} of planned runs, for display."""
    return [{"name": g.name, "cls_ops": "+".join(g.cls), "reg_ops": "+".join(g.reg), "checkpoint": str(c)}
            for g, c in runs]


def train_tracker(p: Params, genotype: Genotype, data_root: str | Path, checkpoint: str | Path) -> dict:
    """Train one fixed-operator tracker from scratch with the `train` schedule; resumes an interrupted run. The
    checkpoint records the crop geometry, so the tracker can be rebuilt from the file alone."""
    model = make_model(p, list(genotype.cls), list(genotype.reg))
    data = pair_dataset(p, data_root, "train", p.train.pairs_per_epoch, p.train.seed)
    return train(model, data, p.crop.search_size, p.train, p.resources, checkpoint, extra={"crop": asdict(p.crop)})


def training_summary(runs: list[tuple[Genotype, Path]], histories: dict[str, dict], out_json: str | Path) -> dict:
    """Per run: operators, wall time, throughput and final losses; written as a DVC metrics file."""
    summary = {}
    for g, _ in runs:
        epochs = histories[g.name]["epochs"]
        summary[g.name] = {
            "cls_ops": "+".join(g.cls), "reg_ops": "+".join(g.reg),
            "seconds": float(sum(e["seconds"] for e in epochs)),
            "pairs_per_second": float(np.mean([e["pairs_per_second"] for e in epochs])),
            "final_loss": float(epochs[-1]["loss/total"]), "first_loss": float(epochs[0]["loss/total"]),
        }
    write_json(out_json, summary)
    return summary
