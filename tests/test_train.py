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
    cfg = TrainConfig(epochs=6, pairs_per_epoch=64, batch_size=8, lr=5e-3, lr_end=2e-3, warmup_epochs=0)
    model = tiny_model()
    batch = fixed_batch(sequences)
    model.eval()
    with torch.no_grad():
        before = float(batch_loss(model, batch, 64, model.loss, cfg)[0])
    history = train(model, PairDataset(sequences, PAIRS, CROP, 64, seed=0), 64, cfg, RES, tmp_path / "m.pt", seed=0)
    model.eval()
    with torch.no_grad():
        after = float(batch_loss(model, batch, 64, model.loss, cfg)[0])
    assert after < 0.8 * before, (before, after)
    assert len(history["epochs"]) == 6 and history["seed"] == 0


def test_same_seed_same_weights_and_resume_is_exact(sequences, tmp_path):
    cfg = TrainConfig(epochs=2, pairs_per_epoch=16, batch_size=8)
    full = tiny_model()
    train(full, PairDataset(sequences, PAIRS, CROP, 16, seed=0), 64, cfg, RES, tmp_path / "full.pt", seed=3)
    again = tiny_model()
    train(again, PairDataset(sequences, PAIRS, CROP, 16, seed=0), 64, cfg, RES, tmp_path / "again.pt", seed=3)
    # interrupted after one epoch, then resumed from the checkpoint by a fresh process-like call
    part = tiny_model()
    cfg1 = dataclasses.replace(cfg, epochs=1)
    train(part, PairDataset(sequences, PAIRS, CROP, 16, seed=0), 64, cfg1, RES, tmp_path / "part.pt", seed=3)
    resumed = tiny_model(seed=99)  # different init: everything must come from the checkpoint
    history = train(resumed, PairDataset(sequences, PAIRS, CROP, 16, seed=0), 64, cfg, RES, tmp_path / "part.pt",
                    seed=3)
    assert [e["epoch"] for e in history["epochs"]] == [1, 2] and history["seed"] == 3
    assert torch.load(tmp_path / "full.pt", weights_only=True)["history"]["seed"] == 3
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
    p = load_params(params)
    assert p.train.seeds == [0, 1]
    for name in ("a", "b"):
        proc = subprocess.run([sys.executable, "-m", "automatch_lib.cli", "--quiet", "--params", str(params),
                               "train", "--data", str(tmp_path / "data"), "--out", str(tmp_path / name)],
                              capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        # one checkpoint per train.seeds entry, in the --out folder
        assert sorted(f.name for f in (tmp_path / name).iterdir()) == ["seed_0.pt", "seed_1.pt"]
    a, b = ({s: torch.load(tmp_path / n / f"seed_{s}.pt", weights_only=True) for s in (0, 1)} for n in ("a", "b"))
    for s in (0, 1):
        assert all(torch.equal(a[s]["state_dict"][k], b[s]["state_dict"][k]) for k in a[s]["state_dict"]), s
        assert a[s]["history"]["seed"] == s and a[s]["genotype"] == {"cls": p.baseline.cls_ops,
                                                                     "reg": p.baseline.reg_ops}
    # ... and the seeds are different runs (initialisation and pairs)
    assert not all(torch.equal(a[0]["state_dict"][k], a[1]["state_dict"][k]) for k in a[0]["state_dict"])
    # the checkpoint carries the crop geometry it was trained with (a tracker is rebuilt from the file alone)
    assert a[0]["crop"] == dataclasses.asdict(p.crop) == {"exemplar_size": 32, "search_size": 64, "context": 0.5}


def test_train_tracker_needs_images_or_features_with_their_backbone(tmp_path):
    from automatch_lib.config import load_params
    from automatch_lib.experiments.training import train_tracker
    from automatch_lib.model.genotype import Genotype

    p = load_params(profile_params(tmp_path, "smoke"))
    g = Genotype(("dw_xcorr",), ("dw_xcorr",), "baseline")
    with pytest.raises(ValueError, match="feature cache .* or a data_root"):
        train_tracker(p, g, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="needs the backbone"):
        train_tracker(p, g, tmp_path / "x.pt", features=tmp_path)
    assert not (tmp_path / "x.pt").exists()


# --------------------------------------------------------------------------------------------- backbone weights

def _backbone(widths=None, seed=0):
    from automatch_lib.model.backbone import SmallBackbone

    torch.manual_seed(seed)
    return SmallBackbone(widths) if widths else SmallBackbone()


def test_load_pretrained_loads_a_fitting_file_in_each_layout(tmp_path):
    from automatch_lib.model.backbone import load_pretrained

    source = _backbone(seed=1)
    state = source.state_dict()
    layouts = {"plain.pt": state, "prefixed.pt": {"state_dict": {f"backbone.{k}": v for k, v in state.items()}},
               "model.pt": {"model": state}, "backbone.pt": {"backbone": state}}
    for name, content in layouts.items():
        torch.save(content, tmp_path / name)
        target = _backbone(seed=2)
        assert not torch.equal(target.state_dict()["stem.0.weight"], state["stem.0.weight"])
        report = load_pretrained(target, tmp_path / name)
        assert report == {"file": str(tmp_path / name), "naming": "own", "loaded": len(state), "dropped": []}
        for k, v in target.state_dict().items():
            assert torch.equal(v, state[k]), (name, k)


def test_load_pretrained_rejects_files_that_do_not_fit_naming_them(tmp_path):
    from automatch_lib.model.backbone import load_pretrained

    state = _backbone(seed=1).state_dict()
    first = next(iter(state))
    cases = {
        "missing_key.pt": {k: v for k, v in state.items() if k != first},
        "unexpected_key.pt": {**state, "head.weight": torch.zeros(3)},
        "wrong_shape.pt": _backbone(widths=(24, 32, 48, 80)).state_dict(),     # a deeper last stage
    }
    expected = {"missing_key.pt": f"missing ['{first}'] (1)", "unexpected_key.pt": "unexpected ['head.weight'] (1)",
                "wrong_shape.pt": "wrong shape ["}
    for name, content in cases.items():
        torch.save(content, tmp_path / name)
        target = _backbone(seed=2)
        before = {k: v.clone() for k, v in target.state_dict().items()}
        with pytest.raises(ValueError) as err:
            load_pretrained(target, tmp_path / name)
        assert str(tmp_path / name) in str(err.value) and expected[name] in str(err.value), str(err.value)
        # nothing is loaded from a file that does not fit
        assert all(torch.equal(v, before[k]) for k, v in target.state_dict().items()), name
    with pytest.raises(FileNotFoundError, match="nowhere.pt"):
        load_pretrained(_backbone(), tmp_path / "nowhere.pt")


def test_make_model_with_a_backbone_file_loads_and_freezes_it(tmp_path):
    from automatch_lib.config import load_params
    from automatch_lib.experiments.training import make_model

    p = load_params(profile_params(tmp_path, "smoke"))
    source = _backbone(seed=5)
    torch.save({"backbone": source.state_dict()}, tmp_path / "backbone.pt")
    model = make_model(p, ["film"], ["concat"], seed=0, backbone=tmp_path / "backbone.pt")
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, source.state_dict()[k]), k
    assert not any(q.requires_grad for q in model.backbone.parameters())
    assert all(q.requires_grad for n, q in model.named_parameters() if not n.startswith("backbone."))
    # the seed initialises the rest: same seed, same network; another seed, another one
    same = make_model(p, ["film"], ["concat"], seed=0, backbone=tmp_path / "backbone.pt")
    other = make_model(p, ["film"], ["concat"], seed=1, backbone=tmp_path / "backbone.pt")
    assert all(torch.equal(v, same.state_dict()[k]) for k, v in model.state_dict().items())
    assert not torch.equal(model.cls_head.state_dict()[next(iter(model.cls_head.state_dict()))],
                           other.cls_head.state_dict()[next(iter(other.cls_head.state_dict()))])
    with pytest.raises(FileNotFoundError, match="none.pt"):
        make_model(p, ["film"], ["concat"], backbone=tmp_path / "none.pt")


def test_weight_step_updates_only_the_optimizer_parameters(sequences):
    model = tiny_model()
    cfg = TrainConfig(lr=1e-2, grad_clip=1.0)
    heads = [p for n, p in model.named_parameters() if not n.startswith("backbone.")]
    opt = build_optimizer(model, cfg, params=heads)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    batch = fixed_batch(sequences)
    stats = weight_step(model, batch, opt, 64, model.loss, cfg)
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
        weight_step(model, batch, opt, 64, model.loss, cfg, where="at epoch 3 step 7")
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


def test_aspect_jitter_stretches_both_crops_of_a_pair_alike(sequences):
    still = dataclasses.replace(PAIRS, template_scale=0.0, search_scale=0.0, negative_prob=0.0)
    plain = PairDataset(sequences, still, CROP, length=40, seed=5)
    stretched = PairDataset(sequences, dataclasses.replace(still, aspect_jitter=0.7), CROP, length=40, seed=5)
    aspect = lambda b: float((b[2] - b[0]) / (b[3] - b[1]))  # noqa: E731
    changes = []
    for i in range(40):
        a, b = plain[i], stretched[i]
        t, s = aspect(b["template_box"]) / aspect(a["template_box"]), aspect(b["search_box"]) / aspect(a["search_box"])
        assert t == pytest.approx(s, rel=1e-4)
        changes.append(t)
    changes = np.array(changes)
    assert changes.max() > 1.5 and changes.min() < 1 / 1.5 and (changes < np.exp(0.7) + 1e-6).all()


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_and_channels_last_train_on_cpu(sequences, tmp_path, precision):
    """The GPU options run where no GPU is: autocast (fp16 through a gradient scaler), NHWC layout; the loss falls
    and, in bf16, ends within 10% of fp32 training's on the same pairs (fp16's scaler skips its first steps while
    it lowers the initial scale of 2^16, so 12 steps say nothing about its distance)."""
    cfg = TrainConfig(epochs=3, pairs_per_epoch=32, batch_size=8, lr=5e-3, lr_end=2e-3, warmup_epochs=0)
    res = dataclasses.replace(RES, channels_last=True)
    data = lambda: PairDataset(sequences, PAIRS, CROP, 32, seed=0)  # noqa: E731
    mixed = train(tiny_model(), data(), 64, dataclasses.replace(cfg, precision=precision), res, seed=0)
    full = train(tiny_model(), data(), 64, cfg, RES, seed=0)
    losses = [e["loss/total"] for e in mixed["epochs"]]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    if precision == "bf16":
        assert abs(losses[-1] - full["epochs"][-1]["loss/total"]) < 0.1 * full["epochs"][-1]["loss/total"]


def test_micro_batches_split_the_batch_as_ranks_do():
    from automatch_lib.train import micro_batch

    batch = {"search": torch.arange(8).view(8, 1), "maps": [torch.arange(8), torch.arange(8) * 10], "name": "x"}
    part = micro_batch(batch, 1, 2)
    assert part["search"].flatten().tolist() == [1, 3, 5, 7] and part["maps"][1].tolist() == [10, 30, 50, 70]
    assert part["name"] == "x"
    with pytest.raises(ValueError, match="2 micro-batches"):
        train(tiny_model(), None, 64, TrainConfig(batch_size=7, micro_batches=2), RES)
