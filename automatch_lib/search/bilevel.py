"""Bilevel optimisation of the manipulators (paper Sec. 4.3, DARTS approximation).

min_w L_val(theta*(w), w) + sparsity * open(w)  s.t.  theta*(w) = argmin_theta L_train(theta, w).
Alternating: one architecture step on a validation batch, then one weight step on a training batch.
First order: grad_w L_val(theta, w). Second order: grad_w L_val(theta', w) - H, where theta' is exactly the update
the weights get next (`unrolled_weights`: SGD with momentum and weight decay after gradient-norm clipping, as DARTS
unrolls its momentum step) and the mixed Hessian-vector product H = d^2 L_train / (dw dtheta) . v, with v = lr *
clip * grad_theta' L_val, is estimated by central finite differences: H ~ (grad_w L_train(theta + eps v, w) -
grad_w L_train(theta - eps v, w)) / (2 eps), eps = 0.01 / ||v||. Both perturbations start from theta (not theta':
the DARTS issue #21 bug).

`sparsity` (ours, default 0 in the paper's setting) prices every open channel: open(w) is the mean over all
manipulators of sigmoid(w / tau), the expected fraction of channels the hard decision keeps. With it, a channel
stays open only while the validation loss pays for it, so the gates of operators that do not help close.
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
from .bcm import top_k
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
    """Updates the architecture parameters on validation batches (first or second order).

    `weight_optimizer` is the optimizer of the lower level; the second-order step unrolls its next update, so it
    must be SGD (momentum, weight decay and `grad_clip` as `train.weight_step` applies them). `penalty()` returns
    a differentiable cost of the architecture added to the upper-level loss (the sparsity price).
    """

    def __init__(self, model: nn.Module, arch_params: list[nn.Parameter], optimizer: torch.optim.Optimizer,
                 loss_fn: LossFn, unrolled: bool = False, weight_optimizer: torch.optim.Optimizer | None = None,
                 grad_clip: float = 0.0, penalty: Callable[[], torch.Tensor] | None = None):
        if unrolled and not isinstance(weight_optimizer, torch.optim.SGD):
            raise ValueError("the unrolled (second-order) step unrolls the weights' SGD update: give the SGD "
                             "optimizer that trains the weights")
        self.model, self.optimizer, self.loss_fn, self.unrolled = model, optimizer, loss_fn, unrolled
        self.weight_optimizer, self.grad_clip, self.penalty = weight_optimizer, grad_clip, penalty
        self.weights, self.arch = named_split(model, arch_params)

    def _loss(self, params: dict, batch: dict) -> torch.Tensor:
        return self.loss_fn(lambda *args: functional_call(self.model, params, args), batch)

    def first_order_grads(self, val_batch: dict) -> list[torch.Tensor]:
        """grad_w L_val(theta, w)."""
        loss = self._loss({**self.weights, **self.arch}, val_batch)
        return list(torch.autograd.grad(loss, list(self.arch.values())))

    def _step_rules(self) -> dict[int, tuple[float, float, float, torch.Tensor | None]]:
        """id(param) -> (lr, momentum, weight decay, momentum buffer) of the weight optimizer."""
        rules = {}
        for group in self.weight_optimizer.param_groups:
            for p in group["params"]:
                buf = self.weight_optimizer.state.get(p, {}).get("momentum_buffer")
                rules[id(p)] = (group["lr"], group["momentum"], group["weight_decay"], buf)
        return rules

    def unrolled_weights(self, train_batch: dict) -> tuple[dict, dict]:
        """(theta', scale): theta' = the weights after the optimizer's next SGD step on `train_batch` (clipped
        gradient + weight decay, then momentum), computed without touching the model; scale[name] = lr * clip
        factor, the factor d theta' / d grad of each parameter."""
        names, theta = list(self.weights), list(self.weights.values())
        trainable = [p for p in theta if p.requires_grad]       # a frozen backbone gets no gradient and no step
        found = iter(torch.autograd.grad(self._loss({**self.weights, **self.arch}, train_batch), trainable,
                                         allow_unused=True))
        grads = [next(found) if p.requires_grad else None for p in theta]
        rules = self._step_rules()
        stepped = [(p, g) for p, g in zip(theta, grads) if g is not None and id(p) in rules]
        coef = 1.0
        if self.grad_clip:
            total = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for _, g in stepped]))
            coef = float(torch.clamp(self.grad_clip / (total + 1e-6), max=1.0))
        theta_prime, scale = {}, {}
        for n, p, g in zip(names, theta, grads):
            if g is None or id(p) not in rules:
                theta_prime[n], scale[n] = p.detach(), 0.0
                continue
            lr, momentum, decay, buf = rules[id(p)]
            d = g * coef + decay * p
            if momentum and buf is not None:
                d = momentum * buf + d
            theta_prime[n], scale[n] = (p - lr * d).detach(), lr * coef
        return theta_prime, scale

    def second_order_grads(self, train_batch: dict, val_batch: dict) -> list[torch.Tensor]:
        """grad_w L_val(theta', w) with theta' the unrolled next weight update and the finite-difference
        Hessian-vector product (module doc)."""
        names, theta = list(self.weights), list(self.weights.values())
        arch = list(self.arch.values())
        theta_prime, scale = self.unrolled_weights(train_batch)
        theta_prime = {n: v.requires_grad_(True) for n, v in theta_prime.items()}
        val_loss = self._loss({**theta_prime, **self.arch}, val_batch)
        grads = torch.autograd.grad(val_loss, arch + list(theta_prime.values()), allow_unused=True)
        d_arch = [g if g is not None else torch.zeros_like(a) for g, a in zip(grads[:len(arch)], arch)]
        v = [scale[n] * g if g is not None else torch.zeros_like(p)
             for n, g, p in zip(names, grads[len(arch):], theta)]
        norm = torch.sqrt(sum((x ** 2).sum() for x in v))
        if float(norm) == 0.0:
            return d_arch
        eps = 0.01 / norm
        hvp = []
        for sign in (1.0, -1.0):
            shifted = {n: (p + sign * eps * x).detach() for n, p, x in zip(names, theta, v)}
            g = torch.autograd.grad(self._loss({**shifted, **self.arch}, train_batch), arch, allow_unused=True)
            hvp.append([x if x is not None else torch.zeros_like(a) for x, a in zip(g, arch)])
        return [da - (gp - gm) / (2 * eps) for da, gp, gm in zip(d_arch, *hvp)]

    def step(self, train_batch: dict, val_batch: dict) -> None:
        """One architecture update (the weight optimizer's learning rates must already be this step's)."""
        grads = (self.second_order_grads(train_batch, val_batch) if self.unrolled
                 else self.first_order_grads(val_batch))
        if self.penalty is not None:
            extra = torch.autograd.grad(self.penalty(), list(self.arch.values()), allow_unused=True)
            grads = [g + e if e is not None else g for g, e in zip(grads, extra)]
        self.optimizer.zero_grad(set_to_none=True)
        for p, g in zip(self.arch.values(), grads):
            p.grad = g.detach()
        self.optimizer.step()


def _tracking_loss_fn(search_size: int, loss, cfg: TrainConfig) -> LossFn:
    """The lower/upper-level loss of a batch through `forward`, with the network's own `loss` (`model.loss`)."""
    def loss_fn(forward, batch):
        return batch_loss(forward, batch, search_size, loss, cfg)[0]
    return loss_fn


def search_to_train_config(cfg: SearchConfig, base: TrainConfig) -> TrainConfig:
    """The weight-optimisation schedule of the search as a TrainConfig (paper: exponential decay, no warm-up)."""
    keys = ("epochs", "pairs_per_epoch", "batch_size", "lr", "lr_end", "optimizer", "momentum", "weight_decay")
    merged = {**asdict(base), **{k: getattr(cfg, k) for k in keys}}
    merged.update(warmup_epochs=0.0, warmup_lr=cfg.lr)
    return TrainConfig(**merged)


def branch_state(model: SiameseNet) -> dict:
    """{'potential': {branch: {op: p}}, 'gated_off': {branch: {op: fraction}}} of both supernets now."""
    branches = {"cls": model.match_cls, "reg": model.match_reg}
    return {"potential": {b: m.potentials() for b, m in branches.items()},
            "gated_off": {b: m.gated_off() for b, m in branches.items()}}


def settling(history: list[dict], k: int, branch: str) -> dict:
    """When the retained set of a branch stopped changing: {'settled_step': first logged step from which the top-k
    set equals the final one, 'stable_last_quarter': whether it held over the last quarter of the steps}."""
    sets = [(h["step"], frozenset(top_k(h["potential"][branch], k))) for h in history]
    final, last_step = sets[-1][1], sets[-1][0]
    settled = last_step
    for step, chosen in reversed(sets):
        if chosen != final:
            break
        settled = step
    return {"settled_step": settled, "stable_last_quarter": settled <= 0.75 * last_step}


def run_search(model: SiameseNet, train_set, val_set, search_size: int, cfg: SearchConfig, base: TrainConfig,
               resources: ResourcesConfig, out_json: str | Path | None = None,
               checkpoint: str | Path | None = None, seed: int = 0) -> dict:
    """Bilevel search of the classification and regression manipulators of a BCM supernet, seeded by `seed`.

    Returns (and writes to out_json) {'seed', 'potentials' and 'gated_off' ({branch: {op: value}} at the end),
    'retained' ({branch: [ops]}), 'settling' ({branch: settling()}), 'history' ([{'step', 'potential',
    'gated_off'}] every resources.log_every steps), 'seconds', 'steps', 'config'}.
    """
    tcfg = search_to_train_config(cfg, base)
    configure_threads(resources.threads)
    seed_everything(seed)
    random.seed(seed)
    device = torch.device(resources.device)
    model.to(device)
    arch = model.arch_parameters()
    if not arch:
        raise ValueError("run_search needs a supernet (matching kind 'bcm', 'bcm_operator' or 'darts_cell')")
    w_opt = build_optimizer(model, tcfg)
    a_opt = torch.optim.Adam(arch, lr=cfg.arch_lr, betas=(0.5, 0.999), weight_decay=cfg.arch_weight_decay)
    penalty = None
    if cfg.sparsity and not hasattr(model.match_cls, "open_fraction"):
        raise ValueError("search.sparsity prices open BCM channels; the DARTS-like cell has none: set it to 0")
    if cfg.sparsity:
        penalty = lambda: cfg.sparsity * (model.match_cls.open_fraction() + model.match_reg.open_fraction())  # noqa
    architect = Architect(model, arch, a_opt, _tracking_loss_fn(search_size, model.loss, tcfg), cfg.unrolled,
                          weight_optimizer=w_opt, grad_clip=tcfg.grad_clip, penalty=penalty)
    train_loader = make_loader(train_set, cfg.batch_size, resources.workers)
    val_loader = make_loader(val_set, cfg.batch_size, 0)
    history = []

    def snapshot(step: int) -> None:
        history.append({"step": step, **branch_state(model)})

    steps = cfg.epochs * len(train_loader)
    step = 0
    snapshot(0)
    t0 = time.perf_counter()
    for epoch in range(cfg.epochs):
        train_set.set_epoch(epoch)
        val_set.set_epoch(epoch)
        model.train()
        val_iter = iter(val_loader)
        bar = tqdm(train_loader, desc=f"search seed {seed} epoch {epoch + 1}/{cfg.epochs}",
                   disable=not resources.progress, leave=False)
        for batch in bar:
            try:
                val_batch = next(val_iter)
            except StopIteration:
                val_iter = iter(val_loader)
                val_batch = next(val_iter)
            batch, val_batch = to_device(batch, device), to_device(val_batch, device)
            set_lr(w_opt, lr_at(step / max(steps, 1), tcfg))
            if step >= cfg.warmup_fraction * steps:
                architect.step(batch, val_batch)
            stats = weight_step(model, batch, w_opt, search_size, model.loss, tcfg, where=f"at search step {step + 1}")
            step += 1
            if step % resources.log_every == 0 or step == steps:
                snapshot(step)
            bar.set_postfix(loss=f"{stats['loss/total']:.3f}")
    seconds = time.perf_counter() - t0
    final = branch_state(model)
    result = {
        "seed": seed,
        "potentials": final["potential"],
        "gated_off": final["gated_off"],
        "retained": {b: top_k(final["potential"][b], cfg.retain) for b in ("cls", "reg")},
        "settling": {b: settling(history, cfg.retain, b) for b in ("cls", "reg")},
        "history": history,
        "seconds": seconds,
        "steps": steps,
        "config": asdict(cfg),
    }
    if hasattr(model.match_cls, "genotype"):     # the DARTS-like cell: edge weights and derived cell per branch
        result["cell"] = {b: {"edges": [list(e) for e in m.edge_index], "weights": m.edge_weights(),
                              "derived": m.genotype()}
                          for b, m in (("cls", model.match_cls), ("reg", model.match_reg))}
    if checkpoint is not None:
        save_checkpoint(checkpoint, model, search=result)
    if out_json is not None:
        write_json(out_json, result)
    return result
