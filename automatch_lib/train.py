"""Training: schedules, the loss of one batch, the epoch loop with atomic checkpoints and resume, torchrun/DDP.

Threads matter on small CPUs: torch intra-op threads + DataLoader workers must not exceed the cores, or OpenMP
stalls make steps many times slower. Both come from the `resources` section and are logged with the history.
Multi-process training: launch with `torchrun --nproc_per_node N -m automatch_lib.cli train ...`; each rank
draws a disjoint share of the pairs (DistributedSampler deals pair i to rank i mod N), gradients are averaged by
DistributedDataParallel, each rank has its own torch RNG stream, and rank 0 writes. The wrapper is rebuilt whenever
the set of trainable parameters changes (frozen backbone epochs, then the unfreeze switch), because DDP registers
the trainable parameters once, when it is built. BatchNorm statistics are per rank, so N ranks compute exactly what
one process computes with `train.micro_batches` = N (tested in tests/test_paper_path.py).
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from .config import ResourcesConfig, TrainConfig
from .model.network import save_checkpoint
from .threads import configure_threads, worker_init


def seed_everything(seed: int) -> None:
    """Seed torch and numpy's legacy global RNG (the data pipeline uses its own seeded generators)."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def lr_at(progress: float, cfg: TrainConfig) -> float:
    """Learning rate at a fraction of training `progress` in [0, 1]: geometric warm-up warmup_lr -> lr over
    warmup_epochs, then exponential (log-linear) decay lr -> lr_end, as the paper's schedules."""
    warm = min(cfg.warmup_epochs / max(cfg.epochs, 1), 1.0)
    if progress < warm:
        return cfg.warmup_lr * (cfg.lr / cfg.warmup_lr) ** (progress / warm)
    rest = (progress - warm) / max(1e-9, 1 - warm)
    return cfg.lr * (cfg.lr_end / cfg.lr) ** min(rest, 1.0)


def make_loader(dataset, batch_size: int, workers: int) -> DataLoader:
    """DataLoader over a PairDataset or a FeatureSet; a DistributedSampler when torch.distributed is initialised.
    A dataset held in memory (`in_memory`, the cached features) loads no images and gets no worker processes."""
    workers = 0 if getattr(dataset, "in_memory", False) else workers
    sampler = DistributedSampler(dataset, shuffle=False) if dist.is_available() and dist.is_initialized() else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=False, sampler=sampler, num_workers=workers,
                      worker_init_fn=worker_init if workers else None, drop_last=True,
                      persistent_workers=False)


def to_device(batch: dict, device: torch.device) -> dict:
    """Move every tensor of a batch dict (and of its lists of cached feature maps) to `device`."""
    move = lambda v: v.to(device, non_blocking=True) if torch.is_tensor(v) else v  # noqa: E731
    return {k: [move(x) for x in v] if isinstance(v, (list, tuple)) else move(v) for k, v in batch.items()}


AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def batch_loss(forward, batch: dict, search_size: int, loss, cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    """Forward one batch of pairs (already on the model's device) through `forward` (a model or a functional
    call of one) and return (loss, stats) from `loss`, the network family's own (`model.loss`: Ocean's for
    SiameseNet, anchors for PGNet). With cfg.precision bf16/fp16 the forward runs under autocast and the loss in
    fp32."""
    if cfg.precision in AUTOCAST:
        with torch.autocast(batch["template_box"].device.type, dtype=AUTOCAST[cfg.precision]):
            out = forward(batch["template"], batch["search"], batch["template_box"])
        out = {k: v.float() for k, v in out.items()}
    else:
        out = forward(batch["template"], batch["search"], batch["template_box"])
    return loss(out, batch["search_box"], batch["negative"], search_size, cfg)


def micro_batch(batch: dict, index: int, count: int) -> dict:
    """Pairs index, index + count, ... of a batch (tensors and lists of tensors sliced along dim 0): the share
    DistributedSampler deals to rank `index` of `count`."""
    cut = lambda v: v[index::count] if torch.is_tensor(v) else v  # noqa: E731
    return {k: [cut(x) for x in v] if isinstance(v, (list, tuple)) else cut(v) for k, v in batch.items()}


def build_optimizer(model: nn.Module, cfg: TrainConfig, params=None) -> torch.optim.Optimizer:
    """AdamW or SGD over the weight parameters; the backbone group gets lr * backbone_lr_scale."""
    params = list(params if params is not None else model.weight_parameters())
    backbone = {id(p) for p in model.backbone.parameters()}
    groups = [{"params": [p for p in params if id(p) in backbone], "lr_scale": cfg.backbone_lr_scale},
              {"params": [p for p in params if id(p) not in backbone], "lr_scale": 1.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; use 'adamw' or 'sgd'")


def weight_step(forward, batch: dict, optimizer: torch.optim.Optimizer, search_size: int, loss,
                cfg: TrainConfig, where: str = "", scaler: torch.amp.GradScaler | None = None) -> dict:
    """One update of the network weights on one batch, shared by training and the search's lower level.

    `loss` is the network's own (`model.loss`, see `batch_loss`); backward (over cfg.micro_batches micro-batches, gradients
    averaged; under DDP only the last one synchronises); clip the gradient norm of the optimizer's parameters to
    cfg.grad_clip; step (through `scaler` for fp16). Only the optimizer's parameters move (the search's manipulators
    are not in it). Returns the loss statistics (means over micro-batches); a non-finite loss stops training with an
    error naming `where`.
    """
    k = cfg.micro_batches
    optimizer.zero_grad(set_to_none=True)
    totals: dict[str, float] = {}
    for c in range(k):
        part = batch if k == 1 else micro_batch(batch, c, k)
        sync = c == k - 1 or not hasattr(forward, "no_sync")
        with contextlib.nullcontext() if sync else forward.no_sync():
            value, stats = batch_loss(forward, part, search_size, loss, cfg)
            if not math.isfinite(stats["loss/total"]):
                raise FloatingPointError(f"non-finite loss {stats['loss/total']} {where}")
            value = value / k if k > 1 else value
            (scaler.scale(value) if scaler is not None else value).backward()
        for key, v in stats.items():
            totals[key] = totals.get(key, 0.0) + v / k
    if scaler is not None:
        scaler.unscale_(optimizer)
    if cfg.grad_clip:
        torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], cfg.grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    return stats if k == 1 else totals


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)


def is_main_process() -> bool:
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


def distributed() -> tuple[int, int]:
    """(rank, world size); (0, 1) without torch.distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def rank_rng_states() -> list[torch.Tensor]:
    """Every rank's torch RNG state, in rank order (gathered to all ranks under DDP), for the checkpoint."""
    state = torch.get_rng_state()
    rank, world = distributed()
    if world == 1:
        return [state]
    states = [None] * world
    dist.all_gather_object(states, state)
    return states


def set_backbone_frozen(model: nn.Module, frozen: bool) -> bool:
    """Switch the backbone's requires_grad; True if the set of trainable parameters changed."""
    changed = any(p.requires_grad == frozen for p in model.backbone.parameters())
    model.backbone.requires_grad_(not frozen)
    return changed


def train(model: nn.Module, dataset, search_size: int, cfg: TrainConfig, resources: ResourcesConfig,
          checkpoint: str | Path | None = None, resume: bool = True, extra: dict | None = None,
          seed: int = 0) -> dict:
    """Train `model` on `dataset` (a PairDataset of images, or a FeatureSet of cached backbone maps, which leaves the
    frozen backbone untouched) for cfg.epochs with torch's RNG seeded by `seed`; returns the history.

    After every epoch the checkpoint (model config + weights + optimizer + history + every rank's RNG state) is
    written atomically by rank 0; with resume=True an existing checkpoint is loaded (by every rank) and training
    continues from the next epoch, so an interrupted run restarts where it stopped and ends with the same weights as
    an uninterrupted one. Under DDP rank r seeds its torch RNG with seed + 1000003 r (rank 0 as one process).
    """
    configure_threads(resources.threads)
    rank, world = distributed()
    seed_everything(seed + 1_000_003 * rank)
    device = torch.device(resources.device)
    model.to(device)
    if resources.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, cfg)
    scaler = torch.amp.GradScaler(device.type) if cfg.precision == "fp16" else None
    if cfg.batch_size % (world * cfg.micro_batches):
        raise ValueError(f"batch_size {cfg.batch_size} is not divisible by the {world} training processes x "
                         f"{cfg.micro_batches} micro-batches")
    history: dict = {"epochs": [], "config": asdict(cfg), "seed": seed, "world_size": world}
    progress = resources.progress
    start = 0
    if checkpoint is not None and resume and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        if state.get("config") == model.config and not state.get("complete_epochs", 0) > cfg.epochs:
            model.load_state_dict(state["state_dict"])
            optimizer.load_state_dict(state["optimizer"])
            history = state["history"]
            start = int(state["complete_epochs"])
            rng = state["torch_rng"]
            torch.set_rng_state(rng[rank] if isinstance(rng, list) and len(rng) == world else
                                rng[0] if isinstance(rng, list) else rng)
    net = model
    loader = make_loader(dataset, cfg.batch_size // world, resources.workers)  # each rank: its share of the batch
    steps_per_epoch = len(loader)
    total = cfg.epochs * steps_per_epoch
    for epoch in range(start, cfg.epochs):
        dataset.set_epoch(epoch)
        if isinstance(loader.sampler, DistributedSampler):
            loader.sampler.set_epoch(epoch)
        frozen = epoch < cfg.freeze_backbone_epochs
        changed = set_backbone_frozen(model, frozen) if cfg.freeze_backbone_epochs else False
        if world > 1 and (net is model or changed):   # DDP registers the trainable parameters when it is built
            net = torch.nn.parallel.DistributedDataParallel(model)
        net.train()
        if frozen:
            model.backbone.eval()
        sums: dict[str, float] = {}
        t0 = time.perf_counter()
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not (progress and is_main_process()),
                   leave=False)
        for i, batch in enumerate(bar):
            lr = lr_at((epoch * steps_per_epoch + i) / max(total, 1), cfg)
            set_lr(optimizer, lr)
            batch = to_device(batch, device)
            if resources.channels_last:
                batch = {k: v.contiguous(memory_format=torch.channels_last) if torch.is_tensor(v) and v.dim() == 4
                         else v for k, v in batch.items()}
            stats = weight_step(net, batch, optimizer, search_size, model.loss, cfg,
                                where=f"at epoch {epoch + 1} step {i + 1}", scaler=scaler)
            for k, v in stats.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.set_postfix(loss=f"{stats['loss/total']:.3f}", lr=f"{lr:.1e}")
        seconds = time.perf_counter() - t0
        record = {k: v / max(steps_per_epoch, 1) for k, v in sums.items()}
        record.update(epoch=epoch + 1, seconds=seconds, pairs_per_second=steps_per_epoch * cfg.batch_size / seconds)
        history["epochs"].append(record)
        if progress and is_main_process():
            print(f"epoch {epoch + 1}/{cfg.epochs}: loss {record.get('loss/total', float('nan')):.4f} "
                  f"({seconds:.1f}s, {record['pairs_per_second']:.0f} pairs/s, threads={resources.threads}, "
                  f"workers={resources.workers})", flush=True)
        rng = rank_rng_states() if checkpoint is not None else None   # a collective: every rank calls it
        if checkpoint is not None and rank == 0:
            save_checkpoint(checkpoint, model, optimizer=optimizer.state_dict(), history=history,
                            complete_epochs=epoch + 1, torch_rng=rng, **(extra or {}))
    return history


def init_distributed() -> bool:
    """Initialise torch.distributed from torchrun's environment (gloo on CPU, nccl on GPUs). True if initialised."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not dist.is_available():
        return False
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return True
