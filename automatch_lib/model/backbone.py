"""Backbones with output stride 8, returning two maps: (mid, deep) = ('conv3', 'conv4') in the official naming.

The official AutoMatch uses ResNet-50 with a dilated layer3 and feeds conv3 (layer2) to the classification
branch and conv4 (layer3) to the regression branch, both at stride 8. `SmallBackbone` keeps that shape at a
CPU-friendly size (~0.15 M parameters); `ResNet50Dilated` is the paper's backbone for the GPU profile (weights
from a local path only, see `load_pretrained`). Images enter as float BGR 0..255 (B, 3, H, W).
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

# Normalisation of BGR 0..255 inputs (ImageNet statistics, BGR order, in 0..255 units).
_MEAN = (0.406 * 255, 0.456 * 255, 0.485 * 255)
_STD = (0.225 * 255, 0.224 * 255, 0.229 * 255)


class Normalize(nn.Module):
    """(x - mean) / std per channel, for BGR 0..255 images."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


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

    def __init__(self, widths: tuple[int, int, int, int] = (24, 32, 48, 64)):
        super().__init__()
        w0, w1, w2, w3 = widths
        self.normalize = Normalize()
        self.stem = nn.Sequential(nn.Conv2d(3, w0, 3, 2, 1, bias=False), nn.BatchNorm2d(w0), nn.ReLU(inplace=True))
        self.layer1 = BasicBlock(w0, w1, stride=2)
        self.layer2 = nn.Sequential(BasicBlock(w1, w2, stride=2), BasicBlock(w2, w2))
        self.layer3 = nn.Sequential(BasicBlock(w2, w3, dilation=2), BasicBlock(w3, w3, dilation=2))
        self.out_channels = (w2, w3)
        self.stride = 8

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mid = self.layer2(self.layer1(self.stem(self.normalize(x))))
        return mid, self.layer3(mid)


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
    geometry code serves both backbones. Channels: (512, 1024).
    """

    def __init__(self):
        super().__init__()
        self.normalize = Normalize()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1))
        self.layer1 = self._stage(64, 64, 3)
        self.layer2 = self._stage(256, 128, 4, stride=2)
        self.layer3 = self._stage(512, 256, 6, dilation=2)
        self.out_channels = (512, 1024)
        self.stride = 8

    @staticmethod
    def _stage(cin: int, planes: int, blocks: int, stride: int = 1, dilation: int = 1) -> nn.Sequential:
        layers = [Bottleneck(cin, planes, stride, 1 if dilation == 1 else dilation // 2)]
        layers += [Bottleneck(planes * 4, planes, 1, dilation) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mid = self.layer2(self.layer1(self.stem(self.normalize(x))))
        return mid, self.layer3(mid)


BACKBONES = {"small": SmallBackbone, "resnet50_dilated": ResNet50Dilated}


def build_backbone(name: str, **kwargs) -> nn.Module:
    """Backbone by name (`small`, `resnet50_dilated`)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[name](**kwargs)


def load_pretrained(backbone: nn.Module, path: str | Path) -> None:
    """Load backbone weights from a local file (never from a hub); fails loudly when they do not fit.

    The file is a state dict (optionally under a 'state_dict', 'model' or 'backbone' key) read with
    weights_only=True; keys may carry a 'backbone.' prefix. A missing file raises FileNotFoundError; a missing or
    unexpected backbone key or a shape mismatch raises ValueError naming the file and the first offending keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"backbone weights not found: {path.resolve()}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model", "backbone"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    state = {k.removeprefix("backbone."): v for k, v in state.items()}
    own = backbone.state_dict()
    missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        raise ValueError(f"{path}: weights do not fit the {type(backbone).__name__} backbone: missing "
                         f"{missing[:5]} ({len(missing)}), unexpected {unexpected[:5]} ({len(unexpected)}), "
                         f"wrong shape {wrong[:5]} ({len(wrong)})")
    backbone.load_state_dict(state)
