"""Training pairs: template/search crops of the same object (or of different objects, negatives), augmented.

Pairs follow the official recipe (facts 5): template shift/scale jitter, search shift/scale jitter, colour jitter,
optional blur/grey/flip, a fraction of negative pairs (different objects), and an aspect stretch shared by both
crops of a pair (`aspect_jitter`): the photographed objects are mostly compact, real targets are often elongated
(a pedestrian is 1:3), so each pair sees its object widened or heightened by a factor up to exp(aspect_jitter), as
if it had been photographed so. Crops use the geometry the tracker uses (`automatch_lib.geometry`). Every sample
is drawn from its own RNG seeded by (seed, epoch, index), so results do not depend on the number of DataLoader
workers.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import CropConfig, PairConfig
from ..geometry import context_size, crop, to_tensor, transform_box
from .sequence import Sequence


class PairDataset(Dataset):
    """Deterministic template/search pairs drawn from sequences (and single-frame stills).

    Item: dict(template (3, E, E), search (3, S, S) float 0..255, template_box (4,) and search_box (4,) x1, y1,
    x2, y2 in crop pixels, negative () bool). `set_epoch(e)` changes the draw for a new epoch.
    """

    def __init__(self, sequences: list[Sequence], cfg: PairConfig, crop_cfg: CropConfig, length: int, seed: int = 0,
                 stills: list[Sequence] | None = None,
                 extra: list[tuple[list[Sequence], float, int]] | None = None):
        """sequences: embedded videos (weight 1, cfg.frame_range); stills: single images; extra: further video
        groups as (sequences, relative weight, frame range), e.g. GOT-10k train."""
        usable = lambda seqs: [s for s in seqs if len(s) > 1 and s.valid.sum() >= 2]  # noqa: E731
        self.groups = [(g, float(w), int(r)) for g, w, r in
                       [(usable(sequences), 1.0, cfg.frame_range)] + [(usable(g), w, r) for g, w, r in extra or []]
                       if g and w > 0]
        self.videos = [s for g, _, _ in self.groups for s in g]
        self.stills = list(stills or []) + [s for s in sequences if len(s) == 1]
        if not self.videos and not self.stills:
            raise ValueError("PairDataset needs at least one sequence with two valid frames or one still")
        weights = np.array([w for _, w, _ in self.groups])
        self.group_p = weights / weights.sum() if len(weights) else weights
        self.cfg, self.crop, self.length, self.seed, self.epoch = cfg, crop_cfg, length, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def _pick(self, rng: np.random.Generator) -> tuple[Sequence, int, int]:
        """A sequence and a (template, search) frame pair within frame_range, both valid."""
        use_still = self.stills and (not self.videos or rng.random() < self.cfg.still_weight)
        if use_still:
            seq = self.stills[rng.integers(len(self.stills))]
            return seq, 0, 0
        group, _, frame_range = self.groups[int(rng.choice(len(self.groups), p=self.group_p))]
        seq = group[rng.integers(len(group))]
        valid = np.flatnonzero(seq.valid)
        t = int(valid[rng.integers(len(valid))])
        near = valid[np.abs(valid - t) <= frame_range]
        return seq, t, int(near[rng.integers(len(near))])

    def _sample_crop(self, seq: Sequence, frame: int, out_size: int, shift: float, scale: float,
                     rng: np.random.Generator, aspect: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """A crop around the object with the tracker's geometry, for the object stretched by `aspect` (its width
        grows by sqrt(aspect), its height shrinks by it): the crop window is sized for the stretched object and
        squeezed back in the source image."""
        image = seq.image(frame)
        box = seq.box(frame)
        x, y, w, h = box
        stretch = np.array([np.sqrt(aspect), 1 / np.sqrt(aspect)])
        side = context_size(w * stretch[0], h * stretch[1], self.crop.context) * out_size / self.crop.exemplar_size
        sides = side / stretch * (1 + rng.uniform(-scale, scale, size=2))
        center = np.array([x + w / 2, y + h / 2]) + rng.uniform(-shift, shift, size=2) * sides / out_size
        patch, matrix = crop(image, tuple(center), tuple(sides), out_size)
        return patch, transform_box(box, matrix)

    def _photometric(self, patch: np.ndarray, rng: np.random.Generator, gray: bool, blur: bool) -> np.ndarray:
        amp = self.cfg.color_jitter
        out = patch.astype(np.float32) * (1 + rng.uniform(-amp, amp)) + 255 * rng.uniform(-amp, amp) * 0.5
        out *= 1 + rng.uniform(-amp, amp, size=3).astype(np.float32) * 0.5
        out = np.clip(out, 0, 255).astype(np.uint8)
        if gray:
            out = cv2.cvtColor(cv2.cvtColor(out, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
        if blur:
            k = int(rng.choice([3, 5]))
            out = cv2.GaussianBlur(out, (k, k), 0)
        return out

    def __getitem__(self, index: int) -> dict:
        cfg, size = self.cfg, self.crop
        rng = np.random.default_rng([self.seed, self.epoch, index])
        seq, t, s = self._pick(rng)
        negative = bool(rng.random() < cfg.negative_prob) and len(self.videos) + len(self.stills) > 1
        if negative:
            pool = self.videos + self.stills
            other = seq
            while other is seq:
                other = pool[rng.integers(len(pool))]
            search_seq, s = other, int(np.flatnonzero(other.valid)[rng.integers(other.valid.sum())])
        else:
            search_seq = seq
        aspect = float(np.exp(rng.uniform(-cfg.aspect_jitter, cfg.aspect_jitter))) if cfg.aspect_jitter else 1.0
        template, t_box = self._sample_crop(seq, t, size.exemplar_size, cfg.template_shift, cfg.template_scale, rng,
                                            aspect)
        search, s_box = self._sample_crop(search_seq, s, size.search_size, cfg.search_shift, cfg.search_scale, rng,
                                          aspect)
        gray = rng.random() < cfg.gray_prob
        template = self._photometric(template, rng, gray, rng.random() < cfg.blur_prob)
        search = self._photometric(search, rng, gray, rng.random() < cfg.blur_prob)
        if rng.random() < cfg.flip_prob:
            template, search = template[:, ::-1], search[:, ::-1]
            t_box = np.array([size.exemplar_size - t_box[2], t_box[1], size.exemplar_size - t_box[0], t_box[3]])
            s_box = np.array([size.search_size - s_box[2], s_box[1], size.search_size - s_box[0], s_box[3]])
        return {"template": to_tensor(template), "search": to_tensor(search),
                "template_box": torch.tensor(t_box, dtype=torch.float32),
                "search_box": torch.tensor(s_box, dtype=torch.float32),
                "negative": torch.tensor(negative)}
