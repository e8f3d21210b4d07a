"""Binary channel manipulation (paper Sec. 4.2, Eqs. 10-16).

Every output channel j of every candidate operator i gets a learnable manipulator w_i^j. In the forward pass
the channel is kept or dropped by the hard decision d = [w + g1 - g2 > 0] (Eq. 16); in the backward pass the
gradient is that of the soft Gumbel-sigmoid y1 = sigmoid((w + g1 - g2) / tau) (Eq. 15), i.e. a straight-through
estimator. The kept channels of all operators are concatenated (Eq. 11) and fused by a 1x1 conv. The potential of
operator i is p_i = sum_j sigmoid(w_i^j) (Eq. 12); after the search the top-k operators are retained.
"""
from __future__ import annotations

from functools import partial

import torch
from torch import nn

from ..model.matching import register_matching
from ..operators import build_operator
from ..operators.common import conv_bn_act


def gumbel_sigmoid(w: torch.Tensor, tau: float = 1.0, noise: bool = False, hard: bool = True) -> torch.Tensor:
    """Binary Gumbel-softmax of logits ``w`` (any shape), Eqs. 15-16.

    noise=False sets g1 = g2 = 0 (the paper's setting); noise=True draws g1 - g2 ~ Logistic(0, 1) (the difference
    of two standard Gumbel variables), so P(hard = 1) = sigmoid(w). hard=True returns exactly 0/1 values in the
    forward pass with the gradient of the soft value; hard=False returns the soft value itself.
    """
    if noise:
        u = torch.rand_like(w).clamp_(1e-6, 1 - 1e-6)
        w = w + torch.log(u) - torch.log1p(-u)  # logistic sample = g1 - g2
    soft = torch.sigmoid(w / tau)
    if not hard:
        return soft
    hard_value = (w > 0).to(w.dtype)
    return hard_value + (soft - soft.detach())  # (soft - soft) is exactly 0: forward stays exactly 0/1


def top_k(potentials: dict[str, float], k: int) -> list[str]:
    """The k names with the largest potential, best first (ties broken by the given order)."""
    names = list(potentials)
    return sorted(names, key=lambda n: (-potentials[n], names.index(n)))[:k]


class BCMMatching(nn.Module):
    """Supernet matching module: all candidate operators, manipulators per channel (or per operator), fusion.

    granularity='channel' is the paper's BCM (C manipulators per operator); 'operator' is the DARTS-style ablation
    with one scalar manipulator per operator. Input/output follow the operator contract: (B, C, Hx, Wx).
    """

    def __init__(self, operators: list[str], channels: int, granularity: str = "channel", init: float = 1.0,
                 tau: float = 1.0, noise: bool = False, operator_options: dict | None = None):
        super().__init__()
        if granularity not in ("channel", "operator"):
            raise ValueError(f"granularity must be 'channel' or 'operator', got {granularity!r}")
        self.names = list(operators)
        self.channels = channels
        self.tau, self.noise = tau, noise
        self.ops = nn.ModuleList(build_operator(n, channels, operator_options) for n in self.names)
        width = channels if granularity == "channel" else 1
        self.manipulators = nn.Parameter(torch.full((len(self.names), width), float(init)))
        self.fuse = conv_bn_act(len(self.names) * channels, channels, k=1)

    def decisions(self) -> torch.Tensor:
        """(m, C) straight-through channel decisions; noise only while training."""
        d = gumbel_sigmoid(self.manipulators, self.tau, noise=self.noise and self.training)
        return d.expand(len(self.names), self.channels)

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        d = self.decisions()
        gated = [op(search_feat, template_feat, template_box) * d[i].view(1, -1, 1, 1)
                 for i, op in enumerate(self.ops)]
        return self.fuse(torch.cat(gated, dim=1))

    def potentials(self) -> dict[str, float]:
        """Eq. 12: operator name -> sum over its channels of sigmoid(w)."""
        p = torch.sigmoid(self.manipulators.detach()).expand(len(self.names), self.channels).sum(dim=1)
        return {n: float(v) for n, v in zip(self.names, p)}

    def gated_off(self) -> dict[str, float]:
        """Operator name -> fraction of its channels the hard decision closes without noise (w <= 0)."""
        closed = (self.manipulators.detach() <= 0).to(torch.float32).expand(len(self.names), self.channels)
        return {n: float(v) for n, v in zip(self.names, closed.mean(dim=1))}

    def open_fraction(self) -> torch.Tensor:
        """Differentiable expected fraction of open channels, mean of sigmoid(w / tau) (the sparsity price)."""
        return torch.sigmoid(self.manipulators / self.tau).mean()

    def retain(self, k: int) -> list[str]:
        """The k operator names with the largest potential (ties broken by search-space order)."""
        return top_k(self.potentials(), k)

    def arch_parameters(self) -> list[nn.Parameter]:
        """The manipulators: the upper-level variables of the bilevel problem."""
        return [self.manipulators]


register_matching("bcm")(partial(BCMMatching, granularity="channel"))
register_matching("bcm_operator")(partial(BCMMatching, granularity="operator"))
