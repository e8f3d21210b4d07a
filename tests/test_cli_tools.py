"""The `automatch` tools around tracking: speed benchmark with ratios, tracking a video file, torchrun training."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from automatch_lib.cli import main
from automatch_lib.model.network import SiameseNet, load_model, save_checkpoint
from conftest import REPO, write_moving_sequence


@pytest.fixture
def checkpoints(tmp_path):
    torch.manual_seed(0)
    paths = []
    for name, ops in (("baseline", ["dw_xcorr"]), ("automatch", ["film", "pairwise_relation"])):
        path = tmp_path / f"{name}.pt"
        save_checkpoint(path, SiameseNet(ops, ops, channels=8))
        paths.append(str(path))
    return paths


def test_bench_prints_fps_and_ratio_for_each_checkpoint(tmp_path, checkpoints, capsys):
    write_moving_sequence(tmp_path / "seqs" / "A", n=8)
    assert main(["--params", str(REPO / "params.yaml"), "bench", *checkpoints, "--root", str(tmp_path / "seqs"),
                 "--frames", "6", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "torch threads=1" in out and "ratio to baseline: 1.000" in out
    assert "automatch" in out and "FPS" in out


def test_track_writes_an_annotated_video_and_boxes(tmp_path, checkpoints):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    gt = write_moving_sequence(tmp_path / "frames" / "A", n=6)
    for i in range(6):
        writer.write(cv2.imread(str(tmp_path / "frames" / "A" / "img" / f"{i + 1:04d}.jpg")))
    writer.release()
    box = ",".join(str(int(v)) for v in gt[0])
    out = tmp_path / "annotated.mp4"
    assert main(["--quiet", "--params", str(REPO / "params.yaml"), "track", str(video), "--box", box,
                 "--checkpoint", checkpoints[0], "--out", str(out), "--boxes", str(tmp_path / "boxes.txt")]) == 0
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    boxes = np.loadtxt(tmp_path / "boxes.txt", delimiter=",")
    assert boxes.shape == (6, 4) and np.allclose(boxes[0], gt[0])


def test_missing_video_gives_a_clear_error(tmp_path, checkpoints, capsys):
    assert main(["--params", str(REPO / "params.yaml"), "track", str(tmp_path / "nope.mp4"), "--box", "1,2,3,4",
                 "--checkpoint", checkpoints[0]]) == 2
    assert "cannot open video" in capsys.readouterr().err


def test_torchrun_ddp_training_on_two_processes(tmp_path):
    """Two CPU processes (gloo) train one model; rank 0 writes a checkpoint that loads."""
    data = tmp_path / "data"
    for split, n in (("train", 3),):
        for k in range(n):
            write_moving_sequence(data / split / f"S{k}", n=8, seed=k)
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    from automatch_lib.config import apply_profile

    apply_profile(params, REPO / "profiles" / "smoke.yaml")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "automatch_lib.cli", "--quiet", "--params", str(params), "train", "--data", str(data),
           "--out", str(tmp_path / "ddp.pt")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    model, ckpt = load_model(tmp_path / "ddp.pt")
    assert ckpt["complete_epochs"] == 1 and ckpt["history"]["world_size"] == 2


def test_bench_data_prints_loader_and_step_throughput(tmp_path, capsys):
    for k in range(2):
        write_moving_sequence(tmp_path / "data" / "train" / f"S{k}", n=8, seed=k)
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    from automatch_lib.config import apply_profile

    apply_profile(params, REPO / "profiles" / "smoke.yaml")
    assert main(["--params", str(params), "bench-data", "--data", str(tmp_path / "data"), "--batches", "2",
                 "--settings", "1,0"]) == 0
    out = capsys.readouterr().out
    assert "threads=1 workers=0: loader" in out and "training step" in out and "loader+step" in out
