"""The OPE runner: run a tracker over sequences, write standard result files, score them.

Results on disk: `<results>/<benchmark>/<tracker>/<sequence>.txt`, one `x,y,w,h` row per frame in the benchmark's
own coordinate convention (origin added back), and `metrics.json` beside them.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.sequence import Sequence
from .metrics import sequence_curves, summarize


def run_sequence(tracker, seq: Sequence) -> tuple[np.ndarray, float]:
    """Track one sequence from its first box. Returns (N, 4) boxes in the file convention and frames/second."""
    if len(seq.boxes) < 1 or not seq.valid[0]:
        raise ValueError(f"sequence {seq.name!r}: the first ground-truth box is invalid, cannot initialise")
    origin = np.array([seq.origin, seq.origin, 0, 0], dtype=np.float64)
    boxes = np.zeros((len(seq), 4))
    boxes[0] = seq.boxes[0]
    tracker.init(seq.image(0), seq.init_box())
    t0 = time.perf_counter()
    for i in range(1, len(seq)):
        boxes[i] = np.asarray(tracker.update(seq.image(i)), dtype=np.float64) + origin
    fps = (len(seq) - 1) / max(time.perf_counter() - t0, 1e-9)
    return boxes, fps


def write_boxes(path: Path, boxes: np.ndarray) -> None:
    """Write x,y,w,h rows with 2 decimals, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    np.savetxt(tmp, boxes, fmt="%.2f", delimiter=",")
    os.replace(tmp, path)


def evaluate_tracker(tracker, sequences: list[Sequence], out_dir: str | Path, progress: bool = True) -> dict:
    """Run `tracker` on every sequence, write `<out_dir>/<seq>.txt` and `<out_dir>/metrics.json`; return metrics."""
    out_dir = Path(out_dir)
    curves, fps = {}, {}
    for seq in tqdm(sequences, desc=f"tracking ({getattr(tracker, 'name', 'tracker')})", disable=not progress):
        boxes, fps[seq.name] = run_sequence(tracker, seq)
        write_boxes(out_dir / f"{seq.name}.txt", boxes)
        curves[seq.name] = sequence_curves(boxes, seq.boxes, seq.valid)
    metrics = summarize(curves)
    metrics["fps"] = float(np.mean(list(fps.values())))
    tmp = out_dir / "metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=1))
    os.replace(tmp, out_dir / "metrics.json")
    metrics["_curves"] = curves
    return metrics
