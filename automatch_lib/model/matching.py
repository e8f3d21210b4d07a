"""Matching networks and the registry of matching kinds.

A matching network maps (search_feat (B, C, Hx, Wx), template_feat (B, C, Hz, Wz), template_box (B, 4)) to
(B, C, Hx, Wx), like a single operator, and exposes `arch_parameters()` (empty unless it is searched).

`MATCHING_KINDS` holds one factory per kind, `factory(operators, channels, **kwargs) -> nn.Module`:
'fixed' (below: what single-operator trackers, the retrained AutoMatch tracker and the retained-k ablation use) is
registered here; the searchable kinds ('bcm', 'bcm_operator', 'darts_cell') are registered by
`automatch_lib.search` when it is imported, so the model package never imports the search package.
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

    def __init__(self, operators: list[str], channels: int):
        super().__init__()
        if not operators:
            raise ValueError("a matching network needs at least one operator")
        self.names = list(operators)
        self.ops = nn.ModuleList(build_operator(n, channels) for n in self.names)
        self.fuse = conv_bn_act(len(self.names) * channels, channels, k=1)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([op(search_feat, template_feat, template_box) for op in self.ops], dim=1))

    def arch_parameters(self) -> list[nn.Parameter]:
        """A fixed network has no architecture parameters."""
        return []
