"""One-pass evaluation (OPE) metrics (evaluation-protocols.md section 1).

Success: 21 IoU thresholds 0, 0.05, ..., 1, a frame succeeds when IoU > t (strict); AUC = mean of the 21 points
(so a perfect tracker scores 20/21). Precision: centre-error thresholds 0..50 px, a frame counts when error <= t;
the score is the value at 20 px. Normalised precision: thresholds 0..0.5 on the centre offset divided by the
ground-truth size, score at 0.20. Curves are averaged over sequences with equal weight.
Invalid ground truth (the MATLAB rule: not all four numbers > 0, or flagged invalid) stays in the denominator
with IoU = -1 (never a success) and centre error = -1 (a precision hit, as the official OTB/LaSOT toolkits).
Absent frames (LaSOT/TNL2K, section 1.5) are a separate mask: IoU = -1 and centre errors = +inf, i.e. failures in
success, precision and normalised precision, still counted in the denominator.

This module holds the OPE core shared by every protocol; each benchmark's rules (which frames count, rounding,
clipping, averaging) live in ``automatch_lib.evaluation.protocols``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

IOU_THRESHOLDS = np.linspace(0, 1, 21)
CE_THRESHOLDS = np.arange(0, 51)
NORM_THRESHOLDS = np.arange(0, 51) / 100.0


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of x, y, w, h boxes row by row: (N, 4), (N, 4) -> (N,). Continuous (no +1) convention."""
    a, b = np.asarray(a, dtype=np.float64).reshape(-1, 4), np.asarray(b, dtype=np.float64).reshape(-1, 4)
    iw = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0])
    ih = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(union > 0, inter / union, 0.0)


def centers(boxes: np.ndarray) -> np.ndarray:
    """Box centres (x + (w - 1) / 2, y + (h - 1) / 2), the toolkits' convention."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return boxes[:, :2] + (boxes[:, 2:] - 1) / 2


def sequence_curves(pred: np.ndarray, gt: np.ndarray, valid: np.ndarray | None = None,
                    absent: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-sequence success (21,), precision (51,) and normalised precision (51,) curves.

    pred, gt (N, 4) x, y, w, h in the same convention; valid (N,) bool from the dataset: False rows are treated
    like invalid ground truth (IoU -1, centre errors -1: a precision hit, the MATLAB OTB rule). absent (N,) bool:
    frames where the target is absent count as failures everywhere (IoU -1, centre errors +inf) but stay in the
    denominator (the LaSOT/TNL2K toolkits, section 1.5); absent overrides valid. The first frame is used as given
    (trackers report the ground truth there). Invalid predictions (NaN, w <= 0 or h <= 0) never succeed.
    """
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
    gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
    if len(pred) != len(gt):
        raise ValueError(f"{len(pred)} predicted boxes for {len(gt)} ground-truth rows")
    ok = np.all(np.isfinite(gt), axis=1) & np.all(gt > 0, axis=1)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    good_pred = np.all(np.isfinite(pred), axis=1) & (pred[:, 2] > 0) & (pred[:, 3] > 0)
    ious = np.full(len(gt), -1.0)
    ious[ok & good_pred] = iou(pred[ok & good_pred], gt[ok & good_pred])
    ious[ok & ~good_pred] = 0.0
    ce = np.full(len(gt), -1.0)
    nce = np.full(len(gt), -1.0)
    diff = centers(pred[ok]) - centers(gt[ok])
    ce[ok] = np.where(good_pred[ok], np.hypot(diff[:, 0], diff[:, 1]), np.inf)
    nce[ok] = np.where(good_pred[ok], np.hypot(diff[:, 0] / gt[ok, 2], diff[:, 1] / gt[ok, 3]), np.inf)
    if absent is not None:
        absent = np.asarray(absent, dtype=bool).reshape(-1)
        if len(absent) != len(gt):
            raise ValueError(f"absent mask has {len(absent)} entries for {len(gt)} ground-truth rows")
        ious[absent], ce[absent], nce[absent] = -1.0, np.inf, np.inf
    n = len(gt)
    return {
        "success": np.array([(ious > t).sum() / n for t in IOU_THRESHOLDS]),
        "precision": np.array([(ce <= t).sum() / n for t in CE_THRESHOLDS]),
        "norm_precision": np.array([(nce <= t).sum() / n for t in NORM_THRESHOLDS]),
        "iou": ious,
    }


def summarize(curves: dict[str, dict[str, np.ndarray]]) -> dict:
    """Average per-sequence curves (equal weight) into the benchmark scores.

    Returns success_auc, precision_20, norm_precision_20, success_50 (SR at IoU 0.5), the averaged curves as
    lists, and per-sequence {'success_auc', 'precision_20', 'norm_precision_20'}.
    """
    if not curves:
        raise ValueError("no sequences to summarize")
    succ = np.mean([c["success"] for c in curves.values()], axis=0)
    prec = np.mean([c["precision"] for c in curves.values()], axis=0)
    norm = np.mean([c["norm_precision"] for c in curves.values()], axis=0)
    return {
        "success_auc": float(succ.mean()),
        "precision_20": float(prec[20]),
        "norm_precision_20": float(norm[20]),
        "success_50": float(succ[10]),
        "success_curve": succ.tolist(),
        "precision_curve": prec.tolist(),
        "norm_precision_curve": norm.tolist(),
        "sequences": {name: {"success_auc": float(c["success"].mean()), "precision_20": float(c["precision"][20]),
                             "norm_precision_20": float(c["norm_precision"][20])}
                      for name, c in sorted(curves.items())},
    }


def attribute_scores(curves: dict[str, dict], attributes: dict[str, tuple[str, ...]],
                     codes: tuple[str, ...] | None = None,
                     auc: Callable[[dict[str, dict]], float] | None = None) -> dict[str, dict]:
    """Success AUC restricted to the sequences carrying each attribute code: {code: {'auc', 'sequences'}}.

    curves: per-sequence records; attributes: {sequence: codes}; codes: the codes to report, in order (None: every
    code carried by a scored sequence, sorted). auc: maps a subset of ``curves`` to its score (default: the OTB
    rule, mean of the equal-weight averaged 21-point success curve); a protocol passes its own rule (see
    ``protocols.attribute_scores``). Codes no scored sequence carries are left out.
    """
    if auc is None:
        def auc(subset):
            return float(np.mean([c["success"] for c in subset.values()], axis=0).mean())
    if codes is None:
        codes = tuple(sorted({c for n in curves for c in attributes.get(n, ())}))
    out = {}
    for code in codes:
        names = [n for n in curves if code in attributes.get(n, ())]
        if names:
            out[code] = {"auc": float(auc({n: curves[n] for n in names})), "sequences": len(names)}
    return out


def trapezoid(y, x) -> float:
    """Area under the polyline through (x, y) by the trapezoid rule (``np.trapz``, as TrackingNet's devkit)."""
    y, x = np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64)
    if y.shape != x.shape or y.ndim != 1:
        raise ValueError(f"trapezoid needs two 1-D arrays of the same length, got {y.size} and {x.size} values")
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)))
