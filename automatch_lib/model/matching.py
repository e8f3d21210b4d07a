"""Matching networks and the registry of matching kinds.

A matching network maps (search_feat (B, C, Hx, Wx), template_feat (B, C, Hz, Wz), template_box (B, 4)) to
(B, C, Hx, Wx), like a single operator, and exposes `arch_parameters()` (empty unless it is searched).

`MATCHING_KINDS` holds one factory per kind, `factory(operators, channels, **kwargs) -> nn.Module`:
'fixed' (below: single-operator trackers, the retrained AutoMatch tracker, the retained-k ablation) and 'cell' (the
discrete cell derived from a searched DARTS-like cell, named by edge specs 'op@i-j') are registered here; the
searchable kinds ('bcm', 'bcm_operator', 'darts_cell') are registered by `automatch_lib.search` when it is imported,
so the model package never imports the search package. Every kind takes `operator_options` (per-operator
constructor arguments, `model.operator_options`) and hands it to `build_operator`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..operators import build_operator
from ..operators.common import conv_bn_act

MATCHING_KINDS: dict[str, Callable[..., nn.Module]] = {}


def register_matching(name: str):
    """Class/function decorator adding a matching kind to `MATCHING_KINDS`."""
    def add(factory):
        if name in MATCHING_KINDS:
            raise ValueError(f"matching kind {name!r} is registered twice")
        MATCHING_KINDS[name] = factory
        return factory
    return add


def build_matching(kind: str, operators: list[str], channels: int, **kwargs) -> nn.Module:
    """The matching network of `kind` over `operators`; unknown kinds raise a ValueError listing the known ones."""
    if kind not in MATCHING_KINDS:
        hint = " (the search kinds are registered by importing automatch_lib.search)" if kind.startswith(
            ("bcm", "darts")) else ""
        raise ValueError(f"unknown matching kind {kind!r}; known: {', '.join(MATCHING_KINDS)}{hint}")
    return MATCHING_KINDS[kind](operators, channels, **kwargs)


@register_matching("fixed")
class MatchingNetwork(nn.Module):
    """Fixed set of matching operators fused by concatenation + 1x1 conv + BN + LeakyReLU back to C channels, as
    in the paper (Sec. 4.1) and the official LTM module."""

    def __init__(self, operators: list[str], channels: int, operator_options: dict | None = None):
        super().__init__()
        if not operators:
            raise ValueError("a matching network needs at least one operator")
        self.names = list(operators)
        self.ops = nn.ModuleList(build_operator(n, channels, operator_options) for n in self.names)
        self.fuse = conv_bn_act(len(self.names) * channels, channels, k=1)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([op(search_feat, template_feat, template_box) for op in self.ops], dim=1))

    def arch_parameters(self) -> list[nn.Parameter]:
        """A fixed network has no architecture parameters."""
        return []


def cell_edge(spec: str) -> tuple[str, int, int] | None:
    """'film@0-2' -> ('film', 0, 2): operator `film` on the edge from state 0 (the search feature) into node 2 of a
    derived matching cell; a plain operator name -> None. This is how a genotype names a derived cell's edges, so a
    genotype file stays a list of strings per branch."""
    if "@" not in spec:
        return None
    op, _, edge = spec.partition("@")
    i, sep, j = edge.partition("-")
    if not op or not sep or not i.isdigit() or not j.isdigit() or int(i) >= int(j):
        raise ValueError(f"cell edge {spec!r}: expected '<operator>@<input state>-<node>' with input < node, "
                         f"e.g. 'film@0-2'")
    return op, int(i), int(j)


@register_matching("cell")
class DerivedCell(nn.Module):
    """The discrete cell derived from a searched DARTS-like cell (supplementary Fig. 1b), trained like a fixed
    network: states s_0 = Fx, s_j = fuse_j(cat[o(s_i, Fz, box) for each kept edge (o, i -> j)]), output
    fuse(cat[s_1 .. s_n]), every fuse a 1x1 conv + BN + LeakyReLU to C channels (as the searched cell, whose mixed
    edges become one operator each). `operators` are edge specs 'op@i-j' (`cell_edge`); every node needs an edge.
    (B, C, Hx, Wx) search map, (B, C, Hz, Wz) template map, (B, 4) template box -> (B, C, Hx, Wx)."""

    def __init__(self, operators: list[str], channels: int, operator_options: dict | None = None):
        super().__init__()
        edges = [cell_edge(o) for o in operators]
        if not edges or None in edges:
            raise ValueError(f"a derived cell needs edge specs '<operator>@<input>-<node>', got {list(operators)}")
        self.names = list(operators)
        self.edges = [(i, j) for _, i, j in edges]
        self.nodes = max(j for _, j in self.edges)
        fan_in = [sum(j == n for _, j in self.edges) for n in range(1, self.nodes + 1)]
        if 0 in fan_in:
            raise ValueError(f"derived cell {list(operators)}: node {fan_in.index(0) + 1} has no incoming edge")
        self.ops = nn.ModuleList(build_operator(op, channels, operator_options) for op, _, _ in edges)
        self.node_fuse = nn.ModuleList(conv_bn_act(n * channels, channels, k=1) for n in fan_in)
        self.out_fuse = conv_bn_act(self.nodes * channels, channels, k=1)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        states = [search_feat]
        for node in range(1, self.nodes + 1):
            inputs = [op(states[i], template_feat, template_box)
                      for op, (i, j) in zip(self.ops, self.edges) if j == node]
            states.append(self.node_fuse[node - 1](torch.cat(inputs, dim=1)))
        return self.out_fuse(torch.cat(states[1:], dim=1))

    def arch_parameters(self) -> list[nn.Parameter]:
        """A derived cell is discrete: no architecture parameters."""
        return []
