"""Training: the loss goes down, a fixed seed gives identical weights, an interrupted run resumes exactly,
checkpoints are atomic and load with weights_only=True."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.data.pairs import PairConfig, PairDataset
from automatch_lib.model.network import SiameseNet, load_model
from automatch_lib.train import TrainConfig, batch_loss, lr_at, train
from conftest import write_moving_sequence

PAIRS = PairConfig(exemplar_size=32, search_size=64, frame_range=8, negative_prob=0.2)


@pytest.fixture
def sequences(tmp_path):
    for k in range(4):
        write_moving_sequence(tmp_path / f"S{k}", n=12, size=(160, 120), seed=10 + k, speed=2.0)
    return load_benchmark("otb", tmp_path)


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8)


def fixed_batch(sequences):
    data = PairDataset(sequences, PAIRS, length=32, seed=123)
    return {k: torch.stack([data[i][k] for i in range(32)]) for k in data[0]}


def test_pair_dataset_is_deterministic_and_boxes_are_consistent(sequences):
    a = PairDataset(sequences, PAIRS, length=8, seed=1)
    b = PairDataset(sequences, PAIRS, length=8, seed=1)
    for i in range(8):
        for k in a[i]:
            assert torch.equal(a[i][k], b[i][k])
        box = a[i]["search_box"]
        assert 0 < box[2] - box[0] < 64 and 0 < box[3] - box[1] < 64
    b.set_epoch(1)
    assert not torch.equal(a[0]["search"], b[0]["search"])


def test_training_reduces_the_loss(sequences, tmp_path):
    cfg = TrainConfig(epochs=6, pairs_per_epoch=64, batch_size=8, lr=5e-3, lr_end=2e-3, warmup_epochs=0,
                      workers=0, threads=1, seed=0)
    model = tiny_model()
    batch = fixed_batch(sequences)
    model.eval()
    with torch.no_grad():
        before = float(batch_loss(model, batch, 64, model.stride, cfg)[0])
    history = train(model, PairDataset(sequences, PAIRS, 64, seed=0), 64, cfg, tmp_path / "m.pt", progress=False)
    model.eval()
    with torch.no_grad():
        after = float(batch_loss(model, batch, 64, model.stride, cfg)[0])
    assert after < 0.8 * before, (before, after)
    assert len(history["epochs"]) == 6


def test_same_seed_same_weights_and_resume_is_exact(sequences, tmp_path):
    cfg = TrainConfig(epochs=2, pairs_per_epoch=16, batch_size=8, workers=0, threads=1, seed=0)
    full = tiny_model()
    train(full, PairDataset(sequences, PAIRS, 16, seed=0), 64, cfg, tmp_path / "full.pt", progress=False)
    again = tiny_model()
    train(again, PairDataset(sequences, PAIRS, 16, seed=0), 64, cfg, tmp_path / "again.pt", progress=False)
    # interrupted after one epoch, then resumed from the checkpoint by a fresh process-like call
    part = tiny_model()
    cfg1 = TrainConfig(**{**cfg.__dict__, "epochs": 1})
    train(part, PairDataset(sequences, PAIRS, 16, seed=0), 64, cfg1, tmp_path / "part.pt", progress=False)
    resumed = tiny_model(seed=99)  # different init: everything must come from the checkpoint
    history = train(resumed, PairDataset(sequences, PAIRS, 16, seed=0), 64, cfg, tmp_path / "part.pt",
                    progress=False)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2]
    for (name, a), b, c in zip(full.state_dict().items(), again.state_dict().values(),
                               resumed.state_dict().values()):
        assert torch.equal(a, b), name
        assert torch.allclose(a.float(), c.float(), atol=1e-6), name


def test_checkpoint_round_trip_rebuilds_the_network(sequences, tmp_path):
    cfg = TrainConfig(epochs=1, pairs_per_epoch=8, batch_size=8, workers=0, threads=1)
    model = tiny_model()
    train(model, PairDataset(sequences, PAIRS, 8, seed=0), 64, cfg, tmp_path / "m.pt", progress=False)
    assert not (tmp_path / "m.pt.tmp").exists()
    loaded, ckpt = load_model(tmp_path / "m.pt")
    assert ckpt["complete_epochs"] == 1
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
    data = PairDataset(sequences, PAIRS, length=200, seed=0, extra=[(real, 3.0, 2)])
    picks = [data._pick(np.random.default_rng([0, 0, i])) for i in range(200)]
    from_real = [(s, t, u) for s, t, u in picks if s.name.startswith("R")]
    assert 0.6 < len(from_real) / len(picks) < 0.9          # weight 3 vs 1 -> 75 % (stills: none here)
    assert all(abs(t - u) <= 2 for _, t, u in from_real)     # the extra group's own frame range


def test_extra_sources_config_is_checked_and_missing_roots_are_skipped(tmp_path, capsys):
    import dataclasses

    from automatch_lib.config import load_params
    from automatch_lib.errors import ConfigError
    from automatch_lib.experiments import extra_sources
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

    from automatch_lib.config import apply_profile
    from conftest import REPO

    for k in range(2):
        write_moving_sequence(tmp_path / "data" / "train" / f"S{k}", n=8, seed=k)
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    apply_profile(params, REPO / "profiles" / "smoke.yaml")
    for name in ("a", "b"):
        subprocess.run([sys.executable, "-m", "automatch_lib.cli", "--quiet", "--params", str(params), "train",
                        "--data", str(tmp_path / "data"), "--out", str(tmp_path / f"{name}.pt")], check=True,
                       capture_output=True, cwd=tmp_path)
    a = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
