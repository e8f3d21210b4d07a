"""Matching operators (paper Sec. 3.1, Eqs. 1-9; PG-Net's PG-Corr) and their shared building blocks.

The contract tests are parametrised over the OPERATORS registry, so adding an operator needs no test edit. The
behavioural tests check each operator's equation on tiny hand-built examples (identity embeddings, unit-norm or
orthonormal features) rather than only shapes.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import automatch_lib.operators as operators_pkg
from automatch_lib.operators import BASELINE_OPERATORS, OPERATORS, SEARCH_SPACE, build_operator
from automatch_lib.operators.common import box_mask, roi_align
from automatch_lib.operators.dw_xcorr import xcorr_depthwise

C = 8
NAMES = sorted(OPERATORS)
# Operators that pool a template vector f_z (TemplateVector: 3x3 valid conv + BatchNorm on a 1x1 map).
TEMPLATE_VECTOR_OPS = {"concat", "pointwise_add", "film"}


def make_inputs(B, Hz, Wz, Hx, Wx, channels=C, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, channels, Hx, Wx, generator=g, dtype=dtype)
    z = torch.randn(B, channels, Hz, Wz, generator=g, dtype=dtype)
    # a different box per sample, strictly inside the template, with fractional corners
    box = torch.stack([torch.tensor([0.15 * Wz + 0.1 * b, 0.2 * Hz, 0.85 * Wz - 0.1 * b, 0.8 * Hz + 0.05 * b])
                       for b in range(B)]).to(dtype)
    return x, z, box


def build(name, seed=0, channels=C):
    torch.manual_seed(seed)
    return OPERATORS[name](channels=channels)


def set_identity(conv: nn.Conv2d) -> None:
    """Make a square 1x1 conv the identity (weight I, bias 0)."""
    assert conv.weight.shape[:2] == (conv.weight.shape[0], conv.weight.shape[0]) and conv.kernel_size == (1, 1)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(conv.weight.shape[0]).view_as(conv.weight))
        if conv.bias is not None:
            conv.bias.zero_()


def unit(v: torch.Tensor, dim: int = 0) -> torch.Tensor:
    return v / v.norm(dim=dim, keepdim=True)


# --------------------------------------------------------------------------------------------- registry / contract

# The eight operators of the public surface (docs/architecture.md: "operator registry ... as specified").
PUBLIC_OPERATORS = {"dw_xcorr", "point_dw", "concat", "pointwise_add", "pairwise_relation", "film", "simple_transformer",
                    "transductive_guidance", "pg_corr"}


def test_registry_is_one_module_per_operator():
    """Every module of the operators package (but the shared `common`) registers exactly one operator under its
    own name, and every registered operator comes from such a module: the expected set follows the registry."""
    package = Path(operators_pkg.__file__).parent
    modules = {f.stem for f in package.glob("*.py")} - {"__init__", "common"}
    assert set(OPERATORS) == modules
    for name, cls in OPERATORS.items():
        assert issubclass(cls, nn.Module), name
        assert cls.__module__ == f"automatch_lib.operators.{name}", (name, cls.__module__)
    assert len(set(OPERATORS.values())) == len(OPERATORS), "one class registered under two names"


def test_public_operators_are_registered():
    assert PUBLIC_OPERATORS <= set(OPERATORS)


def test_search_space_is_the_paper_seven_with_point_dw():
    assert len(SEARCH_SPACE) == len(set(SEARCH_SPACE)) == 7 and set(SEARCH_SPACE) <= set(OPERATORS)
    assert "point_dw" in SEARCH_SPACE and not set(BASELINE_OPERATORS) & set(SEARCH_SPACE)
    assert "pg_corr" not in SEARCH_SPACE


def _spatial_convs(module: nn.Module) -> list[str]:
    """Convs with a kernel larger than 1x1, outside the shared template-vector pooling (official roi_template)."""
    return [name for name, m in module.named_modules()
            if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1) and not name.startswith("template_vector")]


@pytest.mark.parametrize("name", SEARCH_SPACE)
def test_search_candidates_embed_with_1x1_convs_only(name):
    """A fair search space: no candidate has spatial embedding capacity the others lack."""
    assert _spatial_convs(build_operator(name, C)) == []


def test_baseline_dw_xcorr_has_3x3_embeddings():
    assert _spatial_convs(build_operator("dw_xcorr", C)) == ["embed_x.0", "embed_z.0"]


@pytest.mark.parametrize("name", NAMES)
def test_builds_with_channels_only(name):
    op = OPERATORS[name](channels=C)
    assert isinstance(op, nn.Module)
    assert sum(p.numel() for p in op.parameters()) > 0
    assert type(build_operator(name, C)) is OPERATORS[name]


def test_build_operator_unknown_name_lists_known():
    with pytest.raises(ValueError) as err:
        build_operator("xcorr_of_doom", C)
    for name in OPERATORS:
        assert name in str(err.value)


SHAPES = [(8, 8, 16, 16), (5, 7, 11, 13), (15, 15, 31, 31), (6, 4, 9, 20), (9, 9, 4, 5)]  # last: template > search


@pytest.mark.parametrize("hz,wz,hx,wx", SHAPES, ids=[f"z{a}x{b}-x{c}x{d}" for a, b, c, d in SHAPES])
@pytest.mark.parametrize("name", NAMES)
def test_output_shape(name, hz, wz, hx, wx):
    op = build(name).eval()
    x, z, box = make_inputs(2, hz, wz, hx, wx)
    with torch.no_grad():
        out = op(x, z, box)
    assert out.shape == (2, C, hx, wx)
    assert out.dtype == x.dtype
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_both_inputs(name, mode):
    op = build(name)
    op.train(mode == "train")
    x, z, box = make_inputs(3, 5, 7, 9, 11, seed=1)
    x.requires_grad_(True)
    z.requires_grad_(True)
    out = op(x, z, box)
    # random weighting: a plain sum of a BatchNorm output can have an identically zero gradient
    weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
    (out * weight).sum().backward()
    assert x.grad is not None and z.grad is not None
    assert torch.isfinite(x.grad).all() and torch.isfinite(z.grad).all()
    assert x.grad.abs().sum() > 0, f"{name}: no gradient reaches the search feature"
    assert z.grad.abs().sum() > 0, f"{name}: no gradient reaches the template feature"
    for pname, p in op.named_parameters():
        assert p.grad is not None, f"{name}: parameter {pname} is not used in the forward pass"


@pytest.mark.parametrize("name", NAMES)
def test_constructor_creates_cpu_tensors_only(name):
    op = build(name)
    tensors = list(op.named_parameters()) + list(op.named_buffers())
    assert tensors
    for tname, t in tensors:
        assert t.device.type == "cpu", f"{name}.{tname} on {t.device}"
        assert t.dtype in (torch.float32, torch.int64), f"{name}.{tname} has dtype {t.dtype}"


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize("name", NAMES)
def test_modes_and_batch_sizes(name, mode, batch):
    op = build(name)
    op.train(mode == "train")
    x, z, box = make_inputs(batch, 6, 6, 10, 12, seed=3)
    out = op(x, z, box)  # train mode with batch 1 must work too (no BatchNorm on the 1x1 template vector)
    assert out.shape == (batch, C, 10, 12)
    assert torch.isfinite(out).all()
    if mode == "eval":
        # eval mode: samples are independent, so the batched output equals the per-sample outputs
        with torch.no_grad():
            for b in range(batch):
                single = op(x[b:b + 1], z[b:b + 1], box[b:b + 1])
                torch.testing.assert_close(out[b:b + 1].detach(), single, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_with_same_seed(name):
    x, z, box = make_inputs(2, 5, 7, 9, 11, seed=4)
    outs = []
    for _ in range(2):
        op = build(name, seed=123).eval()
        with torch.no_grad():
            outs.append(op(x, z, box))
    assert torch.equal(outs[0], outs[1])
    other = build(name, seed=124).eval()
    with torch.no_grad():
        assert not torch.equal(outs[0], other(x, z, box)), "the seed does not reach the initialisation"


# --------------------------------------------------------------------------------------------- common.py

def test_roi_align_full_box_returns_the_map():
    feat = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    box = torch.tensor([[0.0, 0.0, 5.0, 5.0]] * 2)
    torch.testing.assert_close(roi_align(feat, box, 5), feat, rtol=0, atol=1e-6)


def test_roi_align_cell_aligned_sub_box_returns_the_cells():
    feat = torch.randn(2, 3, 6, 7, generator=torch.Generator().manual_seed(1))
    box = torch.tensor([[1.0, 2.0, 4.0, 5.0], [3.0, 0.0, 6.0, 3.0]])  # x1, y1, x2, y2
    out = roi_align(feat, box, 3)
    torch.testing.assert_close(out[0], feat[0, :, 2:5, 1:4], rtol=0, atol=1e-6)
    torch.testing.assert_close(out[1], feat[1, :, 0:3, 3:6], rtol=0, atol=1e-6)


def test_roi_align_is_bilinear_between_cell_centres():
    # a map that is linear in the column index: value(col) = col; a bin centre at x (cells) reads x - 0.5
    feat = torch.arange(6.0).view(1, 1, 1, 6).expand(1, 1, 4, 6).contiguous()
    box = torch.tensor([[1.0, 0.0, 3.0, 4.0]])
    out = roi_align(feat, box, 4)  # bin centres x = 1.25, 1.75, 2.25, 2.75
    torch.testing.assert_close(out[0, 0, 0], torch.tensor([0.75, 1.25, 1.75, 2.25]))


def test_box_mask_inside_outside_fractional():
    box = torch.tensor([[1.5, 0.25, 4.0, 2.0]])  # x1, y1, x2, y2 on a 3 x 5 map
    mask = box_mask(box, 3, 5)
    expected_x = torch.tensor([0.0, 0.5, 1.0, 1.0, 0.0])
    expected_y = torch.tensor([0.75, 1.0, 0.0])
    assert mask.shape == (1, 1, 3, 5)
    torch.testing.assert_close(mask[0, 0], expected_y[:, None] * expected_x[None, :])
    assert mask[0, 0, 1, 2] == 1.0 and mask[0, 0, 1, 3] == 1.0       # fully inside
    assert mask[0, 0, 2].abs().sum() == 0 and mask[0, 0, :, 4].abs().sum() == 0  # fully outside
    assert 0 < mask[0, 0, 0, 1] < 1                                   # partial cell


def test_box_mask_whole_map_and_batch():
    boxes = torch.tensor([[0.0, 0.0, 4.0, 3.0], [2.0, 1.0, 3.0, 2.0]])
    mask = box_mask(boxes, 3, 4)
    assert torch.equal(mask[0, 0], torch.ones(3, 4))
    single = torch.zeros(3, 4)
    single[1, 2] = 1
    assert torch.equal(mask[1, 0], single)


# --------------------------------------------------------------------------------------------- equations

def _copy_setup(Hz, Wz, Hx, Wx, seed):
    """Unit-norm random features (B = 1); the caller copies template cells into search positions."""
    g = torch.Generator().manual_seed(seed)
    z = unit(torch.randn(C, Hz, Wz, generator=g))
    x = unit(torch.randn(C, Hx, Wx, generator=g))
    return x, z


def test_pg_corr_equation_and_copied_position_is_the_maximum():
    op = OPERATORS["pg_corr"](channels=C, template_cells=4).eval()
    set_identity(op.embed_x)
    set_identity(op.embed_z)
    x, z = _copy_setup(6, 6, 7, 9, seed=10)
    box = torch.tensor([[1.0, 1.0, 5.0, 5.0]])  # 4 x 4 target cells = template cells 1..4 (bin centres = centres)
    copies = {(0, 0): (1, 2), (1, 2): (5, 7), (3, 3): (3, 0), (2, 1): (6, 8)}  # target cell -> search position
    for (r, c), (i, j) in copies.items():
        x[:, i, j] = z[:, r + 1, c + 1]
    corr = op.correlate(x[None], z[None], box)
    assert corr.shape == (1, 16, 7, 9)
    # Equation: channel p = (r, c) is the dot product of every search cell with target cell p, / sqrt(C)
    target = z[:, 1:5, 1:5].reshape(C, 16)
    manual = torch.einsum("cp,chw->phw", target, x) / C ** 0.5
    torch.testing.assert_close(corr[0], manual, rtol=1e-5, atol=1e-6)
    for (r, c), (i, j) in copies.items():
        chan = corr[0, r * 4 + c]
        assert int(chan.argmax()) == i * 9 + j, f"target cell {(r, c)}: maximum not at the copied position"
        torch.testing.assert_close(chan[i, j], torch.tensor(1.0 / C ** 0.5))
    # only the target region is matched: changing a context cell outside the box leaves the correlation unchanged
    z2 = z.clone()
    z2[:, 0, 0] += 5.0
    torch.testing.assert_close(op.correlate(x[None], z2[None], box), corr)


def test_pairwise_relation_equation_and_copied_position_is_the_maximum():
    op = OPERATORS["pairwise_relation"](channels=C).eval()
    cells = op.template_cells
    set_identity(op.embed)  # one embedding shared by search and template
    x, z = _copy_setup(cells, cells, 6, 10, seed=11)
    copies = {(0, 0): (0, 9), (2, 5): (3, 3), (7, 7): (5, 0), (4, 1): (2, 6)}  # template cell -> search position
    for (r, c), (i, j) in copies.items():
        x[:, i, j] = z[:, r, c]
    box = torch.tensor([[1.0, 1.0, 6.0, 6.0]])
    rel = op.relation(x[None], z[None])
    assert rel.shape == (1, cells * cells, 6, 10)
    manual = torch.einsum("cp,chw->phw", z.reshape(C, -1), x) / op.embed_channels ** 0.5
    torch.testing.assert_close(rel[0], manual, rtol=1e-5, atol=1e-6)
    for (r, c), (i, j) in copies.items():
        assert int(rel[0, r * cells + c].argmax()) == i * 10 + j
    # the forward is the 1x1 fusion of the relation map (P template positions -> C channels)
    torch.testing.assert_close(op(x[None], z[None], box), op.fuse(rel))


def test_pairwise_relation_resamples_any_template_size():
    op = build("pairwise_relation").eval()
    x, z, box = make_inputs(1, 5, 11, 6, 7)
    rel = op.relation(x, z)
    assert rel.shape == (1, op.template_cells ** 2, 6, 7)


def test_film_identity_when_gamma_and_beta_are_zero():
    op = build("film").eval()
    x, z, box = make_inputs(2, 6, 6, 7, 9, seed=12)
    with torch.no_grad():
        for seq in (op.gamma, op.beta):
            seq[0].weight.zero_()
            seq[0].bias.zero_()
        out = op(x, z, box)
        assert torch.equal(out, op.embed_x(x))
        # R = (1 + gamma) * Fx + beta: gamma = 1 doubles the embedded search map, beta = 0.5 shifts it
        op.gamma[0].bias.fill_(1.0)
        op.beta[0].bias.fill_(0.5)
        torch.testing.assert_close(op(x, z, box), 2 * op.embed_x(x) + 0.5)


def test_film_modulation_is_per_channel_affine_from_the_template():
    op = build("film").eval()
    x, z, box = make_inputs(1, 6, 6, 7, 9, seed=13)
    with torch.no_grad():
        fx = op.embed_x(x)
        out = op(x, z, box)
        f = op.template_vector(z, box)
        torch.testing.assert_close(out, (1 + op.gamma(f)) * fx + op.beta(f))
        # per channel, the output is an affine function of the embedded input: fit and check residual 0
        for c in range(C):
            a = torch.stack([fx[0, c].flatten(), torch.ones(fx[0, c].numel())], 1)
            sol = torch.linalg.lstsq(a, out[0, c].flatten()[:, None]).solution
            torch.testing.assert_close(a @ sol, out[0, c].flatten()[:, None], rtol=1e-4, atol=1e-5)


def test_transductive_guidance_propagates_the_box_mask():
    op = OPERATORS["transductive_guidance"](channels=C).eval()
    assert op.embed_channels == C
    set_identity(op.embed_x)
    set_identity(op.embed_z)
    # 2 x 4 template of orthonormal cells (scaled): left half inside the box, right half outside
    z = (4.0 * torch.eye(C)).view(C, 2, 4)
    box = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    g = torch.Generator().manual_seed(14)
    x = unit(torch.randn(C, 5, 5, generator=g))
    x[:, 1, 1] = z[:, 1, 0]  # copies a cell inside the box
    x[:, 3, 3] = z[:, 0, 3]  # copies a cell outside the box
    guide = op.guidance(x[None], z[None], box)
    assert guide.shape == (1, 1, 5, 5)
    assert (guide >= 0).all() and (guide <= 1).all()
    assert guide[0, 0, 1, 1] > 0.9 and guide[0, 0, 3, 3] < 0.1
    assert guide[0, 0, 1, 1] > guide[0, 0, 3, 3]
    # R = G + Fx (broadcast over channels)
    torch.testing.assert_close(op(x[None], z[None], box), x[None] + guide)


def test_transductive_guidance_equation_with_fractional_mask():
    op = build("transductive_guidance").eval()
    x, z, box = make_inputs(2, 5, 6, 4, 7, seed=15)
    G = op.guidance(x, z, box)
    for b in range(2):
        xs = op.embed_x(x[b:b + 1]).flatten(2)[0]        # (D, Nx)
        zs = op.embed_z(z[b:b + 1]).flatten(2)[0]        # (D, Nz)
        A = torch.softmax(xs.T @ zs / op.embed_channels ** 0.5, dim=1)   # Eq. 7, softmax over template cells
        m = box_mask(box[b:b + 1], 5, 6).flatten()       # Eq. 8's pseudo mask M_z, fractional on the border
        assert ((m > 0) & (m < 1)).any()
        torch.testing.assert_close(G[b, 0].flatten(), A @ m, rtol=1e-5, atol=1e-6)


def test_pointwise_add_broadcasts_the_template_vector():
    op = build("pointwise_add").eval()
    x, z, box = make_inputs(2, 6, 6, 7, 9, seed=16)
    with torch.no_grad():
        out = op(x, z, box)
        diff = out - op.embed_x(x)
        # spatially constant, one C-vector per sample
        torch.testing.assert_close(diff, diff[:, :, :1, :1].expand_as(diff), rtol=1e-5, atol=1e-5)
        f = op.embed_z(op.template_vector(z, box))
        torch.testing.assert_close(diff[:, :, :1, :1], f, rtol=1e-5, atol=1e-5)
        assert not torch.allclose(diff[0, :, 0, 0], diff[1, :, 0, 0]), "template vector ignores the sample"


@pytest.mark.parametrize("name", sorted(TEMPLATE_VECTOR_OPS))
def test_template_vector_depends_on_the_box(name):
    op = build(name).eval()
    x, z, box = make_inputs(1, 8, 8, 7, 9, seed=17)
    moved = box + torch.tensor([[2.0, 1.0, 2.0, 1.0]])
    with torch.no_grad():
        a, b = op(x, z, box), op(x, z, moved)
    assert (a - b).abs().max() > 1e-4, f"{name}: moving the template box does not change the output"


def test_concat_is_a_position_wise_function_of_the_search_cell():
    op = build("concat").eval()
    x, z, box = make_inputs(1, 6, 6, 5, 6, seed=18)
    x[:, :, 4, 5] = x[:, :, 1, 2]  # two search cells with the same feature
    with torch.no_grad():
        out = op(x, z, box)
        f = op.template_vector(z, box)
        ex = op.embed_x(x)
        manual = op.fuse(torch.cat([f.expand_as(ex), ex], dim=1))  # Eq. 2: Conv1x1([f_z, Fx])
    torch.testing.assert_close(out, manual)
    torch.testing.assert_close(out[:, :, 4, 5], out[:, :, 1, 2])


def _manual_xcorr(x, z):
    """Explicit-loop 'same' per-channel cross-correlation, kernel centre at ((Hz-1)//2, (Wz-1)//2), / (Hz*Wz)."""
    B, Cc, Hx, Wx = x.shape
    Hz, Wz = z.shape[2:]
    out = torch.zeros(B, Cc, Hx, Wx, dtype=x.dtype)
    for b in range(B):
        for c in range(Cc):
            for i in range(Hx):
                for j in range(Wx):
                    s = 0.0
                    for u in range(Hz):
                        for v in range(Wz):
                            ii, jj = i + u - (Hz - 1) // 2, j + v - (Wz - 1) // 2
                            if 0 <= ii < Hx and 0 <= jj < Wx:
                                s += float(x[b, c, ii, jj]) * float(z[b, c, u, v])
                    out[b, c, i, j] = s / (Hz * Wz)
    return out


@pytest.mark.parametrize("hz,wz", [(3, 3), (3, 5)])
def test_dw_xcorr_equals_manual_correlation(hz, wz):
    torch.manual_seed(19)
    op = OPERATORS["dw_xcorr"](channels=2).eval()
    x, z, box = make_inputs(1, hz, wz, 5, 6, channels=2, seed=19, dtype=torch.float64)
    op.double()
    with torch.no_grad():
        out = op(x, z, box)
        manual = _manual_xcorr(op.embed_x(x), op.embed_z(z))
    torch.testing.assert_close(out, manual, rtol=1e-10, atol=1e-12)
    assert out.abs().max() > 0


def test_xcorr_depthwise_is_per_channel():
    x = torch.randn(2, 3, 6, 7, generator=torch.Generator().manual_seed(20), dtype=torch.float64)
    k = torch.randn(2, 3, 3, 3, generator=torch.Generator().manual_seed(21), dtype=torch.float64)
    torch.testing.assert_close(xcorr_depthwise(x, k) / 9, _manual_xcorr(x, k))


def test_dw_xcorr_is_translation_equivariant():
    op = build("dw_xcorr").eval()
    x, z, box = make_inputs(1, 3, 3, 16, 16, seed=22)
    dy, dx = 2, 3
    shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
    with torch.no_grad():
        a, b = op(x, z, box), op(shifted, z, box)
    m = 1 + 1 + 1  # 3x3 embedding + 3x3 template half-width, + 1 for safety
    inner = a[:, :, m:16 - m - dy, m:16 - m - dx]
    torch.testing.assert_close(b[:, :, m + dy:16 - m, m + dx:16 - m], inner)
    assert inner.abs().max() > 0


def _manual_mha(op, x, z):
    """nn.MultiheadAttention written out: per-head softmax(Q K^T / sqrt(d)) V, then the output projection."""
    B, Cc, Hx, Wx = x.shape
    att = op.attention
    h = att.num_heads
    d = Cc // h
    q = op.query(x).flatten(2).transpose(1, 2)
    k = op.key(z).flatten(2).transpose(1, 2)
    v = op.value(z).flatten(2).transpose(1, 2)
    wq, wk, wv = att.in_proj_weight.chunk(3)
    bq, bk, bv = att.in_proj_bias.chunk(3)
    Q = (q @ wq.T + bq).view(B, -1, h, d).transpose(1, 2)
    K = (k @ wk.T + bk).view(B, -1, h, d).transpose(1, 2)
    V = (v @ wv.T + bv).view(B, -1, h, d).transpose(1, 2)
    A = torch.softmax(Q @ K.transpose(-1, -2) / d ** 0.5, dim=-1)
    O = (A @ V).transpose(1, 2).reshape(B, -1, Cc)
    O = O @ att.out_proj.weight.T + att.out_proj.bias
    return O.transpose(1, 2).reshape(B, Cc, Hx, Wx)


def test_simple_transformer_equals_manual_multi_head_attention():
    op = build("simple_transformer").eval()
    assert op.attention.num_heads > 1
    x, z, box = make_inputs(2, 5, 7, 6, 9, seed=23)
    with torch.no_grad():
        torch.testing.assert_close(op(x, z, box), _manual_mha(op, x, z), rtol=1e-5, atol=1e-5)


def test_simple_transformer_is_invariant_to_template_permutations():
    op = build("simple_transformer").eval()
    x, z, box = make_inputs(1, 5, 7, 6, 9, seed=24)
    perm = torch.randperm(35, generator=torch.Generator().manual_seed(25))
    z_perm = z.flatten(2)[:, :, perm].reshape_as(z)
    assert not torch.equal(z_perm, z)
    with torch.no_grad():
        torch.testing.assert_close(op(x, z_perm, box), op(x, z, box), rtol=1e-5, atol=1e-6)
        # ... but not to a change of template content
        assert not torch.allclose(op(x, z * 2.0 + 1.0, box), op(x, z, box), atol=1e-4)
