"""The Siamese tracker around a trained network of any family (`model.network.NETWORKS`: AutoMatch's SiameseNet
with any matching network, PG-Net): `init(image, box)` / `update(image)`.

Per frame (official facts 6): crop the search region around the last position at s_x = s_z * search/exemplar,
score every candidate box (one per cell for the anchor-free heads, one per anchor and cell for PG-Net's; the
network's `candidates`), apply the scale/ratio change penalty exp(-(r_c * s_c - 1) * penalty_k), blend
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
from ..geometry import centred_box, context_size, crop, mean_colour, to_tensor
from ..model.network import load_model, save_checkpoint


def _change(r: np.ndarray) -> np.ndarray:
    """max(r, 1/r): how far a ratio is from 1, symmetric in both directions."""
    r = np.maximum(r, 1e-6)
    return np.maximum(r, 1.0 / r)


def _padded_size(w: np.ndarray, h: np.ndarray) -> np.ndarray:
    pad = (w + h) * 0.5
    return np.sqrt((w + pad) * (h + pad))


class SiameseTracker:
    """Siamese tracker around a network of any family (SiameseNet, PGNet): `cfg` holds the online
    hyper-parameters, `crop` the crop geometry the network was trained with."""

    name = "siamese"

    def __init__(self, model: torch.nn.Module, cfg: TrackConfig, crop_cfg: CropConfig, device: str = "cpu"):
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
        self.init_many([image], [box])

    def update(self, image: np.ndarray) -> np.ndarray:
        """Locate the object in the next frame; returns x, y, w, h (0-based pixels)."""
        return self.update_many([image])[0]

    @torch.no_grad()
    def init_many(self, images: list[np.ndarray], boxes) -> None:
        """Start tracking B objects at once, one per image and box (x, y, w, h): B sequences in lockstep, their
        templates encoded in one batch. The state holds one row per sequence (`center`, `size` (B, 2), ...)."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        if len(images) != len(boxes):
            raise ValueError(f"init_many: {len(images)} images but {len(boxes)} boxes")
        for image, box in zip(images, boxes):
            if image is None or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
                raise ValueError("init expects an H x W x 3 uint8 BGR image")
            check_box_in_image(box, image.shape, "initial box")
        self.center = boxes[:, :2] + boxes[:, 2:] / 2
        self.size = boxes[:, 2:].copy()
        self.image_size = np.array([[image.shape[1], image.shape[0]] for image in images], dtype=np.float64)
        self.pad_value = np.stack([mean_colour(image) for image in images])
        e = self.crop.exemplar_size
        patches, tboxes = [], []
        for image, center, (w, h), pad in zip(images, self.center, self.size, self.pad_value):
            s_z = context_size(w, h, self.crop.context)
            patches.append(crop(image, tuple(center), (s_z, s_z), e, pad)[0])
            tboxes.append(centred_box(w * e / s_z, h * e / s_z, e))
        self.state = self.model.template(self._batch(patches), torch.tensor(np.stack(tboxes), dtype=torch.float32,
                                                                            device=self.device))

    def _batch(self, patches: list[np.ndarray]) -> torch.Tensor:
        return torch.stack([to_tensor(patch) for patch in patches]).to(self.device)

    @torch.no_grad()
    def _search(self, images: list[np.ndarray], rows: np.ndarray, centers: np.ndarray,
                sizes: np.ndarray) -> dict[str, np.ndarray]:
        """The network's candidates in the search regions around `centers` / `sizes` (one per image) of the
        sequences `rows`: {'patches' [(S, S, 3)], 'scores' (B, K, H, W), 'boxes' (B, K, H, W, 4) x1, y1, x2, y2
        in crop pixels, 'scale' (B,) crop px per image px}."""
        size = self.crop.search_size
        patches, scale = [], np.zeros(len(rows))
        for b, (image, row, center, wh) in enumerate(zip(images, rows, centers, sizes)):
            s_z = context_size(wh[0], wh[1], self.crop.context)
            patches.append(crop(image, tuple(center), (s_z * size / self.crop.exemplar_size,) * 2, size,
                                self.pad_value[row])[0])
            scale[b] = self.crop.exemplar_size / s_z
        whole = len(rows) == len(self.center) and bool((rows == np.arange(len(rows))).all())
        state = self.state if whole else _select(self.state, torch.as_tensor(rows, device=self.device))
        out = self.model.track(self._batch(patches), state)
        scores, boxes = (v.cpu().numpy() for v in self.model.candidates(out, size))
        return {"patches": patches, "scores": scores, "boxes": boxes, "scale": scale}

    def response(self, image: np.ndarray, box=None) -> dict[str, np.ndarray]:
        """The network's view of the search region around the state of the first (or only) sequence, or around `box`
        (x, y, w, h; the state is left alone): {'patch': the search crop (S, S, 3), 'scores': (K, H, W)
        probabilities of the K candidate boxes per cell, 'boxes': (K, H, W, 4) those boxes as x1, y1, x2, y2 in
        crop pixels, 'score': (H, W) the best candidate's probability per cell, 'scale': crop px per image px}.
        `update` decides from the same view; the activation-map figures show it around the ground truth."""
        center, wh = (self.center, self.size) if box is None else (
            np.array([[box[0] + box[2] / 2, box[1] + box[3] / 2]]), np.asarray(box[2:], dtype=np.float64)[None])
        view = self._search([image], np.zeros(1, dtype=int), center[:1], wh[:1])
        return {"patch": view["patches"][0], "scores": view["scores"][0], "boxes": view["boxes"][0],
                "score": view["scores"][0].max(axis=0), "scale": float(view["scale"][0])}

    def update_many(self, images: list[np.ndarray], rows=None) -> np.ndarray:
        """Locate the objects of the sequences `rows` (default: all, in order) in their next frames `images`, in
        one batch through the network; the other sequences keep their state (they may have ended). Returns (B, 4)
        boxes x, y, w, h (0-based pixels)."""
        cfg, size = self.cfg, self.crop.search_size
        rows = np.arange(len(self.center)) if rows is None else np.asarray(rows, dtype=int)
        if len(images) != len(rows):
            raise ValueError(f"update_many: {len(images)} images for {len(rows)} tracked sequences (after init_many "
                             f"with several, give rows)")
        view = self._search(images, rows, self.center[rows], self.size[rows])
        score, scale = view["scores"], view["scale"]                 # (B, K, H, W), (B,)
        x1, y1, x2, y2 = np.moveaxis(view["boxes"], -1, 0)
        pw, ph = x2 - x1, y2 - y1                                   # predicted sizes in crop pixels
        prev_w, prev_h = (v.reshape(-1, 1, 1, 1) for v in (self.size[rows] * scale[:, None]).T)
        s_c = _change(_padded_size(pw, ph) / _padded_size(prev_w, prev_h))
        r_c = _change((prev_w / prev_h) / np.maximum(pw / np.maximum(ph, 1e-6), 1e-6))
        penalty = np.exp(-(r_c * s_c - 1) * cfg.penalty_k)
        pscore = penalty * score
        pscore = pscore * (1 - cfg.window_influence) + self._window_for(*score.shape[2:]) * cfg.window_influence
        best = pscore.reshape(len(rows), -1).argmax(axis=1)
        at = lambda a: a.reshape(len(rows), -1)[np.arange(len(rows)), best]  # noqa: E731  the chosen candidate
        shift = np.stack([(at(x1) + at(x2)) / 2 - size / 2, (at(y1) + at(y2)) / 2 - size / 2], axis=1)
        rate = (at(penalty) * at(score) * cfg.lr)[:, None]
        m = cfg.max_scale_change
        current = self.size[rows]
        new_size = np.clip(np.stack([at(pw), at(ph)], axis=1) / scale[:, None], current / m, current * m)
        self.center[rows] = np.clip(self.center[rows] + shift / scale[:, None], 0, self.image_size[rows])
        self.size[rows] = np.clip((1 - rate) * current + rate * new_size, cfg.min_size, self.image_size[rows])
        return np.concatenate([self.center[rows] - self.size[rows] / 2, self.size[rows]], axis=1)


def _select(state, rows: torch.Tensor):
    """The rows of a batched template state (tensors, or lists of tensors as PG-Net's levels)."""
    if isinstance(state, dict):
        return {k: _select(v, rows) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_select(v, rows) for v in state]
    return state[rows]
