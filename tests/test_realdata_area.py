"""The default AutoMatch tracker keeps a real target's size: on the eight real sequences of ../shared/realdata the
predicted box area stays within [1/4, 4] x the ground-truth area on at least 90% of the frames (pooled).

Uses the pipeline's tuned checkpoint (`models/tuned/automatch/seed_0.pt`, written by `dvc repro`); skipped where the
real sequences or that checkpoint are absent (a user's fresh clone before `make repro`)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.evaluation.ope import run_sequence
from automatch_lib.trackers import make_tracker
from conftest import REALDATA, REPO

CHECKPOINT = REPO / "models" / "tuned" / "automatch" / "seed_0.pt"
pytestmark = [pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real sequences not found at {REALDATA}"),
              pytest.mark.skipif(not CHECKPOINT.is_file(), reason=f"no trained tracker at {CHECKPOINT} (make repro)")]


def test_predicted_area_stays_within_a_factor_4_of_the_truth_on_90_percent_of_real_frames():
    torch.set_num_threads(1)
    tracker = make_tracker("siamese", CHECKPOINT, name="automatch")
    inside, per_sequence = [], {}
    for bench, folder in (("otb", "OTB"), ("vot", "VOT"), ("dtb70", "DTB70")):
        for seq in load_benchmark(bench, REALDATA / folder):
            boxes, _ = run_sequence(tracker, seq)
            v = seq.valid
            ratio = boxes[v, 2] * boxes[v, 3] / (seq.boxes[v, 2] * seq.boxes[v, 3])
            ok = (ratio >= 0.25) & (ratio <= 4.0)
            inside.append(ok)
            per_sequence[seq.name] = round(float(ok.mean()), 3)
    assert len(per_sequence) == 8, per_sequence
    share = float(np.concatenate(inside).mean())
    assert share >= 0.9, f"area within [1/4, 4] x truth on {share:.3f} of frames; per sequence {per_sequence}"
