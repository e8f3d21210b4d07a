"""PG-Net (Liao et al.; supplementary Tables 1 and 2): pixel-to-global matching at three backbone levels with
anchor-based heads, a learned weighted sum over the levels and one "enhanced detection" convolution.

Per level l of the backbone's `pyramid` (all at stride 8):

    adjust     x_l = ReLU(BN(Conv3x3(Fx_l))),  z_l = ReLU(BN(Conv3x3(Fz_l)))                  (B, C, H, W)
    PG-Corr    r_l = pg_corr(x_l, z_l, box): every search cell against every cell of the template's target
               region (ROI-aligned to t x t cells, PG-Net's 7 x 7 crop; `model.operator_options.pg_corr`), then
               two 3x3 conv + BN + ReLU                                                       (B, C, H, W)
    heads      cls_l = Conv1x1(ReLU(BN(Conv3x3(r_l))))  (B, 2A, H, W),  reg_l the same with 4A channels
enhanced detection
    cls = Conv3x3(sum_l softmax(a)_l cls_l),  reg = Conv3x3(sum_l softmax(b)_l reg_l)      a, b learned (L,)

A = len(ratios) anchors per cell (5 in the paper; `model.anchors`). Departures from the paper's table, for this
project's geometry: convolutions are padded (map = ceil(input / 8), the geometry every tracker here shares, as
`backbone.ResNet50Dilated`), the template's target region is ROI-aligned from its box instead of a fixed centre crop
(the `pg_corr` operator AutoMatch searches, reused as is, with its 1x1 embeddings), and C is `model.channels`
(256 in the paper profile). The default profile reads the small backbone's three stride-8 levels.
"""
from __future__ import annotations

import torch
from torch import nn

from ..config import TrainConfig
from ..operators import build_operator
from ..operators.common import conv_bn_act
from .anchors import RATIOS, anchor_loss, anchor_shapes, decode, make_anchors
from .backbone import build_backbone


class PGNet(nn.Module):
    """PG-Net's network (module doc).

    forward(template (B, 3, Hz', Wz'), search (B, 3, Hx', Wx'), template_box (B, 4) x1, y1, x2, y2 in template-crop
    pixels; or the backbone's cached maps of its `pyramid` levels instead of images)
    -> {'cls': (B, 2A, H, W) logits (channel k * A + a: class k of anchor a), 'reg': (B, 4A, H, W) deltas}.
    `exemplar_size` and `context` fix the anchors' area (`anchors.anchor_shapes`); all arguments are kept in
    `config`, so a checkpoint rebuilds the network alone.
    """

    network = "pgnet"

    def __init__(self, backbone: str = "small", channels: int = 48, color: str = "bgr",
                 operator_options: dict | None = None, ratios: tuple[float, ...] | list[float] = RATIOS,
                 exemplar_size: int = 48, context: float = 0.5, pos_iou: float = 0.6, neg_iou: float = 0.3,
                 reg_weight: float = 1.2):
        super().__init__()
        self.config = dict(backbone=backbone, channels=channels, color=color,
                           operator_options=dict(operator_options or {}), ratios=[float(r) for r in ratios],
                           exemplar_size=exemplar_size, context=context, pos_iou=pos_iou, neg_iou=neg_iou,
                           reg_weight=reg_weight)
        build = {"layer4": True} if backbone == "resnet50_dilated" else {}
        self.backbone = build_backbone(backbone, color=color, **build)
        self.levels = tuple(self.backbone.pyramid)
        self.stride = self.backbone.stride
        A = len(ratios)
        self.register_buffer("shapes", anchor_shapes(tuple(ratios), exemplar_size, context), persistent=False)
        c_in = [self.backbone.channels[name] for name in self.levels]
        self.adjust_x = nn.ModuleList(conv_bn_act(c, channels, act="relu") for c in c_in)
        self.adjust_z = nn.ModuleList(conv_bn_act(c, channels, act="relu") for c in c_in)
        self.corr = nn.ModuleList(build_operator("pg_corr", channels, operator_options) for _ in c_in)
        self.cls_heads = nn.ModuleList(nn.Sequential(conv_bn_act(channels, channels, act="relu"),
                                                     nn.Conv2d(channels, 2 * A, 1)) for _ in c_in)
        self.reg_heads = nn.ModuleList(nn.Sequential(conv_bn_act(channels, channels, act="relu"),
                                                     nn.Conv2d(channels, 4 * A, 1)) for _ in c_in)
        self.cls_level = nn.Parameter(torch.zeros(len(c_in)))     # softmax -> the weighted sum over the levels
        self.reg_level = nn.Parameter(torch.zeros(len(c_in)))
        self.cls_enhance = nn.Conv2d(2 * A, 2 * A, 3, padding=1)
        self.reg_enhance = nn.Conv2d(4 * A, 4 * A, 3, padding=1)
        self._anchors: dict = {}

    def features(self, images) -> list[torch.Tensor]:
        """The `levels` maps, each (B, C_l, ceil(H/8), ceil(W/8)), of a batch of crops, or the cached maps given."""
        if isinstance(images, (tuple, list)):
            return list(images)
        maps = self.backbone.maps(images)
        return [maps[name] for name in self.levels]

    def template(self, template, template_box: torch.Tensor) -> dict:
        """Encode the template once: its adjusted map per level and its box in feature cells."""
        return {"z": [adjust(z) for adjust, z in zip(self.adjust_z, self.features(template))],
                "box": template_box / self.stride}

    def track(self, search, state: dict) -> dict[str, torch.Tensor]:
        """Classification and regression maps of a search crop against an encoded template."""
        xs = self.features(search)
        B = xs[0].shape[0]
        box = state["box"].expand(B, 4) if state["box"].shape[0] == 1 else state["box"]
        cls_w, reg_w = torch.softmax(self.cls_level, 0), torch.softmax(self.reg_level, 0)
        cls = reg = 0.0
        for l, x in enumerate(xs):
            z = state["z"][l].expand(B, -1, -1, -1)
            r = self.corr[l](self.adjust_x[l](x), z, box)
            cls = cls + cls_w[l] * self.cls_heads[l](r)
            reg = reg + reg_w[l] * self.reg_heads[l](r)
        return {"cls": self.cls_enhance(cls), "reg": self.reg_enhance(reg)}

    def forward(self, template, search, template_box: torch.Tensor) -> dict:
        return self.track(search, self.template(template, template_box))

    def anchors(self, map_size: tuple[int, int], search_size: int) -> torch.Tensor:
        """(A, H, W, 4) cx, cy, w, h anchors of a score map over a search crop (cached per geometry)."""
        key = (*map_size, search_size, self.shapes.device)
        if key not in self._anchors:
            self._anchors[key] = make_anchors(self.shapes, map_size, (search_size, search_size), self.stride)
        return self._anchors[key]

    def loss(self, out: dict, search_box: torch.Tensor, negative: torch.Tensor, search_size: int,
             cfg: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
        """Anchor loss of a batch's output (`anchors.anchor_loss`: balanced cross-entropy + smooth-L1 deltas)."""
        anchors = self.anchors(tuple(out["cls"].shape[-2:]), search_size).to(out["cls"].dtype)
        c = self.config
        return anchor_loss(out["cls"], out["reg"], anchors, search_box, negative, c["pos_iou"], c["neg_iou"],
                           c["reg_weight"])

    def candidates(self, out: dict, search_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scored boxes of an output: score (B, A, H, W) softmax target probabilities and boxes (B, A, H, W, 4)
        x1, y1, x2, y2 in crop pixels decoded from every anchor."""
        B, _, H, W = out["cls"].shape
        A = self.shapes.shape[0]
        score = torch.softmax(out["cls"].view(B, 2, A, H, W), dim=1)[:, 1]
        deltas = out["reg"].view(B, 4, A, H, W).permute(0, 2, 3, 4, 1)
        return score, decode(deltas, self.anchors((H, W), search_size)[None])

    def arch_parameters(self) -> list[nn.Parameter]:
        """PG-Net is not searched: no architecture parameters."""
        return []

    def weight_parameters(self) -> list[nn.Parameter]:
        return list(self.parameters())
