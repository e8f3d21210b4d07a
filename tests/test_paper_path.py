"""The paper profile's code path on CPU at tiny size: ResNet-50 dilated with ImageNet-named weights, 127/255 crops,
a frozen backbone epoch then unfrozen ones, two torchrun processes, killed in the last epoch and resumed.

Two processes with per-process BatchNorm statistics compute what one process computes with the same global batch
split into two micro-batches (`train.micro_batches`), so the resumed two-process run must end with the parameters of
an uninterrupted one-process run (running statistics are per rank and are not compared). On a GPU only the device
differs. About a minute and a half on two cores.
"""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from automatch_lib.model.backbone import ResNet50Dilated, load_pretrained
from automatch_lib.model.network import load_model
from conftest import profile_params, torchvision_resnet50_state, write_moving_sequence

EPOCHS = 3
KILL_AFTER = 2   # killed after the unfreeze switch (epoch 2), so the switch happens inside one process


def _paper_params(tmp_path, name: str, weights, **train) -> str:
    path = profile_params(tmp_path / f"{name}.yaml", "paper")
    raw = yaml.safe_load(path.read_text())
    raw["model"].update(channels=16, head_layers=1, pretrained=str(weights))
    raw["train"].update(epochs=EPOCHS, pairs_per_epoch=8, batch_size=4, warmup_epochs=1, freeze_backbone_epochs=1,
                        seeds=[0], **train)
    raw["resources"].update(device="cpu", threads=1, workers=0, jobs=1)
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc): torchrun starts its workers in sessions of their own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def _train_cmd(params: str, data, out, processes: int) -> list[str]:
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(processes), "--master_port",
              str(_free_port())] if processes > 1 else [sys.executable]
    return [*launch, "-m", "automatch_lib.cli", "--quiet", "--params", params, "train", "--data", str(data),
            "--out", str(out)]


def test_two_processes_through_frozen_epochs_match_one_process_and_resume_after_a_kill(tmp_path):
    data = tmp_path / "data"
    for k in range(3):
        write_moving_sequence(data / "train" / f"S{k}", n=8, size=(320, 240), box_size=(60, 48), seed=k)
    weights = tmp_path / "resnet50_imagenet_naming.pth"
    torch.save(torchvision_resnet50_state(), weights)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    ddp_params = _paper_params(tmp_path, "ddp", weights)
    ckpt = tmp_path / "ddp" / "seed_0.pt"
    proc = subprocess.Popen(_train_cmd(ddp_params, data, tmp_path / "ddp", 2), cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline, writes, seen = time.monotonic() + 300, 0, None
    while writes < KILL_AFTER and proc.poll() is None and time.monotonic() < deadline:
        stamp = ckpt.stat().st_mtime_ns if ckpt.exists() else None   # rank 0 replaces the file after each epoch
        writes, seen = writes + (stamp != seen and stamp is not None), stamp
        time.sleep(0.05)
    for pid in [*_descendants(proc.pid), proc.pid]:          # both ranks and torchrun, in the last epoch
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    output = proc.communicate()[0].decode(errors="replace")
    assert ckpt.exists(), output[-3000:]
    _, first = load_model(ckpt)
    assert first["complete_epochs"] == KILL_AFTER, "the kill did not land in the last epoch"
    assert len(first["torch_rng"]) == 2 and not torch.equal(*first["torch_rng"])     # one RNG stream per rank

    resumed = subprocess.run(_train_cmd(ddp_params, data, tmp_path / "ddp", 2), cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    single = subprocess.run(_train_cmd(_paper_params(tmp_path, "single", weights, micro_batches=2), data,
                                       tmp_path / "single", 1), cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert single.returncode == 0, single.stdout[-2000:] + single.stderr[-3000:]

    ddp_model, ddp = load_model(ckpt)
    one_model, one = load_model(tmp_path / "single" / "seed_0.pt")
    assert ddp["complete_epochs"] == one["complete_epochs"] == EPOCHS
    assert ddp["history"]["world_size"] == 2 and one["history"]["world_size"] == 1
    assert ddp_model.config["backbone"] == "resnet50_dilated" and ddp_model.config["color"] == "rgb"
    assert ddp["crop"]["exemplar_size"] == 127 and ddp["crop"]["search_size"] == 255
    # the backbone's updates after unfreezing: the same in both runs (a DDP wrapper built while the backbone was
    # frozen would leave its gradients un-averaged, and rank 0 would apply its own half's)
    start = ResNet50Dilated(color="rgb")
    load_pretrained(start, weights)
    initial = dict(start.named_parameters())
    one_backbone = dict(one_model.backbone.named_parameters())
    for name, value in ddp_model.backbone.named_parameters():
        delta, expected = value - initial[name], one_backbone[name] - initial[name]
        assert expected.abs().max() > 0, f"{name} did not train after the backbone was unfrozen"
        torch.testing.assert_close(delta, expected, rtol=1e-3, atol=1e-8, msg=lambda m: f"update of {name}: {m}")
    ours, theirs = dict(ddp_model.named_parameters()), dict(one_model.named_parameters())
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        torch.testing.assert_close(value, theirs[name], rtol=1e-4, atol=1e-6, msg=lambda m: f"{name}: {m}")
