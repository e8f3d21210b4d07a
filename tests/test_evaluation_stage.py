"""The evaluation step: TPE tuning on val (first trial = params.yaml, seeded, resumable; once per family on its
first seed), every seed of a family exported with the family's setting as a deployable checkpoint, the peers beside
ours, evaluation `resources.jobs` trackers at a time, paired comparisons of families over seeds and sequences, and
commands that pin their threads."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from automatch_lib.cli import main
from automatch_lib.config import CropConfig, TrackConfig, TuneConfig, parse_params
from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.errors import ConfigError
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


def _family_models(root):
    """models/<family>/seed_<s>.pt: two seeds of 'automatch' (seeds 2 and 10: numeric order), one of 'baseline'."""
    nets = {}
    for family, ops, seeds in (("automatch", ["film", "concat"], (10, 2)), ("baseline", ["dw_xcorr"], (0,))):
        for seed in seeds:
            torch.manual_seed(seed)
            path = root / family / f"seed_{seed}.pt"
            nets[path] = SiameseNet(ops, ops, channels=8)
            save_checkpoint(path, nets[path], crop=dataclasses.asdict(CropConfig()))
    return nets


def test_family_checkpoints_by_seed(tmp_path):
    _family_models(tmp_path / "models")
    (tmp_path / "models" / "automatch" / "notes.txt").write_text("not a checkpoint")
    fams = ex.family_checkpoints(tmp_path / "models", ["automatch", "baseline"])
    assert fams == {"automatch": {2: tmp_path / "models" / "automatch" / "seed_2.pt",
                                  10: tmp_path / "models" / "automatch" / "seed_10.pt"},
                    "baseline": {0: tmp_path / "models" / "baseline" / "seed_0.pt"}}
    assert list(fams["automatch"]) == [2, 10]                  # seeds in numeric order: the first seed is 2
    with pytest.raises(FileNotFoundError, match=r"random.*seed_<s>\.pt.*train random first"):
        ex.family_checkpoints(tmp_path / "models", ["automatch", "random"])


def test_tune_all_tunes_each_family_once_on_its_first_seed(tmp_path, monkeypatch):
    _family_models(tmp_path / "models")
    fams = ex.family_checkpoints(tmp_path / "models", ["automatch", "baseline"])
    built, tuned_calls = [], []
    real_make = ex.make_tracker

    def recording_make(kind, checkpoint=None, track=None, **kw):
        built.append((kind, checkpoint, kw.get("name")))
        return real_make(kind, checkpoint, track, **kw)

    def fake_tune(tracker, sequences, cfg, study_file=None, batch=1):
        assert batch == p.evaluate.batch == 16
        tuned_calls.append((tracker.name, list(sequences), study_file))
        return {"best": {"penalty_k": [0.11, 0.12][len(tuned_calls) - 1]}}

    monkeypatch.setattr(ex, "make_tracker", recording_make)
    monkeypatch.setattr(ex, "tune_tracker", fake_tune)
    p = parse_params({})
    tuned = ex.tune_all(p, fams, ["val sequences"], tmp_path / "studies")
    assert tuned == {"automatch": {"best": {"penalty_k": 0.11}}, "baseline": {"best": {"penalty_k": 0.12}}}
    assert built == [("siamese", fams["automatch"][2], "automatch"), ("siamese", fams["baseline"][0], "baseline")]
    assert tuned_calls == [("automatch", ["val sequences"], tmp_path / "studies" / "automatch.journal"),
                           ("baseline", ["val sequences"], tmp_path / "studies" / "baseline.journal")]
    tuned_calls.clear()
    ex.tune_all(p, fams, [])
    assert [c[2] for c in tuned_calls] == [None, None]          # no folder, no study files


def test_tune_all_gives_the_same_studies_one_or_two_at_a_time(otb_folder, tmp_path):
    _family_models(tmp_path / "models")
    fams = ex.family_checkpoints(tmp_path / "models", ["automatch", "baseline"])
    seqs = load_benchmark("otb", otb_folder)[:2]
    p = parse_params({"tune": {"trials": 2}})
    one = ex.tune_all(p, fams, seqs)
    two = ex.tune_all(dataclasses.replace(p, resources=dataclasses.replace(p.resources, jobs=2)), fams, seqs)
    assert list(two) == ["automatch", "baseline"] and two == one


def test_the_configured_peers_are_the_known_ones():
    assert parse_params({}).evaluate.peers == list(ex.PEERS)
    with pytest.raises(ConfigError, match="distinct names"):
        parse_params({"evaluate": {"peers": ["csrt", "boosting"]}})


def test_tuned_families_are_exported_per_seed_with_their_settings(tmp_path):
    nets = _family_models(tmp_path / "models")
    p = parse_params({})
    fams = ex.family_checkpoints(tmp_path / "models", ["automatch", "baseline"])
    tuned = {"automatch": {"best": {"penalty_k": 0.07, "window_influence": 0.55, "lr": 0.33}}}   # baseline: untuned
    out = ex.export_tuned(p, fams, tuned, tmp_path / "tuned")
    assert out == {f"{f}/seed_{s}": tmp_path / "tuned" / f / f"seed_{s}.pt"
                   for f, s in (("automatch", 2), ("automatch", 10), ("baseline", 0))}
    for name, path in out.items():
        family, seed = name.split("/seed_")
        model, ckpt = load_model(path)
        expected = {**dataclasses.asdict(p.track), **tuned.get(family, {}).get("best", {})}
        assert ckpt["track"] == expected, name                 # every seed carries its family's setting
        assert ckpt["crop"] == dataclasses.asdict(CropConfig()) and "optimizer" not in ckpt
        source = nets[tmp_path / "models" / family / f"seed_{seed}.pt"].state_dict()
        assert all(torch.equal(v, source[k]) for k, v in model.state_dict().items()), name   # its own network
        again = make_tracker("siamese", path)
        assert dataclasses.asdict(again.cfg) == expected
    # the deployable checkpoints, found again by `trackers_from`, plus the references
    found = ex.trackers_from(tmp_path / "tuned")
    assert found == {name: ("siamese", path) for name, path in out.items()}
    everyone = ex.with_references(found)
    assert set(everyone) == {*out, "static", *ex.PEERS}
    assert everyone["static"] == ("static", None) and all(everyone[k] == (k, None) for k in ex.PEERS)
    assert set(ex.with_references(found, peers=("kcf",))) == {*out, "static", "kcf"}


def test_evaluate_all_runs_each_named_tracker_in_its_folder_whatever_the_jobs(checkpoint, otb_folder, tmp_path):
    trackers = ex.with_references({"net/seed_0": ("siamese", checkpoint)}, peers=())
    p = parse_params({})
    assert p.resources.jobs == 1
    results = ex.evaluate_all(p, trackers, otb_folder, tmp_path / "one")
    assert list(results) == ["net/seed_0", "static"]
    for name, m in results.items():
        folder = tmp_path / "one" / name
        assert {f.name for f in folder.iterdir()} == {"Seq0.txt", "Seq1.txt", "Seq2.txt", "metrics.json"}
        assert json.loads((folder / "metrics.json").read_text())["success_auc"] == pytest.approx(m["success_auc"])
        assert set(m["sequences"]) == {"Seq0", "Seq1", "Seq2"}
    assert results["net/seed_0"]["success_auc"] != results["static"]["success_auc"]
    # two at a time in spawned processes: the same numbers, in the same order
    two = ex.evaluate_all(dataclasses.replace(p, resources=dataclasses.replace(p.resources, jobs=2)), trackers,
                          otb_folder, tmp_path / "two")
    assert list(two) == list(results)
    for name in results:
        assert two[name]["sequences"] == results[name]["sequences"], name
        assert (tmp_path / "two" / name / "metrics.json").is_file()


def _result(per_sequence: dict, fps=10.0):
    return {"success_auc": float(np.mean(list(per_sequence.values()))), "precision_20": 0.5, "fps": fps,
            "sequences": {s: {"success_auc": v} for s, v in per_sequence.items()}}


def test_families_scores_comparisons_and_summary():
    seqs = [f"S{k:02d}" for k in range(30)]
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.6, len(seqs))
    results = {
        "automatch/seed_1": _result(dict(zip(seqs, base + 0.10 + rng.normal(0, 0.01, len(seqs))))),
        "automatch/seed_0": _result(dict(zip(seqs, base + 0.12 + rng.normal(0, 0.01, len(seqs))))),
        "baseline/seed_0": _result(dict(zip(seqs, base + rng.normal(0, 0.01, len(seqs))))),
        "baseline/seed_1": _result(dict(zip(seqs, base + rng.normal(0, 0.01, len(seqs))))),
        "csrt": _result(dict(zip(seqs, base + 0.11 + rng.normal(0, 0.01, len(seqs)))), fps=30.0),
    }
    assert [ex.family_of(n) for n in results] == ["automatch", "automatch", "baseline", "baseline", "csrt"]
    m = ex.score_matrix(results, "automatch")
    assert m.shape == (2, 30)
    # rows in name order (seed_0 first), columns in sequence order
    assert m[0, 3] == results["automatch/seed_0"]["sequences"]["S03"]["success_auc"]
    assert m[1, 0] == results["automatch/seed_1"]["sequences"]["S00"]["success_auc"]
    peer = ex.score_matrix(results, "csrt", seeds=2)
    assert peer.shape == (2, 30) and np.array_equal(peer[0], peer[1])     # one deterministic run, paired twice
    assert ex.score_matrix(results, "csrt").shape == (1, 30)
    with pytest.raises(KeyError, match="random"):
        ex.score_matrix(results, "random")
    better, peer_cmp = ex.comparisons(results, [("automatch", "baseline"), ("automatch", "csrt")])
    assert (better["a"], better["b"], better["verdict"], better["n_seeds"]) == ("automatch", "baseline", "better", 2)
    assert better["diff"] == pytest.approx(float(np.mean(m - ex.score_matrix(results, "baseline"))), abs=1e-4)
    assert better["ci95"][0] > 0.05
    assert (peer_cmp["b"], peer_cmp["n_seeds"], peer_cmp["verdict"]) == ("csrt", 2, "no detectable difference")
    assert ex.comparisons(results, [("baseline", "automatch")])[0]["verdict"] == "worse"
    summary = ex.family_summary(results)
    assert set(summary) == {"automatch", "baseline", "csrt"}
    auto = [results[f"automatch/seed_{s}"]["success_auc"] for s in (0, 1)]
    assert summary["automatch"]["seeds"] == pytest.approx(auto)
    assert summary["automatch"]["success_auc"] == pytest.approx(np.mean(auto))
    low, high = summary["automatch"]["ci95"]
    assert low < summary["automatch"]["success_auc"] < high and high - low < 0.2
    # nothing to resample: one sequence, or a split the evaluation server scores
    one = {n: {**m, "sequences": dict(list(m["sequences"].items())[:1])} for n, m in results.items()}
    assert ex.family_summary(one)["automatch"]["ci95"] is None
    server = {n: {**m, "scored_on_server": True, "sequences": {s: {"frames": 10} for s in m["sequences"]}}
              for n, m in results.items()}
    assert ex.family_summary(server)["automatch"]["ci95"] is None
    assert summary["csrt"]["fps"] == 30.0 and summary["csrt"]["seeds"] == [results["csrt"]["success_auc"]]


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
