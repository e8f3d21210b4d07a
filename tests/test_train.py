"""Training: the loss goes down, a fixed seed gives identical weights, an interrupted run resumes exactly,
checkpoints are atomic and load with weights_only=True, `weight_step` is the one weight update."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from automatch_lib.config import CropConfig, PairConfig, ResourcesConfig, TrainConfig
from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.data.pairs import PairDataset
from automatch_lib.model.network import SiameseNet, load_model
from automatch_lib.train import batch_loss, build_optimizer, lr_at, train, weight_step
from conftest import profile_params, write_moving_sequence

PAIRS = PairConfig(frame_range=8, negative_prob=0.2)
CROP = CropConfig(exemplar_size=32, search_size=64)
RES = ResourcesConfig(threads=1, workers=0, progress=False)


@pytest.fixture
def sequences(tmp_path):
    for k in range(4):
        write_moving_sequence(tmp_path / f"S{k}", n=12, size=(160, 120), seed=10 + k, speed=2.0)
    return load_benchmark("otb", tmp_path)


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8)


def fixed_batch(sequences):
    data = PairDataset(sequences, PAIRS, CROP, length=32, seed=123)
    return {k: torch.stack([data[i][k] for i in range(32)]) for k in data[0]}


def test_pair_dataset_is_deterministic_and_boxes_are_consistent(sequences):
    a = PairDataset(sequences, PAIRS, CROP, length=8, seed=1)
    b = PairDataset(sequences, PAIRS, CROP, length=8, seed=1)
    for i in range(8):
        for k in a[i]:
            assert torch.equal(a[i][k], b[i][k])
        box = a[i]["search_box"]
        assert 0 < box[2] - box[0] < 64 and 0 < box[3] - box[1] < 64
        assert a[i]["template"].shape == (3, 32, 32) and a[i]["search"].shape == (3, 64, 64)
    b.set_epoch(1)
    assert not torch.equal(a[0]["search"], b[0]["search"])


def test_training_reduces_the_loss(sequences, tmp_path):
    cfg = TrainConfig(epochs=6, pairs_per_epoch=64, batch_size=8, lr=5e-3, lr_end=2e-3, warmup_epochs=0, seed=0)
    model = tiny_model()
    batch = fixed_batch(sequences)
    model.eval()
    with torch.no_grad():
        before = float(batch_loss(model, batch, 64, model.stride, cfg)[0])
    history = train(model, PairDataset(sequences, PAIRS, CROP, 64, seed=0), 64, cfg, RES, tmp_path / "m.pt")
    model.eval()
    with torch.no_grad():
        after = float(batch_loss(model, batch, 64, model.stride, cfg)[0])
    assert after < 0.8 * before, (before, after)
    assert len(history["epochs"]) == 6


def test_same_seed_same_weights_and_resume_is_exact(sequences, tmp_path):
    cfg = TrainConfig(epochs=2, pairs_per_epoch=16, batch_size=8, seed=0)
    full = tiny_model()
    train(full, PairDataset(sequences, PAIRS, CROP, 16, seed=0), 64, cfg, RES, tmp_path / "full.pt")
    again = tiny_model()
    train(again, PairDataset(sequences, PAIRS, CROP, 16, seed=0), 64, cfg, RES, tmp_path / "again.pt")
    # interrupted after one epoch, then resumed from the checkpoint by a fresh process-like call
    part = tiny_model()
    cfg1 = dataclasses.replace(cfg, epochs=1)
    train(part, PairDataset(sequences, PAIRS, CROP, 16, seed=0), 64, cfg1, RES, tmp_path / "part.pt")
    resumed = tiny_model(seed=99)  # different init: everything must come from the checkpoint
    history = train(resumed, PairDataset(sequences, PAIRS, CROP, 16, seed=0), 64, cfg, RES, tmp_path / "part.pt")
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    for (name, a), b, c in zip(full.state_dict().items(), again.state_dict().values(),
                               resumed.state_dict().values()):
        assert torch.equal(a, b), name
        assert torch.allclose(a.float(), c.float(), atol=1e-6), name


def test_checkpoint_round_trip_rebuilds_the_network(sequences, tmp_path):
    cfg = TrainConfig(epochs=1, pairs_per_epoch=8, batch_size=8)
    model = tiny_model()
    train(model, PairDataset(sequences, PAIRS, CROP, 8, seed=0), 64, cfg, RES, tmp_path / "m.pt",
          extra={"crop": dataclasses.asdict(CROP)})
    assert not (tmp_path / "m.pt.tmp").exists()
    loaded, ckpt = load_model(tmp_path / "m.pt")
    assert ckpt["complete_epochs"] == 1 and ckpt["crop"] == dataclasses.asdict(CROP)
    batch = fixed_batch(sequences)
    model.eval(), loaded.eval()
    with torch.no_grad():
        a = model(batch["template"], batch["search"], batch["template_box"])
        b = loaded(batch["template"], batch["search"], batch["template_box"])
    assert torch.equal(a["cls"], b["cls"]) and torch.equal(a["reg"], b["reg"])


def test_learning_rate_schedule_warms_up_then_decays_exponentially():
    cfg = TrainConfig(epochs=10, lr=5e-3, lr_end=5e-5, warmup_epochs=5, warmup_lr=1e-3)
    assert lr_at(0.0, cfg) == pytest.approx(1e-3)
    assert lr_at(0.5, cfg) == pytest.approx(5e-3)
    assert lr_at(0.75, cfg) == pytest.approx(np.sqrt(5e-3 * 5e-5))
    assert lr_at(1.0, cfg) == pytest.approx(5e-5)


def test_extra_sources_are_mixed_in_by_weight_and_frame_range(sequences, tmp_path):
    real = []
    for k in range(2):
        write_moving_sequence(tmp_path / "real" / f"R{k}", n=30, seed=50 + k)
    real = load_benchmark("otb", tmp_path / "real")
    data = PairDataset(sequences, PAIRS, CROP, length=200, seed=0, extra=[(real, 3.0, 2)])
    picks = [data._pick(np.random.default_rng([0, 0, i])) for i in range(200)]
    from_real = [(s, t, u) for s, t, u in picks if s.name.startswith("R")]
    assert 0.6 < len(from_real) / len(picks) < 0.9          # weight 3 vs 1 -> 75 % (stills: none here)
    assert all(abs(t - u) <= 2 for _, t, u in from_real)     # the extra group's own frame range


def test_extra_sources_config_is_checked_and_missing_roots_are_skipped(tmp_path, capsys):
    from automatch_lib.config import load_params
    from automatch_lib.errors import ConfigError
    from automatch_lib.experiments.training import extra_sources
    from conftest import REPO

    p = load_params(REPO / "params.yaml")
    p.pairs = dataclasses.replace(p.pairs, extra_sources=[{"benchmark": "got10k", "root": str(tmp_path / "none")}])
    assert extra_sources(p) == [] and "not found, skipped" in capsys.readouterr().out
    p.pairs = dataclasses.replace(p.pairs, extra_sources=[{"root": "x"}])
    with pytest.raises(ConfigError, match="needs benchmark and root"):
        extra_sources(p)


def test_the_same_params_train_the_same_tracker_in_separate_processes(tmp_path):
    """Model initialisation is seeded too: two processes with the same params end with identical weights."""
    import subprocess
    import sys

    from automatch_lib.config import load_params

    for k in range(2):
        write_moving_sequence(tmp_path / "data" / "train" / f"S{k}", n=8, seed=k)
    params = profile_params(tmp_path, "smoke")
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-m", "automatch_lib.cli", "--quiet", "--params", str(params), "train",
                        "--data", str(tmp_path / "data"), "--out", str(tmp_path / f"{name}.pt")], check=True,
                       capture_output=True, cwd=tmp_path)
    a = torch.load(tmp_path / "a.pt", weights_only=True)
    b = torch.load(tmp_path / "b.pt", weights_only=True)
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    # the checkpoint carries the crop geometry it was trained with (a tracker is rebuilt from the file alone)
    assert a["crop"] == dataclasses.asdict(load_params(params).crop) == {"exemplar_size": 32, "search_size": 64,
                                                                         "context": 0.5}


def test_weight_step_updates_only_the_optimizer_parameters(sequences):
    model = tiny_model()
    cfg = TrainConfig(lr=1e-2, grad_clip=1.0)
    heads = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    opt = build_optimizer(model, cfg, params=heads)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    batch = fixed_batch(sequences)
    stats = weight_step(model, batch, opt, 64, model.stride, cfg)
    assert np.isfinite(stats["loss/total"])
    moved = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert moved and all(not n.startswith("backbone.") for n in moved)
    assert any(n.startswith("match_cls.") for n in moved) and any(n.startswith("reg_head.") for n in moved)


def test_weight_step_stops_on_a_non_finite_loss_naming_where(sequences):
    model = tiny_model()
    cfg = TrainConfig()
    opt = build_optimizer(model, cfg)
    batch = fixed_batch(sequences)
    batch["search"] = torch.full_like(batch["search"], float("nan"))
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(FloatingPointError, match="non-finite loss .* at epoch 3 step 7"):
        weight_step(model, batch, opt, 64, model.stride, cfg, where="at epoch 3 step 7")
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


# --------------------------------------------------------------------------------------------- atomic writes

def test_atomic_write_leaves_no_tmp_file_and_creates_folders(tmp_path):
    from automatch_lib.io import atomic_write, read_json, write_json, write_text

    target = tmp_path / "deep" / "er" / "out.txt"
    assert atomic_write(target, lambda tmp: tmp.write_text("new")) == target
    assert target.read_text() == "new"
    write_json(tmp_path / "m.json", {"auc": np.float64(0.5), "curve": np.arange(3), "n": np.int64(2)})
    assert (tmp_path / "m.json").read_text().endswith("\n")
    assert read_json(tmp_path / "m.json") == {"auc": 0.5, "curve": [0, 1, 2], "n": 2}
    write_text(tmp_path / "t.txt", "a\nb\n")
    assert (tmp_path / "t.txt").read_bytes() == b"a\nb\n"
    assert not list(tmp_path.rglob("*.tmp"))


def test_atomic_write_keeps_the_old_file_when_the_writer_raises(tmp_path):
    from automatch_lib.io import atomic_write, save_torch

    target = tmp_path / "result.txt"
    target.write_text("old")

    def half_then_fail(tmp):
        tmp.write_text("half a fi")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(target, half_then_fail)
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]
    # a writer failing before anything exists leaves nothing behind either
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "never.pt", half_then_fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.txt"]
    # checkpoints go through the same path
    save_torch(tmp_path / "c.pt", {"x": torch.ones(2)})
    assert torch.equal(torch.load(tmp_path / "c.pt", weights_only=True)["x"], torch.ones(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.pt", "result.txt"]


def test_read_json_names_a_missing_or_malformed_file(tmp_path):
    from automatch_lib.io import read_json

    with pytest.raises(FileNotFoundError, match="nope.json: no such file"):
        read_json(tmp_path / "nope.json")
    (tmp_path / "bad.json").write_text('{"a": 1,}')
    with pytest.raises(ValueError, match=r"bad\.json: not valid JSON \(line 1"):
        read_json(tmp_path / "bad.json")
