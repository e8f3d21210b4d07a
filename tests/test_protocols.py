"""Each benchmark's evaluation protocol against hand-computed cases (evaluation-protocols.md sections 1, 2, 7).

Every expected number is a literal or a short formula derived in the comment beside it; nothing is compared with
another run of the code under test.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

from automatch_lib.data.sequence import Sequence
from automatch_lib.evaluation.metrics import trapezoid
from automatch_lib.evaluation.ope import evaluate_tracker
from automatch_lib.evaluation.protocols import (PROTOCOLS, attribute_scores, got10k_iou, protocol_for,
                                                trackingnet_errors)


def seq_of(gt, valid=None, meta=None, name="s", origin=0, frames=None) -> Sequence:
    """A Sequence over fake frame paths (scoring never reads frames)."""
    gt = np.asarray(gt, dtype=np.float64)
    frames = frames or [Path(f"{i}.jpg") for i in range(len(gt))]
    return Sequence(name, frames, gt, valid=valid, origin=origin, meta=meta or {})


def moving_gt(n=10):
    """n boxes of 20 x 20 px moving right 1 px per frame, all four numbers > 0."""
    return np.array([[10.0 + i, 20.0, 20.0, 20.0] for i in range(n)])


def score(protocol: str, pred, seq: Sequence) -> dict:
    proto = PROTOCOLS[protocol]
    return proto.summarize({seq.name: proto.score_sequence(pred, seq)})


# ------------------------------------------------------------------------------------------------------------------
# registry


def test_registry_covers_every_benchmark_loader_and_aliases():
    from automatch_lib.data.benchmarks import LOADERS

    assert set(PROTOCOLS) == set(LOADERS)
    assert protocol_for("OTB100").name == "otb"
    assert protocol_for("got-10k").name == "got10k"
    assert protocol_for("uav").name == "uav123"
    assert protocol_for("LaSOT").name == "lasot"
    with pytest.raises(ValueError, match=r"unknown evaluation protocol 'nfs'; known: dtb70, got10k, lasot"):
        protocol_for("nfs")


# ------------------------------------------------------------------------------------------------------------------
# OTB and the OTB-style benchmarks


@pytest.mark.parametrize("name", ["otb", "vot", "dtb70", "uav123"])
def test_otb_style_perfect_tracker(name):
    gt = moving_gt()
    s = score(name, gt, seq_of(gt))
    assert s["protocol"] == name
    assert s["success_auc"] == pytest.approx(20 / 21)   # IoU 1 > t for 20 of the 21 thresholds (not t = 1)
    assert s["precision_20"] == 1.0 and s["norm_precision_20"] == 1.0


@pytest.mark.parametrize("name", ["otb", "vot", "dtb70", "uav123"])
def test_otb_style_constant_offset(name):
    gt = moving_gt(10)
    pred = gt + [10, 0, 0, 0]   # frames 2..10: overlap 10 x 20 = 200, union 400 + 400 - 200 = 600 -> IoU 1/3
    s = score(name, pred, seq_of(gt))
    # frame 1 is forced to the GT (IoU 1). t = 0 .. 0.30 (7 points) < 1/3: 10/10; t = 0.35 .. 0.95 (13 points):
    # only frame 1 -> 1/10; t = 1: 0.
    np.testing.assert_allclose(s["success_curve"], [1.0] * 7 + [0.1] * 13 + [0.0])
    assert s["success_auc"] == pytest.approx((7 * 1.0 + 13 * 0.1) / 21)
    assert s["precision_20"] == 1.0                     # centre error 10 px <= 20
    np.testing.assert_allclose(s["precision_curve"][:11], [0.1] * 10 + [1.0])  # CE 10 <= t from t = 10
    assert s["norm_precision_20"] == pytest.approx(0.1)  # 10 / 20 = 0.5 > 0.20: only frame 1


def test_otb_invalid_gt_row_is_a_success_failure_and_a_precision_hit():
    gt = moving_gt(10)
    pred = gt.copy()
    gt[3] = [0, 0, 0, 0]   # invalid under the MATLAB rule: IoU -1 (never > t), centre error -1 (<= t)
    s = score("otb", pred, seq_of(gt))
    assert s["success_curve"][0] == pytest.approx(0.9)   # 9 of 10 frames have IoU 1 > 0
    assert s["precision_20"] == 1.0                     # 9 exact frames + the invalid row's -1


# ------------------------------------------------------------------------------------------------------------------
# LaSOT / TNL2K


def test_lasot_absent_frame_with_perfect_prediction_is_a_failure_everywhere():
    gt = moving_gt(10)
    fo = np.zeros(10, bool)
    fo[4] = True                                         # frame 5 fully occluded -> absent
    seq = seq_of(gt, valid=~fo, meta={"full_occlusion": fo, "out_of_view": np.zeros(10, bool)})
    s = score("lasot", gt, seq)
    # 9 of 10 frames count: success 0.9 for t < 1, 0 at t = 1 -> AUC 20 * 0.9 / 21 = 18/21
    assert s["success_auc"] == pytest.approx(18 / 21)
    assert s["precision_20"] == pytest.approx(0.9)
    assert s["norm_precision_20"] == pytest.approx(0.9)
    assert s["norm_precision_auc"] == pytest.approx(0.9)  # all 51 points are 0.9 (error 0 <= every t)
    # the OTB rule on the same sequence counts the flagged row as a precision hit (CE -1): 10/10
    assert score("otb", gt, seq)["precision_20"] == 1.0


def test_tnl2k_zero_size_rows_are_absent_and_nonpositive_xy_rows_follow_the_matlab_rule():
    gt = moving_gt(10)
    pred = gt.copy()
    gt[4] = [0, 0, 0, 0]          # TNL2K writes absent frames with zero size (loader: valid False) -> failure
    gt[6] = [0, 20, 20, 20]       # present but x = 0: MATLAB invalid -> IoU -1 (failure), CE -1 (hit)
    pred[6] = gt[6]
    s = score("tnl2k", pred, seq_of(gt))
    assert s["success_curve"][0] == pytest.approx(0.8)   # frames 5 and 7 fail
    assert s["precision_20"] == pytest.approx(0.9)       # only the absent frame 5 misses
    assert s["norm_precision_20"] == pytest.approx(0.9)


def test_lasot_norm_precision_at_020_and_as_mean_of_51_points():
    gt = moving_gt(10)
    pred = gt + [2, 0, 0, 0]      # normalised offset 2 / 20 = 0.10 in frames 2..10 (frame 1 forced to GT)
    s = score("lasot", pred, seq_of(gt))
    # curve on t = 0, 0.01, ..., 0.50: 1/10 for t < 0.10 (10 points), 1 from t = 0.10 (41 points)
    np.testing.assert_allclose(s["norm_precision_curve"], [0.1] * 10 + [1.0] * 41)
    assert s["norm_precision_20"] == 1.0
    assert s["norm_precision_auc"] == pytest.approx((10 * 0.1 + 41) / 51)
    assert "0.20" in s["definitions"]["norm_precision_20"] and "51" in s["definitions"]["norm_precision_auc"]


# ------------------------------------------------------------------------------------------------------------------
# GOT-10k


def test_got10k_perfect_tracker_scores_ao_1():
    gt = moving_gt(5)
    s = score("got10k", gt, seq_of(gt, meta={"cover": np.full(5, 8), "resolution": (640, 480)}))
    assert (s["ao"], s["sr_50"], s["sr_75"]) == (1.0, 1.0, 1.0)   # every kept IoU is 400 / (400 + eps) = 1.0
    assert s["frames"] == 4                                       # frame 1 excluded


def test_got10k_excludes_the_first_frame_and_cover_zero_frames():
    gt = moving_gt(5)
    pred = gt.copy()
    pred[0] += [300, 300, 0, 0]   # frame 1 wrong: excluded by the toolkit (b[1:], anno[1:])
    pred[2] += [300, 300, 0, 0]   # frame 3 wrong but cover 0: excluded
    cover = np.array([8, 8, 0, 8, 8])
    s = score("got10k", pred, seq_of(gt, meta={"cover": cover}))
    assert s["ao"] == 1.0 and s["frames"] == 3       # frames 2, 4, 5, all exact
    # without the cover labels (and no valid mask change) frame 3 counts: AO = (1 + 0 + 1 + 1) / 4
    assert score("got10k", pred, seq_of(gt))["ao"] == pytest.approx(0.75)


def test_got10k_clips_boxes_to_the_image():
    W, H = 100, 80
    gt = np.array([[40, 10, 20, 20]] + [[90, 10, 20, 20]] * 2 + [[40, 10, 20, 20]] * 2, float)
    pred = np.array([[40, 10, 20, 20]] + [[80, 10, 20, 20]] * 2 + [[40, 10, 20, 20]] * 2, float)
    # frames 2-3: GT sticks out on the right -> clipped to [90, 10, 10, 20] (area 200); prediction inside.
    # overlap x in [90, 100] -> 10 x 20 = 200; union 400 + 200 - 200 = 400 -> IoU 0.5 (unclipped: 200/600 = 1/3)
    # frames 4-5: IoU 1. AO = (0.5 + 0.5 + 1 + 1) / 4; SR_0.5 = 2/4 (0.5 is not > 0.5); SR_0.75 = 2/4
    s = score("got10k", pred, seq_of(gt, meta={"cover": np.full(5, 8), "resolution": (W, H)}))
    assert s["ao"] == pytest.approx(0.75)
    assert s["sr_50"] == 0.5 and s["sr_75"] == 0.5
    s = score("got10k", pred, seq_of(gt, meta={"cover": np.full(5, 8)}))     # resolution unknown: no clipping
    assert s["ao"] == pytest.approx((1 / 3 + 1 / 3 + 1 + 1) / 4)


def test_got10k_iou_follows_the_toolkit_clipping_rule_and_range():
    # a box sticking out on the left: x is clipped to 0 but w stays 30 (w is only capped at W - x = 100):
    # [0, 10, 30, 20] against [0, 10, 20, 20] -> overlap 400, union 600 + 400 - 400 = 600 -> 2/3
    assert got10k_iou([[0, 10, 20, 20]], [[-10, 10, 30, 20]], bound=(100, 80))[0] == pytest.approx(2 / 3)
    # both boxes beyond the right border collapse to zero width: 0 / (0 + eps) = 0, never NaN
    assert got10k_iou([[120, 10, 20, 20]], [[130, 10, 20, 20]], bound=(100, 80))[0] == 0.0
    # a NaN prediction scores 0 (instead of turning AO into NaN)
    assert got10k_iou([[np.nan] * 4], [[0, 0, 10, 10]])[0] == 0.0
    a, b = np.array([[5.0, 5, 10, 10]]), np.array([[-5.0, 0, 20, 20]])
    got10k_iou(a, b, bound=(100, 80))
    assert b.tolist() == [[-5.0, 0, 20, 20]]        # inputs are not modified (the toolkit mutates them)


def test_got10k_overall_scores_are_frame_weighted():
    long_gt, short_gt = moving_gt(4), moving_gt(2)
    far = short_gt + [300, 300, 0, 0]
    proto = PROTOCOLS["got10k"]
    s = proto.summarize({"long": proto.score_sequence(long_gt, seq_of(long_gt, name="long")),
                         "short": proto.score_sequence(far, seq_of(short_gt, name="short"))})
    # long: 3 kept frames with IoU 1; short: 1 kept frame with IoU 0 -> AO = 3 / 4 (toolkit), per-sequence mean 1/2
    assert s["ao"] == pytest.approx(0.75)
    assert s["ao_sequence_mean"] == pytest.approx(0.5)
    assert s["sequences"]["short"]["ao"] == 0.0 and s["sequences"]["long"]["frames"] == 3


# ------------------------------------------------------------------------------------------------------------------
# TrackingNet


def test_trackingnet_perfect_tracker_scores_1_under_greater_equal():
    gt = moving_gt(6)
    s = score("trackingnet", gt, seq_of(gt))
    # IoU 1 >= t for all 21 thresholds (t = 1 included): the curve is all ones; trapezoid area over [0, 1] = 1
    assert s["success_curve"] == [1.0] * 21
    assert s["success_auc"] == 1.0
    assert s["precision_auc"] == 1.0 and s["norm_precision_auc"] == 1.0


def test_trackingnet_rounds_coordinates_before_the_iou():
    gt = np.array([[0, 0, 10, 10]] * 2, float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 20.4, 10]])
    # float IoU of frame 2: 100 / 204 = 0.490 < 0.5; rounded width 20 -> 100 / 200 = 0.5 exactly (>= 0.5 holds)
    ious, ce, nce = trackingnet_errors(pred, gt)
    assert ious[1] == 0.5
    assert ce[1] == 5.0                                   # centres 0 + 21/2 and 0 + 11/2
    assert nce[1] == 0.5                                  # 5 / 10
    s = score("trackingnet", pred, seq_of(gt))
    assert s["success_curve"][10] == 1.0                  # t = 0.5: both frames
    assert s["success_50"] == 1.0


def test_trackingnet_scores_are_trapezoid_areas():
    gt = np.array([[0, 0, 10, 10]] * 2, float)
    pred = np.array([[0, 0, 10, 10], [0, 0, 20, 10]])     # frame 2: IoU 0.5, CE 5 px, normalised CE 0.5
    s = score("trackingnet", pred, seq_of(gt))
    # success: 1 for t <= 0.5 (11 points), 0.5 for t = 0.55 .. 1 (frame 1 only; IoU 1 >= 1)
    assert s["success_curve"] == [1.0] * 11 + [0.5] * 10
    # trapezoids of width 0.05: 10 x 1 + 1 x 0.75 + 9 x 0.5 -> 0.05 * (10 + 0.75 + 4.5) = 0.7625
    # (the mean of the 21 points would be 16/21 = 0.7619)
    assert s["success_auc"] == pytest.approx(0.7625)
    # precision on t = 0, 2.5, ..., 50: CE 5 counts from t = 5 (index 2): [0.5, 0.5, 1, ..., 1]
    # area 0.05 * (0.5 + 0.75 + 18) = 0.9625; value at 20 px (index 8) = 1
    assert s["precision_auc"] == pytest.approx(0.9625)
    assert s["precision_20"] == 1.0
    # normalised precision on t = 0, 0.025, ..., 0.5: 0.5 counts only at t = 0.5 -> [0.5] * 20 + [1]
    # area 0.05 * (19 x 0.5 + 0.75) = 0.5125; value at 0.20 (index 8) = 0.5
    assert s["norm_precision_auc"] == pytest.approx(0.5125)
    assert s["norm_precision_20"] == 0.5


def test_trapezoid_rule_hand_case():
    # a triangle of height 1 over [0, 1] peaking at 0.5: area 1/2
    assert trapezoid([0, 1, 0], [0, 0.5, 1]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="got 3 and 2 values"):
        trapezoid([0, 1, 0], [0, 1])


# ------------------------------------------------------------------------------------------------------------------
# attributes


def test_attribute_scores_use_each_protocols_rule():
    gt = moving_gt(10)
    absent = np.zeros(10, bool)
    absent[4] = True
    lasot = {"a": PROTOCOLS["lasot"].score_sequence(gt, seq_of(gt, name="a")),
             "b": PROTOCOLS["lasot"].score_sequence(gt, seq_of(gt, name="b", meta={"absent": absent}))}
    table = attribute_scores(lasot, {"a": ("FOC",), "b": ("FOC", "OV")}, "lasot")
    # a: 20/21; b: one absent frame of 10 -> 18/21; FOC = mean of both = 19/21
    assert table["OV"] == {"auc": pytest.approx(18 / 21), "sequences": 1}
    assert table["FOC"] == {"auc": pytest.approx(19 / 21), "sequences": 2}
    got = PROTOCOLS["got10k"]
    g4, g2 = moving_gt(4), moving_gt(2)
    scores = {"long": got.score_sequence(g4, seq_of(g4)), "short": got.score_sequence(g2 + [300, 0, 0, 0], seq_of(g2))}
    table = attribute_scores(scores, {"long": ("car",), "short": ("car",)}, "got10k")
    # frame-weighted: 3 frames with success 20/21 and 1 frame with 0 -> (3 x 20/21) / 4 = 15/21
    assert table["car"]["auc"] == pytest.approx(15 / 21)


# ------------------------------------------------------------------------------------------------------------------
# the runner: metrics.json and the test-split submissions


class Oracle:
    """Reports the ground truth (0-based) of the sequence it is told about."""

    name = "oracle"

    def __init__(self, seq: Sequence):
        self.boxes, self.i = seq.boxes - [seq.origin, seq.origin, 0, 0], 0

    def init(self, image, box):
        self.i = 0

    def update(self, image):
        self.i += 1
        return self.boxes[self.i]


class Drift:
    """Moves the first box right by 1 px per frame."""

    name = "drift"

    def init(self, image, box):
        self.box = np.asarray(box, dtype=np.float64)

    def update(self, image):
        self.box = self.box + [1, 0, 0, 0]
        return self.box


def write_frames(folder: Path, names: list[str]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in names:
        cv2.imwrite(str(folder / n), np.full((60, 80, 3), 90, np.uint8))
        paths.append(folder / n)
    return paths


@pytest.mark.parametrize("name,auc,own", [
    ("otb", 20 / 21, "success_50"), ("vot", 20 / 21, "success_50"), ("dtb70", 20 / 21, "success_50"),
    ("uav123", 20 / 21, "success_50"), ("lasot", 20 / 21, "norm_precision_auc"),
    ("tnl2k", 20 / 21, "norm_precision_auc"),
    ("got10k", 20 / 21, "ao"),            # 21-point curve of IoU 1 > t over the kept frames: 20/21
    ("trackingnet", 1.0, "precision_auc"),  # IoU 1 >= t everywhere, trapezoid area 1
])
def test_evaluate_tracker_writes_the_protocols_metrics(tmp_path, name, auc, own):
    gt = np.array([[5.0 + i, 6.0, 20.0, 15.0] for i in range(4)])
    seq = seq_of(gt, name="seq", meta={"cover": np.full(4, 8), "resolution": (80, 60)},
                 frames=write_frames(tmp_path / "img", [f"{i}.jpg" for i in range(4)]))
    m = evaluate_tracker(Oracle(seq), [seq], tmp_path / "out", progress=False, protocol=name)
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["protocol"] == name
    assert {"success_auc", "precision_20", "norm_precision_20", own, "sequences", "fps"} <= set(data)
    for key in ("success_auc", "precision_20", "norm_precision_20", own):
        assert type(data[key]) is float and type(m[key]) is float
    assert data["success_auc"] == pytest.approx(auc)
    assert data["precision_20"] == 1.0
    assert set(data["sequences"]) == {"seq"}
    assert np.loadtxt(tmp_path / "out" / "seq.txt", delimiter=",").tolist() == gt.tolist()


def first_box_fixture(tmp_path: Path):
    """GOT-10k test and TrackingNet TEST layouts, 2 sequences of 3 frames each, ground truth = first box only."""
    from automatch_lib.data.benchmarks import load_benchmark

    got = tmp_path / "got10k" / "test"
    names = ["GOT-10k_Test_000001", "GOT-10k_Test_000002"]
    got.mkdir(parents=True)
    (got / "list.txt").write_text("\n".join(names) + "\n")
    for n in names:
        write_frames(got / n, [f"{i:08d}.jpg" for i in range(1, 4)])
        (got / n / "groundtruth.txt").write_text("10.5,12,20,15\n")
    tn = tmp_path / "trackingnet" / "TEST"
    (tn / "anno").mkdir(parents=True)
    for n in ("seqA", "seqB"):
        write_frames(tn / "frames" / n, [f"{i}.jpg" for i in range(3)])
        (tn / "anno" / f"{n}.txt").write_text("10.5,12,20,15\n")
    return (load_benchmark("got10k", tmp_path / "got10k", split="test"),
            load_benchmark("trackingnet", tmp_path / "trackingnet", split="test"))


def test_first_box_only_sequences_need_a_server_protocol_and_fail_before_tracking(tmp_path):
    got, _ = first_box_fixture(tmp_path)
    # today's behaviour (before protocols): the first sequence was tracked, then scoring raised
    # "3 predicted boxes for 1 ground-truth rows"; now the check comes first and no result file is written
    with pytest.raises(ValueError, match="the 2 sequences hold only the first ground-truth box .* protocol 'otb' "
                                         "has no evaluation server"):
        evaluate_tracker(Drift(), got, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    gt = moving_gt(3)
    annotated = seq_of(gt, name="val", frames=write_frames(tmp_path / "v", ["1.jpg", "2.jpg", "3.jpg"]))
    with pytest.raises(ValueError, match="2 of 3 sequences hold only the first ground-truth box"):
        evaluate_tracker(Drift(), [annotated, *got], tmp_path / "out", progress=False, protocol="got10k")


def test_got10k_test_split_writes_the_submission_layout(tmp_path):
    got, _ = first_box_fixture(tmp_path)
    out = tmp_path / "results" / "got10k" / "drift"
    m = evaluate_tracker(Drift(), got, out, progress=False, protocol="got10k")
    sub = out / "submission"
    # <tracker>/<seq>/<seq>_001.txt: 3 rows, 3 decimals, frame 1 = the given box, then +1 px per frame
    for n in ("GOT-10k_Test_000001", "GOT-10k_Test_000002"):
        assert (sub / "drift" / n / f"{n}_001.txt").read_text() == (
            "10.500,12.000,20.000,15.000\n11.500,12.000,20.000,15.000\n12.500,12.000,20.000,15.000\n")
        times = (sub / "drift" / n / f"{n}_time.txt").read_text().splitlines()
        assert len(times) == 3 and all(re.fullmatch(r"\d+\.\d{8}", t) for t in times)   # one column, 8 decimals
    with zipfile.ZipFile(sub / "drift.zip") as z:
        assert sorted(z.namelist()) == ["GOT-10k_Test_000001/GOT-10k_Test_000001_001.txt",
                                        "GOT-10k_Test_000001/GOT-10k_Test_000001_time.txt",
                                        "GOT-10k_Test_000002/GOT-10k_Test_000002_001.txt",
                                        "GOT-10k_Test_000002/GOT-10k_Test_000002_time.txt"]
    data = json.loads((out / "metrics.json").read_text())
    assert data["protocol"] == "got10k" and data["scored_on_server"] is True
    assert data["success_auc"] is None and data["ao"] is None           # JSON null: scored by the server
    assert np.isnan(m["success_auc"])
    assert data["submission"]["zip"] == str(sub / "drift.zip")
    assert data["sequences"] == {"GOT-10k_Test_000001": {"frames": 3}, "GOT-10k_Test_000002": {"frames": 3}}


def test_trackingnet_test_split_writes_a_zip_of_sequence_files(tmp_path):
    _, tn = first_box_fixture(tmp_path)
    out = tmp_path / "results" / "trackingnet" / "drift"
    evaluate_tracker(Drift(), tn, out, progress=False, protocol="trackingnet")
    with zipfile.ZipFile(out / "submission" / "drift.zip") as z:
        assert sorted(z.namelist()) == ["seqA.txt", "seqB.txt"]        # <seq>.txt at the zip's root
        assert z.read("seqB.txt").decode() == (
            "10.500,12.000,20.000,15.000\n11.500,12.000,20.000,15.000\n12.500,12.000,20.000,15.000\n")
    data = json.loads((out / "metrics.json").read_text())
    assert data["protocol"] == "trackingnet" and data["scored_on_server"] is True
    assert data["norm_precision_auc"] is None


def test_error_messages_use_plain_numbers():
    gt = moving_gt(4)
    with pytest.raises(ValueError) as err:
        PROTOCOLS["lasot"].score_sequence(gt[:3], seq_of(gt))
    assert str(err.value) == "sequence 's': 3 predicted boxes for 4 ground-truth rows"
    with pytest.raises(ValueError) as err:
        PROTOCOLS["got10k"].score_sequence(gt, seq_of(gt, meta={"cover": np.array([8, 8, 8])}))
    assert str(err.value) == "sequence 's': 3 cover labels for 4 frames"
