"""The matching operators: one registry, one call contract.

Every operator is built as ``OPERATORS[name](channels=C)`` and called as ``op(search_feat, template_feat,
template_box)`` with search_feat (B, C, Hx, Wx), template_feat (B, C, Hz, Wz) and template_box (B, 4) as x1, y1,
x2, y2 in template-feature cells; it returns (B, C, Hx, Wx) for any map sizes. To add an operator: write one
module with an nn.Module following that contract, add one line below, and the parametrised tests cover it.
"""
from __future__ import annotations

from torch import nn

from .concat import Concatenation
from .dw_xcorr import DepthwiseXCorr
from .film import FiLM
from .pairwise_relation import PairwiseRelation
from .pg_corr import PixelGlobalCorrelation
from .pointwise_add import PointwiseAddition
from .simple_transformer import SimpleTransformer
from .transductive_guidance import TransductiveGuidance

OPERATORS: dict[str, type[nn.Module]] = {
    "dw_xcorr": DepthwiseXCorr,
    "concat": Concatenation,
    "pointwise_add": PointwiseAddition,
    "pairwise_relation": PairwiseRelation,
    "film": FiLM,
    "simple_transformer": SimpleTransformer,
    "transductive_guidance": TransductiveGuidance,
    "pg_corr": PixelGlobalCorrelation,
}

#: The seven operators of the AutoMatch paper's search space (Sec. 3.1); pg_corr is PG-Net's addition.
PAPER_OPERATORS = ("dw_xcorr", "concat", "pointwise_add", "pairwise_relation", "film", "simple_transformer",
                   "transductive_guidance")


def build_operator(name: str, channels: int) -> nn.Module:
    """Instantiate operator ``name``; unknown names raise a ValueError listing the known ones."""
    if name not in OPERATORS:
        raise ValueError(f"unknown matching operator {name!r}; known: {', '.join(OPERATORS)}")
    return OPERATORS[name](channels=channels)
