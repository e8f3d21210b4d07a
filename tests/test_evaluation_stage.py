"""The evaluation step: TPE tuning on val (first trial = params.yaml, seeded, resumable), tuned trackers exported
as deployable checkpoints, the peers beside ours, and commands that pin their threads."""
from __future__ import annotations

import dataclasses

import pytest
import torch

from automatch_lib.cli import main
from automatch_lib.config import CropConfig, TrackConfig, TuneConfig, parse_params
from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.evaluation.tune import tune_tracker, val_auc
from automatch_lib.experiments import evaluating as ex
from automatch_lib.model.network import SiameseNet, load_model, save_checkpoint
from automatch_lib.trackers import make_tracker


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "net.pt"
    save_checkpoint(path, SiameseNet(["dw_xcorr"], ["dw_xcorr"], channels=8), crop=dataclasses.asdict(CropConfig()))
    return path


def test_tuning_starts_from_the_configured_setting_is_seeded_and_resumes(checkpoint, otb_folder, tmp_path):
    seqs = load_benchmark("otb", otb_folder)[:2]
    tracker = make_tracker("siamese", checkpoint, name="net")
    base, cfg = TrackConfig(), TuneConfig(trials=3, seed=5)
    full = tune_tracker(tracker, seqs, cfg)
    assert [full["trials"][0][k] for k in ("penalty_k", "window_influence", "lr")] == [0.15, 0.4, 0.2]
    assert full["trials"][0]["auc"] == pytest.approx(val_auc(tracker, base, seqs))
    assert full["best_auc"] == max(t["auc"] for t in full["trials"]) >= full["trials"][0]["auc"]
    for t in full["trials"]:
        for k in ("penalty_k", "window_influence", "lr"):
            assert getattr(cfg, k)[0] <= t[k] <= getattr(cfg, k)[1]
    assert tune_tracker(tracker, seqs, cfg) == full                       # seeded: same study
    journal = tmp_path / "study.journal"
    tune_tracker(tracker, seqs, dataclasses.replace(cfg, trials=2), study_file=journal)
    resumed = tune_tracker(tracker, seqs, cfg, study_file=journal)          # one more trial, not three
    assert len(resumed["trials"]) == 3 and resumed["trials"][:2] == full["trials"][:2]


def test_tuned_trackers_are_exported_as_checkpoints_that_carry_their_settings(checkpoint, tmp_path):
    p = parse_params({})
    tuned = {"net": {"best": {"penalty_k": 0.07, "window_influence": 0.55, "lr": 0.33}}}
    trackers = ex.tuned_trackers(p, {"net": checkpoint}, tuned, export_dir=tmp_path / "tuned")
    _, ckpt = load_model(tmp_path / "tuned" / "net.pt")
    assert ckpt["track"] == {**dataclasses.asdict(p.track), **tuned["net"]["best"]}
    assert ckpt["crop"] == dataclasses.asdict(CropConfig())
    assert "optimizer" not in ckpt
    again = make_tracker("siamese", tmp_path / "tuned" / "net.pt")
    assert again.cfg == trackers["net"].cfg and again.name == "net"
    everyone = ex.with_references(trackers)
    assert set(everyone) == {"net", "static", *ex.PEERS}


def test_commands_pin_torch_threads(checkpoint, otb_folder, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.set_num_threads(2)
    try:
        assert main(["--quiet", "evaluate", "--root", str(otb_folder), "--checkpoint", str(checkpoint),
                     "--max-sequences", "1"]) == 0
        assert torch.get_num_threads() == 1          # resources.threads default, no params file needed
        assert main(["--quiet", "--threads", "2", "evaluate", "--root", str(otb_folder), "--tracker", "static",
                     "--max-sequences", "1"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
