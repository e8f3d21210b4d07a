"""The tracker's geometry and update logic on a synthetic moving target, its input checks, the tracker registry
and rebuilding a tracker from a checkpoint alone."""
from __future__ import annotations

import dataclasses
import re

import cv2
import numpy as np
import pytest
import torch

from automatch_lib.config import CropConfig, TrackConfig
from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.data.sequence import check_box_in_image
from automatch_lib.errors import BoxError, ConfigError
from automatch_lib.evaluation.metrics import iou
from automatch_lib.evaluation.ope import run_sequence
from automatch_lib.geometry import grid_centers
from automatch_lib.model.network import SiameseNet, save_checkpoint
from automatch_lib.trackers import TRACKERS, Tracker, make_tracker
from automatch_lib.trackers.siamese import SiameseTracker
from automatch_lib.trackers.static import StaticTracker
from conftest import write_moving_sequence

CROP = CropConfig()   # 48 / 96, context 0.5


class OracleNet(torch.nn.Module):
    """Stands in for a trained network: scores each cell by the normalised squared difference between the
    template's target patch and the search crop and regresses the template box size. If the tracker's crops, grid and box
    decoding are consistent, following this oracle tracks the target."""

    stride = 8
    candidates = SiameseNet.candidates     # the anchor-free heads' decoding (cell centre -/+ l, t, r, b)

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


def assert_follows_moving_target(net, folder, speed: float) -> None:
    """A tracker around `net` (an oracle) keeps IoU > 0.6 on every frame of a target moving at `speed` px/frame and
    beats the static box by 0.2 mean IoU."""
    gt = write_moving_sequence(folder / "Mover", n=25, size=(200, 150), seed=3, speed=speed)
    seq = load_benchmark("otb", folder)[0]
    tracker = SiameseTracker(net, TrackConfig(window_influence=0.2, lr=0.3), CROP)
    boxes, _ = run_sequence(tracker, seq)
    overlaps = iou(boxes - [1, 1, 0, 0], gt)
    assert overlaps.min() > 0.6, overlaps.round(2)
    static = iou(np.repeat(gt[:1], len(gt), axis=0), gt)
    assert overlaps.mean() > static.mean() + 0.2


@pytest.mark.parametrize("speed", [2.0, 5.0])
def test_tracker_follows_a_moving_target(tmp_path, speed):
    assert_follows_moving_target(OracleNet(), tmp_path, speed)


def test_untrained_network_gives_finite_boxes_inside_the_image(tmp_path):
    write_moving_sequence(tmp_path / "A", n=6, size=(160, 120))
    seq = load_benchmark("otb", tmp_path)[0]
    torch.manual_seed(0)
    tracker = SiameseTracker(SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8), TrackConfig(), CROP)
    boxes, _ = run_sequence(tracker, seq)
    assert np.isfinite(boxes).all() and (boxes[:, 2:] > 0).all()
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    assert (centres >= 0).all() and (centres[:, 0] <= 161).all() and (centres[:, 1] <= 121).all()


@pytest.mark.parametrize("box", [[200, 10, 20, 20], [-50, -50, 20, 20], [10, 10, 0, 5], [10, 10, np.nan, 5]])
def test_initial_box_outside_the_image_or_degenerate_is_rejected(box):
    image = np.zeros((120, 160, 3), np.uint8)
    for tracker in (StaticTracker(), SiameseTracker(SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8),
                                                    TrackConfig(), CROP)):
        with pytest.raises(BoxError, match="initial box"):
            tracker.init(image, box)


def test_grayscale_2d_image_is_rejected_with_a_clear_message():
    tracker = SiameseTracker(SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8), TrackConfig(), CROP)
    with pytest.raises(ValueError, match="H x W x 3 uint8"):
        tracker.init(np.zeros((120, 160), np.uint8), [10, 10, 20, 20])


@pytest.mark.parametrize("box,message", [
    (np.array([200.0, 10.0, 20.0, 20.0]), "initial box: box [200.0, 10.0, 20.0, 20.0] lies outside the 160x120 image"),
    (np.array([10.0, 10.0, 0.0, 5.0]), "initial box: box [10.0, 10.0, 0.0, 5.0] has non-positive size"),
    (np.array([10.0, np.nan, 3.0, 5.0]), "initial box: box [10.0, nan, 3.0, 5.0] has a non-finite value"),
    ([np.float32(1.5), np.int64(2), 0, 4], "initial box: box [1.5, 2.0, 0.0, 4.0] has non-positive size"),
])
def test_box_errors_print_plain_numbers(box, message):
    with pytest.raises(BoxError) as err:
        check_box_in_image(box, (120, 160, 3), "initial box")
    assert str(err.value) == message
    assert "np." not in str(err.value) and "float64" not in str(err.value)


# --------------------------------------------------------------------------------------------- registry

def test_tracker_registry_holds_siamese_and_static():
    assert {"siamese", "static"} <= set(TRACKERS)
    static = make_tracker("static")
    assert isinstance(static, StaticTracker) and isinstance(static, Tracker) and static.name == "static"
    assert make_tracker("static", name="fixed box").name == "fixed box"
    assert isinstance(SiameseTracker(SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8), TrackConfig(), CROP),
                      Tracker)


def test_unknown_tracker_kind_names_the_known_ones():
    with pytest.raises(ConfigError) as err:
        make_tracker("nope")
    msg = str(err.value)
    assert "'nope'" in msg
    for kind in TRACKERS:
        assert kind in msg


def test_siamese_tracker_needs_a_checkpoint():
    with pytest.raises(ConfigError, match="needs a checkpoint"):
        make_tracker("siamese")


def test_tracker_is_rebuilt_from_a_checkpoint_alone(tmp_path):
    torch.manual_seed(0)
    net = SiameseNet(["film"], ["dw_xcorr", "concat"], channels=8)
    crop = CropConfig(exemplar_size=32, search_size=64, context=0.4)
    tuned = TrackConfig(penalty_k=0.05, window_influence=0.3, lr=0.4)
    save_checkpoint(tmp_path / "tuned.pt", net, crop=dataclasses.asdict(crop), track=dataclasses.asdict(tuned))
    save_checkpoint(tmp_path / "plain.pt", net, crop=dataclasses.asdict(crop))

    t = make_tracker("siamese", tmp_path / "tuned.pt")
    assert isinstance(t, SiameseTracker) and t.name == "tuned"
    assert t.crop == crop and t.cfg == tuned          # the checkpoint's own tuned settings
    assert t.settings() == {"crop": dataclasses.asdict(crop), "track": dataclasses.asdict(tuned)}
    for a, b in zip(net.state_dict().values(), t.model.state_dict().values()):
        assert torch.equal(a, b)
    given = TrackConfig(lr=0.1)
    t = SiameseTracker.from_checkpoint(tmp_path / "tuned.pt", track=given)
    assert t.cfg == given and t.crop == crop          # an explicit setting wins over the checkpoint's
    t = make_tracker("siamese", tmp_path / "plain.pt", name="mine")
    assert t.cfg == TrackConfig() and t.crop == crop and t.name == "mine"

    # the same frames give the same boxes through the registry and through the constructor
    write_moving_sequence(tmp_path / "seqs" / "A", n=6, size=(160, 120))
    seq = load_benchmark("otb", tmp_path / "seqs")[0]
    a, _ = run_sequence(make_tracker("siamese", tmp_path / "plain.pt"), seq)
    b, _ = run_sequence(SiameseTracker(net, TrackConfig(), crop), seq)
    np.testing.assert_array_equal(a, b)


def test_checkpoint_without_crop_geometry_is_rejected(tmp_path):
    save_checkpoint(tmp_path / "old.pt", SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8))
    with pytest.raises(ValueError, match=re.escape("old.pt: the checkpoint does not record its crop geometry")):
        make_tracker("siamese", tmp_path / "old.pt")


class GrowingNet(OracleNet):
    """A network that is sure the target sits at the crop centre and is `factor` times its template size."""

    def __init__(self, factor):
        self.factor = factor

    def template(self, template, box):
        x1, y1, x2, y2 = box[0].tolist()
        return {"size": (x2 - x1, y2 - y1)}

    def track(self, search, state):
        S = search.shape[-1]
        H = W = int(np.ceil(S / self.stride))
        w, h = (v * self.factor for v in state["size"])
        gx, gy = (g.numpy() for g in grid_centers(H, W, (S, S), self.stride))
        reg = np.stack(np.broadcast_arrays(gx[None] - (S / 2 - w / 2), gy[:, None] - (S / 2 - h / 2),
                                           (S / 2 + w / 2) - gx[None], (S / 2 + h / 2) - gy[:, None]))
        logits = torch.full((1, 1, H, W), -5.0)
        logits[..., H // 2, W // 2] = 5.0
        return {"cls": logits, "reg": torch.from_numpy(reg.copy())[None].float()}


@pytest.mark.parametrize("factor", [3.0, 1 / 3.0])
def test_size_changes_at_most_max_scale_change_per_frame(factor):
    image = np.full((400, 400, 3), 120, np.uint8)
    cfg = TrackConfig(penalty_k=0.0, window_influence=0.0, lr=1.0, max_scale_change=1.05)
    tracker = SiameseTracker(GrowingNet(factor), cfg, CROP)
    tracker.init(image, (180, 170, 40, 60))
    sizes = [np.array([40.0, 60.0])] + [tracker.update(image)[2:] for _ in range(5)]
    ratios = np.array([b / a for a, b in zip(sizes, sizes[1:])])
    assert np.all(np.abs(np.log(ratios)) <= np.log(1.05) + 1e-9), ratios
    assert np.allclose(ratios, 1.05 if factor > 1 else 1 / 1.05, rtol=0.02)   # sure detections move to the bound


# --------------------------------------------------------------------------------------------- lockstep batches

@pytest.mark.parametrize("network", ["siamese", "pgnet"])
def test_lockstep_batches_track_like_one_by_one_and_sequences_may_end_early(tmp_path, network):
    """evaluate_tracker(batch=3) runs three sequences of different lengths through the network together (a sequence
    that has ended leaves the batch); every box equals the one-by-one run's up to the rounding of batched
    convolutions, and fps is still measured one frame after another."""
    from automatch_lib.evaluation.ope import evaluate_tracker
    from automatch_lib.model.pgnet import PGNet
    for k, (n, size) in enumerate(((9, (160, 120)), (13, (200, 150)), (6, (120, 100)))):   # lengths and frames differ
        write_moving_sequence(tmp_path / "seqs" / f"S{k}", n=n, size=size, seed=30 + k, speed=3.0)
    seqs = load_benchmark("otb", tmp_path / "seqs")
    torch.manual_seed(0)
    net = SiameseNet(["dw_xcorr"], ["film"], channels=8) if network == "siamese" else PGNet(channels=8)
    tracker = SiameseTracker(net, TrackConfig(), CROP)
    one = evaluate_tracker(tracker, seqs, tmp_path / "one", progress=False)
    many = evaluate_tracker(tracker, seqs, tmp_path / "many", progress=False, batch=3)
    for seq in seqs:
        a = np.loadtxt(tmp_path / "one" / f"{seq.name}.txt", delimiter=",")
        b = np.loadtxt(tmp_path / "many" / f"{seq.name}.txt", delimiter=",")
        assert a.shape == b.shape == (len(seq), 4)
        np.testing.assert_allclose(b, a, atol=0.011)          # files hold 2 decimals
    assert many["success_auc"] == pytest.approx(one["success_auc"], abs=1e-3) and many["fps"] > 0
    # the lockstep state is one row per sequence; a one-sequence `update` is a batch of one
    tracker.init_many([s.image(0) for s in seqs], [s.init_box() for s in seqs])
    assert tracker.center.shape == tracker.size.shape == (3, 2)
    moved = tracker.update_many([seqs[2].image(1)], rows=[2])
    assert moved.shape == (1, 4)
    with pytest.raises(ValueError, match="1 images for 3 tracked sequences"):
        tracker.update(seqs[0].image(1))
    np.testing.assert_array_equal(tracker.center[:2], [s.init_box()[:2] + s.init_box()[2:] / 2 for s in seqs[:2]])
