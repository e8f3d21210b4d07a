"""Crop-size sweep (experiments/crop_sweep.py): sizes parsed and applied, every size run through the chain at
smoke size, comparisons against the reference size, and a resumed sweep that redoes nothing."""
from __future__ import annotations

import pytest

from automatch_lib.config import merged_profile, parse_params
from automatch_lib.data.synthetic.generate import generate_benchmark
from automatch_lib.experiments.crop_sweep import crop_sweep, parse_sizes, sized_params, sweep_table

from conftest import REPO


def test_parse_sizes():
    assert parse_sizes("32x64,48X96") == [(32, 64), (48, 96)]
    with pytest.raises(ValueError, match="'48-96'"):
        parse_sizes("48-96")


def test_sized_params_scale_the_pixel_jitter():
    p = parse_params({"crop": {"exemplar_size": 48, "search_size": 96},
                      "pairs": {"search_shift": 24.0, "template_shift": 2.0}})
    q = sized_params(p, 64, 128)
    assert (q.crop.exemplar_size, q.crop.search_size) == (64, 128)
    assert q.pairs.search_shift == pytest.approx(32.0) and q.pairs.template_shift == pytest.approx(64 / 24)
    assert p.crop.search_size == 96 and p.pairs.search_shift == 24.0  # the original is untouched


def test_sweep_at_smoke_size_and_resume(tmp_path):
    p = parse_params(merged_profile(REPO / "params.yaml", REPO / "profiles" / "smoke.yaml"))
    p.resources.progress = False
    p.pretrain.processes = 1
    generate_benchmark(tmp_path / "data", p.data, progress=False)
    with pytest.raises(ValueError, match="reference crop size"):
        crop_sweep(p, tmp_path / "data", [(24, 48)], tmp_path / "sweep", seeds=[0])
    result = crop_sweep(p, tmp_path / "data", [(24, 48), (32, 64)], tmp_path / "sweep", seeds=[0, 1])
    assert [(r["exemplar"], r["search"]) for r in result["sizes"]] == [(24, 48), (32, 64)]
    for r in result["sizes"]:
        assert set(r["cpu_seconds"]) == {"pretrain", "features", "train_seed_0", "train_seed_1"}
        assert all(v > 0 for v in r["cpu_seconds"].values())
        assert all(0 <= v <= 1 for v in r["val_auc"].values()) and r["fps"] > 0
    (c,) = result["comparisons"]
    assert (c["a"], c["b"]) == ("24x48", "32x64") and c["ci95"][0] <= c["diff"] <= c["ci95"][1]
    rows = sweep_table(result)
    assert [r["crops"] for r in rows] == ["24/48", "32/64"]
    checkpoint = tmp_path / "sweep" / "24x48" / "seed_0.pt"
    stamp = checkpoint.stat().st_mtime_ns
    again = crop_sweep(p, tmp_path / "data", [(24, 48), (32, 64)], tmp_path / "sweep", seeds=[0, 1])
    assert checkpoint.stat().st_mtime_ns == stamp, "a finished size must not be trained again"
    assert again["sizes"][0]["cpu_seconds"] == result["sizes"][0]["cpu_seconds"]
    assert again["sizes"][0]["val_auc"] == result["sizes"][0]["val_auc"]
