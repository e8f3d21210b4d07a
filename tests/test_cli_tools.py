"""The `automatch` command: speed benchmark with ratios, tracking a video file or frame folder, evaluating a
checkpoint from any folder, architecture specs for training, torchrun training, profiles."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
import yaml

from automatch_lib.cli import main
from automatch_lib.config import CropConfig, load_params, merged_profile
from automatch_lib.model.genotype import parse_arch
from automatch_lib.model.network import SiameseNet, load_model, save_checkpoint
from conftest import REPO, profile_params, write_moving_sequence


@pytest.fixture
def checkpoints(tmp_path):
    torch.manual_seed(0)
    paths = []
    for name, ops in (("baseline", ["dw_xcorr"]), ("automatch", ["film", "pairwise_relation"])):
        path = tmp_path / f"{name}.pt"
        save_checkpoint(path, SiameseNet(ops, ops, channels=8), crop=dataclasses.asdict(CropConfig()))
        paths.append(str(path))
    return paths


def test_bench_prints_fps_and_ratios_for_ours_and_the_peers(tmp_path, checkpoints, capsys):
    write_moving_sequence(tmp_path / "seqs" / "A", n=8)
    assert main(["--params", str(REPO / "params.yaml"), "bench", *checkpoints, "--root", str(tmp_path / "seqs"),
                 "--frames", "6", "--repeats", "1", "--peers", "csrt", "kcf", "--thread-counts", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "torch threads [1]" in lines[0]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {"baseline", "automatch", "csrt", "kcf"}
    assert "xbaseline 1.00" in rows["baseline"] and "xcsrt 1.00" in rows["csrt"]
    assert all("threads=1 idle" in row and "FPS" in row for row in rows.values())


def _write_video(tmp_path, n=6):
    video = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (160, 120))
    gt = write_moving_sequence(tmp_path / "frames" / "A", n=n)
    for i in range(n):
        writer.write(cv2.imread(str(tmp_path / "frames" / "A" / "img" / f"{i + 1:04d}.jpg")))
    writer.release()
    return video, gt


def test_track_writes_an_annotated_video_and_boxes(tmp_path, checkpoints):
    video, gt = _write_video(tmp_path)
    box = ",".join(str(int(v)) for v in gt[0])
    out = tmp_path / "annotated.mp4"
    assert main(["--quiet", "--params", str(REPO / "params.yaml"), "track", str(video), "--box", box,
                 "--checkpoint", checkpoints[0], "--out", str(out)]) == 0
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    boxes = np.loadtxt(tmp_path / "annotated.txt", delimiter=",")      # always <out>.txt by default
    assert boxes.shape == (6, 4) and np.allclose(boxes[0], gt[0])
    assert not list(tmp_path.glob("*.tmp"))


def test_track_a_frame_folder_from_any_folder_without_params(tmp_path, checkpoints, monkeypatch):
    """A checkpoint carries its network and crop geometry: no params file is needed."""
    _, gt = _write_video(tmp_path)
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    assert not (work / "params.yaml").exists()
    box = ",".join(str(int(v)) for v in gt[0])
    assert main(["--quiet", "track", str(tmp_path / "frames" / "A" / "img"), "--box", box,
                 "--checkpoint", checkpoints[1], "--out", "out/annotated.mp4",
                 "--boxes", str(tmp_path / "boxes.txt")]) == 0
    boxes = np.loadtxt(tmp_path / "boxes.txt", delimiter=",")
    assert boxes.shape == (6, 4) and np.allclose(boxes[0], gt[0]) and np.isfinite(boxes).all()
    assert (work / "out" / "annotated.mp4").is_file()
    # the static box needs no checkpoint at all
    assert main(["--quiet", "track", str(tmp_path / "frames" / "A" / "img"), "--box", box, "--tracker", "static",
                 "--out", "static.mp4"]) == 0
    np.testing.assert_allclose(np.loadtxt(work / "static.txt", delimiter=","), np.repeat(gt[:1], 6, axis=0))


def test_missing_video_gives_a_clear_error(tmp_path, checkpoints, capsys):
    assert main(["--params", str(REPO / "params.yaml"), "track", str(tmp_path / "nope.mp4"), "--box", "1,2,3,4",
                 "--checkpoint", checkpoints[0]]) == 2
    err = capsys.readouterr().err
    assert "nope.mp4: no such video file or frame folder" in err


def test_bad_box_gives_a_clear_error(tmp_path, checkpoints, capsys):
    video, _ = _write_video(tmp_path)
    assert main(["track", str(video), "--box", "1,2,3", "--checkpoint", checkpoints[0]]) == 2
    assert "--box needs four numbers x,y,w,h, got '1,2,3'" in capsys.readouterr().err


def test_evaluate_a_checkpoint_from_any_folder(tmp_path, checkpoints, otb_folder, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["--quiet", "evaluate", "--root", str(otb_folder), "--checkpoint", checkpoints[1],
                 "--results", "res"]) == 0
    out = tmp_path / "res" / "otb" / "automatch"
    assert {p.name for p in out.iterdir()} == {"Seq0.txt", "Seq1.txt", "Seq2.txt", "metrics.json"}
    assert "automatch on otb (3 sequences, otb protocol): success AUC" in capsys.readouterr().out
    assert main(["--quiet", "evaluate", "--root", str(otb_folder), "--checkpoint", checkpoints[0],
                 "--name", "ocean", "--results", "res", "--max-sequences", "1"]) == 0
    assert {p.name for p in (tmp_path / "res" / "otb" / "ocean").iterdir()} == {"Seq0.txt", "metrics.json"}
    capsys.readouterr()
    assert main(["--quiet", "evaluate", "--root", f"otb={otb_folder}", "--root", f"dtb70={otb_folder}",
                 "--tracker", "static", "--results", "res"]) == 0
    pooled = json.loads((tmp_path / "res" / "pooled" / "static" / "metrics.json").read_text())
    per = [json.loads((tmp_path / "res" / b / "static" / "metrics.json").read_text()) for b in ("otb", "dtb70")]
    assert pooled["benchmarks"] == {"otb": {"sequences": 3, "success_auc": per[0]["success_auc"]},
                                    "dtb70": {"sequences": 3, "success_auc": per[1]["success_auc"]}}
    assert pooled["success_auc"] == pytest.approx((per[0]["success_auc"] + per[1]["success_auc"]) / 2)
    assert "static pooled over 6 sequences of otb, dtb70" in capsys.readouterr().out
    assert main(["evaluate", "--root", str(otb_folder)]) == 2
    err = capsys.readouterr().err
    assert "--checkpoint FILE" in err and "siamese" in err and "static" in err


def test_train_arch_specs(tmp_path, capsys):
    data = tmp_path / "data"
    for k in range(2):
        write_moving_sequence(data / "train" / f"S{k}", n=8, seed=k)
    params = profile_params(tmp_path, "smoke")
    p = load_params(params)
    assert p.train.seeds == [0, 1]
    assert main(["--quiet", "--params", str(params), "train", "--data", str(data), "--arch", "random",
                 "--out", str(tmp_path / "random")]) == 0
    # one checkpoint per training seed, each with its own random draw
    assert sorted(f.name for f in (tmp_path / "random").iterdir()) == ["seed_0.pt", "seed_1.pt"]
    printed = capsys.readouterr().out
    for seed in p.train.seeds:
        g = parse_arch("random", p, name="random", seed=seed)
        _, ckpt = load_model(tmp_path / "random" / f"seed_{seed}.pt")
        assert (ckpt["config"]["cls_ops"], ckpt["config"]["reg_ops"]) == (list(g.cls), list(g.reg))
        assert ckpt["genotype"] == g.to_dict() and ckpt["history"]["seed"] == seed
        assert ckpt["crop"] == dataclasses.asdict(p.crop)
        assert f"trained random seed {seed}: cls={list(g.cls)}" in printed
    assert main(["--params", str(params), "train", "--data", str(data), "--arch", "film+concat",
                 "--out", str(tmp_path / "x")]) == 2
    assert "unknown architecture spec 'film+concat'" in capsys.readouterr().err
    assert main(["--params", str(params), "train", "--data", str(data), "--arch", "ops:film/nope",
                 "--out", str(tmp_path / "x")]) == 2
    assert "reg operators ['nope']" in capsys.readouterr().err
    assert main(["--params", str(params), "train", "--data", str(data),
                 "--arch", f"genotype:{tmp_path / 'none.json'}", "--out", str(tmp_path / "x")]) == 2
    assert "none.json" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_profile_prints_the_merged_params_or_writes_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    before = (REPO / "params.yaml").read_bytes()
    assert main(["profile", "smoke"]) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed == merged_profile(REPO / "params.yaml", REPO / "profiles" / "smoke.yaml")
    assert printed["crop"]["search_size"] == 64 and printed["resources"]["workers"] == 0
    assert (REPO / "params.yaml").read_bytes() == before
    out = tmp_path / "smoke_params.yaml"
    assert main(["profile", str(REPO / "profiles" / "smoke.yaml"), "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert yaml.safe_load(out.read_text()) == printed and load_params(out).crop.exemplar_size == 32
    assert (REPO / "params.yaml").read_bytes() == before
    assert main(["profile", "no_such_profile"]) == 2
    assert "params file not found" in capsys.readouterr().err


def test_torchrun_ddp_training_on_two_processes(tmp_path):
    """Two CPU processes (gloo) train one model; rank 0 writes a checkpoint that loads."""
    data = tmp_path / "data"
    for split, n in (("train", 3),):
        for k in range(n):
            write_moving_sequence(data / split / f"S{k}", n=8, seed=k)
    params = profile_params(tmp_path, "smoke")
    raw = yaml.safe_load(params.read_text())
    raw["train"]["seeds"] = [3]          # one run is enough here (test_train_arch_specs trains several seeds)
    params.write_text(yaml.safe_dump(raw))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29517",
           "-m", "automatch_lib.cli", "--quiet", "--params", str(params), "train", "--data", str(data),
           "--out", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert [f.name for f in (tmp_path / "ddp").iterdir()] == ["seed_3.pt"]
    model, ckpt = load_model(tmp_path / "ddp" / "seed_3.pt")
    assert ckpt["complete_epochs"] == 1 and ckpt["history"]["world_size"] == 2 and ckpt["history"]["seed"] == 3
    assert ckpt["crop"] == dataclasses.asdict(load_params(params).crop)


def test_bench_data_prints_loader_and_step_throughput(tmp_path, capsys):
    for k in range(2):
        write_moving_sequence(tmp_path / "data" / "train" / f"S{k}", n=8, seed=k)
    params = profile_params(tmp_path, "smoke")
    assert main(["--params", str(params), "bench-data", "--data", str(tmp_path / "data"), "--batches", "2",
                 "--settings", "1,0"]) == 0
    out = capsys.readouterr().out
    assert "threads=1 workers=0: loader" in out and "training step" in out and "loader+step" in out


def test_run_jobs_returns_results_in_job_order_in_spawned_processes():
    """Independent runs at once: the results come back in job order and equal a run in this process; each spawned
    process pins its torch threads first."""
    import math

    from automatch_lib.threads import run_jobs

    jobs = [(7,), (3,), (10,), (1,), (5,)]
    expected = [5040, 6, 3628800, 1, 120]
    assert run_jobs(math.factorial, jobs, processes=1) == expected
    assert run_jobs(math.factorial, jobs, processes=2) == expected
    assert run_jobs(math.factorial, [], processes=2) == []
    # every job ran with the requested torch threads (and this process keeps its own)
    assert run_jobs(torch.get_num_threads, [(), (), ()], processes=2, threads=2) == [2, 2, 2]
    assert torch.get_num_threads() == 1
