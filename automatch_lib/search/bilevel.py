"""Bilevel optimisation of the manipulators (paper Sec. 4.3, DARTS approximation).

min_w L_val(theta*(w), w)  s.t.  theta*(w) = argmin_theta L_train(theta, w).
Alternating: one architecture step on a validation batch, then one weight step on a training batch.
First order: grad_w L_val(theta, w). Second order: grad_w L_val(theta', w) - eta * H, with theta' = theta - eta *
grad_theta L_train(theta, w) (one plain SGD step) and the mixed Hessian-vector product H estimated by central
finite differences: H ~ (grad_w L_train(theta+, w) - grad_w L_train(theta-, w)) / (2 eps), theta+- = theta +- eps
* grad_theta' L_val(theta', w), eps = 0.01 / ||grad_theta' L_val||. Both perturbations start from theta (not
theta': the DARTS issue #21 bug).
"""
from __future__ import annotations

import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call
from tqdm import tqdm

from ..config import ResourcesConfig, SearchConfig, TrainConfig
from ..io import write_json
from ..model.network import SiameseNet, save_checkpoint
from ..threads import configure_threads
from ..train import (batch_loss, build_optimizer, lr_at, make_loader, seed_everything, set_lr, to_device,
                     weight_step)

LossFn = Callable[[Callable[..., dict], dict], torch.Tensor]


def named_split(model: nn.Module, arch: list[nn.Parameter]) -> tuple[dict, dict]:
    """(weights, arch) dicts name -> parameter, splitting model.named_parameters() by identity."""
    ids = {id(p) for p in arch}
    weights, archs = {}, {}
    for name, p in model.named_parameters():
        (archs if id(p) in ids else weights)[name] = p
    return weights, archs


class Architect:
    """Updates the architecture parameters on validation batches (first or second order)."""

    def __init__(self, model: nn.Module, arch_params: list[nn.Parameter], optimizer: torch.optim.Optimizer,
                 loss_fn: LossFn, unrolled: bool = False):
        self.model, self.optimizer, self.loss_fn, self.unrolled = model, optimizer, loss_fn, unrolled
        self.weights, self.arch = named_split(model, arch_params)

    def _loss(self, params: dict, batch: dict) -> torch.Tensor:
        return self.loss_fn(lambda *args: functional_call(self.model, params, args), batch)

    def first_order_grads(self, val_batch: dict) -> list[torch.Tensor]:
        """grad_w L_val(theta, w)."""
        loss = self._loss({**self.weights, **self.arch}, val_batch)
        return list(torch.autograd.grad(loss, list(self.arch.values())))

    def second_order_grads(self, train_batch: dict, val_batch: dict, eta: float) -> list[torch.Tensor]:
        """grad_w L_val(theta - eta grad_theta L_train, w) with the finite-difference Hessian-vector product."""
        names, theta = list(self.weights), list(self.weights.values())
        arch = list(self.arch.values())
        g_train = torch.autograd.grad(self._loss({**self.weights, **self.arch}, train_batch), theta,
                                      allow_unused=True)
        theta_prime = {n: (p - eta * g if g is not None else p).detach().requires_grad_(True)
                       for n, p, g in zip(names, theta, g_train)}
        val_loss = self._loss({**theta_prime, **self.arch}, val_batch)
        grads = torch.autograd.grad(val_loss, arch + list(theta_prime.values()), allow_unused=True)
        d_arch = [g if g is not None else torch.zeros_like(a) for g, a in zip(grads[:len(arch)], arch)]
        d_theta = [g if g is not None else torch.zeros_like(p) for g, p in zip(grads[len(arch):], theta)]
        norm = torch.sqrt(sum((g ** 2).sum() for g in d_theta))
        eps = 0.01 / (norm + 1e-12)
        hvp = []
        for sign in (1.0, -1.0):
            shifted = {n: (p + sign * eps * d).detach() for n, p, d in zip(names, theta, d_theta)}
            g = torch.autograd.grad(self._loss({**shifted, **self.arch}, train_batch), arch, allow_unused=True)
            hvp.append([x if x is not None else torch.zeros_like(a) for x, a in zip(g, arch)])
        return [da - eta * (gp - gm) / (2 * eps) for da, gp, gm in zip(d_arch, *hvp)]

    def step(self, train_batch: dict, val_batch: dict, eta: float) -> None:
        """One architecture update."""
        grads = (self.second_order_grads(train_batch, val_batch, eta) if self.unrolled
                 else self.first_order_grads(val_batch))
        self.optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.arch.values(), grads):
            p.grad = g.detach()
        self.optimizer.step()


def _tracking_loss_fn(search_size: int, stride: int, cfg: TrainConfig) -> LossFn:
    def loss_fn(forward, batch):
        return batch_loss(forward, batch, search_size, stride, cfg)[0]
    return loss_fn


def search_to_train_config(cfg: SearchConfig, base: TrainConfig) -> TrainConfig:
    """The weight-optimisation schedule of the search as a TrainConfig (paper: exponential decay, no warm-up)."""
    merged = {**asdict(base), **{k: getattr(cfg, k) for k in ("epochs", "pairs_per_epoch", "batch_size", "lr",
                                                              "lr_end", "optimizer", "seed")}}
    merged.update(warmup_epochs=0.0, warmup_lr=cfg.lr)
    return TrainConfig(**merged)


def run_search(model: SiameseNet, train_set, val_set, search_size: int, cfg: SearchConfig, base: TrainConfig,
               resources: ResourcesConfig, out_json: str | Path | None = None,
               checkpoint: str | Path | None = None) -> dict:
    """Bilevel search of the classification and regression manipulators of a BCM supernet.

    Returns (and writes to out_json) {'potentials': {'cls': {op: p}, 'reg': {...}}, 'retained': {'cls': [...],
    'reg': [...]}, 'history': [{'step', 'cls': {op: p}, 'reg': {...}}], 'seconds', 'config'}.
    """
    tcfg = search_to_train_config(cfg, base)
    configure_threads(resources.threads)
    seed_everything(cfg.seed)
    random.seed(cfg.seed)
    device = torch.device(resources.device)
    model.to(device)
    arch = model.arch_parameters()
    if not arch:
        raise ValueError("run_search needs a supernet (matching kind 'bcm' or 'bcm_operator')")
    w_opt = build_optimizer(model, tcfg)
    a_opt = torch.optim.Adam(arch, lr=cfg.arch_lr, betas=(0.5, 0.999), weight_decay=cfg.arch_weight_decay)
    architect = Architect(model, arch, a_opt, _tracking_loss_fn(search_size, model.stride, tcfg), cfg.unrolled)
    train_loader = make_loader(train_set, cfg.batch_size, resources.workers)
    val_loader = make_loader(val_set, cfg.batch_size, 0)
    history = []

    def snapshot(step: int) -> None:
        history.append({"step": step, "cls": model.match_cls.potentials(), "reg": model.match_reg.potentials()})

    steps = cfg.epochs * len(train_loader)
    step = 0
    snapshot(0)
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        train_set.set_epoch(epoch)
        val_set.set_epoch(epoch)
        model.train()
        val_iter = iter(val_loader)
        bar = tqdm(train_loader, desc=f"search epoch {epoch + 1}/{cfg.epochs}", disable=not resources.progress,
                   leave=False)
        for batch in bar:
            try:
                val_batch = next(val_iter)
            except StopIteration:
                val_iter = iter(val_loader)
                val_batch = next(val_iter)
            batch, val_batch = to_device(batch, device), to_device(val_batch, device)
            lr = lr_at(step / max(steps, 1), tcfg)
            set_lr(w_opt, lr)
            if step >= cfg.warmup_fraction * steps:
                architect.step(batch, val_batch, eta=lr)
            stats = weight_step(model, batch, w_opt, search_size, model.stride, tcfg, where=f"at search step {step + 1}")
            step += 1
            if step % resources.log_every == 0 or step == steps:
                snapshot(step)
            bar.set_postfix(loss=f"{stats['loss/total']:.3f}")
    seconds = time.perf_counter() - t0
    result = {
        "potentials": {"cls": model.match_cls.potentials(), "reg": model.match_reg.potentials()},
        "retained": {"cls": model.match_cls.retain(cfg.retain), "reg": model.match_reg.retain(cfg.retain)},
        "history": history,
        "seconds": seconds,
        "steps": steps,
        "config": asdict(cfg),
    }
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, search=result)
    if out_json is not None:
        write_json(out_json, result)
    return result
