"""Each benchmark's evaluation protocol as a named option (evaluation-protocols.md sections 1, 2 and 7).

``PROTOCOLS`` maps a benchmark loader name (the keys of ``automatch_lib.data.benchmarks.LOADERS``) to a
:class:`Protocol`; ``protocol_for(name)`` resolves aliases and picks it. A protocol scores one tracked sequence
(``score_sequence(pred, seq)``, ``pred`` in the sequence file's own coordinate convention) and summarises a set
(``summarize({name: record})``). Every summary holds ``success_auc``, ``precision_20`` and ``norm_precision_20``
plus the protocol's own keys, ``protocol`` (its name), ``definitions`` (one line per reported key saying how it
was computed) and ``sequences`` (per-sequence scores). All values are plain Python floats.

Options (section numbers of evaluation-protocols.md):

- ``otb`` (also ``vot``, ``dtb70``, ``uav123`` under OPE; our loaders give those in OTB-style x,y,w,h boxes): the
  OTB MATLAB toolkit (sections 1.1-1.5). 21 IoU thresholds, success when IoU > t, AUC = mean of the 21 points
  (a perfect tracker scores 20/21); precision at 20 px with CE <= t; normalised precision at 0.20. Invalid GT rows
  (not all four numbers > 0, or ``valid`` False) stay in the denominator with IoU -1 and centre error -1 (a
  precision hit). Sequences weigh equally. Frame 1 is forced to the ground truth.
- ``lasot``, ``tnl2k``: the LaSOT / TNL2K MATLAB toolkits (section 1.5): absent frames are removed from the
  numerators but the denominator stays the full sequence length, so an absent frame is a failure in success,
  precision and normalised precision whatever the prediction. Other invalid rows follow the MATLAB rule as OTB.
  Normalised precision is reported both at 0.20 (``norm_precision_20``, the LaSOT/pytracking/pysot convention)
  and as the mean of its 51 points on [0, 0.5] (``norm_precision_auc``, the TNL2K toolkit default), section 1.3.
- ``got10k``: the GOT-10k toolkit's val report (section 2): frame 1 excluded, only frames with ``cover.label``
  > 0 (without cover labels: the loader's ``valid`` mask), both boxes clipped to the image when
  ``meta['resolution']`` is known (x to [0, W], then w to [0, W - x], as the toolkit), IoU = inter / (union +
  eps) clipped to [0, 1]; AO = mean IoU, SR_0.5 / SR_0.75 = fraction of IoU > 0.5 / 0.75, all over the
  concatenation of every sequence's kept frames (frame-weighted, as the toolkit). Test split: submission files.
- ``trackingnet``: the TrackingNet devkit's ``metrics.py`` (sections 1.3, 1.6): coordinates rounded to integers,
  frame 1 forced to the ground truth, 21-point curves (IoU >= t on [0, 1], CE <= t on [0, 50] px, normalised
  CE <= t on [0, 0.5]), sequences weigh equally, and each score is the trapezoid-rule area of its curve over an
  x-axis of [0, 1] (the devkit's ``np.trapz(..., x=linspace(0, 1, 21))``; reported as a fraction, not x100).
  TEST split: submission zip.

Sequences holding only the first box (GOT-10k test, TrackingNet TEST) cannot be scored here: protocols with an
evaluation server write its submission layout instead (``write_submission``, see ``submission.py``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..data.sequence import Sequence
from . import metrics as M
from .submission import write_got10k_submission, write_trackingnet_submission

COMMON_KEYS = ("success_auc", "precision_20", "norm_precision_20")

GOT10K_THRESHOLDS = np.linspace(0, 1, 101)          # section 2: nbins_iou = 101; index 50 = 0.5, 75 = 0.75 exactly
TN_SUCCESS_THRESHOLDS = np.linspace(0, 1, 21)       # section 1.3 / 1.6, TrackingNet devkit
TN_PRECISION_THRESHOLDS = np.linspace(0, 50, 21)    # 0, 2.5, ..., 50 px; index 8 = 20 px
TN_NORM_THRESHOLDS = np.linspace(0, 0.5, 21)        # 0, 0.025, ..., 0.5; index 8 = 0.20
TN_AREA_X = np.linspace(0, 1, 21)                   # the devkit integrates every curve over this x-axis


def first_box_only(seq: Sequence) -> bool:
    """True for test-split sequences whose ground truth holds only the first box (GOT-10k test, TrackingNet TEST)."""
    return len(seq.boxes) == 1 and len(seq) > 1


def _prediction(pred, seq: Sequence) -> np.ndarray:
    """Predictions as an (N, 4) float copy, checked against the sequence's ground-truth length."""
    pred = np.array(pred, dtype=np.float64).reshape(-1, 4)
    if first_box_only(seq):
        raise ValueError(f"sequence {seq.name!r} holds only the first ground-truth box ({len(seq)} frames): "
                         "it can only be scored by the benchmark's evaluation server")
    if len(pred) != len(seq.boxes):
        raise ValueError(f"sequence {seq.name!r}: {len(pred)} predicted boxes for {len(seq.boxes)} "
                         "ground-truth rows")
    return pred


def _forced_first(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Frame 1 replaced by the ground truth (section 1.5: OTB, LaSOT, TNL2K and TrackingNet toolkits)."""
    pred = pred.copy()
    if len(pred):
        pred[0] = gt[0]
    return pred


class Protocol:
    """One benchmark's scoring rules. Subclasses implement ``score_sequence`` and ``summarize``.

    Attributes: ``name`` (registry key), ``toolkit`` (whose rules it follows), ``server`` (where test-split results
    are scored, None when there is no server), ``keys`` (the summary's score keys beyond ``COMMON_KEYS``).
    """

    name: str = ""
    toolkit: str = ""
    server: str | None = None
    keys: tuple[str, ...] = ()
    definitions: dict[str, str] = {}

    def score_sequence(self, pred, seq: Sequence) -> dict:
        raise NotImplementedError

    def summarize(self, scores: dict[str, dict]) -> dict:
        raise NotImplementedError

    def write_submission(self, runs: dict[str, list[tuple[np.ndarray, np.ndarray]]], folder: str | Path,
                         tracker_name: str) -> dict:
        """Write the evaluation server's layout for first-box-only sequences; protocols without a server raise."""
        raise ValueError(f"protocol {self.name!r} has no evaluation server: sequences holding only the first "
                         "ground-truth box cannot be scored (use protocol 'got10k' or 'trackingnet' for their "
                         "test splits)")

    def server_result(self, submission: dict, sequences: dict[str, int]) -> dict:
        """The summary of a run scored on the server: every score NaN, the submission's location."""
        nan = float("nan")
        out = {"protocol": self.name, "scored_on_server": True, "server": self.server,
               "note": f"ground truth withheld: upload {submission['zip']} to {self.server} for the scores",
               **{k: nan for k in COMMON_KEYS + self.keys}, "success_50": nan,
               "success_curve": [], "precision_curve": [], "submission": submission,
               "definitions": {k: "scored by the evaluation server" for k in COMMON_KEYS + self.keys},
               "sequences": {n: {"frames": int(f)} for n, f in sorted(sequences.items())}}
        return out

    def _label(self, out: dict) -> dict:
        out["protocol"] = self.name
        out["toolkit"] = self.toolkit
        out["definitions"] = dict(self.definitions)
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


# ------------------------------------------------------------------------------------------------------------------
# OTB (and VOT / DTB70 / UAV123 under OPE)

_OTB_DEFINITIONS = {
    "success_auc": "mean of the 21-point success curve (IoU > t, t = 0, 0.05, ..., 1), sequences weighted "
                   "equally; a perfect tracker scores 20/21",
    "precision_20": "fraction of frames with centre error <= 20 px (51-point curve, index 20)",
    "norm_precision_20": "fraction of frames with size-normalised centre error <= 0.20 (51-point curve, index 20)",
    "success_50": "success curve at IoU > 0.5 (OTB-style SR_0.5)",
}


class OTBProtocol(Protocol):
    """OTB one-pass evaluation as the OTB MATLAB toolkit (evaluation-protocols.md sections 1.1-1.5).

    Invalid GT rows (MATLAB rule: not all four numbers > 0; or ``seq.valid`` False, e.g. UAV123 NaN rows, VOT
    unknown frames) stay in the denominator with IoU -1 (never a success) and centre error -1 (a precision hit).
    Frame 1 is forced to the ground truth. ``vot``, ``dtb70`` and ``uav123`` use the same rules (one-pass
    evaluation on OTB-style boxes from our loaders; VOT's own reset-based EAO protocol is not implemented).
    """

    toolkit = "OTB MATLAB toolkit (evaluation-protocols.md sections 1.1-1.5)"
    keys = ("success_50",)
    definitions = _OTB_DEFINITIONS

    def __init__(self, name: str = "otb"):
        self.name = name

    def score_sequence(self, pred, seq: Sequence) -> dict:
        pred = _forced_first(_prediction(pred, seq), seq.boxes)
        return M.sequence_curves(pred, seq.boxes, seq.valid)

    def summarize(self, scores: dict[str, dict]) -> dict:
        out = M.summarize(scores)
        out["success_thresholds"] = M.IOU_THRESHOLDS.tolist()
        out["precision_thresholds"] = M.CE_THRESHOLDS.tolist()
        return self._label(out)


# ------------------------------------------------------------------------------------------------------------------
# LaSOT / TNL2K


def absent_frames(seq: Sequence) -> np.ndarray:
    """Frames where the target is absent: ``meta['absent']`` when the loader kept such flags, else the LaSOT flags
    ``full_occlusion | out_of_view`` (pytracking's visibility rule, section 1.5), else ``~seq.valid`` (TNL2K writes
    absent frames with zero size, section 1.5)."""
    n = len(seq.boxes)
    meta = seq.meta or {}
    if "absent" in meta:
        absent = np.asarray(meta["absent"], dtype=bool).reshape(-1)
    elif "full_occlusion" in meta or "out_of_view" in meta:
        absent = np.zeros(n, dtype=bool)
        for key in ("full_occlusion", "out_of_view"):
            if key in meta:
                flags = np.asarray(meta[key], dtype=bool).reshape(-1)
                if len(flags) != n:
                    raise ValueError(f"sequence {seq.name!r}: {key} has {len(flags)} flags for {n} frames")
                absent |= flags
    else:
        absent = ~np.asarray(seq.valid, dtype=bool)
    if len(absent) != n:
        raise ValueError(f"sequence {seq.name!r}: {len(absent)} absent flags for {n} frames")
    return absent


class LongTermProtocol(Protocol):
    """LaSOT / TNL2K one-pass evaluation as their MATLAB toolkits (evaluation-protocols.md sections 1.3, 1.5).

    The toolkits delete absent frames before computing errors but divide by the full sequence length, so an
    absent frame is a FAILURE in success, precision and normalised precision (even when the prediction is
    perfect). Present rows that break the MATLAB validity rule (not all four numbers > 0) get IoU -1 and centre
    errors -1 (a precision hit), as OTB. Frame 1 is forced to the ground truth. Absent frames: see
    :func:`absent_frames`. Normalised precision is reported at 0.20 and as the mean over its 51 points.
    """

    keys = ("norm_precision_auc", "success_50", "success_75")

    def __init__(self, name: str):
        self.name = name
        self.toolkit = {"lasot": "LaSOT_Evaluation_Toolkit", "tnl2k": "TNL2K_evaluation_toolkit"}.get(
            name, "LaSOT/TNL2K MATLAB toolkits") + " (evaluation-protocols.md sections 1.3, 1.5)"
        self.definitions = {
            **_OTB_DEFINITIONS,
            "success_auc": "mean of the 21-point success curve (IoU > t), absent frames counted as failures "
                           "(denominator = full sequence length); sequences weighted equally",
            "precision_20": "fraction of frames with centre error <= 20 px, absent frames counted as misses",
            "norm_precision_20": "normalised precision at 0.20 (LaSOT/pytracking/pysot convention), absent frames "
                                 "counted as misses",
            "norm_precision_auc": "mean of the 51-point normalised-precision curve on [0, 0.5] (TNL2K toolkit "
                                  "default, got10k ExperimentLaSOT), absent frames counted as misses",
            "success_75": "success curve at IoU > 0.75",
        }

    def score_sequence(self, pred, seq: Sequence) -> dict:
        pred = _forced_first(_prediction(pred, seq), seq.boxes)
        return M.sequence_curves(pred, seq.boxes, None, absent_frames(seq))

    def summarize(self, scores: dict[str, dict]) -> dict:
        out = M.summarize(scores)
        out["norm_precision_auc"] = float(np.mean(out["norm_precision_curve"]))
        out["success_75"] = float(out["success_curve"][15])
        for name, rec in out["sequences"].items():
            rec["norm_precision_auc"] = float(np.mean(scores[name]["norm_precision"]))
        out["success_thresholds"] = M.IOU_THRESHOLDS.tolist()
        out["precision_thresholds"] = M.CE_THRESHOLDS.tolist()
        return self._label(out)


# ------------------------------------------------------------------------------------------------------------------
# GOT-10k


def got10k_iou(pred: np.ndarray, gt: np.ndarray, bound: tuple[float, float] | None = None) -> np.ndarray:
    """IoU of x, y, w, h rows as the GOT-10k toolkit's ``rect_iou`` (evaluation-protocols.md sections 1.4, 2).

    With ``bound = (width, height)`` both boxes are first clipped to the image: x to [0, W], y to [0, H], then w to
    [0, W - x] and h to [0, H - y] (the clipped x; a box sticking out on the left keeps its width). IoU = inter /
    (union + machine eps), clipped to [0, 1]. The inputs are not modified (the toolkit mutates them).
    Non-finite predictions give IoU 0 (the toolkit would propagate NaN into AO).
    """
    a = np.array(pred, dtype=np.float64).reshape(-1, 4)
    b = np.array(gt, dtype=np.float64).reshape(-1, 4)
    if bound is not None:
        W, H = float(bound[0]), float(bound[1])
        for r in (a, b):
            r[:, 0] = np.clip(r[:, 0], 0, W)
            r[:, 1] = np.clip(r[:, 1], 0, H)
            r[:, 2] = np.clip(r[:, 2], 0, W - r[:, 0])
            r[:, 3] = np.clip(r[:, 3], 0, H - r[:, 1])
    iw = np.maximum(np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2]) - np.maximum(a[:, 0], b[:, 0]), 0)
    ih = np.maximum(np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3]) - np.maximum(a[:, 1], b[:, 1]), 0)
    inter = iw * ih
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    with np.errstate(invalid="ignore"):
        ious = np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)
    return np.where(np.isfinite(ious), ious, 0.0)


class GOT10kProtocol(Protocol):
    """GOT-10k val as the got-10k toolkit's ``ExperimentGOT10k.report`` (evaluation-protocols.md section 2).

    Per sequence: frame 1 dropped; frames 2..N kept where ``meta['cover'] > 0`` (the toolkit does not read
    ``absence.label``; without cover labels the loader's ``valid`` mask is used); IoU by :func:`got10k_iou` with
    the image size ``meta['resolution']`` when known. Overall AO / SR_0.5 / SR_0.75 are computed over the
    concatenation of every sequence's kept frames (frame-weighted, the toolkit rule; what the test server does was
    not confirmed, section 2); ``ao_sequence_mean`` is the equal-weight alternative. The OPE-style keys
    (``success_auc`` etc.) are computed over the same kept frames, frame-weighted, for cross-benchmark tables; they
    are not GOT-10k metrics. Centre errors use the unclipped boxes; normalised by max(1, GT size) as got10k's
    ``normalized_center_error``. Deterministic trackers: one run per sequence (the toolkit's 3 repetitions apply
    only to stochastic trackers).
    """

    name = "got10k"
    toolkit = "got-10k/toolkit ExperimentGOT10k (evaluation-protocols.md section 2)"
    server = "http://got-10k.aitestunion.com/"
    keys = ("ao", "sr_50", "sr_75", "ao_sequence_mean", "success_50")
    definitions = {
        "ao": "average overlap: mean IoU over all kept frames of all sequences (frame 1 excluded, cover > 0, boxes "
              "clipped to the image, IoU clipped to [0, 1]); frame-weighted as the GOT-10k toolkit",
        "sr_50": "fraction of kept frames with IoU > 0.5 (frame-weighted)",
        "sr_75": "fraction of kept frames with IoU > 0.75 (frame-weighted)",
        "ao_sequence_mean": "mean of the per-sequence AO (sequences weighted equally; not the toolkit's number)",
        "success_auc": "not a GOT-10k metric: mean of the 21-point success curve (IoU > t) over the same kept "
                       "frames, frame-weighted",
        "precision_20": "not a GOT-10k metric: fraction of kept frames with centre error <= 20 px (unclipped)",
        "norm_precision_20": "not a GOT-10k metric: fraction of kept frames with centre error / max(1, GT size) "
                             "<= 0.20",
        "success_50": "same as sr_50",
        "success_curve_101": "the toolkit's success curve, IoU > t for t = 0, 0.01, ..., 1 (frame-weighted)",
    }

    def score_sequence(self, pred, seq: Sequence) -> dict:
        pred = _prediction(pred, seq)
        gt = seq.boxes
        meta = seq.meta or {}
        if "cover" in meta:
            cover = np.asarray(meta["cover"]).reshape(-1)
            if len(cover) != len(gt):
                raise ValueError(f"sequence {seq.name!r}: {len(cover)} cover labels for {len(gt)} frames")
            keep = cover[1:] > 0
        else:
            keep = np.asarray(seq.valid, dtype=bool)[1:]
        bound = meta.get("resolution")
        ious = got10k_iou(pred[1:], gt[1:], bound)[keep]
        p, g = pred[1:][keep], gt[1:][keep]
        good = np.all(np.isfinite(p), axis=1)
        diff = M.centers(p) - M.centers(g)
        ce = np.where(good, np.hypot(diff[:, 0], diff[:, 1]), np.inf)
        size = np.maximum(1.0, g[:, 2:])
        nce = np.where(good, np.hypot(diff[:, 0] / size[:, 0], diff[:, 1] / size[:, 1]), np.inf)
        return {"iou": ious, "center_error": ce, "norm_center_error": nce, "frames": int(keep.sum()),
                "success": np.array([np.mean(ious > t) if ious.size else 0.0 for t in M.IOU_THRESHOLDS])}

    @staticmethod
    def _scores(ious: np.ndarray, ce: np.ndarray, nce: np.ndarray) -> dict:
        succ = np.array([np.mean(ious > t) for t in M.IOU_THRESHOLDS])
        prec = np.array([np.mean(ce <= t) for t in M.CE_THRESHOLDS])
        norm = np.array([np.mean(nce <= t) for t in M.NORM_THRESHOLDS])
        return {"ao": float(np.mean(ious)), "sr_50": float(np.mean(ious > 0.5)), "sr_75": float(np.mean(ious > 0.75)),
                "success_auc": float(succ.mean()), "precision_20": float(prec[20]),
                "norm_precision_20": float(norm[20]), "_curves": (succ, prec, norm)}

    def summarize(self, scores: dict[str, dict]) -> dict:
        if not scores:
            raise ValueError("no sequences to summarize")
        ious = np.concatenate([s["iou"] for s in scores.values()])
        if ious.size == 0:
            raise ValueError(f"no frame to score in {len(scores)} sequences (every frame after the first has "
                             "cover 0 or is invalid)")
        ce = np.concatenate([s["center_error"] for s in scores.values()])
        nce = np.concatenate([s["norm_center_error"] for s in scores.values()])
        overall = self._scores(ious, ce, nce)
        succ, prec, norm = overall.pop("_curves")
        per_seq = {}
        for name, s in sorted(scores.items()):
            if s["frames"]:
                rec = self._scores(s["iou"], s["center_error"], s["norm_center_error"])
                rec.pop("_curves")
            else:
                rec = {k: None for k in ("ao", "sr_50", "sr_75", "success_auc", "precision_20", "norm_precision_20")}
            rec["frames"] = int(s["frames"])
            per_seq[name] = rec
        seq_aos = [r["ao"] for r in per_seq.values() if r["ao"] is not None]
        out = {**overall, "success_50": overall["sr_50"], "ao_sequence_mean": float(np.mean(seq_aos)),
               "frames": int(ious.size),
               "success_curve": succ.tolist(), "precision_curve": prec.tolist(), "norm_precision_curve": norm.tolist(),
               "success_curve_101": [float(np.mean(ious > t)) for t in GOT10K_THRESHOLDS],
               "success_thresholds": M.IOU_THRESHOLDS.tolist(), "precision_thresholds": M.CE_THRESHOLDS.tolist(),
               "sequences": per_seq}
        return self._label(out)

    def write_submission(self, runs, folder, tracker_name) -> dict:
        return write_got10k_submission(runs, folder, tracker_name)


# ------------------------------------------------------------------------------------------------------------------
# TrackingNet


def trackingnet_errors(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(IoU, centre error, normalised centre error) per frame as the TrackingNet devkit (section 1.4).

    Both boxes are rounded to integers (numpy's round-half-to-even, as the devkit's ``np.round``); frame 1 of the
    prediction is replaced by the rounded ground truth; IoU = inter / union on the rounded boxes (0 / 0 -> NaN,
    never a success); centres x + (w + 1) / 2; the normalised error divides the offsets by the rounded GT size.
    """
    g = np.round(np.asarray(gt, dtype=np.float64).reshape(-1, 4))
    p = _forced_first(np.round(np.asarray(pred, dtype=np.float64).reshape(-1, 4)), g)
    iw = np.clip(np.minimum(g[:, 0] + g[:, 2], p[:, 0] + p[:, 2]) - np.maximum(g[:, 0], p[:, 0]), 0, None)
    ih = np.clip(np.minimum(g[:, 1] + g[:, 3], p[:, 1] + p[:, 3]) - np.maximum(g[:, 1], p[:, 1]), 0, None)
    inter = iw * ih
    union = g[:, 2] * g[:, 3] + p[:, 2] * p[:, 3] - inter
    dx = (g[:, 0] + (g[:, 2] + 1) / 2) - (p[:, 0] + (p[:, 2] + 1) / 2)
    dy = (g[:, 1] + (g[:, 3] + 1) / 2) - (p[:, 1] + (p[:, 3] + 1) / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ious = inter / union
        nce = np.hypot(dx / g[:, 2], dy / g[:, 3])
    return ious, np.hypot(dx, dy), nce


class TrackingNetProtocol(Protocol):
    """TrackingNet as its devkit's ``metrics.py`` (evaluation-protocols.md sections 1.3, 1.4, 1.6).

    Per sequence: :func:`trackingnet_errors`; success(t) = fraction of frames with IoU >= t on 21 thresholds
    linspace(0, 1, 21) (at t = 1 a perfect frame counts, so a perfect tracker's curve is all ones); precision on
    linspace(0, 50, 21) px and normalised precision on linspace(0, 0.5, 21), CE <= t. Curves are averaged over
    sequences with equal weight; each score is the trapezoid-rule area of its averaged curve over an x-axis
    linspace(0, 1, 21), as the devkit's ``np.trapz(curve, x=Success_X)`` (reported as a fraction; the server
    multiplies by 100). ``precision_20`` / ``norm_precision_20`` are the curves' points at 20 px / 0.20 (index 8).
    The devkit applies no validity mask: GT rows are used as they are. TEST split: a zip of ``<seq>.txt``.
    """

    name = "trackingnet"
    toolkit = "TrackingNet-devkit metrics.py (evaluation-protocols.md sections 1.3, 1.6)"
    server = "the TrackingNet evaluation server (see the TrackingNet-devkit README)"
    keys = ("precision_auc", "norm_precision_auc", "success_50", "success_75")
    definitions = {
        "success_auc": "trapezoid area of the 21-point success curve (IoU >= t, t = 0, 0.05, ..., 1, rounded "
                       "boxes) over x in [0, 1]; the devkit's Success score / 100; perfect tracker = 1",
        "precision_auc": "trapezoid area of the 21-point precision curve (CE <= t, t = 0, 2.5, ..., 50 px) over x "
                         "in [0, 1]; the devkit's Precision score / 100",
        "norm_precision_auc": "trapezoid area of the 21-point normalised-precision curve (t = 0, 0.025, ..., 0.5) "
                              "over x in [0, 1]; the devkit's Normalized Precision score / 100",
        "precision_20": "precision curve at 20 px (index 8 of the 21-point curve)",
        "norm_precision_20": "normalised-precision curve at 0.20 (index 8 of the 21-point curve)",
        "success_50": "success curve at IoU >= 0.5", "success_75": "success curve at IoU >= 0.75",
    }

    def score_sequence(self, pred, seq: Sequence) -> dict:
        pred = _prediction(pred, seq)
        ious, ce, nce = trackingnet_errors(pred, seq.boxes)
        n = len(ious)
        return {"success": np.array([np.sum(ious >= t) / n for t in TN_SUCCESS_THRESHOLDS]),
                "precision": np.array([np.sum(ce <= t) / n for t in TN_PRECISION_THRESHOLDS]),
                "norm_precision": np.array([np.sum(nce <= t) / n for t in TN_NORM_THRESHOLDS]),
                "iou": ious}

    def summarize(self, scores: dict[str, dict]) -> dict:
        if not scores:
            raise ValueError("no sequences to summarize")
        succ = np.mean([s["success"] for s in scores.values()], axis=0)
        prec = np.mean([s["precision"] for s in scores.values()], axis=0)
        norm = np.mean([s["norm_precision"] for s in scores.values()], axis=0)
        out = {"success_auc": M.trapezoid(succ, TN_AREA_X), "precision_20": float(prec[8]),
               "norm_precision_20": float(norm[8]), "precision_auc": M.trapezoid(prec, TN_AREA_X),
               "norm_precision_auc": M.trapezoid(norm, TN_AREA_X), "success_50": float(succ[10]),
               "success_75": float(succ[15]),
               "success_curve": succ.tolist(), "precision_curve": prec.tolist(), "norm_precision_curve": norm.tolist(),
               "success_thresholds": TN_SUCCESS_THRESHOLDS.tolist(),
               "precision_thresholds": TN_PRECISION_THRESHOLDS.tolist(),
               "norm_precision_thresholds": TN_NORM_THRESHOLDS.tolist(),
               "sequences": {n: {"success_auc": M.trapezoid(s["success"], TN_AREA_X),
                                 "precision_20": float(s["precision"][8]),
                                 "norm_precision_20": float(s["norm_precision"][8]),
                                 "norm_precision_auc": M.trapezoid(s["norm_precision"], TN_AREA_X)}
                             for n, s in sorted(scores.items())}}
        return self._label(out)

    def write_submission(self, runs, folder, tracker_name) -> dict:
        return write_trackingnet_submission(runs, folder, tracker_name)


# ------------------------------------------------------------------------------------------------------------------
# the registry

PROTOCOLS: dict[str, Protocol] = {
    "otb": OTBProtocol("otb"),
    "lasot": LongTermProtocol("lasot"),
    "tnl2k": LongTermProtocol("tnl2k"),
    "got10k": GOT10kProtocol(),
    "trackingnet": TrackingNetProtocol(),
    "vot": OTBProtocol("vot"),
    "dtb70": OTBProtocol("dtb70"),
    "uav123": OTBProtocol("uav123"),
}

# Other spellings (the benchmark loaders' aliases); 'synthetic' (our generated sequences) is scored as OTB.
ALIASES = {"otb100": "otb", "otb2015": "otb", "got-10k": "got10k", "uav": "uav123", "synthetic": "otb"}


def protocol_for(name: str | Protocol) -> Protocol:
    """The protocol of benchmark ``name`` (case-insensitive, aliases resolved); a Protocol passes through."""
    if isinstance(name, Protocol):
        return name
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in PROTOCOLS:
        raise ValueError(f"unknown evaluation protocol {name!r}; known: {', '.join(sorted(PROTOCOLS))} "
                         f"(aliases: {', '.join(f'{a}->{b}' for a, b in ALIASES.items())})")
    return PROTOCOLS[key]


def attribute_scores(scores: dict[str, dict], attributes: dict[str, tuple[str, ...]],
                     protocol: str | Protocol = "otb", codes: tuple[str, ...] | None = None) -> dict[str, dict]:
    """Success AUC per attribute under ``protocol``: {code: {'auc', 'sequences'}}.

    ``scores``: per-sequence records from ``protocol.score_sequence`` (``metrics['_curves']`` of
    ``evaluate_tracker``); ``attributes``: {sequence: codes} (OTB/LaSOT/TNL2K attribute flags, or e.g. GOT-10k
    motion classes from ``meta``); ``codes``: which to report, in order (None: every code present, sorted). Each
    AUC is the protocol's own ``success_auc`` over the sequences carrying the code (equal-weight mean for
    OTB/LaSOT/TNL2K, frame-weighted for GOT-10k, trapezoid for TrackingNet).
    """
    proto = protocol_for(protocol)
    return M.attribute_scores(scores, attributes, codes, auc=lambda subset: proto.summarize(subset)["success_auc"])


__all__ = ["PROTOCOLS", "ALIASES", "COMMON_KEYS", "Protocol", "OTBProtocol", "LongTermProtocol", "GOT10kProtocol",
           "TrackingNetProtocol", "protocol_for", "attribute_scores", "absent_frames", "got10k_iou",
           "trackingnet_errors", "first_box_only"]
