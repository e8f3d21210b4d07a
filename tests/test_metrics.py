"""OPE metrics against hand-computed cases (evaluation-protocols.md section 1)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from automatch_lib.data.sequence import OTB_ATTRIBUTES
from automatch_lib.evaluation.metrics import attribute_scores, iou, sequence_curves, summarize


def gt_boxes(n=10):
    return np.array([[10.0 + i, 20.0, 20.0, 20.0] for i in range(n)])


def test_iou_hand_cases():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 10, 10]], float)
    b = np.array([[0, 0, 10, 10], [5, 0, 10, 10], [10, 0, 10, 10], [2, 2, 5, 5]], float)
    np.testing.assert_allclose(iou(a, b), [1.0, 50 / 150, 0.0, 25 / 100])


def test_perfect_tracker_scores_20_of_21_and_full_precision():
    gt = gt_boxes()
    s = summarize({"a": sequence_curves(gt, gt)})
    assert s["success_auc"] == pytest.approx(20 / 21)
    assert s["precision_20"] == 1.0
    assert s["success_curve"][-1] == 0.0  # IoU > 1 never holds


def test_known_offset_gives_known_curves():
    gt = gt_boxes()
    pred = gt + [10, 0, 0, 0]  # IoU = 200 / 600 = 1/3, centre error 10 px
    c = sequence_curves(pred, gt)
    # thresholds 0, 0.05, ..., 0.30 are below 1/3 -> 7 successes out of 21
    np.testing.assert_allclose(c["success"], [1.0] * 7 + [0.0] * 14)
    assert c["success"].mean() == pytest.approx(7 / 21)
    np.testing.assert_allclose(c["precision"], [0.0] * 10 + [1.0] * 41)   # CE <= t from t = 10
    assert c["norm_precision"][50] == 1.0 and c["norm_precision"][49] == 0.0  # 10 / 20 = 0.5


def test_half_frames_lost_halves_the_curve():
    gt = gt_boxes(10)
    pred = gt.copy()
    pred[5:] += [200, 200, 0, 0]
    c = sequence_curves(pred, gt)
    assert c["success"][0] == 0.5 and c["precision"][20] == 0.5


def test_invalid_gt_counts_in_denominator_and_invalid_predictions_fail():
    gt = gt_boxes(4)
    gt[1] = [0, 0, 0, 0]                 # invalid row (MATLAB rule): IoU -1, CE -1 (a precision hit)
    pred = gt.copy()
    pred[2] = [np.nan, np.nan, np.nan, np.nan]
    valid = np.array([True, True, True, False])  # frame 3 absent per dataset flags
    c = sequence_curves(pred, gt, valid)
    assert c["success"][0] == pytest.approx(1 / 4)      # only frame 0 succeeds
    assert c["precision"][20] == pytest.approx(3 / 4)   # frames 0, 1 (-1 <= t) and 3 (-1); frame 2 NaN misses


def test_sequences_have_equal_weight():
    long_gt, short_gt = gt_boxes(100), gt_boxes(10)
    s = summarize({"long": sequence_curves(long_gt, long_gt), "short": sequence_curves(short_gt + [100, 0, 0, 0],
                                                                                    short_gt)})
    assert s["success_auc"] == pytest.approx((20 / 21) / 2)
    assert s["sequences"]["short"]["success_auc"] == 0.0


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="3 predicted boxes for 4"):
        sequence_curves(gt_boxes(3), gt_boxes(4))


def test_attribute_scores_restrict_to_flagged_sequences():
    gt = gt_boxes()
    curves = {"a": sequence_curves(gt, gt), "b": sequence_curves(gt + [100, 0, 0, 0], gt)}
    scores = attribute_scores(curves, {"a": ("OCC",), "b": ("OCC", "FM")}, ("OCC", "FM", "LR"))
    assert scores["FM"] == {"auc": 0.0, "sequences": 1}
    assert scores["OCC"]["auc"] == pytest.approx(10 / 21)
    assert "LR" not in scores
    # over all of OTB's eleven codes: only the flagged ones get a score
    assert len(OTB_ATTRIBUTES) == 11 and {"OCC", "FM", "LR"} <= set(OTB_ATTRIBUTES)
    assert attribute_scores(curves, {"a": ("OCC",), "b": ("OCC", "FM")}, OTB_ATTRIBUTES) == scores


def test_evaluate_command_writes_results_in_benchmark_convention(otb_folder, tmp_path):
    from automatch_lib.cli import main
    from conftest import REPO

    results = tmp_path / "results"
    assert main(["--quiet", "--params", str(REPO / "params.yaml"), "evaluate", "--benchmark", "otb", "--root", str(otb_folder),
                 "--tracker", "static", "--results", str(results)]) == 0
    out = results / "otb" / "static"
    rows = np.loadtxt(out / "Seq0.txt", delimiter=",")
    gt = np.loadtxt(otb_folder / "Seq0" / "groundtruth_rect.txt", delimiter=",")
    assert rows.shape == gt.shape
    np.testing.assert_allclose(rows, np.repeat(gt[:1], len(gt), axis=0))   # 1-based like the GT file
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"success_auc", "precision_20", "success_50", "fps", "sequences"}
    assert set(metrics["sequences"]) == {"Seq0", "Seq1", "Seq2"}
    assert 0 < metrics["success_auc"] < 20 / 21
