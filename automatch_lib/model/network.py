"""The Siamese network: backbone -> per-branch neck -> matching network (cls / reg) -> Ocean-style heads.

Classification matches the mid-level map ('conv3'), regression the deep map ('conv4'), as the official AutoMatch.
Template features are computed once per sequence (`template`) and reused for every frame (`track`).

`NETWORKS` is the registry of tracker network families: 'siamese' (this module: AutoMatch, the baseline and every
variant) and 'pgnet' (`model.pgnet`). Each family is built from the keyword arguments it keeps in `config`, and
offers `template`, `track`, `loss` (its training loss on a batch) and `candidates` (scored boxes for the tracker),
so training, checkpoints and the tracker serve both. A checkpoint names its family ('network'; files without it are
'siamese').
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..config import TrainConfig
from ..geometry import grid_centers
from ..io import save_torch
from .backbone import build_backbone
from .heads import ClassificationHead, RegressionHead
from .losses import tracking_loss
from .matching import build_matching
from .pgnet import PGNet


class SiameseNet(nn.Module):
    """Ocean-style anchor-free Siamese tracker network with pluggable matching networks.

    forward(template (B, 3, Hz', Wz'), search (B, 3, Hx', Wx'), template_box (B, 4) x1, y1, x2, y2 in template-crop
    pixels; template and search may instead be the backbone's cached (mid, deep) maps, see `features`)
    -> {'cls': (B, 1, H, W) logits, 'reg': (B, 4, H, W) ltrb in search-crop pixels}; H, W = ceil(Hx' / 8).
    The constructor arguments are stored in `config` so a checkpoint can rebuild the network alone. `color` is the
    channel order the backbone's weights expect ('rgb' for ImageNet weights, see `backbone.Normalize`);
    `operator_options` holds per-operator constructor arguments (`model.operator_options`).
    """

    network = "siamese"
    levels = ("mid", "deep")   # the backbone maps it reads (see `features`; the feature cache keys)

    def __init__(self, cls_ops: list[str], reg_ops: list[str], backbone: str = "small", channels: int = 48,
                 matching: str = "fixed", matching_kwargs: dict | None = None, head_layers: int = 2,
                 color: str = "bgr", operator_options: dict | None = None):
        super().__init__()
        self.config = dict(cls_ops=list(cls_ops), reg_ops=list(reg_ops), backbone=backbone, channels=channels,
                           matching=matching, matching_kwargs=dict(matching_kwargs or {}), head_layers=head_layers,
                           color=color, operator_options=dict(operator_options or {}))
        self.backbone = build_backbone(backbone, color=color)
        c_mid, c_deep = self.backbone.out_channels
        self.stride = self.backbone.stride
        self.neck_cls = nn.Sequential(nn.Conv2d(c_mid, channels, 1, bias=False), nn.BatchNorm2d(channels),
                                      nn.ReLU(inplace=True))
        self.neck_reg = nn.Sequential(nn.Conv2d(c_deep, channels, 1, bias=False), nn.BatchNorm2d(channels),
                                      nn.ReLU(inplace=True))
        kw = {**self.config["matching_kwargs"], "operator_options": self.config["operator_options"]}
        self.match_cls = build_matching(matching, cls_ops, channels, **kw)
        self.match_reg = build_matching(matching, reg_ops, channels, **kw)
        self.cls_head = ClassificationHead(channels, head_layers)
        self.reg_head = RegressionHead(channels, self.stride, head_layers)

    def features(self, images) -> tuple[torch.Tensor, torch.Tensor]:
        """(cls-branch map, reg-branch map), each (B, C, ceil(H/8), ceil(W/8)).

        `images` is a batch of crops (B, 3, H, W), or the frozen backbone's (mid, deep) maps of them precomputed
        (`data.features.FeatureSet`), in which case only the necks run.
        """
        mid, deep = images if isinstance(images, (tuple, list)) else self.backbone(images)
        return self.neck_cls(mid), self.neck_reg(deep)

    def loss(self, out: dict, search_box: torch.Tensor, negative: torch.Tensor, search_size: int,
             cfg: TrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
        """Ocean/AutoMatch loss of a batch's output: WBCE on the score map + reg_weight * IoU (`losses`)."""
        return tracking_loss(out, search_box, negative, (search_size, search_size), self.stride, cfg.label_radius,
                             cfg.reg_weight)

    def candidates(self, out: dict, search_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Scored boxes of an output: score (B, 1, H, W) sigmoid probabilities and boxes (B, 1, H, W, 4) x1, y1, x2,
        y2 in crop pixels, one per cell (cell centre minus/plus its l, t, r, b)."""
        ltrb = out["reg"]
        H, W = ltrb.shape[-2:]
        gx, gy = grid_centers(H, W, (search_size, search_size), self.stride, ltrb.device, ltrb.dtype)
        gx, gy = gx.view(1, 1, W), gy.view(1, H, 1)
        boxes = torch.stack([gx - ltrb[:, 0], gy - ltrb[:, 1], gx + ltrb[:, 2], gy + ltrb[:, 3]], dim=-1)
        return torch.sigmoid(out["cls"]), boxes[:, None]

    def template(self, template: torch.Tensor, template_box: torch.Tensor) -> dict[str, torch.Tensor]:
        """Encode the template once: its two feature maps and its box in feature cells."""
        z_cls, z_reg = self.features(template)
        return {"z_cls": z_cls, "z_reg": z_reg, "box": template_box / self.stride}

    def track(self, search: torch.Tensor, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Score and box maps of a search crop against an encoded template."""
        x_cls, x_reg = self.features(search)
        box = state["box"].expand(x_cls.shape[0], 4) if state["box"].shape[0] == 1 else state["box"]
        z_cls = state["z_cls"].expand(x_cls.shape[0], -1, -1, -1)
        z_reg = state["z_reg"].expand(x_reg.shape[0], -1, -1, -1)
        cls = self.cls_head(self.match_cls(x_cls, z_cls, box))
        reg = self.reg_head(self.match_reg(x_reg, z_reg, box))
        return {"cls": cls, "reg": reg}

    def forward(self, template: torch.Tensor, search: torch.Tensor, template_box: torch.Tensor) -> dict:
        return self.track(search, self.template(template, template_box))

    def arch_parameters(self) -> list[nn.Parameter]:
        """Architecture (upper-level) parameters of both matching networks; empty for fixed networks."""
        return list(self.match_cls.arch_parameters()) + list(self.match_reg.arch_parameters())

    def weight_parameters(self) -> list[nn.Parameter]:
        """All other parameters (lower-level variables)."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]


NETWORKS: dict[str, type[nn.Module]] = {"siamese": SiameseNet, "pgnet": PGNet}


def save_checkpoint(path: str | Path, model: nn.Module, **extra) -> None:
    """Atomically write {'network', 'config', 'state_dict', **extra} (tmp file + rename, so a crash never leaves
    half a file).

    `extra` holds plain values only (tensors, numbers, strings, lists, dicts), so `load_model` can read the file
    with weights_only=True; training adds the crop geometry, so a tracker can be rebuilt from the file alone.
    """
    save_torch(path, {"network": model.network, "config": model.config, "state_dict": model.state_dict(), **extra})


def load_model(path: str | Path, map_location: str = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild a network of the family the checkpoint names (`NETWORKS`; 'siamese' when it names none) from a file
    written by save_checkpoint (weights_only=True). Returns (model, ckpt)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path.resolve()}")
    ckpt = torch.load(path, map_location=map_location, weights_only=True)
    if not isinstance(ckpt, dict) or "config" not in ckpt or "state_dict" not in ckpt:
        raise ValueError(f"{path}: not a checkpoint of this project (expected the keys 'config' and 'state_dict')")
    family = ckpt.get("network", "siamese")
    if family not in NETWORKS:
        raise ValueError(f"{path}: unknown network family {family!r}; known: {', '.join(NETWORKS)}")
    model = NETWORKS[family](**ckpt["config"])
    model.load_state_dict(ckpt["state_dict"])
    return model, ckpt
