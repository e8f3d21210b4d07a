"""Thread settings: every command and every DataLoader worker pins its threads before any work.

On a small CPU, torch intra-op threads + DataLoader workers + other processes must not exceed the cores, or OpenMP
threads wait on each other and steps become 20-40x slower (measured on a 2-core machine in training and tracking).
"""
from __future__ import annotations

import cv2
import torch


def configure_threads(threads: int) -> None:
    """Pin torch's intra-op threads to `threads` and OpenCV to one thread (set before any work)."""
    torch.set_num_threads(max(1, int(threads)))
    cv2.setNumThreads(1)


def worker_init(_: int) -> None:
    """DataLoader worker start-up: one torch thread, one OpenCV thread per worker process."""
    configure_threads(1)
