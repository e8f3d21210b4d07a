"""The matching operators: one registry, one call contract.

Every operator is built as ``OPERATORS[name](channels=C)`` and called as ``op(search_feat, template_feat,
template_box)`` with search_feat (B, C, Hx, Wx), template_feat (B, C, Hz, Wz) and template_box (B, 4) as x1, y1,
x2, y2 in template-feature cells; it returns (B, C, Hx, Wx) for any map sizes. To add an operator: write one
module with an nn.Module following that contract, add one line below, and the parametrised tests cover it.

Two families share the registry. `SEARCH_SPACE` is what the search chooses from: the paper's seven candidates as the
official code builds them, every one with 1x1 embeddings (its depthwise candidate is `point_dw`, a 1x1 template
kernel), so no candidate wins by capacity alone. `dw_xcorr` is Ocean's depthwise correlation over the whole template
map with 3x3 embeddings: the hand-designed baseline tracker, not a search candidate. `pg_corr` is PG-Net's
pixel-to-global correlation (its own tracker family), available to `search.operators` but not in the default space.
"""
from __future__ import annotations

from torch import nn

from .concat import Concatenation
from .dw_xcorr import DepthwiseXCorr
from .film import FiLM
from .pairwise_relation import PairwiseRelation
from .pg_corr import PixelGlobalCorrelation
from .point_dw import PointDepthwise
from .pointwise_add import PointwiseAddition
from .simple_transformer import SimpleTransformer
from .transductive_guidance import TransductiveGuidance

OPERATORS: dict[str, type[nn.Module]] = {
    "dw_xcorr": DepthwiseXCorr,
    "point_dw": PointDepthwise,
    "concat": Concatenation,
    "pointwise_add": PointwiseAddition,
    "pairwise_relation": PairwiseRelation,
    "film": FiLM,
    "simple_transformer": SimpleTransformer,
    "transductive_guidance": TransductiveGuidance,
    "pg_corr": PixelGlobalCorrelation,
}

#: The search space of the paper (Sec. 3.1) as the official code builds it: seven candidates, all with 1x1 embeddings.
SEARCH_SPACE = ("point_dw", "concat", "pointwise_add", "pairwise_relation", "film", "simple_transformer",
                "transductive_guidance")
#: Ocean's hand-designed operator, the baseline tracker's matching in both branches; not a search candidate.
BASELINE_OPERATORS = ("dw_xcorr",)


def build_operator(name: str, channels: int, options: dict | None = None) -> nn.Module:
    """Instantiate operator ``name`` with C = `channels`; `options` maps operator names to extra constructor
    arguments (`model.operator_options`, e.g. {'pg_corr': {'template_cells': 7}}) and may name other operators.
    Unknown names raise a ValueError listing the known ones."""
    if name not in OPERATORS:
        raise ValueError(f"unknown matching operator {name!r}; known: {', '.join(OPERATORS)}")
    return OPERATORS[name](channels=channels, **(options or {}).get(name, {}))


def check_operator_options(options: dict) -> None:
    """Raise a ValueError naming the operator and argument when `options` names an unknown operator or an argument
    its constructor does not take (`channels` is set by the network and may not be given)."""
    import inspect
    for name, kwargs in options.items():
        if name not in OPERATORS:
            raise ValueError(f"operator_options: unknown matching operator {name!r}; known: {', '.join(OPERATORS)}")
        if not isinstance(kwargs, dict):
            raise ValueError(f"operator_options.{name}: expected a mapping of constructor arguments, got {kwargs!r}")
        accepted = set(inspect.signature(OPERATORS[name]).parameters) - {"channels"}
        for key in kwargs:
            if key not in accepted:
                raise ValueError(f"operator_options.{name}.{key}: not an argument of {OPERATORS[name].__name__}; "
                                 f"known: {sorted(accepted)}")
