"""Tracking-speed benchmark: several trackers on the same pre-decoded frames, interleaved, with ratios.

Absolute times on a shared 2-core machine are noisy; ratios measured in one run are what the README reports.
Each repeat runs every tracker once in turn (interleaved, so drift in machine load hits all of them) and the
median per-frame time over repeats is kept.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from .data.benchmarks import load_benchmark
from .experiments import make_tracker
from .train import configure_threads


def _frames(root: str | Path, frames: int) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Up to `frames` tracking frames as (init box, [first image, next images...]) clips, decoded up front."""
    clips, total = [], 0
    for seq in load_benchmark("otb", root):
        n = min(len(seq), frames - total + 1)
        if n < 2:
            break
        clips.append((seq.init_box(), [seq.image(i) for i in range(n)]))
        total += n - 1
    return clips


def time_tracker(tracker, clips) -> float:
    """Seconds per update() over all clips (init excluded)."""
    elapsed, count = 0.0, 0
    for box, images in clips:
        tracker.init(images[0], box)
        t0 = time.perf_counter()
        for img in images[1:]:
            tracker.update(img)
        elapsed += time.perf_counter() - t0
        count += len(images) - 1
    return elapsed / max(count, 1)


def speed_benchmark(p, checkpoints: list[str], root: str | Path, frames: int = 200, threads: int = 1,
                    repeats: int = 3, verbose: bool = True) -> dict[str, dict]:
    """FPS of each checkpoint and its ratio to the first one (the reference, e.g. the baseline)."""
    configure_threads(threads)
    clips = _frames(root, frames)
    trackers = {Path(c).stem: make_tracker(p, c) for c in checkpoints}
    times: dict[str, list[float]] = {n: [] for n in trackers}
    for _ in range(repeats):
        for name, tracker in trackers.items():
            times[name].append(time_tracker(tracker, clips))
    ref = next(iter(trackers))
    ref_fps = 1.0 / float(np.median(times[ref]))
    out = {}
    for name in trackers:
        fps = 1.0 / float(np.median(times[name]))
        out[name] = {"fps": fps, "ratio_to_" + ref: fps / ref_fps}
    if verbose:
        n_frames = sum(len(imgs) - 1 for _, imgs in clips)
        print(f"speed on {n_frames} frames from {root}, torch threads={torch.get_num_threads()}, "
              f"repeats={repeats} (median)")
        for name, row in out.items():
            print(f"  {name:24s} {row['fps']:7.1f} FPS   ratio to {ref}: {row['ratio_to_' + ref]:.3f}")
    return out
