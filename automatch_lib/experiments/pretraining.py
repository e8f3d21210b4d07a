"""The shared backbone: pretrained once per run, then frozen; and the cache of its features.

The paper's matching networks sit on an ImageNet-pretrained ResNet-50. Nothing can be downloaded here, so the
backbone is pretrained on the embedded data, on a task that favours no operator: the supernet with every candidate
operator on (and Ocean's baseline operator), all fused, the warm-up of one-shot NAS. It takes the largest single
share of the CPU budget and both cores (`pretrain.processes` DistributedDataParallel ranks over gloo: measured
1.3x the pairs per second of one process with one loader worker, 1.8x of one process with two threads). After it,
every matching-network experiment trains necks, matching networks and heads only, on cached backbone features.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from ..config import Params
from ..data.features import extract_features, save_features
from ..io import save_torch
from ..model.backbone import build_backbone, load_pretrained
from ..model.genotype import search_space
from ..model.network import load_model
from ..threads import configure_threads
from ..train import train
from .training import make_model, pair_dataset


def warmup_operators(p: Params) -> list[str]:
    """Every operator the run's networks use: the search space plus the baseline's operators."""
    return list(dict.fromkeys([*search_space(p), *p.baseline.cls_ops, *p.baseline.reg_ops]))


def _train_supernet(p: Params, data_root: str | Path, checkpoint: str | Path) -> dict:
    ops = warmup_operators(p)
    seed = p.pretrain.seeds[0]
    model = make_model(p, ops, ops, seed=seed)
    data = pair_dataset(p, data_root, "train", p.pretrain.pairs_per_epoch, seed)
    return train(model, data, p.crop.search_size, p.pretrain, p.resources, checkpoint, seed=seed,
                 extra={"crop": asdict(p.crop)})


def _rank_main(rank: int, world: int, port: int, p: Params, data_root: str, checkpoint: str) -> None:
    """One DDP rank (spawned): join the gloo group on this machine and train; rank 0 writes the checkpoint."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    configure_threads(p.resources.threads)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    p.resources.workers = 0   # the ranks fill the cores; a loader worker per rank would oversubscribe them
    try:
        if rank:
            p.resources.progress = False
        _train_supernet(p, data_root, checkpoint)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pretrain(p: Params, data_root: str | Path, checkpoint: str | Path, backbone_out: str | Path) -> dict:
    """Pretrain the shared backbone (see module doc) and write its weights alone to `backbone_out`.

    `checkpoint` keeps the whole supernet with optimizer state after every epoch, so an interrupted pretraining
    resumes. Returns the training history (with the wall time in 'seconds').
    """
    t0 = time.perf_counter()
    world = p.pretrain.processes
    if world > 1:
        mp.start_processes(_rank_main, args=(world, _free_port(), p, str(data_root), str(checkpoint)),
                           nprocs=world, start_method="spawn")
    else:
        configure_threads(p.resources.threads)
        _train_supernet(p, data_root, checkpoint)
    model, ckpt = load_model(checkpoint)
    history = {**ckpt["history"], "seconds": time.perf_counter() - t0, "operators": warmup_operators(p)}
    save_torch(backbone_out, {"backbone": p.model.backbone, "state_dict": model.backbone.state_dict(),
                              "history": history})
    return history


def cache_features(p: Params, data_root: str | Path, backbone: str | Path, out_dir: str | Path) -> dict:
    """Draw `features.train_pairs` training and `features.val_pairs` validation pairs once, run them through the
    frozen backbone and write `<out_dir>/train.pt` and `<out_dir>/val.pt`. Returns counts, sizes and seconds."""
    configure_threads(p.resources.threads)
    net = build_backbone(p.model.backbone, color=p.model.color)
    load_pretrained(net, backbone)
    summary = {}
    for split, count, seed in (("train", p.features.train_pairs, p.features.seed),
                               ("val", p.features.val_pairs, p.features.seed + 1)):
        t0 = time.perf_counter()
        pairs = pair_dataset(p, data_root, split, count, seed)
        feats = extract_features(net, pairs, workers=p.resources.workers, progress=p.resources.progress)
        path = Path(out_dir) / f"{split}.pt"
        save_features(path, feats, backbone=str(backbone), split=split, seed=seed)
        summary[split] = {"pairs": count, "seconds": time.perf_counter() - t0,
                          "megabytes": path.stat().st_size / 2**20,
                          "negatives": int(feats["negative"].sum()),
                          "maps": {k: list(v.shape[1:]) for k, v in feats.items() if k[:2] in ("z_", "x_")}}
    return summary
