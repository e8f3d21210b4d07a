"""The analysis stages' library code: variant results read back, attribute matrices, interval tables whose winners are
marked only when separated, complementarity, the ranking spec of the retained-count ablation, the report index and
the tracker's response maps."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from automatch_lib.config import CropConfig, TrackConfig, load_params
from automatch_lib.errors import ConfigError
from automatch_lib.evaluation.compare import mean_interval
from automatch_lib.experiments import ablations, efficiency, tables, variants
from automatch_lib.io import write_json
from automatch_lib.model.genotype import parse_arch, ranked_genotype
from automatch_lib.model.network import SiameseNet
from automatch_lib.report import build_index, notebook_summary
from automatch_lib.trackers.siamese import SiameseTracker
from conftest import REPO

SEQS = [SimpleNamespace(name=f"s{i:02d}", attributes=("IV",) if i < 10 else ("OCC",)) for i in range(20)]


def fake_results(scores: dict[str, np.ndarray]) -> dict[str, dict]:
    """{'<name>/seed_<s>': metrics} with per-sequence success_auc from (n_seeds, 20) arrays."""
    out = {}
    for name, mat in scores.items():
        for s, row in enumerate(mat):
            out[f"{name}/seed_{s}"] = {"success_auc": float(row.mean()),
                                       "sequences": {q.name: {"success_auc": float(v)} for q, v in zip(SEQS, row)}}
    return out


def two_trackers() -> dict[str, dict]:
    rng = np.random.default_rng(0)
    base = rng.uniform(0.3, 0.7, size=20)
    a = np.stack([base + 0.001 * rng.standard_normal(20) for _ in range(2)])
    b = a.copy()
    b[:, :10] -= 0.2               # IV sequences: b clearly worse
    b[:, 10:] += 0.01 * rng.standard_normal((2, 10))   # OCC sequences: a and b within noise
    return fake_results({"a": a, "b": b})


def test_load_results_reads_every_variant_and_seed(tmp_path):
    results = two_trackers()
    for name, m in results.items():
        write_json(tmp_path / name / "metrics.json", m)
    loaded = variants.load_results(tmp_path)
    assert sorted(loaded) == sorted(results)
    renamed = variants.load_results(tmp_path, only={"b": "reference"})
    assert sorted(renamed) == ["reference/seed_0", "reference/seed_1"]
    assert renamed["reference/seed_0"] == results["b/seed_0"]
    with pytest.raises(FileNotFoundError, match=r"no results of \['c'\]"):
        variants.load_results(tmp_path, only={"c": "c"})
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        variants.load_results(tmp_path / "nothing")


def test_attribute_matrix_keeps_the_sequences_carrying_the_attribute():
    results = two_trackers()
    full = variants.attribute_matrix(results, "a", SEQS, None)
    iv = variants.attribute_matrix(results, "a", SEQS, "IV")
    assert full.shape == (2, 20) and iv.shape == (2, 10)
    np.testing.assert_allclose(iv, full[:, :10])


def test_interval_table_marks_a_winner_only_where_the_interval_separates_it():
    results = two_trackers()
    table = tables.interval_table(results, ["a", "b"], SEQS, ("IV", "OCC", "LR"))
    assert set(table) == {"overall", "IV", "OCC", "_winner"}           # LR: no sequence carries it
    assert table["IV"]["a"]["sequences"] == 10
    w = table["_winner"]
    assert w["IV"]["best"] == "a" and w["IV"]["separated"]
    assert w["IV"]["ci95"][0] > 0
    assert not w["OCC"]["separated"]                                    # within noise: no winner
    rows = {r["tracker"]: r for r in tables.display_rows(table, ["a", "b"])}
    assert rows["a"]["IV"].endswith("*") and not rows["b"]["IV"].endswith("*")
    assert not any(r["OCC"].endswith("*") for r in rows.values())
    for col in ("overall", "IV", "OCC"):
        for n in ("a", "b"):
            cell = table[col][n]
            assert cell["ci95"][0] <= cell["mean"] <= cell["ci95"][1]
    assert tables.mean_frame(table, ["a"])["a"]["IV"] == pytest.approx(table["IV"]["a"]["mean"])


def test_complementarity_oracle_and_wins():
    a = np.tile(np.r_[np.full(10, 0.8), np.full(10, 0.2)], (2, 1))
    b = np.tile(np.r_[np.full(10, 0.2), np.full(10, 0.7)], (2, 1))
    comp = tables.complementarity(fake_results({"a": a, "b": b}), ["a", "b"])
    assert comp["best_single"] == "a" and comp["best_single_auc"] == pytest.approx(0.5)
    assert comp["oracle_auc"] == pytest.approx(0.75)
    assert comp["wins"] == {"a": 10, "b": 10}
    assert comp["mean_rank_correlation"] < 0


def test_mean_interval_brackets_the_mean():
    rng = np.random.default_rng(1)
    m = rng.uniform(0, 1, size=(3, 30))
    cell = mean_interval(m)
    assert cell["mean"] == pytest.approx(m.mean())
    assert cell["ci95"][0] < cell["mean"] < cell["ci95"][1]
    assert mean_interval(np.full((2, 5), 0.4))["ci95"] == [0.4, 0.4]


def test_ranking_spec_takes_the_top_k_of_each_branch(tmp_path):
    path = tmp_path / "ranking.json"
    write_json(path, {"cls": ["film", "concat", "point_dw"], "reg": ["pairwise_relation", "film", "concat"]})
    g = ranked_genotype(path, 2, "k2")
    assert g.cls == ("film", "concat") and g.reg == ("pairwise_relation", "film") and g.name == "k2"
    p = load_params(REPO / "params.yaml")
    assert parse_arch(f"ranking:{path}:1", p).cls == ("film",)
    with pytest.raises(ConfigError, match="k = 4 outside 1..3"):
        ranked_genotype(path, 4)
    write_json(path, {"cls": ["film"]})
    with pytest.raises(ConfigError, match="exactly the keys"):
        ranked_genotype(path, 1)


def _executed(path, headline: str, duration: float, error: bool = False) -> None:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["# 04 · A title\n", "text"]},
             {"cell_type": "code", "metadata": {"tags": ["headline"]}, "source": ["print('x')"],
              "outputs": [{"output_type": "stream", "name": "stdout", "text": [headline]}]},
             {"cell_type": "code", "metadata": {}, "source": ["1/0"],
              "outputs": [{"output_type": "error", "ename": "ZeroDivisionError", "evalue": "", "traceback": []}]
              if error else []}]
    path.write_text(json.dumps({"cells": cells, "metadata": {"papermill": {"duration": duration}}}))


def test_index_collects_titles_wall_times_errors_and_headlines(tmp_path):
    _executed(tmp_path / "04_evaluate.ipynb", "automatch vs baseline: +0.010 <b>", 61.0)
    _executed(tmp_path / "06_bad.ipynb", "k=2 best", 5.0, error=True)
    assert notebook_summary(tmp_path / "06_bad.ipynb")["errors"] == 1
    rows = build_index([tmp_path / "04_evaluate.ipynb", tmp_path / "06_bad.ipynb"], tmp_path / "index.html", "smoke")
    assert [r["title"] for r in rows] == ["04 · A title", "04 · A title"]
    page = (tmp_path / "index.html").read_text()
    assert "href='04_evaluate.html'" in page and "61 s" in page and "Profile smoke" in page
    assert "automatch vs baseline: +0.010 &lt;b&gt;" in page                # escaped, never raw HTML
    assert "1 error output(s)" in page


def test_response_around_a_box_leaves_the_tracker_state_alone():
    import torch
    torch.manual_seed(0)
    net = SiameseNet(["film"], ["film"], channels=8, head_layers=1)
    tracker = SiameseTracker(net, TrackConfig(), CropConfig())
    image = np.random.default_rng(2).integers(0, 255, size=(120, 160, 3), dtype=np.uint8)
    tracker.init(image, [40, 30, 20, 24])
    center, size = tracker.center[0].copy(), tracker.size[0].copy()
    view = tracker.response(image, np.array([70.0, 50.0, 30.0, 20.0]))
    assert view["patch"].shape == (96, 96, 3) and view["score"].shape == view["boxes"].shape[1:3]
    assert view["scores"].shape == view["boxes"].shape[:3] == (1, *view["score"].shape)
    assert ((0 <= view["score"]) & (view["score"] <= 1)).all()
    np.testing.assert_array_equal(tracker.center[0], center)
    np.testing.assert_array_equal(tracker.size[0], size)
    same = tracker.response(image)
    again = tracker.response(image, np.array([*(center - size / 2), *size]))
    np.testing.assert_allclose(same["score"], again["score"])     # the state's box gives the state's view


def test_interval_rows_give_each_tracker_its_interval_and_mean_fps():
    results = two_trackers()
    for s, name in enumerate(results):
        results[name]["fps"] = 100.0 + s
    rows = tables.interval_rows(results, ["a", "b"])
    assert rows["a"]["fps"] == pytest.approx(100.5) and rows["b"]["fps"] == pytest.approx(102.5)
    assert rows["a"]["ci95"][0] <= rows["a"]["mean"] <= rows["a"]["ci95"][1]
    assert rows["a"]["mean"] == pytest.approx(np.mean([results[f"a/seed_{s}"]["success_auc"] for s in (0, 1)]))


def test_ablation_and_efficiency_schedules_change_only_what_they_name(tmp_path):
    p = load_params(REPO / "params.yaml")
    arm = ablations.ablation_params(p, {"granularity": "cell"})
    assert arm.search.granularity == "cell" and arm.search.seeds == p.analysis.search_seeds
    assert arm.search.pairs_per_epoch == p.search.pairs_per_epoch and arm.train == p.train
    with pytest.raises(ConfigError, match="unrolled"):
        ablations.ablation_params(p, {"unrolled": True, "optimizer": "adamw"})
    longer = efficiency.longer_schedule(p)
    assert longer.train.pairs_per_epoch == round(p.train.pairs_per_epoch * p.analysis.efficiency_pairs)
    assert longer.train.epochs == p.train.epochs and longer.train.lr == p.train.lr
    assert efficiency.pairs_seen(p) == p.train.epochs * (p.train.pairs_per_epoch // p.train.batch_size) * \
        p.train.batch_size
    assert efficiency.longer_name(p) == "baseline_x2.5"
    with pytest.raises(FileNotFoundError, match="analysis seed"):
        efficiency.run_efficiency(p, tmp_path, tmp_path, tmp_path, tmp_path / "models" / "baseline", tmp_path,
                                  tmp_path)
