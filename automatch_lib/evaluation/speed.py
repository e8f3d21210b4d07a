"""Tracking-speed benchmark: our trackers and the OpenCV peers on the same pre-decoded frames, in one process.

Absolute times on a shared 2-core machine are noisy; ratios measured in one run are what the README reports. Every
tracker is initialised once per clip outside the timed loop (so our template features are computed once and
cached, as in tracking), one warm-up pass is run and discarded, then each repeat runs every tracker in turn
(interleaved, so drift in machine load hits all of them) and the median per-frame time is kept. With `busy=True`
the same measurement is repeated while a second process keeps one core busy, the situation of a user with another
job running: it shows whether the thread setting holds up (too many threads for the free cores make OpenMP stall).
"""
from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..data.benchmarks import load_benchmark
from ..threads import configure_threads
from ..trackers import Tracker


def load_clips(root: str | Path, frames: int) -> list[tuple[np.ndarray, list[np.ndarray]]]:
    """Up to `frames` tracking frames as (init box, [first image, next images...]) clips, decoded up front."""
    clips, total = [], 0
    for seq in load_benchmark("otb", root):
        n = min(len(seq), frames - total + 1)
        if n < 2:
            break
        clips.append((seq.init_box(), [seq.image(i) for i in range(n)]))
        total += n - 1
    return clips


def time_tracker(tracker: Tracker, clips) -> float:
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


@contextmanager
def busy_process():
    """A second Python process spinning on one core for as long as the block runs."""
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _fps(trackers: dict[str, Tracker], clips, repeats: int) -> dict[str, float]:
    for tracker in trackers.values():  # warm-up, discarded
        time_tracker(tracker, clips[:1])
    times: dict[str, list[float]] = {n: [] for n in trackers}
    for _ in range(repeats):
        for name, tracker in trackers.items():
            times[name].append(time_tracker(tracker, clips))
    return {name: 1.0 / float(np.median(t)) for name, t in times.items()}


def speed_benchmark(trackers: dict[str, Tracker], clips, threads: tuple[int, ...] = (1,), repeats: int = 3,
                    references: tuple[str, ...] = ("baseline", "csrt"), busy: bool = False,
                    verbose: bool = True) -> list[dict]:
    """FPS of every tracker at each torch thread count (and, with `busy`, again beside a busy process).

    Returns rows {'tracker', 'threads', 'load', 'fps', 'ratio_to_<ref>'...} for each reference present.
    """
    loads = ("idle", "busy") if busy else ("idle",)
    rows = []
    for n in threads:
        configure_threads(n)
        for load in loads:
            if load == "busy":
                with busy_process():
                    fps = _fps(trackers, clips, repeats)
            else:
                fps = _fps(trackers, clips, repeats)
            for name, value in fps.items():
                row = {"tracker": name, "threads": n, "load": load, "fps": value}
                row.update({f"ratio_to_{r}": value / fps[r] for r in references if r in fps})
                rows.append(row)
    if verbose:
        n_frames = sum(len(imgs) - 1 for _, imgs in clips)
        print(f"speed on {n_frames} frames, median of {repeats} interleaved repeats, torch threads {list(threads)}")
        for row in rows:
            ratios = "  ".join(f"x{k[9:]} {v:.2f}" for k, v in row.items() if k.startswith("ratio_to_"))
            print(f"  {row['tracker']:22s} threads={row['threads']} {row['load']:4s} {row['fps']:8.1f} FPS  {ratios}")
    return rows
