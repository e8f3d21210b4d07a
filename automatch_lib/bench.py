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


def data_benchmark(p, data_root: str | Path, batches: int = 10, settings=((1, 0), (1, 1), (2, 0), (2, 1)),
                   verbose: bool = True) -> list[dict]:
    """Pair-pipeline throughput vs training-step consumption, for several (torch threads, loader workers).

    For each setting: pairs/s the DataLoader delivers alone, pairs/s one training step consumes alone (on a
    pre-loaded batch), and pairs/s of the real loop (loader + step). The loader is not the bottleneck when the
    real loop runs at the speed of the step alone.
    """
    import dataclasses

    from .experiments import make_model, pair_dataset
    from .train import batch_loss, build_optimizer, make_loader

    rows = []
    for threads, workers in settings:
        configure_threads(threads)
        cfg = dataclasses.replace(p.train, threads=threads, workers=workers)
        data = pair_dataset(p, data_root, "train", batches * cfg.batch_size, seed=0)
        t0 = time.perf_counter()
        loaded = list(make_loader(data, cfg.batch_size, workers))
        loader_pps = len(loaded) * cfg.batch_size / (time.perf_counter() - t0)
        model = make_model(p, list(p.baseline.cls_ops), list(p.baseline.reg_ops)).train()
        opt = build_optimizer(model, cfg)

        def step(batch):
            loss, _ = batch_loss(model, batch, p.pairs.search_size, model.stride, cfg)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step(loaded[0])  # warm-up
        t0 = time.perf_counter()
        for batch in loaded:
            step(batch)
        step_pps = len(loaded) * cfg.batch_size / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for batch in make_loader(data, cfg.batch_size, workers):
            step(batch)
        loop_pps = len(loaded) * cfg.batch_size / (time.perf_counter() - t0)
        rows.append({"threads": threads, "workers": workers, "loader pairs/s": round(loader_pps, 1),
                     "step pairs/s": round(step_pps, 1), "loop pairs/s": round(loop_pps, 1)})
        if verbose:
            print(f"threads={threads} workers={workers}: loader {loader_pps:6.1f} pairs/s, training step "
                  f"{step_pps:6.1f} pairs/s, loader+step {loop_pps:6.1f} pairs/s", flush=True)
    return rows
