"""Backbones with output stride 8, returning two maps: (mid, deep) = ('conv3', 'conv4') in the official naming.

The official AutoMatch uses ResNet-50 with a dilated layer3 and feeds conv3 (layer2) to the classification
branch and conv4 (layer3) to the regression branch, both at stride 8. `SmallBackbone` keeps that shape at a
CPU-friendly size (~0.15 M parameters); `ResNet50Dilated` is the paper's backbone for the GPU profile (weights
from a local path only, see `load_pretrained`, which also reads torchvision's and the official code's key names).
Images enter as float BGR 0..255 (B, 3, H, W), as OpenCV reads them; `Normalize` turns them into what the weights
expect (ImageNet statistics, in RGB order for ImageNet weights: `color='rgb'`).

`forward(x)` gives AutoMatch's (mid, deep). `maps(x)` gives every named level the backbone computes, all at stride 8,
and `pyramid` names PG-Net's three levels among them (supplementary Table 1: Block2/3/4): ResNet-50 built with
`layer4=True` (dilation 4) gives ('mid', 'deep', 'layer4'); the small backbone, whose deep stage has two dilated
blocks, gives ('mid', 'inner', 'deep') with 'inner' the first block's output. The feature cache stores every map of
`maps`, so in the default profile AutoMatch and PG-Net train on the same frozen small backbone; the shared ResNet-50
(AutoMatch's) stops at layer3, so PG-Net on ResNet-50 trains end to end from ImageNet weights (`model.pretrained`).
"""
from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import nn

# Normalisation of BGR 0..255 inputs (ImageNet statistics, BGR order, in 0..255 units).
_MEAN = (0.406 * 255, 0.456 * 255, 0.485 * 255)
_STD = (0.225 * 255, 0.224 * 255, 0.229 * 255)


COLORS = ("bgr", "rgb")


class Normalize(nn.Module):
    """(x - mean) / std per channel of BGR 0..255 images (ImageNet statistics), then, for color='rgb', the channels
    reversed to R, G, B: what torchvision's ImageNet weights were trained on. color='bgr' keeps OpenCV's order (the
    backbone pretrained here). (B, 3, H, W) -> (B, 3, H, W)."""

    def __init__(self, color: str = "bgr"):
        super().__init__()
        if color not in COLORS:
            raise ValueError(f"unknown color order {color!r}; use one of {COLORS}")
        self.color = color
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) / self.std
        return x.flip(1) if self.color == "rgb" else x


class BasicBlock(nn.Module):
    """ResNet basic block (two 3x3 convs) with optional stride/dilation and a 1x1 projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.shortcut is None else self.shortcut(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class SmallBackbone(nn.Module):
    """A small residual CNN: stride 8, mid map after the third stage, deep map after a dilated fourth stage.

    widths = (stem, stage1, stage2 ('conv3'), stage3 ('conv4')). Map size = ceil(input / 8).
    """

    def __init__(self, widths: tuple[int, int, int, int] = (24, 32, 48, 64), color: str = "bgr"):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.normalize = Normalize(color)
        self.stem = nn.Sequential(nn.Conv2d(3, w0, 3, 2, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(w0, w1, stride=2)
        self.layer2 = nn.Sequential(BasicBlock(w1, w2, stride=2), BasicBlock(w2, w2))
        self.layer3 = nn.Sequential(BasicBlock(w2, w3, dilation=2), BasicBlock(w3, w3, dilation=2))
        self.out_channels = (w2, w3)
        self.channels = {"mid": w2, "inner": w3, "deep": w3}
        self.pyramid = ("mid", "inner", "deep")
        self.stride = 8

    def maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{'mid': layer2, 'inner': the first dilated block, 'deep': layer3}, each (B, C, ceil(H/8), ceil(W/8))."""
        mid = self.layer2(self.layer1(self.stem(self.normalize(x))))
        inner = self.layer3[0](mid)
        return {"mid": mid, "inner": inner, "deep": self.layer3[1](inner)}

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.maps(x)
        return out["mid"], out["deep"]


class Bottleneck(nn.Module):
    """ResNet-50 bottleneck (1x1, 3x3, 1x1; expansion 4)."""

    def __init__(self, cin: int, planes: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        cout = planes * 4
        self.body = nn.Sequential(
            nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False),
            nn.BatchNorm2d(planes), nn.ReLU(inplace=True),
            nn.Conv2d(planes, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.body(x) + (x if self.shortcut is None else self.shortcut(x)))


class ResNet50Dilated(nn.Module):
    """The paper's backbone: ResNet-50 stem + layer1-3, layer3 dilated (stride 8); returns (layer2, layer3).

    Padded convolutions (map = ceil(input / 8)) instead of the official valid-padding variant, so the same
    geometry code serves both backbones. Channels: (512, 1024). With `layer4=True` (PG-Net) layer4 follows with
    dilation 4 (its first block 2, PG-Net supplementary Table 1), still at stride 8, 2048 channels: `maps` then holds
    'layer4' and `pyramid` is (layer2, layer3, layer4).
    """

    def __init__(self, color: str = "bgr", layer4: bool = False):
        super().__init__()
        self.normalize = Normalize(color)
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        self.layer1 = self._stage(64, 64, 3)
        self.layer2 = self._stage(256, 128, 4, stride=2)
        self.layer3 = self._stage(512, 256, 6, dilation=2)
        self.out_channels = (512, 1024)
        self.channels = {"mid": 512, "deep": 1024}
        self.pyramid: tuple[str, ...] = ()
        if layer4:
            self.layer4 = self._stage(1024, 512, 3, dilation=4)
            self.channels["layer4"] = 2048
            self.pyramid = ("mid", "deep", "layer4")
        self.stride = 8

    @staticmethod
    def _stage(cin: int, planes: int, blocks: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
        layers = [Bottleneck(cin, planes, stride, 1 if dilation == 1 else dilation // 2)]
        layers += [Bottleneck(planes * 4, planes, 1, dilation) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def maps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """{'mid': layer2, 'deep': layer3} (+ 'layer4' when built), each (B, C, ceil(H/8), ceil(W/8))."""
        mid = self.layer2(self.layer1(self.stem(self.normalize(x))))
        out = {"mid": mid, "deep": self.layer3(mid)}
        if hasattr(self, "layer4"):
            out["layer4"] = self.layer4(out["deep"])
        return out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.maps(x)
        return out["mid"], out["deep"]


BACKBONES = {"small": SmallBackbone, "resnet50_dilated": ResNet50Dilated}


def build_backbone(name: str, **kwargs) -> nn.Module:
    """Backbone by name (`small`, `resnet50_dilated`)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[name](**kwargs)


# torchvision / official ResNet naming -> ours. The official code (SOTS) stores the backbone under 'features.features.'
# with torchvision's names inside; layer4 and fc exist in ImageNet files but not in the dilated backbone (stride 8).
_PREFIXES = ("module.", "backbone.", "features.features.", "features.")
_RESNET_RULES = [
    (re.compile(r"^conv1\.(.*)$"), r"stem.0.\1"),
    (re.compile(r"^bn1\.(.*)$"), r"stem.1.\1"),
    (re.compile(r"^(layer\d\.\d+)\.conv1\.(.*)$"), r"\1.body.0.\2"),
    (re.compile(r"^(layer\d\.\d+)\.bn1\.(.*)$"), r"\1.body.1.\2"),
    (re.compile(r"^(layer\d\.\d+)\.conv2\.(.*)$"), r"\1.body.3.\2"),
    (re.compile(r"^(layer\d\.\d+)\.bn2\.(.*)$"), r"\1.body.4.\2"),
    (re.compile(r"^(layer\d\.\d+)\.conv3\.(.*)$"), r"\1.body.6.\2"),
    (re.compile(r"^(layer\d\.\d+)\.bn3\.(.*)$"), r"\1.body.7.\2"),
    (re.compile(r"^(layer\d\.\d+)\.downsample\.(.*)$"), r"\1.shortcut.\2"),
]
_UNUSED = re.compile(r"^(layer4|fc)\.")


def _strip_prefix(key: str) -> str:
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix):]
    return key


def resnet_key(key: str) -> str:
    """A torchvision-named ResNet key ('layer2.0.downsample.0.weight') -> this backbone's name
    ('layer2.0.shortcut.0.weight'); other keys unchanged."""
    for pattern, repl in _RESNET_RULES:
        if pattern.match(key):
            return pattern.sub(repl, key)
    return key


def map_state_dict(state: dict, own: set[str]) -> tuple[dict, str, list[str]]:
    """(state renamed to this project's keys, the naming found ('own' or 'torchvision'), keys dropped as unused).

    Prefixes from wrappers ('module.', 'backbone.', the official 'features.features.') are removed; torchvision's
    ResNet names (recognised by a top-level 'conv1.') are translated; layer4.* and fc.* are dropped only when the
    backbone has no such module (the dilated ResNet-50 stops at layer3)."""
    state = {_strip_prefix(k): v for k, v in state.items()}
    naming = "torchvision" if any(k.startswith("conv1.") for k in state) else "own"   # our stems are 'stem.*'
    if naming == "own":
        return state, naming, []
    modules = {k.split(".")[0] for k in own}
    dropped = sorted(k for k in state if _UNUSED.match(k) and k.split(".")[0] not in modules)
    return {resnet_key(k): v for k, v in state.items() if k not in dropped}, naming, dropped


def load_pretrained(backbone: nn.Module, path: str | Path) -> dict:
    """Load backbone weights from a local file (never from a hub); fails loudly when they do not fit.

    The file is a state dict (optionally under a 'state_dict', 'model' or 'backbone' key) read with
    weights_only=True, in this project's naming or in torchvision's / the official code's ResNet naming
    (`map_state_dict`). A missing file raises FileNotFoundError; a missing or unexpected key or a shape mismatch
    raises ValueError naming the file and the offending keys; torchvision-named (ImageNet) weights into a backbone
    that feeds BGR raise ValueError too (set `model.color: rgb`). Returns {'file', 'naming', 'loaded', 'dropped'}.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights not found: {path.resolve()}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "backbone"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    own = backbone.state_dict()
    state, naming, dropped = map_state_dict(state, set(own))
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}" for k in own
             if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise ValueError(f"{path}: weights ({naming} naming) do not fit the {type(backbone).__name__} backbone: "
                         f"missing {missing[:8]} ({len(missing)}), unexpected {unexpected[:8]} ({len(unexpected)}), "
                         f"wrong shape {wrong[:8]} ({len(wrong)})")
    color = getattr(getattr(backbone, "normalize", None), "color", "bgr")
    if naming == "torchvision" and color != "rgb":
        raise ValueError(f"{path}: torchvision-named (ImageNet) weights expect RGB input, but the backbone feeds "
                         f"{color.upper()}; set model.color: rgb")
    backbone.load_state_dict(state)
    return {"file": str(path), "naming": naming, "loaded": len(state), "dropped": dropped}
