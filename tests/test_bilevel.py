"""Bilevel optimisation of the architecture (paper Sec. 4.3, DARTS approximation), the end-to-end search on a
tiny supernet, genotypes (the random-search baseline, the one parser of architecture specs) and the DARTS-like
matching cell (supplementary ablation)."""
from __future__ import annotations

import copy
import dataclasses
import json
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from automatch_lib.config import ResourcesConfig, SearchConfig, TrainConfig, load_params
from automatch_lib.errors import ConfigError
from automatch_lib.experiments.searching import combine
from automatch_lib.experiments.training import plan_runs
from automatch_lib.model.genotype import Genotype, parse_arch, random_genotype, search_space
from automatch_lib.model.matching import DerivedCell
from automatch_lib.model.network import SiameseNet
from automatch_lib.operators import OPERATORS, SEARCH_SPACE
from automatch_lib.search.bilevel import (Architect, _tracking_loss_fn, named_split, run_search, search_to_train_config,
                                          settling)
from automatch_lib.search.darts_cell import DartsMatchingCell, derive_cell
from automatch_lib.train import build_optimizer, set_lr, weight_step
from conftest import REPO

C = 8


# --------------------------------------------------------------------------------------------- Architect

class GatedMLP(nn.Module):
    """2-layer MLP whose hidden units are gated by sigmoid(alpha): weights l1, l2; architecture alpha."""

    def __init__(self, din=3, hidden=6, dout=2):
        super().__init__()
        self.l1 = nn.Linear(din, hidden)
        self.l2 = nn.Linear(hidden, dout)
        self.alpha = nn.Parameter(torch.randn(hidden))

    def forward(self, x):
        return self.l2(torch.tanh(self.l1(x)) * torch.sigmoid(self.alpha))


def mse_loss_fn(forward, batch):
    return F.mse_loss(forward(batch["x"]), batch["y"])


def tiny_problem(seed=0):
    torch.manual_seed(seed)
    model = GatedMLP().double()
    g = torch.Generator().manual_seed(seed + 1)
    train = {"x": torch.randn(16, 3, generator=g, dtype=torch.float64),
             "y": torch.randn(16, 2, generator=g, dtype=torch.float64)}
    val = {"x": torch.randn(12, 3, generator=g, dtype=torch.float64),
           "y": torch.randn(12, 2, generator=g, dtype=torch.float64)}
    return model, train, val


def weights_of(model):
    return [p for n, p in model.named_parameters() if n != "alpha"]


def weight_sgd(model, lr, momentum=0.0, weight_decay=0.0, warm_steps=0, seed=100):
    """The lower level's SGD over the MLP weights, after `warm_steps` real steps (so a momentum buffer exists)."""
    opt = torch.optim.SGD(weights_of(model), lr=lr, momentum=momentum, weight_decay=weight_decay)
    g = torch.Generator().manual_seed(seed)
    for _ in range(warm_steps):
        batch = {"x": torch.randn(10, 3, generator=g, dtype=torch.float64),
                 "y": torch.randn(10, 2, generator=g, dtype=torch.float64)}
        opt.zero_grad(set_to_none=True)
        mse_loss_fn(model, batch).backward()
        opt.step()
    opt.zero_grad(set_to_none=True)
    model.alpha.grad = None
    return opt


def exact_unrolled_grad(model, train, val, opt):
    """d/d alpha L_val(theta', alpha) with theta' = theta - lr * (momentum * buf + g + wd * theta), g = grad_theta
    L_train(theta, alpha), by autograd through that SGD-with-momentum step (no momentum term without a buffer)."""
    (group,) = opt.param_groups
    lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
    weights = {n: p for n, p in model.named_parameters() if n != "alpha"}
    alpha = model.alpha

    def loss(params, batch):
        return mse_loss_fn(lambda x: torch.func.functional_call(model, params, (x,)), batch)

    g = torch.autograd.grad(loss({**weights, "alpha": alpha}, train), list(weights.values()), create_graph=True)
    theta_prime = {}
    for (n, p), gi in zip(weights.items(), g):
        buf = opt.state.get(p, {}).get("momentum_buffer")
        step = gi + wd * p + (momentum * buf if momentum and buf is not None else 0.0)
        theta_prime[n] = p - lr * step
    return torch.autograd.grad(loss({**theta_prime, "alpha": alpha}, val), [alpha])[0]


def test_named_split_by_identity():
    model, _, _ = tiny_problem()
    weights, arch = named_split(model, [model.alpha])
    assert list(arch) == ["alpha"] and arch["alpha"] is model.alpha
    assert set(weights) == {"l1.weight", "l1.bias", "l2.weight", "l2.bias"}


def test_first_order_grads_are_plain_autograd_of_the_val_loss():
    model, _, val = tiny_problem()
    arch = Architect(model, [model.alpha], torch.optim.SGD([model.alpha], lr=0.1), mse_loss_fn)
    (got,) = arch.first_order_grads(val)
    (ref,) = torch.autograd.grad(mse_loss_fn(model, val), [model.alpha])
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("grad_clip", [0.0, 100.0, 0.05])
def test_unrolled_weights_are_the_next_real_sgd_momentum_step(grad_clip):
    """theta' is exactly what `loss.backward(); clip_grad_norm_; optimizer.step()` does next, with a momentum
    buffer from an earlier real step, weight decay, and (grad_clip 0.05) clipping that scales the gradient."""
    model, train, _ = tiny_problem(seed=5)
    opt = weight_sgd(model, lr=0.1, momentum=0.9, weight_decay=1e-3, warm_steps=2)
    assert all("momentum_buffer" in opt.state[p] for p in weights_of(model))
    real_model, real_opt = copy.deepcopy((model, opt))
    arch = Architect(model, [model.alpha], torch.optim.Adam([model.alpha], lr=0.01), mse_loss_fn, unrolled=True,
                     weight_optimizer=opt, grad_clip=grad_clip)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    buffers = [opt.state[p]["momentum_buffer"].clone() for p in weights_of(model)]
    theta_prime, scale = arch.unrolled_weights(train)
    # the real step, as train.weight_step takes it
    real_opt.zero_grad(set_to_none=True)
    mse_loss_fn(real_model, train).backward()
    norm = float(torch.nn.utils.clip_grad_norm_(weights_of(real_model), grad_clip or float("inf")))
    real_opt.step()
    clipping = bool(grad_clip) and norm > grad_clip
    assert clipping == (grad_clip == 0.05), norm          # the clipping case really clips, the others do not
    assert set(theta_prime) == set(scale) == {"l1.weight", "l1.bias", "l2.weight", "l2.bias"}
    for n, p in real_model.named_parameters():
        if n == "alpha":
            continue
        torch.testing.assert_close(theta_prime[n], p.detach(), rtol=0, atol=1e-6)
        assert not torch.equal(theta_prime[n], before[n]), n
        expected = 0.1 * (grad_clip / (norm + 1e-6) if clipping else 1.0)
        assert scale[n] == pytest.approx(expected, rel=1e-9), n
        assert not theta_prime[n].requires_grad
    # nothing of the model or its optimizer moved
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]), n
    for p, buf in zip(weights_of(model), buffers):
        assert torch.equal(opt.state[p]["momentum_buffer"], buf)


def test_unrolled_weights_without_a_momentum_buffer_take_the_first_sgd_step():
    model, train, _ = tiny_problem(seed=6)
    opt = weight_sgd(model, lr=0.2, momentum=0.9, weight_decay=1e-2)
    assert not opt.state
    real_model, real_opt = copy.deepcopy((model, opt))
    arch = Architect(model, [model.alpha], torch.optim.Adam([model.alpha]), mse_loss_fn, unrolled=True,
                     weight_optimizer=opt)
    theta_prime, _ = arch.unrolled_weights(train)
    real_opt.zero_grad(set_to_none=True)
    mse_loss_fn(real_model, train).backward()
    real_opt.step()
    for n, p in real_model.named_parameters():
        if n != "alpha":
            torch.testing.assert_close(theta_prime[n], p.detach(), rtol=0, atol=1e-12)


def fake_batch(n, seed):
    data = FakePairs(n, seed=seed)
    return {k: torch.stack([data[i][k] for i in range(n)]) for k in data[0]}


@pytest.mark.parametrize("frozen_backbone", [False, True])
def test_unrolled_weights_of_a_supernet_equal_weight_step(frozen_backbone):
    """The search's own pieces: a BCM supernet, `build_optimizer` (backbone group at lr * backbone_lr_scale) and
    `train.weight_step` with gradient-norm clipping that is active. With the backbone frozen (how the pipeline
    searches, on cached features of the shared backbone) it gets neither gradient nor step."""
    torch.manual_seed(7)
    model = SiameseNet(SEARCH_OPS[:3], SEARCH_OPS[:3], channels=C, matching="bcm", head_layers=1)
    if frozen_backbone:
        model.backbone.requires_grad_(False)
    cfg = TrainConfig(optimizer="sgd", lr=0.05, momentum=0.9, weight_decay=1e-3, grad_clip=0.5,
                      backbone_lr_scale=0.1)
    opt = build_optimizer(model, cfg)
    set_lr(opt, cfg.lr)
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.005, 0.05])
    model.train()
    weight_step(model, fake_batch(2, seed=3), opt, 64, model.loss, cfg)     # a momentum buffer exists now
    real_model, real_opt = copy.deepcopy((model, opt))
    arch = Architect(model, model.arch_parameters(), torch.optim.Adam(model.arch_parameters()),
                     _tracking_loss_fn(64, model.loss, cfg), unrolled=True, weight_optimizer=opt,
                     grad_clip=cfg.grad_clip)
    batch = fake_batch(2, seed=4)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    theta_prime, scale = arch.unrolled_weights(batch)
    weight_step(real_model, batch, real_opt, 64, real_model.loss, cfg)
    arch_names = {"match_cls.manipulators", "match_reg.manipulators"}
    assert set(theta_prime) == {n for n, _ in model.named_parameters()} - arch_names
    moved = set()
    for n, p in real_model.named_parameters():
        if n in arch_names:
            continue
        torch.testing.assert_close(theta_prime[n], p.detach(), rtol=0, atol=1e-6, msg=n)
        if not torch.equal(theta_prime[n], before[n]):
            moved.add(n)
        if n.startswith("backbone.") and frozen_backbone:
            assert scale[n] == 0.0 and torch.equal(theta_prime[n], before[n]), n
    assert any(n.startswith("match_cls.ops.") for n in moved) and any(n.startswith("reg_head.") for n in moved)
    assert any(n.startswith("backbone.") for n in moved) != frozen_backbone
    # clipping is active: d theta' / d g is lr * clip factor < lr
    head = next(n for n in theta_prime if n.startswith("cls_head."))
    assert 0 < scale[head] < 0.05


@pytest.mark.parametrize("lr", [0.05, 0.5])
@pytest.mark.parametrize("warm_steps", [0, 2])
def test_second_order_grads_match_autograd_through_the_unrolled_momentum_step(lr, warm_steps):
    model, train, val = tiny_problem(seed=2)
    opt = weight_sgd(model, lr=lr, momentum=0.9, weight_decay=1e-3, warm_steps=warm_steps)
    assert bool(opt.state) == bool(warm_steps)
    arch = Architect(model, [model.alpha], torch.optim.SGD([model.alpha], lr=0.1), mse_loss_fn, unrolled=True,
                     weight_optimizer=opt)
    (got,) = arch.second_order_grads(train, val)
    exact = exact_unrolled_grad(model, train, val, opt)
    first = arch.first_order_grads(val)[0]
    scale = exact.abs().max()
    assert scale > 1e-3
    # the unrolled correction is material here, so agreeing with `exact` is a real check
    assert (first - exact).abs().max() > 50 * 1e-4 * scale
    torch.testing.assert_close(got, exact, rtol=0, atol=1e-4 * float(scale))
    if warm_steps:
        # the momentum term matters: an unroll that ignored the buffer would be off by far more than the tolerance
        (group,) = opt.param_groups
        stateless = torch.optim.SGD(group["params"], lr=lr, momentum=0.9, weight_decay=1e-3)
        ignoring_buffer = exact_unrolled_grad(model, train, val, stateless)
        assert (ignoring_buffer - exact).abs().max() > 50 * 1e-4 * scale


def test_second_order_with_zero_step_is_first_order():
    model, train, val = tiny_problem(seed=3)
    opt = weight_sgd(model, lr=0.0, momentum=0.9, weight_decay=1e-3, warm_steps=1)
    arch = Architect(model, [model.alpha], torch.optim.SGD([model.alpha], lr=0.1), mse_loss_fn, unrolled=True,
                     weight_optimizer=opt)
    torch.testing.assert_close(arch.second_order_grads(train, val)[0], arch.first_order_grads(val)[0])


def test_unrolled_needs_the_sgd_weight_optimizer():
    model, _, _ = tiny_problem()
    arch_opt = torch.optim.Adam([model.alpha])
    for weight_opt in (None, torch.optim.Adam(weights_of(model)), torch.optim.AdamW(weights_of(model))):
        with pytest.raises(ValueError, match="SGD"):
            Architect(model, [model.alpha], arch_opt, mse_loss_fn, unrolled=True, weight_optimizer=weight_opt)
    # first order needs no weight optimizer at all
    Architect(model, [model.alpha], arch_opt, mse_loss_fn, unrolled=False, weight_optimizer=None)
    with pytest.raises(ConfigError, match="search.optimizer: sgd"):
        SearchConfig(unrolled=True, optimizer="adamw")
    assert SearchConfig(unrolled=True, optimizer="sgd").unrolled


@pytest.mark.parametrize("unrolled", [False, True])
def test_architect_step_changes_only_the_architecture(unrolled):
    model, train, val = tiny_problem(seed=4)
    w_opt = weight_sgd(model, lr=0.1, momentum=0.9, weight_decay=1e-3, warm_steps=1)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    buffers = [w_opt.state[p]["momentum_buffer"].clone() for p in weights_of(model)]
    opt = torch.optim.Adam([model.alpha], lr=0.05)
    arch = Architect(model, [model.alpha], opt, mse_loss_fn, unrolled=unrolled, weight_optimizer=w_opt)
    expected_grad = (exact_unrolled_grad(model, train, val, w_opt) if unrolled
                     else torch.autograd.grad(mse_loss_fn(model, val), [model.alpha])[0])
    arch.step(train, val)
    for n, p in model.named_parameters():
        if n == "alpha":
            assert not torch.equal(p, before[n]), "the architecture did not move"
            # Adam's first step moves each coordinate by lr against the sign of its gradient
            torch.testing.assert_close(p.detach() - before[n], -0.05 * torch.sign(expected_grad), rtol=1e-3,
                                       atol=1e-6)
        else:
            assert torch.equal(p, before[n]), f"weight {n} changed in an architecture step"
            assert p.grad is None or p.grad.abs().sum() == 0
    for p, buf in zip(weights_of(model), buffers):
        assert torch.equal(w_opt.state[p]["momentum_buffer"], buf), "the weight optimizer's state changed"


def test_architect_step_adds_the_penalty_gradient():
    """The sparsity price: the architecture gradient is that of L_val + penalty()."""
    model, _, val = tiny_problem(seed=8)
    price = lambda: 0.3 * torch.sigmoid(model.alpha).mean()   # noqa: E731
    before = model.alpha.detach().clone()
    arch = Architect(model, [model.alpha], torch.optim.SGD([model.alpha], lr=1.0), mse_loss_fn, penalty=price)
    expected = torch.autograd.grad(mse_loss_fn(model, val) + price(), [model.alpha])[0]
    plain = torch.autograd.grad(mse_loss_fn(model, val), [model.alpha])[0]
    assert (expected - plain).abs().min() > 1e-3
    arch.step(None, val)
    torch.testing.assert_close(model.alpha.detach(), before - expected, rtol=0, atol=1e-12)


def test_search_to_train_config_copies_the_sgd_step():
    cfg = SearchConfig(optimizer="sgd", momentum=0.7, weight_decay=3e-3, lr=0.02, lr_end=0.002, epochs=3,
                       batch_size=4, pairs_per_epoch=40)
    base = TrainConfig(momentum=0.1, weight_decay=0.5, grad_clip=2.0, label_radius=3)
    t = search_to_train_config(cfg, base)
    assert (t.optimizer, t.momentum, t.weight_decay, t.lr, t.lr_end, t.epochs, t.batch_size, t.pairs_per_epoch) == \
        ("sgd", 0.7, 3e-3, 0.02, 0.002, 3, 4, 40)
    assert (t.grad_clip, t.label_radius, t.warmup_epochs) == (2.0, 3, 0.0)


# --------------------------------------------------------------------------------------------- settling

def _history(change_at, steps=100, every=10):
    """Logged potentials whose top-2 set is {a, b} before `change_at` and {a, c} from it on; the order inside the
    set swaps at step 80 (not a change of the retained set)."""
    out = []
    for step in range(0, steps + 1, every):
        if step < change_at:
            pot = {"a": 5.0, "b": 4.0, "c": 3.0, "d": 1.0}
        else:
            pot = {"a": 5.0, "b": 3.0, "c": 4.0, "d": 1.0}
        if step >= 80 and step >= change_at:
            pot["a"], pot["c"] = pot["c"], pot["a"]
        out.append({"step": step, "potential": {"cls": pot, "reg": {"a": 1.0, "b": 2.0, "c": 3.0, "d": 4.0}},
                    "gated_off": {"cls": {}, "reg": {}}})
    return out


@pytest.mark.parametrize("change_at,settled,stable", [(50, 50, True), (90, 90, False), (75, 80, False),
                                                      (70, 70, True), (0, 0, True)])
def test_settling_is_the_last_change_of_the_retained_set(change_at, settled, stable):
    history = _history(change_at)
    assert settling(history, 2, "cls") == {"settled_step": settled, "stable_last_quarter": stable}
    assert settling(history, 2, "reg") == {"settled_step": 0, "stable_last_quarter": True}
    # with k = 1 the swap at step 80 is a change of the retained operator
    assert settling(history, 1, "cls")["settled_step"] == (80 if change_at <= 80 else change_at)


# --------------------------------------------------------------------------------------------- run_search

class FakePairs(Dataset):
    """Seeded random training pairs in the PairDataset format, with set_epoch()."""

    def __init__(self, n=4, seed=0):
        self.n, self.seed, self.epoch = n, seed, 0
        self.epochs_seen = []

    def set_epoch(self, epoch):
        self.epoch = epoch
        self.epochs_seen.append(epoch)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch * 1009 + i)
        cx, cy = 32 + float(torch.randint(-8, 9, (1,), generator=g)), 32 + float(torch.randint(-8, 9, (1,),
                                                                                               generator=g))
        w, h = 12 + float(torch.randint(0, 10, (1,), generator=g)), 12 + float(torch.randint(0, 10, (1,),
                                                                                              generator=g))
        return {"template": torch.rand(3, 32, 32, generator=g) * 255,
                "search": torch.rand(3, 64, 64, generator=g) * 255,
                "template_box": torch.tensor([10.0, 9.0, 22.0, 23.0]),
                "search_box": torch.tensor([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]),
                "negative": torch.tensor(i % 4 == 3)}


SEARCH_OPS = list(SEARCH_SPACE)
RESOURCES = ResourcesConfig(threads=1, workers=0, progress=False, log_every=1)


def tiny_search(seed=0, unrolled=False, tmp_path=None, warmup_fraction=0.0, frozen_backbone=False, sparsity=0.0):
    torch.manual_seed(seed)
    model = SiameseNet(SEARCH_OPS, SEARCH_OPS, backbone="small", channels=C, matching="bcm", head_layers=1)
    if frozen_backbone:
        model.backbone.requires_grad_(False)
    cfg = SearchConfig(operators=SEARCH_OPS, epochs=2, batch_size=2, seeds=[seed], arch_lr=0.05, retain=2,
                       unrolled=unrolled, optimizer="sgd" if unrolled else "adamw", warmup_fraction=warmup_fraction,
                       sparsity=sparsity)
    base = TrainConfig(seeds=[seed])
    train_set, val_set = FakePairs(4, seed=1), FakePairs(2, seed=2)
    out_json = None if tmp_path is None else tmp_path / "search.json"
    result = run_search(model, train_set, val_set, search_size=64, cfg=cfg, base=base, resources=RESOURCES,
                        out_json=out_json, seed=seed)
    return model, result, train_set, out_json


@pytest.fixture(scope="module")
def search_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search")
    return tiny_search(seed=0, tmp_path=tmp), tiny_search(seed=0)


def test_run_search_result(search_runs):
    (model, result, train_set, out_json), _ = search_runs
    assert set(result) == {"seed", "potentials", "gated_off", "retained", "settling", "history", "seconds", "steps",
                           "config"}
    assert result["seed"] == 0 and result["config"]["seeds"] == [0]
    for branch in ("cls", "reg"):
        pots = result["potentials"][branch]
        assert list(pots) == SEARCH_OPS
        assert all(0 < p < C for p in pots.values())
        kept = result["retained"][branch]
        assert len(kept) == 2 and len(set(kept)) == 2 and set(kept) <= set(SEARCH_OPS)
        # retained = the two largest potentials
        assert min(pots[k] for k in kept) >= max(p for n, p in pots.items() if n not in kept)
        # gated off = the fraction of channels with w <= 0, per operator
        match = getattr(model, f"match_{branch}")
        closed = (match.manipulators.detach() <= 0).float().mean(dim=1)
        assert result["gated_off"][branch] == pytest.approx(dict(zip(SEARCH_OPS, closed.tolist())))
        assert result["settling"][branch] == settling(result["history"], 2, branch)
    assert result["potentials"]["cls"] == model.match_cls.potentials()
    steps = 2 * (4 // 2)
    assert result["steps"] == steps
    assert len(result["history"]) == steps + 1 > 1
    assert [h["step"] for h in result["history"]] == list(range(steps + 1))
    assert all(set(h) == {"step", "potential", "gated_off"} for h in result["history"])
    assert result["history"][-1]["potential"] == result["potentials"]
    assert result["history"][-1]["gated_off"] == result["gated_off"]
    assert train_set.epochs_seen == [0, 1]
    # the architecture moved away from its initial value (init = 1.0 for every channel)
    init = C * float(torch.sigmoid(torch.tensor(1.0)))
    assert result["history"][0]["potential"]["cls"] == pytest.approx({n: init for n in SEARCH_OPS})
    assert result["history"][0]["gated_off"]["cls"] == {n: 0.0 for n in SEARCH_OPS}
    assert any(abs(p - init) > 1e-4 for p in result["potentials"]["cls"].values())
    assert any(abs(p - init) > 1e-4 for p in result["potentials"]["reg"].values())
    on_disk = json.loads(out_json.read_text())
    assert on_disk["retained"] == result["retained"] and on_disk["settling"] == result["settling"]
    assert on_disk["potentials"]["reg"] == pytest.approx(result["potentials"]["reg"])


def test_run_search_is_deterministic(search_runs):
    (model_a, a, _, _), (model_b, b, _, _) = search_runs
    assert a["potentials"] == b["potentials"]
    assert a["retained"] == b["retained"]
    assert [h["potential"] for h in a["history"]] == [h["potential"] for h in b["history"]]
    for (n, pa), pb in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(pa, pb), n


def test_warmup_steps_leave_the_manipulators_untouched():
    _, result, _, _ = tiny_search(seed=0, warmup_fraction=0.5)
    init = C * float(torch.sigmoid(torch.tensor(1.0)))
    history = result["history"]   # steps 0..4; architecture steps start at step 2 (= 0.5 * 4)
    for h in history[:3]:
        assert h["potential"]["cls"] == pytest.approx({n: init for n in SEARCH_OPS})
        assert h["potential"]["reg"] == h["potential"]["cls"]
    assert any(abs(p - init) > 1e-4 for p in history[-1]["potential"]["cls"].values())


def test_run_search_unrolled_runs_on_a_frozen_backbone():
    """The pipeline searches on the frozen shared backbone; the second-order step must leave it alone."""
    torch.manual_seed(1)
    frozen = SiameseNet(SEARCH_OPS, SEARCH_OPS, backbone="small", channels=C, matching="bcm", head_layers=1)
    backbone_before = {k: v.clone() for k, v in frozen.backbone.state_dict().items()}
    model, result, _, _ = tiny_search(seed=1, unrolled=True, frozen_backbone=True)
    assert result["config"]["unrolled"] and result["config"]["optimizer"] == "sgd"
    assert set(result["potentials"]["cls"]) == set(SEARCH_OPS)
    assert all(torch.isfinite(torch.tensor(list(result["potentials"]["reg"].values()))))
    init = C * float(torch.sigmoid(torch.tensor(1.0)))
    assert any(abs(p - init) > 1e-4 for p in result["potentials"]["cls"].values())
    # same seed, same initial network: only the BatchNorm statistics of the (train-mode) backbone may move
    for k, v in model.backbone.state_dict().items():
        if "running" not in k and "num_batches" not in k:
            assert torch.equal(v, backbone_before[k]), k


def test_sparsity_price_lowers_every_potential():
    """The price per open channel pushes every manipulator down compared with the same search without it."""
    _, plain, _, _ = tiny_search(seed=2)
    _, priced, _, _ = tiny_search(seed=2, sparsity=50.0)
    for branch in ("cls", "reg"):
        for op in SEARCH_OPS:
            assert priced["potentials"][branch][op] < plain["potentials"][branch][op], (branch, op)


def test_run_search_rejects_a_fixed_network():
    model = SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=C, head_layers=1)
    with pytest.raises(ValueError, match="supernet"):
        run_search(model, FakePairs(2), FakePairs(2), 64, SearchConfig(epochs=1, batch_size=2), TrainConfig(),
                   RESOURCES)


# --------------------------------------------------------------------------------------------- random search

def test_random_genotype():
    ops = list(SEARCH_SPACE)
    gens = [random_genotype(ops, 2, (1, s), name=f"random_{s}") for s in range(6)]
    assert all(isinstance(g, Genotype) for g in gens)
    assert [g.name for g in gens] == [f"random_{s}" for s in range(6)]
    for g in gens:
        for branch in (g.cls, g.reg):
            assert isinstance(branch, tuple)
            assert len(branch) == 2 and len(set(branch)) == 2 and set(branch) <= set(ops)
            assert list(branch) == sorted(branch, key=ops.index)       # search-space order
    assert [random_genotype(ops, 2, (1, s), name=f"random_{s}") for s in range(6)] == gens   # seeded
    assert len({(g.cls, g.reg) for g in gens}) > 1
    assert len({g.cls for g in gens}) > 1
    assert any(g.cls != g.reg for g in gens), "cls and reg draws are not independent"
    # the whole seed tuple counts: another base seed draws other genotypes
    assert [(g.cls, g.reg) for g in gens] != [(h.cls, h.reg) for h in
                                              (random_genotype(ops, 2, (2, s)) for s in range(6))]
    g = random_genotype(ops, 5, (7, 0))
    assert len(set(g.cls)) == 5 and len(set(g.reg)) == 5 and g.name == "random"
    assert random_genotype(ops, len(ops), (0, 0)).cls == tuple(ops)
    with pytest.raises(ConfigError, match="random_search.k = 8 exceeds the 7 operators"):
        random_genotype(ops, 8, (0, 0))


# --------------------------------------------------------------------------------------------- genotypes

def test_genotype_save_load_round_trip_and_byte_identical_resave(tmp_path):
    g = Genotype(("film", "simple_transformer"), ("pairwise_relation", "film"))
    g.save(tmp_path / "a.json")
    assert json.loads((tmp_path / "a.json").read_text()) == {"cls": ["film", "simple_transformer"],
                                                             "reg": ["pairwise_relation", "film"]}
    loaded = Genotype.load(tmp_path / "a.json")
    assert loaded.cls == g.cls and loaded.reg == g.reg and loaded.name == "a"
    assert Genotype.load(tmp_path / "a.json", name="automatch") == g
    loaded.save(tmp_path / "b.json")
    assert (tmp_path / "b.json").read_bytes() == (tmp_path / "a.json").read_bytes()
    g.save(tmp_path / "a.json")   # rewriting the same operators changes no byte (DVC does not retrain)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))
    # the order is the layout of the matching network: a different order is a different genotype
    assert Genotype(("simple_transformer", "film"), g.reg) != g


def test_genotype_rejects_unknown_or_missing_operators_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match=re.escape("cls operators ['film', 'magic']")) as err:
        Genotype(("film", "magic"), ("film",))
    for name in OPERATORS:
        assert name in str(err.value)
    with pytest.raises(ConfigError, match=re.escape("reg operators []")):
        Genotype(("film",), ())
    (tmp_path / "bad.json").write_text('{"cls": ["film"], "reg": ["film"], "extra": 1}')
    with pytest.raises(ConfigError, match="bad.json: a genotype file holds the keys 'cls' and 'reg'"):
        Genotype.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Genotype.load(tmp_path / "missing.json")


@pytest.fixture(scope="module")
def params():
    return load_params(REPO / "params.yaml")


def test_parse_arch_each_spec_form(params, tmp_path):
    base = parse_arch("baseline", params, name="baseline")
    assert (base.cls, base.reg, base.name) == (tuple(params.baseline.cls_ops), tuple(params.baseline.reg_ops),
                                               "baseline")
    Genotype(("film", "concat"), ("pg_corr", "dw_xcorr")).save(tmp_path / "genotype.json")
    found = parse_arch(f"genotype:{tmp_path / 'genotype.json'}", params)
    assert (found.cls, found.reg, found.name) == (("film", "concat"), ("pg_corr", "dw_xcorr"), "automatch")
    ops = parse_arch("ops:film,simple_transformer/film,pairwise_relation", params, name="mine")
    assert (ops.cls, ops.reg, ops.name) == (("film", "simple_transformer"), ("film", "pairwise_relation"), "mine")
    # the fixed specs do not depend on the training seed
    assert parse_arch("baseline", params, name="baseline", seed=3) == base
    # 'random': one genotype per training seed, drawn with the generator seeded (random_search.seed, seed)
    assert search_space(params) == list(SEARCH_SPACE)          # params.yaml leaves search.operators empty
    assert "dw_xcorr" not in SEARCH_SPACE and "pg_corr" not in SEARCH_SPACE and "point_dw" in SEARCH_SPACE
    for seed in (0, 1, 5):
        rand = parse_arch("random", params, name="random", seed=seed)
        assert isinstance(rand, Genotype) and rand.name == "random"
        assert rand == random_genotype(list(SEARCH_SPACE), params.random_search.k, (params.random_search.seed, seed),
                                       "random")
        assert len(rand.cls) == len(rand.reg) == params.random_search.k
    draws = {(g.cls, g.reg) for g in (parse_arch("random", params, seed=s) for s in range(8))}
    assert len(draws) > 1, "every seed drew the same random genotype"
    other = dataclasses.replace(params, random_search=dataclasses.replace(params.random_search, seed=9))
    assert [parse_arch("random", other, seed=s) for s in range(4)] != [parse_arch("random", params, seed=s)
                                                                       for s in range(4)]
    narrowed = dataclasses.replace(params, search=dataclasses.replace(params.search, operators=["film", "concat"]))
    assert search_space(narrowed) == ["film", "concat"]
    assert parse_arch("random", narrowed, seed=0).cls == ("film", "concat")   # k = 2 of 2


@pytest.mark.parametrize("spec", ["", "automatch", "ops:film", "ops:film/dw_xcorr/concat", "genotype", "Baseline"])
def test_parse_arch_bad_spec_names_it_and_the_forms(params, spec):
    with pytest.raises(ConfigError) as err:
        parse_arch(spec, params)
    msg = str(err.value)
    assert f"unknown architecture spec {spec!r}" in msg
    for form in ("baseline", "genotype:<file.json>", "random", "ops:<cls,ops>/<reg,ops>"):
        assert form in msg


def test_parse_arch_unknown_operator_or_missing_file(params, tmp_path):
    with pytest.raises(ConfigError, match=re.escape("reg operators ['nope']")):
        parse_arch("ops:film/nope", params)
    with pytest.raises(FileNotFoundError, match="none.json"):
        parse_arch(f"genotype:{tmp_path / 'none.json'}", params)


def test_plan_runs_one_checkpoint_per_training_seed(params, tmp_path):
    seeds = params.train.seeds
    assert len(seeds) > 1
    runs = plan_runs(params, "baseline", tmp_path / "baseline")
    assert [(s, c) for _, s, c in runs] == [(s, tmp_path / "baseline" / f"seed_{s}.pt") for s in seeds]
    assert all(g == parse_arch("baseline", params, name="baseline") for g, _, _ in runs)
    runs = plan_runs(params, "random", tmp_path / "random")
    assert [c for _, _, c in runs] == [tmp_path / "random" / f"seed_{s}.pt" for s in seeds]
    assert [g for g, _, _ in runs] == [parse_arch("random", params, name="random", seed=s) for s in seeds]
    assert all(g.name == "random" for g, _, _ in runs)


def test_plan_runs_one_seed_still_writes_into_the_folder_and_draws_its_own_genotype(params, tmp_path):
    one = dataclasses.replace(params, train=dataclasses.replace(params.train, seeds=[1]))
    ((g, seed, path),) = plan_runs(one, "random", tmp_path / "random")
    assert (seed, path) == (1, tmp_path / "random" / "seed_1.pt")
    # a seed's draw does not depend on the other seeds of the run
    assert g == next(h for h, s, _ in plan_runs(params, "random", tmp_path / "random") if s == 1)


# --------------------------------------------------------------------------------------------- DARTS-like cell

CELL_OPS = ["dw_xcorr", "film", "pairwise_relation"]


def test_darts_cell_forward_and_arch_parameters():
    torch.manual_seed(20)
    cell = DartsMatchingCell(CELL_OPS, C, nodes=2)
    g = torch.Generator().manual_seed(21)
    x, z = torch.randn(2, C, 7, 9, generator=g), torch.randn(2, C, 5, 5, generator=g)
    box = torch.tensor([[1.0, 1.0, 4.0, 4.0]] * 2)
    out = cell(x, z, box)
    assert out.shape == (2, C, 7, 9)
    assert cell.arch_parameters() == [cell.alphas]
    assert cell.alphas.shape == (len(cell.edges), len(CELL_OPS)) == (3, 3)  # edges: 1 into node 1, 2 into node 2
    out.mean().backward()
    assert cell.alphas.grad is not None and cell.alphas.grad.abs().sum() > 0


def test_darts_cell_genotype():
    torch.manual_seed(22)
    cell = DartsMatchingCell(CELL_OPS, C, nodes=3)  # node 3 has three incoming edges: keep two
    assert cell.edge_index == [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]
    alphas = torch.zeros(6, 3)
    alphas[0, 2] = 1.0      # node 1 <- s0: pairwise_relation
    alphas[1, 0] = 3.0      # node 2 <- s0: dw_xcorr (strong)
    alphas[2, 1] = 2.0      # node 2 <- s1: film
    alphas[3, 1] = 0.5      # node 3 <- s0: film (weakest, dropped)
    alphas[4, 2] = 4.0      # node 3 <- s1: pairwise_relation (strongest)
    alphas[5, 0] = 1.5      # node 3 <- s2: dw_xcorr
    with torch.no_grad():
        cell.alphas.copy_(alphas)
    geno = cell.genotype()
    assert geno == ["pairwise_relation@0-1", "dw_xcorr@0-2", "film@1-2", "pairwise_relation@1-3", "dw_xcorr@2-3"]
    # the derived cell is a trainable fixed network with the same node structure, and a valid genotype
    derived = DerivedCell(geno, C)
    assert derived.edges == [(0, 1), (0, 2), (1, 2), (1, 3), (2, 3)] and derived.arch_parameters() == []
    x, z, box = torch.randn(2, C, 9, 9), torch.randn(2, C, 5, 5), torch.tensor([[1.0, 1.0, 4.0, 4.0]] * 2)
    assert derived(x, z, box).shape == (2, C, 9, 9)
    g = Genotype(tuple(geno), tuple(geno[:3]))
    assert g.matching == "cell" and Genotype(("film",), ("film",)).matching == "fixed"
    net = SiameseNet(list(g.cls), list(g.reg), channels=C, matching=g.matching, head_layers=1)
    assert net.arch_parameters() == [] and net.match_reg.nodes == 2


def test_derived_cells_are_checked():
    with pytest.raises(ConfigError, match="mixes cell edges"):
        Genotype(("film@0-1",), ("film",))
    with pytest.raises(ConfigError, match="input < node"):
        Genotype(("film@2-1",), ("film@0-1",))
    with pytest.raises(ConfigError, match="known operators"):
        Genotype(("flim@0-1",), ("film@0-1",))
    with pytest.raises(ValueError, match="node 1 has no incoming edge"):
        DerivedCell(["film@0-2"], C)


def test_darts_cell_in_siamese_net_has_arch_parameters():
    torch.manual_seed(23)
    net = SiameseNet(CELL_OPS, CELL_OPS, channels=C, matching="darts_cell", head_layers=1)
    arch = net.arch_parameters()
    assert arch == [net.match_cls.alphas, net.match_reg.alphas] and arch[0] is not arch[1]
    ids = {id(p) for p in net.weight_parameters()}
    assert not ids & {id(p) for p in arch}
    assert len(ids) + len(arch) == len(list(net.parameters()))


def test_darts_cell_potentials_and_gated_off_follow_the_edge_weights():
    cell = DartsMatchingCell(CELL_OPS, C, nodes=2)
    alphas = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, 0.0, 0.0]])
    with torch.no_grad():
        cell.alphas.copy_(alphas)
    w = torch.softmax(alphas, dim=-1)
    pots = cell.potentials()
    assert list(pots) == CELL_OPS
    assert pots["dw_xcorr"] == pytest.approx(float(w[:, 0].sum()))
    assert sum(pots.values()) == pytest.approx(3.0)                 # one unit of weight per edge
    # dw_xcorr is the strongest on edges 0 and 2, film on edge 1, pairwise_relation nowhere
    assert cell.gated_off() == pytest.approx({"dw_xcorr": 1 / 3, "film": 2 / 3, "pairwise_relation": 1.0})


def test_run_search_searches_the_darts_cell_and_reports_its_derived_cell():
    torch.manual_seed(24)
    model = SiameseNet(CELL_OPS, CELL_OPS, backbone="small", channels=C, matching="darts_cell", head_layers=1)
    cfg = SearchConfig(operators=CELL_OPS, granularity="cell", epochs=1, batch_size=2, seeds=[0], arch_lr=0.05,
                       retain=2)
    before = model.match_cls.alphas.detach().clone()
    result = run_search(model, FakePairs(4, seed=1), FakePairs(2, seed=2), search_size=64, cfg=cfg,
                        base=TrainConfig(seeds=[0]), resources=RESOURCES, seed=0)
    assert not torch.equal(before, model.match_cls.alphas.detach())     # the architecture moved
    for branch in ("cls", "reg"):
        assert set(result["potentials"][branch]) == set(CELL_OPS)
        assert len(result["retained"][branch]) == 2
        cell = result["cell"][branch]
        assert [tuple(e) for e in cell["edges"]] == [(1, 0), (2, 0), (2, 1)]
        assert np.allclose(np.sum(cell["weights"], axis=1), 1.0)
        assert [s.split("@")[1] for s in cell["derived"]] == ["0-1", "0-2", "1-2"]   # 2 nodes: every edge kept
    with pytest.raises(ValueError, match="sparsity"):
        run_search(model, FakePairs(4, seed=1), FakePairs(2, seed=2), search_size=64,
                   cfg=dataclasses.replace(cfg, sparsity=0.1), base=TrainConfig(seeds=[0]), resources=RESOURCES)


def _cell_run(weights: list[list[float]]) -> dict:
    edges = [[1, 0], [2, 0], [2, 1]]
    derived = derive_cell(weights, [tuple(e) for e in edges], CELL_OPS)
    branch = {"edges": edges, "weights": weights, "derived": derived}
    flat = {o: 1.0 for o in CELL_OPS}
    return {"potentials": {"cls": flat, "reg": flat}, "gated_off": {"cls": flat, "reg": flat},
            "retained": {"cls": derived, "reg": derived}, "cell": {"cls": branch, "reg": branch}}


def test_several_cell_searches_derive_the_cell_of_their_mean_edge_weights():
    # seed A is sure of film on edge 1 -> 2, seed B mildly prefers dw_xcorr there: the mean keeps film
    a = _cell_run([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.0, 1.0, 0.0]])
    b = _cell_run([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.5, 0.4, 0.1]])
    assert a["cell"]["cls"]["derived"][2] == "film@1-2" and b["cell"]["cls"]["derived"][2] == "dw_xcorr@1-2"
    out = combine([a, b], retain=2)
    assert out["retained"]["cls"] == ["dw_xcorr@0-1", "pairwise_relation@0-2", "film@1-2"]
    assert out["agreement"]["cls"] == 0.5                 # one seed of two derived that very cell
