"""Bilevel optimisation of the architecture (paper Sec. 4.3, DARTS approximation), the end-to-end search on a
tiny supernet, genotypes (the random-search baseline, the one parser of architecture specs) and the DARTS-like
matching cell (supplementary ablation)."""
from __future__ import annotations

import dataclasses
import json
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from automatch_lib.config import ResourcesConfig, SearchConfig, TrainConfig, load_params
from automatch_lib.errors import ConfigError
from automatch_lib.experiments.training import plan_runs
from automatch_lib.model.genotype import Genotype, parse_arch, random_genotypes, search_space
from automatch_lib.model.network import SiameseNet
from automatch_lib.operators import OPERATORS
from automatch_lib.search.bilevel import Architect, named_split, run_search
from automatch_lib.search.darts_cell import DartsMatchingCell
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


def exact_unrolled_grad(model, train, val, eta):
    """d/d alpha L_val(theta - eta * grad_theta L_train(theta, alpha), alpha), by autograd through the step."""
    weights = {n: p for n, p in model.named_parameters() if n != "alpha"}
    alpha = model.alpha

    def loss(params, batch):
        return mse_loss_fn(lambda x: torch.func.functional_call(model, params, (x,)), batch)

    g = torch.autograd.grad(loss({**weights, "alpha": alpha}, train), list(weights.values()), create_graph=True)
    theta_prime = {n: p - eta * gi for (n, p), gi in zip(weights.items(), g)}
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


@pytest.mark.parametrize("eta", [0.05, 0.5])
def test_second_order_grads_match_autograd_through_the_unrolled_step(eta):
    model, train, val = tiny_problem(seed=2)
    arch = Architect(model, [model.alpha], torch.optim.SGD([model.alpha], lr=0.1), mse_loss_fn, unrolled=True)
    (got,) = arch.second_order_grads(train, val, eta)
    exact = exact_unrolled_grad(model, train, val, eta)
    first = arch.first_order_grads(val)[0]
    scale = exact.abs().max()
    assert scale > 1e-3
    # the unrolled correction is material here, so agreeing with `exact` is a real check
    assert (first - exact).abs().max() > 50 * 1e-4 * scale
    torch.testing.assert_close(got, exact, rtol=0, atol=1e-4 * float(scale))


def test_second_order_with_zero_step_is_first_order():
    model, train, val = tiny_problem(seed=3)
    arch = Architect(model, [model.alpha], torch.optim.SGD([model.alpha], lr=0.1), mse_loss_fn, unrolled=True)
    torch.testing.assert_close(arch.second_order_grads(train, val, 0.0)[0], arch.first_order_grads(val)[0])


@pytest.mark.parametrize("unrolled", [False, True])
def test_architect_step_changes_only_the_architecture(unrolled):
    model, train, val = tiny_problem(seed=4)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.Adam([model.alpha], lr=0.05)
    arch = Architect(model, [model.alpha], opt, mse_loss_fn, unrolled=unrolled)
    expected_grad = (exact_unrolled_grad(model, train, val, 0.1) if unrolled
                     else torch.autograd.grad(mse_loss_fn(model, val), [model.alpha])[0])
    arch.step(train, val, eta=0.1)
    for n, p in model.named_parameters():
        if n == "alpha":
            assert not torch.equal(p, before[n]), "the architecture did not move"
            # Adam's first step moves each coordinate by lr against the sign of its gradient
            torch.testing.assert_close(p.detach() - before[n], -0.05 * torch.sign(expected_grad), rtol=1e-3,
                                       atol=1e-6)
        else:
            assert torch.equal(p, before[n]), f"weight {n} changed in an architecture step"
            assert p.grad is None or p.grad.abs().sum() == 0


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


SEARCH_OPS = list(OPERATORS)
RESOURCES = ResourcesConfig(threads=1, workers=0, progress=False, log_every=1)


def tiny_search(seed=0, unrolled=False, tmp_path=None, warmup_fraction=0.0):
    torch.manual_seed(seed)
    model = SiameseNet(SEARCH_OPS, SEARCH_OPS, backbone="small", channels=C, matching="bcm", head_layers=1)
    cfg = SearchConfig(operators=SEARCH_OPS, epochs=2, batch_size=2, seed=seed, arch_lr=0.05, retain=2,
                       unrolled=unrolled, warmup_fraction=warmup_fraction)
    base = TrainConfig(seed=seed)
    train_set, val_set = FakePairs(4, seed=1), FakePairs(2, seed=2)
    out_json = None if tmp_path is None else tmp_path / "search.json"
    result = run_search(model, train_set, val_set, search_size=64, cfg=cfg, base=base, resources=RESOURCES,
                        out_json=out_json)
    return model, result, train_set, out_json


@pytest.fixture(scope="module")
def search_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search")
    return tiny_search(seed=0, tmp_path=tmp), tiny_search(seed=0)


def test_run_search_result(search_runs):
    (model, result, train_set, out_json), _ = search_runs
    for branch in ("cls", "reg"):
        pots = result["potentials"][branch]
        assert list(pots) == SEARCH_OPS
        assert all(0 < p < C for p in pots.values())
        kept = result["retained"][branch]
        assert len(kept) == 2 and len(set(kept)) == 2 and set(kept) <= set(SEARCH_OPS)
        # retained = the two largest potentials
        assert min(pots[k] for k in kept) >= max(p for n, p in pots.items() if n not in kept)
    assert result["potentials"]["cls"] == model.match_cls.potentials()
    steps = 2 * (4 // 2)
    assert result["steps"] == steps
    assert len(result["history"]) == steps + 1 > 1
    assert [h["step"] for h in result["history"]] == list(range(steps + 1))
    assert train_set.epochs_seen == [0, 1]
    # the architecture moved away from its initial value (init = 1.0 for every channel)
    init = C * float(torch.sigmoid(torch.tensor(1.0)))
    assert result["history"][0]["cls"] == pytest.approx({n: init for n in SEARCH_OPS})
    assert any(abs(p - init) > 1e-4 for p in result["potentials"]["cls"].values())
    assert any(abs(p - init) > 1e-4 for p in result["potentials"]["reg"].values())
    on_disk = json.loads(out_json.read_text())
    assert on_disk["retained"] == result["retained"]
    assert on_disk["potentials"]["reg"] == pytest.approx(result["potentials"]["reg"])


def test_run_search_is_deterministic(search_runs):
    (model_a, a, _, _), (model_b, b, _, _) = search_runs
    assert a["potentials"] == b["potentials"]
    assert a["retained"] == b["retained"]
    assert [h["cls"] for h in a["history"]] == [h["cls"] for h in b["history"]]
    for (n, pa), pb in zip(model_a.state_dict().items(), model_b.state_dict().values()):
        assert torch.equal(pa, pb), n


def test_warmup_steps_leave_the_manipulators_untouched():
    _, result, _, _ = tiny_search(seed=0, warmup_fraction=0.5)
    init = C * float(torch.sigmoid(torch.tensor(1.0)))
    history = result["history"]   # steps 0..4; architecture steps start at step 2 (= 0.5 * 4)
    for h in history[:3]:
        assert h["cls"] == pytest.approx({n: init for n in SEARCH_OPS}) and h["reg"] == h["cls"]
    assert any(abs(p - init) > 1e-4 for p in history[-1]["cls"].values())


def test_run_search_unrolled_runs():
    _, result, _, _ = tiny_search(seed=1, unrolled=True)
    assert set(result["potentials"]["cls"]) == set(SEARCH_OPS)
    assert all(torch.isfinite(torch.tensor(list(result["potentials"]["reg"].values()))))


def test_run_search_rejects_a_fixed_network():
    model = SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=C, head_layers=1)
    with pytest.raises(ValueError, match="supernet"):
        run_search(model, FakePairs(2), FakePairs(2), 64, SearchConfig(epochs=1, batch_size=2), TrainConfig(),
                   RESOURCES)


# --------------------------------------------------------------------------------------------- random search

def test_random_genotypes():
    ops = list(OPERATORS)
    seeds = [0, 1, 2, 3, 4, 5]
    gens = random_genotypes(ops, 2, seeds)
    assert all(isinstance(g, Genotype) for g in gens)
    assert [g.name for g in gens] == [f"random_{s}" for s in seeds]
    for g in gens:
        for branch in (g.cls, g.reg):
            assert isinstance(branch, tuple)
            assert len(branch) == 2 and len(set(branch)) == 2 and set(branch) <= set(ops)
    assert random_genotypes(ops, 2, seeds) == gens
    assert random_genotypes(ops, 2, [3]) == [gens[3]]  # a seed's draw does not depend on the other seeds
    assert len({(g.cls, g.reg) for g in gens}) > 1
    assert len({g.cls for g in gens}) > 1
    assert any(g.cls != g.reg for g in gens), "cls and reg draws are not independent"
    for g in random_genotypes(ops, 5, [7]):
        assert len(set(g.cls)) == 5 and len(set(g.reg)) == 5


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
    with pytest.raises(ConfigError, match="bad.json: a genotype file holds exactly the keys"):
        Genotype.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="missing.json"):
        Genotype.load(tmp_path / "missing.json")


@pytest.fixture(scope="module")
def params():
    return load_params(REPO / "params.yaml")


def test_parse_arch_each_spec_form(params, tmp_path):
    (base,) = parse_arch("baseline", params, name="baseline")
    assert (base.cls, base.reg, base.name) == (tuple(params.baseline.cls_ops), tuple(params.baseline.reg_ops),
                                               "baseline")
    Genotype(("film", "concat"), ("pg_corr", "dw_xcorr")).save(tmp_path / "genotype.json")
    (found,) = parse_arch(f"genotype:{tmp_path / 'genotype.json'}", params)
    assert (found.cls, found.reg, found.name) == (("film", "concat"), ("pg_corr", "dw_xcorr"), "automatch")
    (ops,) = parse_arch("ops:film,simple_transformer/film,pairwise_relation", params, name="mine")
    assert (ops.cls, ops.reg, ops.name) == (("film", "simple_transformer"), ("film", "pairwise_relation"), "mine")
    rand = parse_arch("random", params)
    assert rand == random_genotypes(search_space(params), params.random_search.k, list(params.random_search.seeds))
    assert [g.name for g in rand] == [f"random_{s}" for s in params.random_search.seeds]
    assert search_space(params) == list(params.search.operators)


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


def test_plan_runs_one_checkpoint_per_genotype(params, tmp_path):
    ((g, path),) = plan_runs(params, "baseline", tmp_path / "baseline.pt")
    assert path == tmp_path / "baseline.pt" and g.name == "baseline"
    runs = plan_runs(params, "random", tmp_path / "random")
    assert [p for _, p in runs] == [tmp_path / "random" / f"random_{s}.pt" for s in params.random_search.seeds]
    assert [g for g, _ in runs] == parse_arch("random", params)


def test_plan_runs_random_with_one_seed_still_writes_into_the_folder(params, tmp_path):
    one = dataclasses.replace(params, random_search=dataclasses.replace(params.random_search, seeds=[1]))
    runs = plan_runs(one, "random", tmp_path / "random")
    assert [p for _, p in runs] == [tmp_path / "random" / "random_1.pt"]


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
    per_node = {}
    for e in geno:
        assert e["op"] in CELL_OPS and 0 <= e["input"] < e["node"] <= 3 and 0 < e["weight"] <= 1
        per_node.setdefault(e["node"], []).append((e["input"], e["op"]))
    assert all(len(v) <= 2 for v in per_node.values())
    assert per_node == {1: [(0, "pairwise_relation")], 2: [(0, "dw_xcorr"), (1, "film")],
                        3: [(1, "pairwise_relation"), (2, "dw_xcorr")]}
    w = torch.softmax(alphas, dim=-1)
    assert geno[0]["weight"] == pytest.approx(float(w[0].max()))


def test_darts_cell_in_siamese_net_has_arch_parameters():
    torch.manual_seed(23)
    net = SiameseNet(CELL_OPS, CELL_OPS, channels=C, matching="darts_cell", head_layers=1)
    arch = net.arch_parameters()
    assert arch == [net.match_cls.alphas, net.match_reg.alphas] and arch[0] is not arch[1]
    ids = {id(p) for p in net.weight_parameters()}
    assert not ids & {id(p) for p in arch}
    assert len(ids) + len(arch) == len(list(net.parameters()))
