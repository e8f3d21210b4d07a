"""`automatch evaluate` on real OTB sequences with OpenCV's KCF and CSRT: the metrics.json it writes agrees with an
independent re-scoring of its result files (written here from the OTB toolkit's definitions, not the library's).
Skipped where the real sequences are absent (a user's clone)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from automatch_lib.cli import main
from conftest import REALDATA

OTB = REALDATA / "OTB"
pytestmark = pytest.mark.skipif(not OTB.is_dir(), reason=f"real sequences not found at {OTB}")


def read_rows(path) -> np.ndarray:
    text = path.read_text().replace("\t", ",").replace(" ", ",")
    return np.array([[float(v) for v in line.split(",") if v] for line in text.splitlines() if line.strip()])


def otb_auc_and_precision(pred: np.ndarray, gt: np.ndarray) -> tuple[float, float]:
    """OTB toolkit: frame 1 scored as given, IoU > t on t = 0, 0.05, ..., 1 (mean of 21 points), centre error
    <= 20 px with centres x + (w - 1) / 2; GT rows with a non-positive number count as failures (IoU -1) and as
    precision hits (error -1)."""
    ok = np.all(gt > 0, axis=1)
    x1 = np.maximum(pred[:, 0], gt[:, 0])
    y1 = np.maximum(pred[:, 1], gt[:, 1])
    x2 = np.minimum(pred[:, 0] + pred[:, 2], gt[:, 0] + gt[:, 2])
    y2 = np.minimum(pred[:, 1] + pred[:, 3], gt[:, 1] + gt[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    overlap = np.where(ok, inter / (pred[:, 2] * pred[:, 3] + gt[:, 2] * gt[:, 3] - inter), -1.0)
    auc = np.mean([np.mean(overlap > t) for t in np.linspace(0, 1, 21)])
    centre = lambda b: b[:, :2] + (b[:, 2:] - 1) / 2  # noqa: E731
    err = np.where(ok, np.linalg.norm(centre(pred) - centre(gt), axis=1), -1.0)
    return float(auc), float(np.mean(err <= 20))


@pytest.mark.parametrize("tracker,count", [("kcf", 0), ("csrt", 2)])
def test_evaluate_agrees_with_an_independent_rescoring(tracker, count, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["--quiet", "evaluate", "--benchmark", "otb", "--root", str(OTB), "--tracker", tracker]
    assert main(args + (["--max-sequences", str(count)] if count else [])) == 0
    out = tmp_path / "results" / "otb" / tracker
    metrics = json.loads((out / "metrics.json").read_text())
    files = sorted(out.glob("*.txt"))
    assert len(files) == (count or len([d for d in OTB.iterdir() if (d / "groundtruth_rect.txt").is_file()]))
    aucs, precisions = [], []
    for f in files:
        gt = read_rows(OTB / f.stem / "groundtruth_rect.txt")
        pred = read_rows(f)
        assert pred.shape == gt.shape
        auc, prec = otb_auc_and_precision(pred, gt)
        assert metrics["sequences"][f.stem]["success_auc"] == pytest.approx(auc, abs=1e-9)
        aucs.append(auc)
        precisions.append(prec)
    assert metrics["success_auc"] == pytest.approx(np.mean(aucs), abs=1e-9)
    assert metrics["precision_20"] == pytest.approx(np.mean(precisions), abs=1e-9)
    assert metrics["protocol"] == "otb" and metrics["fps"] > 0
