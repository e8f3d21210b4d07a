"""The OPE runner: run a tracker over sequences, write standard result files, score them under a protocol.

Our trackers can run several sequences in lockstep (`batch` > 1): each frame index of B sequences goes through the
network as one batch (`SiameseTracker.init_many` / `update_many`), which is how a small network uses a CPU well
(measured: 3.6 -> 1.7 ms of network per frame at B = 16). The network's outputs then differ from a one-by-one run's
by the float rounding of batched convolutions (~1e-6 in the scores), which can flip a near-tie between two candidates
and send a trajectory its own way: results are deterministic for a given batch size and order of the sequences, not
identical to batch 1. Frames per second are always those of the tracker alone, one frame after another: in lockstep
runs the first sequences (at least `FPS_FRAMES` frames) are tracked once more for the clock.

Results on disk: `<results>/<benchmark>/<tracker>/<sequence>.txt`, one `x,y,w,h` row per frame in the benchmark's
own coordinate convention (origin added back), and `metrics.json` beside them. How the results are scored is the
benchmark's protocol (`protocols.py`, evaluation-protocols.md sections 1, 2 and 7); test splits without ground
truth get the evaluation server's submission files under `submission/`.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..data.sequence import Sequence
from ..io import atomic_write, write_json
from .protocols import Protocol, first_box_only, protocol_for

FPS_FRAMES = 150   # frames timed one by one after a lockstep run (the first sequences, whole)


def run_lockstep(tracker, sequences: list[Sequence]) -> list[np.ndarray]:
    """Track the sequences together, each from its first box, frame index by frame index (`update_many`; a
    sequence that has ended drops out of the batch). Returns each sequence's (N, 4) boxes in the file convention."""
    for seq in sequences:
        _check_first_box(seq)
    boxes = [np.zeros((len(s), 4)) for s in sequences]
    for out, seq in zip(boxes, sequences):
        out[0] = seq.boxes[0]
    tracker.init_many([s.image(0) for s in sequences], [s.init_box() for s in sequences])
    for i in range(1, max(len(s) for s in sequences)):
        rows = [k for k, s in enumerate(sequences) if i < len(s)]
        found = tracker.update_many([sequences[k].image(i) for k in rows], rows)
        for k, box in zip(rows, found):
            boxes[k][i] = box + [sequences[k].origin, sequences[k].origin, 0, 0]
    return boxes


def run_sequence(tracker, seq: Sequence) -> tuple[np.ndarray, float]:
    """Track one sequence from its first box. Returns (N, 4) boxes in the file convention and frames/second
    (frames 2..N over the wall time of the tracking loop, frame reading included)."""
    boxes, _, fps = _track(tracker, seq)
    return boxes, fps


def _check_first_box(seq: Sequence) -> None:
    if len(seq.boxes) < 1 or not seq.valid[0]:
        raise ValueError(f"sequence {seq.name!r}: the first ground-truth box is invalid, cannot initialise")


def _track(tracker, seq: Sequence) -> tuple[np.ndarray, np.ndarray, float]:
    """(boxes, seconds per frame in the tracker, loop frames/second)."""
    _check_first_box(seq)
    origin = np.array([seq.origin, seq.origin, 0, 0], dtype=np.float64)
    boxes = np.zeros((len(seq), 4))
    times = np.zeros(len(seq))
    boxes[0] = seq.boxes[0]
    image = seq.image(0)
    t = time.perf_counter()
    tracker.init(image, seq.init_box())
    times[0] = time.perf_counter() - t
    t0 = time.perf_counter()
    for i in range(1, len(seq)):
        image = seq.image(i)
        t = time.perf_counter()
        box = tracker.update(image)
        times[i] = time.perf_counter() - t
        boxes[i] = np.asarray(box, dtype=np.float64) + origin
    fps = (len(seq) - 1) / max(time.perf_counter() - t0, 1e-9)
    return boxes, times, fps


def write_boxes(path: Path, boxes: np.ndarray) -> None:
    """Write x,y,w,h rows with 2 decimals, atomically."""
    atomic_write(path, lambda tmp: np.savetxt(tmp, boxes, fmt="%.2f", delimiter=","))


def evaluate_tracker(tracker, sequences: list[Sequence], out_dir: str | Path, progress: bool = True,
                     protocol: str | Protocol = "otb", batch: int = 1) -> dict:
    """Run `tracker` on every sequence, write `<out_dir>/<seq>.txt` and `<out_dir>/metrics.json`; return metrics.

    ``protocol``: a name of ``protocols.PROTOCOLS`` (a benchmark loader name or alias, e.g. ``'lasot'``) or a
    Protocol; it decides how each sequence is scored and summarised. ``metrics.json`` holds ``protocol``,
    ``success_auc``, ``precision_20``, ``norm_precision_20``, the protocol's own keys (``norm_precision_auc``,
    ``ao``, ``sr_50``, ``sr_75``, ...), their ``definitions``, per-sequence scores (``sequences``) and ``fps``; all
    plain Python floats. The returned dict adds ``_curves`` (per-sequence records, e.g. for
    ``protocols.attribute_scores``). ``batch`` > 1 tracks that many sequences in lockstep (our trackers; see the
    module doc); ``fps`` is then the mean over the first sequences (``FPS_FRAMES`` frames at least) tracked once
    more one by one, the measure the peers get over every sequence.

    Test splits whose ground truth holds only the first box (GOT-10k test, TrackingNet TEST) are tracked and
    written in the evaluation server's layout under ``<out_dir>/submission/`` (see ``submission.py``); the result
    says ``scored_on_server: true`` with NaN scores (``null`` in metrics.json). Such sequences cannot be mixed
    with annotated ones, and need a protocol with a server; both are checked before any tracking.
    """
    proto = protocol_for(protocol)
    out_dir = Path(out_dir)
    sequences = list(sequences)
    if not sequences:
        raise ValueError("no sequences to evaluate")
    server_only = [s.name for s in sequences if first_box_only(s)]
    if server_only and len(server_only) != len(sequences):
        raise ValueError(f"{len(server_only)} of {len(sequences)} sequences hold only the first ground-truth box "
                         f"(e.g. {server_only[0]!r}): evaluate test and annotated splits separately")
    if server_only and proto.server is None:
        raise ValueError(f"the {len(sequences)} sequences hold only the first ground-truth box (e.g. "
                         f"{server_only[0]!r}) and protocol {proto.name!r} has no evaluation server: use protocol "
                         "'got10k' or 'trackingnet' to write their submission files")
    tracker_name = str(getattr(tracker, "name", "") or out_dir.name)
    scores, fps, runs = {}, {}, {}
    lockstep = batch > 1 and hasattr(tracker, "update_many") and not server_only   # servers want per-frame times
    bar = tqdm(total=len(sequences), desc=f"tracking ({tracker_name}, {proto.name})", disable=not progress)
    for i in range(0, len(sequences), batch if lockstep else 1):
        group = sequences[i:i + batch] if lockstep else [sequences[i]]
        if lockstep:
            tracked = zip(group, run_lockstep(tracker, group), [None] * len(group))
        else:
            boxes, times, fps[group[0].name] = _track(tracker, group[0])
            tracked = [(group[0], boxes, times)]
        for seq, boxes, times in tracked:
            write_boxes(out_dir / f"{seq.name}.txt", boxes)
            if server_only:
                runs[seq.name] = [(boxes, times)]
            else:
                scores[seq.name] = proto.score_sequence(boxes, seq)
        bar.update(len(group))
    bar.close()
    if lockstep:
        timed = 0
        for seq in sequences:
            fps[seq.name] = _track(tracker, seq)[2]
            timed += len(seq) - 1
            if timed >= FPS_FRAMES:
                break
    if server_only:
        submission = proto.write_submission(runs, out_dir / "submission", tracker_name)
        metrics = proto.server_result(submission, {s.name: len(s) for s in sequences})
    else:
        metrics = proto.summarize(scores)
    metrics["fps"] = float(np.mean(list(fps.values())))
    write_json(out_dir / "metrics.json", metrics)
    metrics["_curves"] = scores
    return metrics


def pooled_summary(results: dict[str, dict], protocol: str | Protocol = "otb") -> dict:
    """One summary over several benchmarks scored by the same rules, every sequence with equal weight.

    results: {benchmark: metrics returned by `evaluate_tracker`} (their `_curves`); all must share the scoring
    rules of `protocol` (e.g. OTB, VOT and DTB70 under one-pass evaluation). Sequences are named
    `<benchmark>/<sequence>`; fps is the sequence-weighted mean of the benchmarks' fps.
    """
    proto = protocol_for(protocol)
    mixed = [b for b, m in results.items() if type(protocol_for(m["protocol"])) is not type(proto)]
    if mixed:
        raise ValueError(f"cannot pool {mixed} with {proto.name}: their protocols score differently")
    scores = {f"{bench}/{name}": s for bench, m in results.items() for name, s in m["_curves"].items()}
    out = proto.summarize(scores)
    counts = {bench: len(m["_curves"]) for bench, m in results.items()}
    out["fps"] = float(sum(results[b]["fps"] * n for b, n in counts.items()) / max(sum(counts.values()), 1))
    out["benchmarks"] = {b: {"sequences": n, "success_auc": results[b]["success_auc"]} for b, n in counts.items()}
    return out
