"""The Siamese tracker around a trained SiameseNet (any matching network): `init(image, box)` / `update(image)`.

Per frame (official facts 6): crop the search region around the last position at s_x = s_z * search/exemplar,
score every cell, decode ltrb boxes, apply the scale/ratio change penalty exp(-(r_c * s_c - 1) * penalty_k), blend
with a cosine window (window_influence), take the argmax, move the centre there and blend the size with rate
lr * penalty * score (size smoothing, so a confident detection changes the size more than a doubtful one), the
predicted width and height each first bounded to [1/m, m] x the current ones (m = max_scale_change: a real object
does not change size by more than a few percent between frames, and one bad regression must not blow the box up
to the frame), clamp to the image. Boxes are x, y, w, h in 0-based pixels; images are
H x W x 3 uint8 BGR.
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..config import CropConfig, TrackConfig
from ..data.sequence import check_box_in_image
from ..geometry import centred_box, context_size, crop, grid_centers, to_tensor
from ..model.network import SiameseNet, load_model, save_checkpoint


def _change(r: np.ndarray) -> np.ndarray:
    """max(r, 1/r): how far a ratio is from 1, symmetric in both directions."""
    r = np.maximum(r, 1e-6)
    return np.maximum(r, 1.0 / r)


def _padded_size(w: np.ndarray, h: np.ndarray) -> np.ndarray:
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


class SiameseTracker:
    """Anchor-free Siamese tracker around a SiameseNet: `cfg` holds the online hyper-parameters, `crop` the crop
    geometry the network was trained with."""

    name = "siamese"

    def __init__(self, model: SiameseNet, cfg: TrackConfig, crop_cfg: CropConfig, device: str = "cpu"):
        self.model = model.eval().to(device)
        self.cfg, self.crop = cfg, crop_cfg
        self.device = torch.device(device)
        self._window = None

    @classmethod
    def from_checkpoint(cls, path: str | Path, track: TrackConfig | None = None, device: str = "cpu",
                        name: str | None = None) -> "SiameseTracker":
        """A tracker from a checkpoint alone: the network and its crop geometry come from the file; the online
        hyper-parameters are `track`, else the checkpoint's own (written after tuning), else the defaults."""
        model, ckpt = load_model(path)
        if "crop" not in ckpt:
            raise ValueError(f"{path}: the checkpoint does not record its crop geometry (train it with this version)")
        tracker = cls(model, track or TrackConfig(**ckpt.get("track", {})), CropConfig(**ckpt["crop"]), device)
        tracker.name = name or Path(path).stem
        return tracker

    def settings(self) -> dict:
        """What a checkpoint stores to rebuild this tracker: {'crop': {...}, 'track': {...}}."""
        return {"crop": asdict(self.crop), "track": asdict(self.cfg)}

    def save(self, path: str | Path) -> None:
        """A deployable checkpoint: the network, its crop geometry and these online settings (no optimiser
        state), so `automatch track --checkpoint FILE` needs nothing else."""
        save_checkpoint(path, self.model, **self.settings())

    def _window_for(self, h: int, w: int) -> np.ndarray:
        if self._window is None or self._window.shape != (h, w):
            self._window = np.outer(np.hanning(h), np.hanning(w))
        return self._window

    @torch.no_grad()
    def init(self, image: np.ndarray, box) -> None:
        """Start tracking the object at box (x, y, w, h, 0-based pixels) in the first frame."""
        box = np.asarray(box, dtype=np.float64)
        if image is None or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("init expects an H x W x 3 uint8 BGR image")
        check_box_in_image(box, image.shape, "initial box")
        x, y, w, h = box
        self.center = np.array([x + w / 2, y + h / 2])
        self.size = np.array([w, h])
        self.image_size = np.array([image.shape[1], image.shape[0]], dtype=np.float64)
        self.pad_value = image.reshape(-1, 3).mean(axis=0)
        e = self.crop.exemplar_size
        s_z = context_size(w, h, self.crop.context)
        patch, _ = crop(image, tuple(self.center), (s_z, s_z), e, self.pad_value)
        scale = e / s_z
        tbox = torch.tensor(centred_box(w * scale, h * scale, e)[None], dtype=torch.float32, device=self.device)
        self.state = self.model.template(to_tensor(patch)[None].to(self.device), tbox)

    @torch.no_grad()
    def response(self, image: np.ndarray, box=None) -> dict[str, np.ndarray]:
        """The network's view of the search region around the current state, or around `box` (x, y, w, h; the
        state is left alone): {'patch': the search crop (S, S, 3), 'score': sigmoid score map (H, W), 'ltrb':
        (4, H, W) distances in crop pixels, 'scale': crop px per image px}. `update` decides from it; the
        activation-map figures show it around the ground truth."""
        size = self.crop.search_size
        center, wh = (self.center, self.size) if box is None else (
            np.array([box[0] + box[2] / 2, box[1] + box[3] / 2]), np.asarray(box[2:], dtype=np.float64))
        s_z = context_size(wh[0], wh[1], self.crop.context)
        s_x = s_z * size / self.crop.exemplar_size
        patch, _ = crop(image, tuple(center), (s_x, s_x), size, self.pad_value)
        out = self.model.track(to_tensor(patch)[None].to(self.device), self.state)
        return {"patch": patch, "score": torch.sigmoid(out["cls"][0, 0]).cpu().numpy(),
                "ltrb": out["reg"][0].cpu().numpy(), "scale": self.crop.exemplar_size / s_z}

    def update(self, image: np.ndarray) -> np.ndarray:
        """Locate the object in the next frame; returns x, y, w, h (0-based pixels)."""
        cfg, size = self.cfg, self.crop.search_size
        view = self.response(image)
        score, ltrb, scale = view["score"], view["ltrb"], view["scale"]
        H, W = score.shape
        gx, gy = (g.numpy() for g in grid_centers(H, W, (size, size), self.model.stride))
        x1, y1 = gx[None, :] - ltrb[0], gy[:, None] - ltrb[1]
        x2, y2 = gx[None, :] + ltrb[2], gy[:, None] + ltrb[3]
        pw, ph = x2 - x1, y2 - y1                                   # predicted size in crop pixels
        prev_w, prev_h = self.size * scale
        s_c = _change(_padded_size(pw, ph) / _padded_size(prev_w, prev_h))
        r_c = _change((prev_w / prev_h) / np.maximum(pw / np.maximum(ph, 1e-6), 1e-6))
        penalty = np.exp(-(r_c * s_c - 1) * cfg.penalty_k)
        pscore = penalty * score
        pscore = pscore * (1 - cfg.window_influence) + self._window_for(H, W) * cfg.window_influence
        i, j = np.unravel_index(int(np.argmax(pscore)), pscore.shape)
        cx = (x1[i, j] + x2[i, j]) / 2 - size / 2
        cy = (y1[i, j] + y2[i, j]) / 2 - size / 2
        rate = penalty[i, j] * score[i, j] * cfg.lr
        m = cfg.max_scale_change
        new_size = np.clip(np.array([pw[i, j], ph[i, j]]) / scale, self.size / m, self.size * m)
        self.center = self.center + np.array([cx, cy]) / scale
        self.size = (1 - rate) * self.size + rate * new_size
        self.center = np.clip(self.center, 0, self.image_size)
        self.size = np.clip(self.size, cfg.min_size, self.image_size)
        self.last_score = float(score[i, j])
        return np.array([*(self.center - self.size / 2), *self.size])
