"""Throughput of the training pipeline: does the pair loader keep up with the training step?"""
from __future__ import annotations

import time
from pathlib import Path

from ..config import Params
from ..threads import configure_threads
from ..train import build_optimizer, make_loader, weight_step
from .training import make_model, pair_dataset


def data_benchmark(p: Params, data_root: str | Path, batches: int = 10, settings=((1, 0), (1, 1), (2, 0), (2, 1)),
                   verbose: bool = True) -> list[dict]:
    """Pair-pipeline throughput vs training-step consumption, for several (torch threads, loader workers).

    For each setting: pairs/s the DataLoader delivers alone, pairs/s one training step consumes alone (on a
    pre-loaded batch), and pairs/s of the real loop (loader + step). The loader is not the bottleneck when the
    real loop runs at the speed of the step alone.
    """
    rows = []
    for threads, workers in settings:
        configure_threads(threads)
        data = pair_dataset(p, data_root, "train", batches * p.train.batch_size, seed=0)
        t0 = time.perf_counter()
        loaded = list(make_loader(data, p.train.batch_size, workers))
        loader_pps = len(loaded) * p.train.batch_size / (time.perf_counter() - t0)
        model = make_model(p, list(p.baseline.cls_ops), list(p.baseline.reg_ops)).train()
        opt = build_optimizer(model, p.train)

        def step(batch):
            weight_step(model, batch, opt, p.crop.search_size, model.loss, p.train)

        step(loaded[0])  # warm-up
        t0 = time.perf_counter()
        for batch in loaded:
            step(batch)
        step_pps = len(loaded) * p.train.batch_size / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for batch in make_loader(data, p.train.batch_size, workers):
            step(batch)
        loop_pps = len(loaded) * p.train.batch_size / (time.perf_counter() - t0)
        rows.append({"threads": threads, "workers": workers, "loader pairs/s": round(loader_pps, 1),
                     "step pairs/s": round(step_pps, 1), "loop pairs/s": round(loop_pps, 1)})
        if verbose:
            print(f"threads={threads} workers={workers}: loader {loader_pps:6.1f} pairs/s, training step "
                  f"{step_pps:6.1f} pairs/s, loader+step {loop_pps:6.1f} pairs/s", flush=True)
    return rows
