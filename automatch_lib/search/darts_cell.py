"""The DARTS-like matching cell of the supplementary (Fig. 1b), an ablation of the search space.

States: s_0 = Fx. Node j (1..nodes) receives every earlier state s_i through an edge; each edge is a DARTS mixed
operation, sum_o softmax(alpha_e)_o * o(s_i, Fz, box), over the matching operators. Unlike DARTS, a node fuses
its incoming edges by concatenation + 1x1 conv (not addition), and the cell output fuses all nodes the same way.
`genotype()` keeps, per node, the two strongest incoming edges with their best operator (DARTS' rule), as the
edge specs 'op@i-j' of the discrete cell that retraining builds (`model.matching.DerivedCell`).
`potentials()` and `gated_off()` report the cell like a BCM supernet, so the bilevel search (`run_search`) logs,
ranks and decides it the same way: an operator's potential is its softmax weight summed over the edges (the
expected number of edges it holds), and its gated-off fraction is the share of edges whose strongest operator is
another one.
"""
from __future__ import annotations

import torch
from torch import nn

from ..model.matching import register_matching
from ..operators import build_operator
from ..operators.common import conv_bn_act


class MixedEdge(nn.Module):
    """Softmax-weighted sum of all candidate operators applied to one input state."""

    def __init__(self, operators: list[str], channels: int, operator_options: dict | None = None):
        super().__init__()
        self.ops = nn.ModuleList(build_operator(n, channels, operator_options) for n in operators)

    def forward(self, state: torch.Tensor, template_feat: torch.Tensor, template_box: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
        return sum(w * op(state, template_feat, template_box) for w, op in zip(weights, self.ops))


@register_matching("darts_cell")
class DartsMatchingCell(nn.Module):
    """A DAG of `nodes` nodes over matching operators, with per-edge architecture logits `alphas` (E, m)."""

    def __init__(self, operators: list[str], channels: int, nodes: int = 2, operator_options: dict | None = None):
        super().__init__()
        self.names = list(operators)
        self.nodes = nodes
        self.edges = nn.ModuleList()
        self.edge_index: list[tuple[int, int]] = []   # (node j, input state i)
        self.node_fuse = nn.ModuleList()
        for j in range(1, nodes + 1):
            for i in range(j):
                self.edges.append(MixedEdge(self.names, channels, operator_options))
                self.edge_index.append((j, i))
            self.node_fuse.append(conv_bn_act(j * channels, channels, k=1))
        self.out_fuse = conv_bn_act(nodes * channels, channels, k=1)
        self.alphas = nn.Parameter(1e-3 * torch.randn(len(self.edges), len(self.names)))

    def forward(self, search_feat: torch.Tensor, template_feat: torch.Tensor,
                template_box: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.alphas, dim=-1)
        states = [search_feat]
        e = 0
        for j in range(1, self.nodes + 1):
            inputs = []
            for i in range(j):
                inputs.append(self.edges[e](states[i], template_feat, template_box, weights[e]))
                e += 1
            states.append(self.node_fuse[j - 1](torch.cat(inputs, dim=1)))
        return self.out_fuse(torch.cat(states[1:], dim=1))

    def arch_parameters(self) -> list[nn.Parameter]:
        return [self.alphas]

    def potentials(self) -> dict[str, float]:
        """Operator name -> its softmax weight summed over the edges."""
        weights = torch.softmax(self.alphas.detach(), dim=-1)
        return {n: float(v) for n, v in zip(self.names, weights.sum(dim=0))}

    def gated_off(self) -> dict[str, float]:
        """Operator name -> fraction of edges on which another operator has the largest weight (what deriving
        the discrete cell drops)."""
        best = self.alphas.detach().argmax(dim=-1)
        return {n: float((best != i).to(torch.float32).mean()) for i, n in enumerate(self.names)}

    def edge_weights(self) -> list[list[float]]:
        """(E, m) softmax weights of the edges, in `edge_index` order (what several searches average)."""
        return torch.softmax(self.alphas.detach(), dim=-1).tolist()

    def genotype(self) -> list[str]:
        """The derived discrete cell as edge specs 'op@i-j' (`derive_cell`)."""
        return derive_cell(self.edge_weights(), self.edge_index, self.names)


def derive_cell(weights, edge_index: list[tuple[int, int]], names: list[str], keep: int = 2) -> list[str]:
    """DARTS' derivation rule: per node, the `keep` incoming edges whose strongest operator weighs most, each with
    that operator, as edge specs 'op@i-j' (`model.matching.cell_edge`), node by node, inputs in order.
    `weights` (E, m): softmax weights per edge (one search's, or the mean over seeds); `edge_index`: (node, input)
    per edge."""
    weights = torch.as_tensor(weights, dtype=torch.float64)
    out = []
    for node in sorted({j for j, _ in edge_index}):
        cand = [e for e, (j, _) in enumerate(edge_index) if j == node]
        kept = sorted(cand, key=lambda e: -float(weights[e].max()))[:keep]
        out += [f"{names[int(weights[e].argmax())]}@{edge_index[e][1]}-{node}"
                for e in sorted(kept, key=lambda e: edge_index[e][1])]
    return out
