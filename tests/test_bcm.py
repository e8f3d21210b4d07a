"""Binary channel manipulation (paper Sec. 4.2, Eqs. 10-16): the Gumbel-sigmoid straight-through estimator,
the BCM supernet (gating, potentials, retain), its parameter split in the Siamese network, and the fixed
matching network that the retrained tracker uses, and the registry of matching kinds."""
from __future__ import annotations

import pytest
import torch

from automatch_lib.model.matching import MATCHING_KINDS, MatchingNetwork, build_matching, register_matching
from automatch_lib.model.network import SiameseNet
from automatch_lib.operators import OPERATORS
from automatch_lib.search.bcm import BCMMatching, gumbel_sigmoid, top_k
from automatch_lib.search.darts_cell import DartsMatchingCell

C = 8
OPS = ["dw_xcorr", "film", "pairwise_relation"]


def inputs(B=2, Hz=6, Wz=6, Hx=7, Wx=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, C, Hx, Wx, generator=g)
    z = torch.randn(B, C, Hz, Wz, generator=g)
    box = torch.tensor([[1.0, 1.5, 5.0, 4.5]] * B)
    return x, z, box


def bcm(ops=OPS, granularity="channel", seed=0, **kw):
    torch.manual_seed(seed)
    return BCMMatching(ops, C, granularity=granularity, **kw)


def set_manipulators(module, values):
    with torch.no_grad():
        module.manipulators.copy_(torch.as_tensor(values, dtype=torch.float32).view_as(module.manipulators))


# --------------------------------------------------------------------------------------------- gumbel_sigmoid

W = torch.tensor([-3.0, -1.0, -0.25, -1e-7, 0.0, 1e-7, 0.3, 0.5, 1.0, 2.5, 8.0])


@pytest.mark.parametrize("tau", [1.0, 0.5, 2.0])
def test_hard_forward_is_exactly_the_sign_decision(tau):
    w = torch.cat([W, torch.randn(1000, generator=torch.Generator().manual_seed(1))])
    y = gumbel_sigmoid(w, tau=tau)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(y, (w > 0).to(w.dtype)), "forward values must be exactly 0/1 = [w > 0]"


@pytest.mark.parametrize("tau", [1.0, 0.5, 2.0])
def test_hard_backward_is_the_soft_gradient(tau):
    upstream = torch.randn(W.shape, generator=torch.Generator().manual_seed(2))
    w = W.clone().requires_grad_(True)
    (gumbel_sigmoid(w, tau=tau) * upstream).sum().backward()
    w_ref = W.clone().requires_grad_(True)
    (torch.sigmoid(w_ref / tau) * upstream).sum().backward()
    torch.testing.assert_close(w.grad, w_ref.grad)
    s = torch.sigmoid(W / tau)
    torch.testing.assert_close(w.grad, upstream * s * (1 - s) / tau)  # the closed form, Eq. 15's derivative


@pytest.mark.parametrize("tau", [1.0, 0.5, 2.0])
def test_soft_returns_the_sigmoid(tau):
    torch.testing.assert_close(gumbel_sigmoid(W, tau=tau, hard=False), torch.sigmoid(W / tau), rtol=0, atol=0)


def test_gumbel_sigmoid_keeps_shape_and_dtype():
    w = torch.randn(3, 4, dtype=torch.float64)
    for hard in (True, False):
        for noise in (True, False):
            y = gumbel_sigmoid(w, noise=noise, hard=hard)
            assert y.shape == w.shape and y.dtype == w.dtype


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_noisy_hard_decision_is_bernoulli_sigmoid_w(tau):
    """With g1 - g2 ~ Logistic(0, 1), P(w + g1 - g2 > 0) = sigmoid(w), whatever tau (Eq. 14 -> 15)."""
    n = 200_000
    w = torch.tensor([-2.0, -0.5, 0.0, 0.7, 3.0])
    torch.manual_seed(3)
    y = gumbel_sigmoid(w.expand(n, -1).contiguous(), tau=tau, noise=True)
    assert set(y.unique().tolist()) <= {0.0, 1.0}
    p = torch.sigmoid(w)
    se = (p * (1 - p) / n).sqrt()
    mean = y.mean(dim=0)
    assert ((mean - p).abs() < 4 * se).all(), f"mean {mean.tolist()} vs sigmoid(w) {p.tolist()}"


def test_noisy_gradient_is_that_of_the_noisy_soft_value():
    """Backward of the noisy hard sample = gradient of sigmoid((w + g1 - g2) / tau) at the same noise draw."""
    w = torch.full((4000,), 0.3, requires_grad=True)
    torch.manual_seed(4)
    y = gumbel_sigmoid(w, tau=0.5, noise=True)
    y.sum().backward()
    torch.manual_seed(4)
    soft = gumbel_sigmoid(w.detach(), tau=0.5, noise=True, hard=False)
    torch.testing.assert_close(w.grad, soft * (1 - soft) / 0.5)
    # the soft value at that draw agrees with the hard decision (both from the same noisy logit)
    assert torch.equal(y.detach(), (soft > 0.5).float())


# --------------------------------------------------------------------------------------------- BCMMatching

def test_potentials_are_sums_of_sigmoids():
    m = bcm()
    assert m.manipulators.shape == (len(OPS), C)
    vals = torch.linspace(-3, 3, len(OPS) * C).view(len(OPS), C)
    vals[1] = vals[1].flip(0) * 0.5
    set_manipulators(m, vals)
    pots = m.potentials()
    assert list(pots) == OPS
    for i, name in enumerate(OPS):
        assert pots[name] == pytest.approx(float(torch.sigmoid(vals[i]).sum()), rel=1e-6)


def test_initial_potentials_follow_init():
    m = bcm(init=0.5)
    for p in m.potentials().values():
        assert p == pytest.approx(C * float(torch.sigmoid(torch.tensor(0.5))), rel=1e-6)


def test_retain_returns_the_k_largest():
    ops = ["dw_xcorr", "film", "pairwise_relation", "concat"]
    m = bcm(ops)
    set_manipulators(m, torch.tensor([0.1, 2.0, -1.0, 0.9]).view(4, 1).expand(4, C))
    assert m.retain(1) == ["film"]
    assert m.retain(2) == ["film", "concat"]
    assert m.retain(3) == ["film", "concat", "dw_xcorr"]
    assert m.retain(4) == ["film", "concat", "dw_xcorr", "pairwise_relation"]
    # the potential sums over channels: many mildly positive channels beat one strongly positive channel
    w = torch.full((4, C), -4.0)
    w[0, 0] = 10.0
    w[3, :] = 0.2
    set_manipulators(m, w)
    assert m.retain(1) == ["concat"]
    # ties are broken by search-space order
    set_manipulators(m, torch.zeros(4, C))
    assert m.retain(2) == ops[:2]


def test_top_k_is_the_k_largest_best_first_ties_in_given_order():
    pots = {"a": 1.0, "b": 3.0, "c": 2.0, "d": 3.0}
    assert top_k(pots, 1) == ["b"]
    assert top_k(pots, 2) == ["b", "d"]              # tie: given order
    assert top_k(pots, 3) == ["b", "d", "c"]
    assert top_k(pots, 10) == ["b", "d", "c", "a"]
    assert top_k({"d": 3.0, "b": 3.0}, 1) == ["d"]
    m = bcm()
    set_manipulators(m, torch.tensor([0.5, -1.0, 2.0]).view(3, 1).expand(3, C))
    assert m.retain(2) == top_k(m.potentials(), 2) == ["pairwise_relation", "dw_xcorr"]


@pytest.mark.parametrize("granularity", ["channel", "operator"])
def test_gated_off_is_the_fraction_of_channels_with_w_at_most_zero(granularity):
    m = bcm(granularity=granularity)
    assert m.gated_off() == {n: 0.0 for n in OPS}            # init 1.0: every channel open
    if granularity == "channel":
        w = torch.ones(len(OPS), C)
        w[0, :3] = -0.5                                     # 3 of 8 closed
        w[1, :] = 0.0                                       # w = 0 is closed (the hard decision is w > 0)
        w[2, 0] = 1e-6                                      # barely open
        set_manipulators(m, w)
        assert m.gated_off() == pytest.approx({"dw_xcorr": 3 / C, "film": 1.0, "pairwise_relation": 0.0})
        # agrees with the forward decisions without noise
        closed = (m.decisions().detach() == 0).float().mean(dim=1)
        assert list(m.gated_off().values()) == pytest.approx(closed.tolist())
    else:
        set_manipulators(m, [-0.1, 0.2, 0.0])
        assert m.gated_off() == {"dw_xcorr": 1.0, "film": 0.0, "pairwise_relation": 1.0}


def test_open_fraction_is_the_differentiable_mean_of_sigmoid_w_over_tau():
    m = bcm(tau=2.0)
    w = torch.linspace(-2, 2, len(OPS) * C).view(len(OPS), C)
    set_manipulators(m, w)
    value = m.open_fraction()
    assert value.shape == () and value.requires_grad
    assert float(value.detach()) == pytest.approx(float(torch.sigmoid(w / 2.0).mean()), rel=1e-6)
    value.backward()
    s = torch.sigmoid(w / 2.0)
    torch.testing.assert_close(m.manipulators.grad, s * (1 - s) / 2.0 / w.numel())
    assert (m.manipulators.grad > 0).all()                  # a price on open channels pushes every w down


def test_operator_granularity_has_one_manipulator_per_operator():
    ops = ["dw_xcorr", "film", "pairwise_relation"]
    m = bcm(ops, granularity="operator")
    assert m.manipulators.shape == (3, 1)
    vals = torch.tensor([0.3, -1.2, 2.0])
    set_manipulators(m, vals)
    pots = m.potentials()
    for i, name in enumerate(ops):
        assert pots[name] == pytest.approx(C * float(torch.sigmoid(vals[i])), rel=1e-6)
    assert m.retain(2) == ["pairwise_relation", "dw_xcorr"]
    assert m.decisions().shape == (3, C)
    assert torch.equal(m.decisions(), torch.tensor([1.0, 0.0, 1.0]).view(3, 1).expand(3, C))


def test_bad_granularity_raises():
    with pytest.raises(ValueError, match="granularity"):
        BCMMatching(OPS, C, granularity="layer")


def _capture_fuse_input(module):
    captured = {}
    handle = module.fuse.register_forward_pre_hook(lambda mod, args: captured.__setitem__("x", args[0]))
    return captured, handle


def test_gated_concatenation_drops_exactly_the_negative_channels():
    m = bcm().eval()
    w = torch.randn(len(OPS), C, generator=torch.Generator().manual_seed(5))
    w[:, 0] = -1.0  # at least one negative and one positive channel per operator
    w[:, 1] = 1.0
    set_manipulators(m, w)
    x, z, box = inputs()
    captured, handle = _capture_fuse_input(m)
    with torch.no_grad():
        m(x, z, box)
        responses = [op(x, z, box) for op in m.ops]
    handle.remove()
    gated = captured["x"]
    assert gated.shape == (2, len(OPS) * C, 7, 9)
    for i in range(len(OPS)):
        block = gated[:, i * C:(i + 1) * C]
        for j in range(C):
            if w[i, j] > 0:
                assert torch.equal(block[:, j], responses[i][:, j]), f"kept channel {i},{j} is not the response"
            else:
                assert torch.equal(block[:, j], torch.zeros_like(block[:, j])), f"dropped channel {i},{j} leaks"


@pytest.mark.parametrize("granularity", ["channel", "operator"])
def test_operator_with_negative_manipulators_contributes_nothing(granularity):
    x, z, box = inputs(seed=6)

    def perturbed_difference(sign):
        m = bcm(granularity=granularity).eval()
        w = torch.ones_like(m.manipulators)
        w[1] = sign  # operator 1 = film
        set_manipulators(m, w)
        with torch.no_grad():
            before = m(x, z, box)
            for p in m.ops[1].parameters():
                p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(7)))
            after = m(x, z, box)
        return (after - before).abs().max()

    assert perturbed_difference(-1.0) == 0, "a fully dropped operator still changes the output"
    assert perturbed_difference(+1.0) > 1e-3, "a kept operator does not reach the output"


def test_manipulators_receive_gradients_also_when_negative():
    m = bcm()  # train mode: the search trains through the straight-through estimator
    w = torch.randn(len(OPS), C, generator=torch.Generator().manual_seed(8))
    w[0] = -2.0  # a fully dropped operator must still get a gradient (it can come back)
    set_manipulators(m, w)
    x, z, box = inputs(B=3, seed=9)
    out = m(x, z, box)
    (out * torch.randn(out.shape, generator=torch.Generator().manual_seed(10))).sum().backward()
    g = m.manipulators.grad
    assert g is not None and g.shape == (len(OPS), C)
    assert torch.isfinite(g).all()
    assert (g[0] != 0).sum() >= C // 2, "the dropped operator's manipulators get no gradient"
    assert (g != 0).sum() >= len(OPS) * C // 2


def test_decisions_without_noise_are_deterministic_and_noise_only_in_training():
    m = bcm(noise=True)
    set_manipulators(m, torch.zeros(len(OPS), C))  # sigmoid(0) = 1/2: noise decides
    m.eval()
    assert torch.equal(m.decisions(), torch.zeros(len(OPS), C))  # eval: w > 0 only
    m.train()
    torch.manual_seed(11)
    d = torch.stack([m.decisions() for _ in range(200)])
    assert 0.35 < d.mean() < 0.65


def test_bcm_output_shape_and_arch_parameters():
    m = bcm(list(OPERATORS)).eval()
    x, z, box = inputs(B=1, Hz=5, Wz=7, Hx=6, Wx=11)
    with torch.no_grad():
        assert m(x, z, box).shape == (1, C, 6, 11)
    assert m.arch_parameters() == [m.manipulators]
    assert all(p is not m.manipulators for n, p in m.named_parameters() if not n.startswith("manipulators"))


@pytest.mark.parametrize("kind", ["bcm", "bcm_operator"])
def test_siamese_split_of_arch_and_weight_parameters(kind):
    torch.manual_seed(12)
    net = SiameseNet(["dw_xcorr", "film"], ["pairwise_relation", "concat", "film"], channels=C, matching=kind)
    arch, weights = net.arch_parameters(), net.weight_parameters()
    ids_all = [id(p) for p in net.parameters()]
    ids_arch, ids_w = [id(p) for p in arch], [id(p) for p in weights]
    assert len(ids_arch) == 2 and not set(ids_arch) & set(ids_w)
    assert sorted(ids_arch + ids_w) == sorted(ids_all) and len(ids_all) == len(set(ids_all))
    # two independent manipulator sets, one per branch, sized by the branch's operator list
    assert arch[0] is net.match_cls.manipulators and arch[1] is net.match_reg.manipulators
    assert arch[0] is not arch[1]
    width = C if kind == "bcm" else 1
    assert arch[0].shape == (2, width) and arch[1].shape == (3, width)
    with torch.no_grad():
        arch[0].fill_(-5.0)
    assert net.match_reg.potentials()["film"] != net.match_cls.potentials()["film"]
    # a fixed network has no architecture parameters
    fixed = SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=C)
    assert fixed.arch_parameters() == [] and len(fixed.weight_parameters()) == len(list(fixed.parameters()))


def test_siamese_bcm_forward_backward_reaches_both_branches():
    torch.manual_seed(13)
    net = SiameseNet(["dw_xcorr", "film"], ["pairwise_relation", "concat"], channels=C, matching="bcm")
    g = torch.Generator().manual_seed(14)
    template = torch.rand(2, 3, 32, 32, generator=g) * 255
    search = torch.rand(2, 3, 64, 64, generator=g) * 255
    box = torch.tensor([[8.0, 8.0, 24.0, 24.0]] * 2)
    out = net(template, search, box)
    assert out["cls"].shape == (2, 1, 8, 8) and out["reg"].shape == (2, 4, 8, 8)
    (out["cls"].mean() + out["reg"].mean()).backward()
    for p in net.arch_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0


# --------------------------------------------------------------------------------------------- MatchingNetwork

def test_matching_network_fuses_a_fixed_list():
    torch.manual_seed(15)
    net = MatchingNetwork(["film", "dw_xcorr"], C).eval()
    assert net.names == ["film", "dw_xcorr"] and len(net.ops) == 2
    assert net.arch_parameters() == []
    x, z, box = inputs(B=2, Hz=5, Wz=7, Hx=9, Wx=13)
    with torch.no_grad():
        out = net(x, z, box)
        assert out.shape == (2, C, 9, 13)
        manual = net.fuse(torch.cat([op(x, z, box) for op in net.ops], dim=1))
    torch.testing.assert_close(out, manual)


def test_matching_network_unknown_operator_names_known_ones():
    with pytest.raises(ValueError) as err:
        MatchingNetwork(["film", "cosine_magic"], C)
    msg = str(err.value)
    assert "cosine_magic" in msg
    for name in OPERATORS:
        assert name in msg
    with pytest.raises(ValueError):
        MatchingNetwork([], C)


# --------------------------------------------------------------------------------------------- matching registry

def test_matching_kinds_are_registered_by_the_model_and_the_search_packages():
    assert {"fixed", "bcm", "bcm_operator", "darts_cell"} <= set(MATCHING_KINDS)
    assert MATCHING_KINDS["fixed"] is MatchingNetwork
    assert type(build_matching("fixed", OPS, C)) is MatchingNetwork
    m = build_matching("bcm", OPS, C)
    assert type(m) is BCMMatching and m.manipulators.shape == (len(OPS), C)
    m = build_matching("bcm_operator", OPS, C)
    assert type(m) is BCMMatching and m.manipulators.shape == (len(OPS), 1)
    assert type(build_matching("darts_cell", OPS, C)) is DartsMatchingCell


def test_build_matching_unknown_kind_lists_the_known_kinds():
    with pytest.raises(ValueError) as err:
        build_matching("hypernet", OPS, C)
    msg = str(err.value)
    assert "'hypernet'" in msg
    for kind in MATCHING_KINDS:
        assert kind in msg


def test_a_matching_kind_cannot_be_registered_twice():
    before = dict(MATCHING_KINDS)
    with pytest.raises(ValueError, match="'fixed' is registered twice"):
        register_matching("fixed")(lambda operators, channels: None)
    assert MATCHING_KINDS == before
