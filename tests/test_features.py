"""The cache of frozen-backbone features (`data.features`): what the file holds, the seeded order in which
`FeatureSet` visits it, that the network on cached maps is the network on images, and that training on the cache
leaves the frozen backbone untouched."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from automatch_lib.config import ResourcesConfig, load_params
from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.data.features import MAPS, FeatureSet, extract_features, save_features
from automatch_lib.data.pairs import PairDataset
from automatch_lib.experiments.training import make_model
from automatch_lib.train import train
from conftest import profile_params, write_moving_sequence

N = 12          # cached pairs
RES = ResourcesConfig(threads=1, workers=0, progress=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """(params, backbone file, pairs, feature file): a tiny PairDataset of moving targets through the frozen small
    backbone of the smoke profile (exemplar 32, search 64, so 4x4 and 8x8 maps)."""
    tmp = tmp_path_factory.mktemp("features")
    for k in range(3):
        write_moving_sequence(tmp / "seqs" / f"S{k}", n=10, seed=20 + k)
    p = load_params(profile_params(tmp, "smoke"))
    torch.manual_seed(3)
    backbone_file = tmp / "backbone.pt"
    torch.save({"backbone": make_model(p, ["dw_xcorr"], ["dw_xcorr"], seed=3).backbone.state_dict()}, backbone_file)
    model = make_model(p, ["dw_xcorr"], ["dw_xcorr"], seed=0, backbone=backbone_file)
    pairs = PairDataset(load_benchmark("otb", tmp / "seqs"), p.pairs, p.crop, length=N, seed=0)
    features = extract_features(model.backbone, pairs, batch_size=5, progress=False)
    path = tmp / "train.pt"
    save_features(path, features, backbone=str(backbone_file))
    return p, backbone_file, pairs, path


def order_of(fs: FeatureSet, data: dict) -> list[int]:
    """Which cached row each item of `fs` is, found by content (not by FeatureSet's internals)."""
    rows = data["x_mid"].float()
    out = []
    for i in range(len(fs)):
        hits = [k for k in range(rows.shape[0]) if torch.equal(rows[k], fs[i]["search"][0])]
        assert len(hits) == 1
        out.append(hits[0])
    return out


def test_the_file_holds_float16_maps_boxes_and_labels(cache):
    p, backbone_file, pairs, path = cache
    data = torch.load(path, weights_only=True)
    levels = (*MAPS, "z_inner", "x_inner")      # every level of the small backbone's `maps` (PG-Net's middle one)
    assert set(data) == {*levels, "template_box", "search_box", "negative", "meta"}
    assert data["meta"] == {"backbone": str(backbone_file)}
    assert data["z_mid"].shape == (N, 48, 4, 4) and data["z_deep"].shape == data["z_inner"].shape == (N, 64, 4, 4)
    assert data["x_mid"].shape == (N, 48, 8, 8) and data["x_deep"].shape == data["x_inner"].shape == (N, 64, 8, 8)
    assert all(data[k].dtype == torch.float16 for k in levels)
    assert data["template_box"].shape == data["search_box"].shape == (N, 4)
    assert data["negative"].shape == (N,) and data["negative"].dtype == torch.bool
    # the boxes and labels are those of the pairs, in order
    for k in range(N):
        item = pairs[k]
        assert torch.equal(data["search_box"][k], item["search_box"])
        assert torch.equal(data["template_box"][k], item["template_box"])
        assert bool(data["negative"][k]) == bool(item["negative"])


def test_items_have_the_pair_layout_with_float32_maps(cache):
    *_, path = cache
    fs = FeatureSet(path, seed=0)
    assert len(fs) == N and fs.in_memory
    item = fs[0]
    assert set(item) == {"template", "search", "template_box", "search_box", "negative"}
    assert [tuple(t.shape) for t in item["template"]] == [(48, 4, 4), (64, 4, 4)]
    assert [tuple(t.shape) for t in item["search"]] == [(48, 8, 8), (64, 8, 8)]
    assert all(t.dtype == torch.float32 for t in item["template"] + item["search"])
    assert item["search_box"].shape == (4,) and item["negative"].dtype == torch.bool
    # a DataLoader batch keeps the two maps as a list of stacked tensors
    batch = next(iter(torch.utils.data.DataLoader(fs, batch_size=4)))
    assert [tuple(t.shape) for t in batch["search"]] == [(4, 48, 8, 8), (4, 64, 8, 8)]


def test_order_is_seeded_per_epoch(cache):
    *_, path = cache
    data = torch.load(path, weights_only=True)
    a, b = FeatureSet(path, seed=0), FeatureSet(path, seed=0)
    first = order_of(a, data)
    assert sorted(first) == list(range(N))                  # an epoch visits every cached pair once
    assert order_of(b, data) == first                       # same (seed, epoch): same order
    a.set_epoch(1)
    second = order_of(a, data)
    assert sorted(second) == list(range(N)) and second != first
    b.set_epoch(1)
    assert order_of(b, data) == second
    a.set_epoch(0)
    assert order_of(a, data) == first                       # the order depends on (seed, epoch) only
    assert order_of(FeatureSet(path, seed=1), data) != first
    # the item at a position is the cached row at that position of the order
    k = first[5]
    assert torch.equal(b[5]["search"][1], data["x_deep"][second[5]].float())
    assert torch.equal(FeatureSet(path, seed=0)[5]["template"][0], data["z_mid"][k].float())


def test_a_longer_epoch_wraps_into_a_second_permutation(cache):
    *_, path = cache
    data = torch.load(path, weights_only=True)
    long = FeatureSet(path, length=N * 2 + 6, seed=0)
    assert len(long) == 2 * N + 6
    order = order_of(long, data)
    assert order[:N] == order_of(FeatureSet(path, seed=0), data)   # the first round is the plain epoch
    assert sorted(order[N:2 * N]) == list(range(N)) and order[N:2 * N] != order[:N]
    assert len(set(order[2 * N:])) == 6
    short = FeatureSet(path, length=5, seed=0)
    assert order_of(short, data) == order[:5]


def test_missing_or_foreign_file_is_named(cache, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        FeatureSet(tmp_path / "nope.pt")
    torch.save({"z_mid": torch.zeros(2, 1, 1, 1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="other.pt: not a feature cache"):
        FeatureSet(tmp_path / "other.pt")


def test_the_levels_a_network_reads_come_in_its_order_and_a_missing_one_is_named(cache, tmp_path):
    *_, path = cache
    data = torch.load(path, weights_only=True)
    pyramid = FeatureSet(path, seed=0, levels=("mid", "inner", "deep"))[3]
    plain = FeatureSet(path, seed=0)[3]
    assert len(pyramid["search"]) == 3 and len(plain["search"]) == 2
    assert torch.equal(pyramid["search"][0], plain["search"][0]) and torch.equal(pyramid["search"][2], plain["search"][1])
    assert not torch.equal(pyramid["search"][1], pyramid["search"][2])        # 'inner' is its own map
    old = {k: v for k, v in data.items() if not k.endswith("_inner")}       # a cache written before 'inner' existed
    torch.save(old, tmp_path / "old.pt")
    with pytest.raises(ValueError, match=r"old.pt: the cache holds the levels \['deep', 'mid'\], not \['inner'\]"):
        FeatureSet(tmp_path / "old.pt", levels=("mid", "inner", "deep"))


def test_network_on_cached_maps_equals_network_on_images(cache):
    p, backbone_file, pairs, path = cache
    model = make_model(p, ["dw_xcorr", "film"], ["pairwise_relation"], seed=4, backbone=backbone_file)
    model.eval()
    data = torch.load(path, weights_only=True)
    rows = list(range(N))
    images = {k: torch.stack([pairs[i][k] for i in rows]) for k in ("template", "search", "template_box")}
    cached_z = [data["z_mid"].float(), data["z_deep"].float()]
    cached_x = [data["x_mid"].float(), data["x_deep"].float()]
    with torch.no_grad():
        from_images = model(images["template"], images["search"], images["template_box"])
        from_cache = model(cached_z, cached_x, data["template_box"])
        # the same maps of other pairs (rows shifted by one): what a wrong cache row would give
        shifted = model(cached_z, [m.roll(1, 0) for m in cached_x], data["template_box"])
        # `features` runs only the necks on cached maps, the backbone and the necks on images
        necks_images = model.features(images["search"])
        necks_cache = model.features(cached_x)
        necks_shifted = model.features([m.roll(1, 0) for m in cached_x])
    for got, ref, wrong in zip(necks_cache, necks_images, necks_shifted):
        tol = 1e-2 * float(ref.abs().max())
        torch.testing.assert_close(got, ref, rtol=1e-2, atol=tol)
        assert (wrong - ref).abs().max() > 10 * tol               # the comparison can fail
    for key in ("cls", "reg"):
        assert from_cache[key].shape == from_images[key].shape
        tol = 1e-2 * float(from_images[key].abs().max())        # relative to the output's scale
        torch.testing.assert_close(from_cache[key], from_images[key], rtol=1e-2, atol=tol)
    assert (shifted["cls"] - from_images["cls"]).abs().max() > 3 * 1e-2 * float(from_images["cls"].abs().max())


def test_pgnet_on_cached_pyramid_maps_equals_pgnet_on_images(cache):
    p, backbone_file, pairs, path = cache
    model = make_model(p, ["pg_corr"], ["pg_corr"], seed=4, backbone=backbone_file, network="pgnet").eval()
    assert model.levels == ("mid", "inner", "deep")
    data = torch.load(path, weights_only=True)
    images = {k: torch.stack([pairs[i][k] for i in range(N)]) for k in ("template", "search", "template_box")}
    cached_z = [data[f"z_{n}"].float() for n in model.levels]
    cached_x = [data[f"x_{n}"].float() for n in model.levels]
    with torch.no_grad():
        from_images = model(images["template"], images["search"], images["template_box"])
        from_cache = model(cached_z, cached_x, data["template_box"])
        levels_images = model.template(images["template"], images["template_box"])["z"]
        levels_cache = model.template(cached_z, data["template_box"])["z"]
        # other pairs' maps (rows shifted by one): what a wrong cache row would give
        levels_shifted = model.template([m.roll(1, 0) for m in cached_z], data["template_box"])["z"]
    for got, ref, wrong in zip(levels_cache, levels_images, levels_shifted):    # each level's adjusted map
        tol = 1e-2 * float(ref.abs().max())
        torch.testing.assert_close(got, ref, rtol=1e-2, atol=tol)
        assert (wrong - ref).abs().max() > 10 * tol                            # the comparison can fail
    for key in ("cls", "reg"):
        tol = 1e-2 * float(from_images[key].abs().max())
        torch.testing.assert_close(from_cache[key], from_images[key], rtol=1e-2, atol=tol)


def test_training_on_the_cache_moves_the_heads_and_not_the_frozen_backbone(cache, tmp_path):
    p, backbone_file, _, path = cache
    model = make_model(p, ["dw_xcorr"], ["dw_xcorr"], seed=0, backbone=backbone_file)
    backbone_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    heads_before = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("backbone.")}
    cfg = dataclasses.replace(p.train, epochs=2, pairs_per_epoch=16, batch_size=4)
    history = train(model, FeatureSet(path, cfg.pairs_per_epoch, seed=0), p.crop.search_size, cfg, RES,
                    tmp_path / "m.pt", seed=0)
    assert len(history["epochs"]) == 2 and all(np.isfinite(e["loss/total"]) for e in history["epochs"])
    after = model.backbone.state_dict()
    assert set(after) == set(backbone_before)
    for k, v in after.items():               # weights and BatchNorm statistics, bit for bit
        assert torch.equal(v, backbone_before[k]), k
    changed = [k for k, v in model.state_dict().items() if k in heads_before and not torch.equal(v, heads_before[k])]
    assert any(k.startswith("cls_head.") for k in changed) and any(k.startswith("reg_head.") for k in changed)
    assert any(k.startswith("neck_cls.") for k in changed) and any(k.startswith("match_cls.") for k in changed)
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    for k, v in backbone_before.items():
        assert torch.equal(saved["state_dict"][f"backbone.{k}"], v), k
