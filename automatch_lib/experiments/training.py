"""Training steps: the run's networks, its training pairs, and fixed-operator trackers, one per seed.

In the pipeline every tracker sits on the one shared backbone (`pretraining`), frozen, and trains necks, matching
network and heads on its cached features (`data.features`); without a feature cache a tracker trains end to end
on image pairs (the paper profile, the `train` command without --features).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..config import Params
from ..data.benchmarks import load_benchmark
from ..data.features import FeatureSet
from ..data.pairs import PairDataset
from ..data.sequence import Sequence
from ..errors import ConfigError
from ..io import write_json
from ..model.backbone import load_pretrained
from ..model.genotype import Genotype, parse_arch
from ..model.network import NETWORKS
from ..operators import check_operator_options
from ..threads import run_jobs
from ..train import train


def make_model(p: Params, cls_ops: list[str], reg_ops: list[str], matching: str = "fixed", seed: int = 0,
               backbone: str | Path | None = None, network: str = "siamese") -> torch.nn.Module:
    """A network of family `network` with the run's backbone/channels: a SiameseNet with the given operators (BCM
    options from `search`), or PG-Net (`pgnet` section, anchors sized for `crop`; the operators are its pg_corr).

    The weights are initialised from torch's RNG seeded with `seed`, so the same params give the same network in
    every process. `backbone` (a file written by the pretrain stage) loads the shared backbone and freezes it;
    otherwise `model.pretrained` (a local file) initialises it when set.
    """
    try:
        check_operator_options(p.model.operator_options)
    except ValueError as exc:
        raise ConfigError(f"model.{exc}") from None
    if network not in NETWORKS:
        raise ConfigError(f"unknown network family {network!r}; known: {', '.join(NETWORKS)}")
    torch.manual_seed(seed)
    common = dict(backbone=p.model.backbone, channels=p.model.channels, color=p.model.color,
                  operator_options=p.model.operator_options)
    if network == "pgnet":
        model = NETWORKS[network](**common, ratios=p.pgnet.ratios, exemplar_size=p.crop.exemplar_size,
                                  context=p.crop.context, pos_iou=p.pgnet.pos_iou, neg_iou=p.pgnet.neg_iou,
                                  reg_weight=p.pgnet.reg_weight)
    else:
        kwargs = {}
        if matching in ("bcm", "bcm_operator"):
            kwargs = dict(init=p.search.init, tau=p.search.tau, noise=p.search.noise)
        model = NETWORKS[network](cls_ops, reg_ops, matching=matching, matching_kwargs=kwargs,
                                  head_layers=p.model.head_layers, **common)
    if backbone is not None:
        try:
            load_pretrained(model.backbone, backbone)
        except ValueError as exc:
            if network != "pgnet":
                raise
            raise ConfigError(f"{exc}: PG-Net on the {p.model.backbone} backbone reads levels the shared backbone "
                              f"(AutoMatch's) does not hold; train it end to end (`automatch train --arch pgnet`) "
                              f"from ImageNet weights in model.pretrained") from None
        model.backbone.requires_grad_(False)
    elif p.model.pretrained:
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


def video_group(p: Params, data_root: str | Path) -> list[tuple[list[Sequence], float, int]]:
    """The pseudo-labelled real-video sequences of a generated benchmark (``train_video/``, see
    `data.video_labels`) as one pair group of weight `pairs.video_weight`; none when absent or weighted 0."""
    folder = Path(data_root) / "train_video"
    if p.pairs.video_weight <= 0 or not folder.is_dir():
        return []
    return [(load_split(folder), p.pairs.video_weight, p.pairs.frame_range)]


def pair_dataset(p: Params, data_root: str | Path, split: str, length: int, seed: int) -> PairDataset:
    """Training (or validation) pairs from a generated split, plus pseudo-labelled real video and the real
    training sets when training."""
    seqs, stills = training_sets(data_root, split)
    extra = video_group(p, data_root) + extra_sources(p) if split == "train" else []
    return PairDataset(seqs, p.pairs, p.crop, length=length, seed=seed, stills=stills, extra=extra)


def plan_runs(p: Params, arch: str, out_dir: str | Path) -> list[tuple[Genotype, int, Path]]:
    """The trainings of one stage as (genotype, seed, checkpoint): one per `train.seeds` entry, written to
    `<out_dir>/seed_<s>.pt`. `arch` is an architecture spec (`model.genotype.parse_arch`); 'random' draws a new
    genotype for each seed."""
    runs = []
    for seed in p.train.seeds:
        genotype = parse_arch(arch, p, name=Path(out_dir).name, seed=seed)
        runs.append((genotype, seed, Path(out_dir) / f"seed_{seed}.pt"))
    return runs


def plan_table(runs: list[tuple[Genotype, int, Path]]) -> list[dict]:
    """Rows {'name', 'seed', 'cls_ops', 'reg_ops', 'checkpoint'} of planned runs, for display."""
    return [{"name": g.name, "seed": s, "cls_ops": "+".join(g.cls), "reg_ops": "+".join(g.reg), "checkpoint": str(c)}
            for g, s, c in runs]


def train_tracker(p: Params, genotype: Genotype, checkpoint: str | Path, seed: int = 0,
                  features: str | Path | None = None, backbone: str | Path | None = None,
                  data_root: str | Path | None = None) -> dict:
    """Train one fixed-operator tracker with the `train` schedule and seed `seed`; resumes an interrupted run.

    With `features` (a folder holding train.pt) and `backbone`, it trains on the cached maps of the frozen shared
    backbone; otherwise end to end on image pairs from `data_root`. The checkpoint records the crop geometry and
    the genotype, so the tracker can be rebuilt from the file alone.
    """
    model = make_model(p, list(genotype.cls), list(genotype.reg), matching=genotype.matching, seed=seed,
                       backbone=backbone, network=genotype.network)
    if features is not None:
        if backbone is None:
            raise ValueError("training on cached features needs the backbone they were computed with")
        data = FeatureSet(Path(features) / "train.pt", p.train.pairs_per_epoch, seed, levels=model.levels)
    elif data_root is not None:
        data = pair_dataset(p, data_root, "train", p.train.pairs_per_epoch, seed)
    else:
        raise ValueError("train_tracker needs a feature cache (features + backbone) or a data_root of images")
    return train(model, data, p.crop.search_size, p.train, p.resources, checkpoint, seed=seed,
                 extra={"crop": asdict(p.crop), "genotype": genotype.to_dict()})


def train_all(p: Params, runs: list[tuple[Genotype, int, Path]], features: str | Path | None = None,
              backbone: str | Path | None = None, data_root: str | Path | None = None) -> list[dict]:
    """Train the planned runs, `resources.jobs` at a time (`threads.run_jobs`); their histories in order."""
    jobs = [(p, g, c, s, features, backbone, data_root) for g, s, c in runs]
    return run_jobs(train_tracker, jobs, p.resources.jobs, p.resources.threads)


def training_summary(runs: list[tuple[Genotype, int, Path]], histories: list[dict], out_json: str | Path) -> dict:
    """Per run (`<name>/seed_<s>`): operators, wall time, throughput and first/final losses; a DVC metrics file."""
    summary = {}
    for (g, seed, _), history in zip(runs, histories):
        epochs = history["epochs"]
        summary[f"{g.name}/seed_{seed}"] = {
            "cls_ops": "+".join(g.cls), "reg_ops": "+".join(g.reg),
            "seconds": float(sum(e["seconds"] for e in epochs)),
            "pairs_per_second": float(np.mean([e["pairs_per_second"] for e in epochs])),
            "final_loss": float(epochs[-1]["loss/total"]), "first_loss": float(epochs[0]["loss/total"]),
        }
    write_json(out_json, summary)
    return summary
