"""Shared fixtures: tiny OTB-layout sequences with a textured target moving over a textured background."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"


def pytest_collection_modifyitems(items):
    """The slow end-to-end tests first (stable order otherwise): under `make test`'s two pytest-xdist workers
    (`--dist loadfile --no-loadscope-reorder`) the pipeline smoke run, the longest file, starts at once on one worker
    while the unit tests share the other, instead of starting last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Two cores are shared by the test process and its subprocesses: keep torch on one thread."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def write_moving_sequence(folder: Path, n: int = 12, size: tuple[int, int] = (160, 120), seed: int = 0,
                          box_size: tuple[int, int] = (24, 18), speed: float = 3.0) -> np.ndarray:
    """Write `folder/img/%04d.jpg` + groundtruth_rect.txt (1-based) of a patterned target moving linearly.

    Returns the 0-based ground truth (n, 4).
    """
    rng = np.random.default_rng(seed)
    W, H = size
    background = cv2.GaussianBlur(rng.integers(0, 255, (H, W, 3), dtype=np.uint8), (7, 7), 0)
    w, h = box_size
    target = np.zeros((h, w, 3), np.uint8)
    target[:, :] = rng.integers(0, 255, 3)
    cv2.circle(target, (w // 2, h // 2), min(w, h) // 3, tuple(int(v) for v in rng.integers(0, 255, 3)), -1)
    cv2.rectangle(target, (0, 0), (w - 1, h - 1), (255, 255, 255), 1)
    (folder / "img").mkdir(parents=True, exist_ok=True)
    angle = rng.uniform(0, 2 * np.pi)
    x0, y0 = W / 2 - w / 2, H / 2 - h / 2
    boxes = []
    for i in range(n):
        x = int(round(np.clip(x0 + np.cos(angle) * speed * i, 0, W - w)))
        y = int(round(np.clip(y0 + np.sin(angle) * speed * i, 0, H - h)))
        frame = background.copy()
        frame[y:y + h, x:x + w] = target
        cv2.imwrite(str(folder / "img" / f"{i + 1:04d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
        boxes.append([x, y, w, h])
    boxes = np.array(boxes, dtype=np.float64)
    np.savetxt(folder / "groundtruth_rect.txt", boxes + [1, 1, 0, 0], fmt="%d", delimiter=",")
    return boxes


def profile_params(dest: Path, profile: str = "smoke") -> Path:
    """Write params.yaml merged with profiles/<profile>.yaml to `dest` (a folder or a .yaml path); return the file."""
    from automatch_lib.config import apply_profile

    dest = Path(dest)
    out = dest if dest.suffix in (".yaml", ".yml") else dest / "params.yaml"
    apply_profile(REPO / "params.yaml", REPO / "profiles" / f"{profile}.yaml", out)
    return out


@pytest.fixture
def otb_folder(tmp_path: Path) -> Path:
    """An OTB-layout folder with three short moving-target sequences."""
    root = tmp_path / "otb"
    for k in range(3):
        write_moving_sequence(root / f"Seq{k}", n=10, seed=k)
    return root


# torchvision's resnet50: (blocks, planes) per layer; written from its published layout, not from our mapping
RESNET50 = ((3, 64), (4, 128), (6, 256), (3, 512))


def _he(cout: int, cin: int, k: int, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(cout, cin, k, k, generator=gen) * (2.0 / (cin * k * k)) ** 0.5


def _bn(prefix: str, c: int, gen: torch.Generator) -> dict:
    """BatchNorm entries with values a trained network could hold (so activations stay finite in training)."""
    return {f"{prefix}.weight": 0.25 + 0.5 * torch.rand(c, generator=gen),
            f"{prefix}.bias": 0.1 * torch.randn(c, generator=gen),
            f"{prefix}.running_mean": 0.1 * torch.randn(c, generator=gen),
            f"{prefix}.running_var": 0.5 + torch.rand(c, generator=gen),
            f"{prefix}.num_batches_tracked": torch.tensor(7)}


def torchvision_resnet50_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A state dict with every key and shape of torchvision's resnet50 (random values), fc included."""
    gen = torch.Generator().manual_seed(seed)
    state = {"conv1.weight": _he(64, 3, 7, gen), **_bn("bn1", 64, gen)}
    cin = 64
    for layer, (blocks, planes) in enumerate(RESNET50, start=1):
        for b in range(blocks):
            p = f"layer{layer}.{b}"
            state[f"{p}.conv1.weight"] = _he(planes, cin, 1, gen)
            state.update(_bn(f"{p}.bn1", planes, gen))
            state[f"{p}.conv2.weight"] = _he(planes, planes, 3, gen)
            state.update(_bn(f"{p}.bn2", planes, gen))
            state[f"{p}.conv3.weight"] = _he(planes * 4, planes, 1, gen)
            state.update(_bn(f"{p}.bn3", planes * 4, gen))
            if b == 0:
                state[f"{p}.downsample.0.weight"] = _he(planes * 4, cin, 1, gen)
                state.update(_bn(f"{p}.downsample.1", planes * 4, gen))
            cin = planes * 4
    state["fc.weight"] = torch.randn(1000, 2048, generator=gen)
    state["fc.bias"] = torch.randn(1000, generator=gen)
    return state
