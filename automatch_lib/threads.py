"""Threads and processes: every command and every DataLoader worker pins its threads before any work, and
independent runs share the cores as separate processes (`run_jobs`).

On a small CPU, torch intra-op threads + DataLoader workers + other processes must not exceed the cores, or OpenMP
threads wait on each other and steps become 20-40x slower (measured on a 2-core machine in training and tracking).
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import cv2
import torch


def configure_threads(threads: int) -> None:
    """Pin torch's intra-op threads to `threads` and OpenCV to one thread (set before any work)."""
    torch.set_num_threads(max(1, int(threads)))
    cv2.setNumThreads(1)


def worker_init(_: int) -> None:
    """DataLoader worker start-up: one torch thread, one OpenCV thread per worker process."""
    configure_threads(1)


def _pinned_call(threads: int, fn: Callable, args: tuple):
    configure_threads(threads)
    return fn(*args)


def run_jobs(fn: Callable, jobs: list[tuple], processes: int = 1, threads: int = 1) -> list:
    """[fn(*job) for job in jobs], with up to `processes` jobs at once, each pinned to `threads` torch threads.

    Independent runs (one per seed) are what fills a small machine best: two one-thread trainings on two cores
    beat one two-thread training. Processes are spawned (not forked: a fork of a process whose OpenMP pool is
    running can hang), so `fn` must be importable, a module-level function. Results come back in job order, and a
    job's numbers do not depend on `processes` (each run seeds itself). With processes=1 everything runs here.
    """
    if processes <= 1 or len(jobs) <= 1:
        return [_pinned_call(threads, fn, job) for job in jobs]
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=min(processes, len(jobs)), mp_context=context) as pool:
        return list(pool.map(_pinned_call, [threads] * len(jobs), [fn] * len(jobs), jobs))
