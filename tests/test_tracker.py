"""The tracker's geometry and update logic on a synthetic moving target, and its input checks."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.errors import BoxError
from automatch_lib.evaluation.metrics import iou
from automatch_lib.evaluation.ope import run_sequence
from automatch_lib.model.losses import grid_centers
from automatch_lib.model.network import SiameseNet
from automatch_lib.tracker import SiameseTracker, StaticTracker, TrackConfig
from conftest import write_moving_sequence


class OracleNet(torch.nn.Module):
    """Stands in for a trained network: scores each cell by the normalised squared difference between the
    template's target patch and the search crop and regresses the template box size. If the tracker's crops, grid and box
    decoding are consistent, following this oracle tracks the target."""

    stride = 8

    def template(self, template, box):
        img = template[0].permute(1, 2, 0).numpy().astype(np.uint8)
        x1, y1, x2, y2 = box[0].round().int().tolist()
        return {"patch": img[y1:y2, x1:x2], "size": (x2 - x1, y2 - y1)}

    def track(self, search, state):
        img = search[0].permute(1, 2, 0).numpy().astype(np.uint8)
        S = img.shape[0]
        H = W = int(np.ceil(S / self.stride))
        ncc = 1.0 - cv2.matchTemplate(img, state["patch"], cv2.TM_SQDIFF_NORMED)  # 1 = exact match
        ph, pw = state["patch"].shape[:2]
        w, h = state["size"]
        gx, gy = (g.numpy() for g in grid_centers(H, W, (S, S), self.stride))
        score, reg = np.zeros((H, W)), np.zeros((4, H, W))
        half = self.stride // 2
        for i, cy in enumerate(gy):
            for j, cx in enumerate(gx):
                # each cell answers for the target centres within half a stride of it, like a trained head
                top, left = int(round(cy - ph / 2)), int(round(cx - pw / 2))
                t0, l0 = max(top - half, 0), max(left - half, 0)
                win = ncc[t0:top + half + 1, l0:left + half + 1]
                if win.size == 0:
                    continue
                di, dj = np.unravel_index(np.argmax(win), win.shape)
                score[i, j] = win[di, dj]
                oy, ox = t0 + di - top, l0 + dj - left
                reg[:, i, j] = [w / 2 - ox, h / 2 - oy, w / 2 + ox, h / 2 + oy]
        logits = torch.from_numpy(30.0 * (score - 0.9))[None, None].float()
        return {"cls": logits, "reg": torch.from_numpy(reg)[None].float()}

    def eval(self):
        return self

    def to(self, device):
        return self


@pytest.mark.parametrize("speed", [2.0, 5.0])
def test_tracker_follows_a_moving_target(tmp_path, speed):
    gt = write_moving_sequence(tmp_path / "Mover", n=25, size=(200, 150), seed=3, speed=speed)
    seq = load_benchmark("otb", tmp_path)[0]
    tracker = SiameseTracker(OracleNet(), TrackConfig(window_influence=0.2, lr=0.3))
    boxes, _ = run_sequence(tracker, seq)
    overlaps = iou(boxes - [1, 1, 0, 0], gt)
    assert overlaps.min() > 0.6, overlaps.round(2)
    static = iou(np.repeat(gt[:1], len(gt), axis=0), gt)
    assert overlaps.mean() > static.mean() + 0.2


def test_untrained_network_gives_finite_boxes_inside_the_image(tmp_path):
    write_moving_sequence(tmp_path / "A", n=6, size=(160, 120))
    seq = load_benchmark("otb", tmp_path)[0]
    torch.manual_seed(0)
    tracker = SiameseTracker(SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8), TrackConfig())
    boxes, _ = run_sequence(tracker, seq)
    assert np.isfinite(boxes).all() and (boxes[:, 2:] > 0).all()
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    assert (centres >= 0).all() and (centres[:, 0] <= 161).all() and (centres[:, 1] <= 121).all()


@pytest.mark.parametrize("box", [[200, 10, 20, 20], [-50, -50, 20, 20], [10, 10, 0, 5], [10, 10, np.nan, 5]])
def test_initial_box_outside_the_image_or_degenerate_is_rejected(box):
    image = np.zeros((120, 160, 3), np.uint8)
    for tracker in (StaticTracker(), SiameseTracker(SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8),
                                                    TrackConfig())):
        with pytest.raises(BoxError, match="initial box"):
            tracker.init(image, box)


def test_grayscale_2d_image_is_rejected_with_a_clear_message():
    tracker = SiameseTracker(SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8), TrackConfig())
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        tracker.init(np.zeros((120, 160), np.uint8), [10, 10, 20, 20])
