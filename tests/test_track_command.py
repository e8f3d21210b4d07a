"""`automatch track` as a user runs it: from a folder outside the repository, on a video file, with nothing but a
checkpoint and the first box. The checkpoint is a small tracker trained here for a few seconds on moving targets
(crop geometry recorded in the file), so the test can check that the boxes follow the target."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
import torch

from automatch_lib.cli import main
from automatch_lib.config import CropConfig, PairConfig, ResourcesConfig, TrainConfig
from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.data.pairs import PairDataset
from automatch_lib.evaluation.metrics import iou
from automatch_lib.model.network import SiameseNet
from automatch_lib.train import train
from conftest import REPO, write_moving_sequence


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory):
    """About 8 s of training (4 epochs x 256 pairs, one thread) on six moving-target sequences."""
    root = tmp_path_factory.mktemp("train")
    for k in range(6):
        write_moving_sequence(root / f"S{k}", n=30, size=(160, 120), seed=10 + k, speed=3.0)
    crop = CropConfig(exemplar_size=32, search_size=64)
    cfg = TrainConfig(epochs=4, pairs_per_epoch=256, batch_size=16, lr=5e-3, lr_end=1e-3, warmup_epochs=0)
    data = PairDataset(load_benchmark("otb", root), PairConfig(frame_range=10, search_shift=12.0, negative_prob=0.1),
                       crop, cfg.pairs_per_epoch, seed=0)
    torch.manual_seed(0)
    path = root / "tracker.pt"
    train(SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=16), data, crop.search_size, cfg,
          ResourcesConfig(workers=0, progress=False), path, extra={"crop": dataclasses.asdict(crop)}, seed=0)
    return path


def test_track_a_video_from_outside_the_repository_follows_the_target(trained_checkpoint, tmp_path, monkeypatch):
    frames = tmp_path / "frames"
    gt = write_moving_sequence(frames / "T", n=25, size=(160, 120), seed=99, speed=3.0)
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    for i in range(len(gt)):
        writer.write(cv2.imread(str(frames / "T" / "img" / f"{i + 1:04d}.jpg")))
    writer.release()
    work = tmp_path / "user"
    work.mkdir()
    monkeypatch.chdir(work)
    assert REPO not in work.parents and not (work / "params.yaml").exists()
    box = ",".join(str(int(v)) for v in gt[0])
    assert main(["--quiet", "track", str(video), "--box", box, "--checkpoint", str(trained_checkpoint),
                 "--out", "annotated.mp4"]) == 0
    cap = cv2.VideoCapture(str(work / "annotated.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == len(gt)
    boxes = np.loadtxt(work / "annotated.txt", delimiter=",")
    assert boxes.shape == (len(gt), 4)
    overlap = iou(boxes, gt)
    static = iou(np.repeat(gt[:1], len(gt), axis=0), gt)
    assert overlap.min() > 0.3 and overlap.mean() > static.mean() + 0.3, (overlap.round(2), static.mean())
