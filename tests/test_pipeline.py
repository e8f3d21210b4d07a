"""Smoke run of the real DVC pipeline (papermill notebooks) in a temporary copy of the repository, with the smoke
profile: every stage executes, notebooks hold no errors, metrics are declared and consistent with the result files,
a second `dvc repro` does nothing, changing one parameter (through `dvc exp run -S`) reruns only the stages that use
it, changing `resources` reruns nothing, and rerunning the (seeded) search rewrites the genotype byte for byte, so
nothing is retrained."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from automatch_lib.config import apply_profile, load_params
from automatch_lib.data.benchmarks import load_benchmark
from automatch_lib.model.genotype import Genotype, search_space
from conftest import REPO

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
TRAINING_STAGES = ("data", "pretrain", "features", "train_baseline", "search", "retrain", "random_search",
                   "train_pgnet")
METRIC_KEYS = {"success_auc", "precision_20", "success_50", "fps"}


def _run(cmd: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1",
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def run(cmd: list[str], cwd: Path, timeout: int = 900) -> str:
    """stdout + stderr of a command that must succeed."""
    proc = _run(cmd, cwd, timeout)
    return proc.stdout + proc.stderr


def run_json(cmd: list[str], cwd: Path):
    """The JSON a command prints on stdout (warnings on stderr do not matter)."""
    return json.loads(_run(cmd, cwd).stdout)


def commit(repo: Path, message: str) -> None:
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", message, "--allow-empty"], repo)


def assert_up_to_date(repo: Path) -> None:
    """`dvc status` reports nothing to do and `dvc repro` runs no stage."""
    status = run_json(["dvc", "status", "--json"], repo)
    assert status == {}, status
    again = run(["dvc", "repro"], repo)
    assert "Running stage" not in again, again[-3000:]


@pytest.fixture(scope="module")
def pipeline_copy(tmp_path_factory) -> Path:
    """A fresh git repository holding the project's files (as a clone would), smoke profile applied."""
    dest = tmp_path_factory.mktemp("repo")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        if (REPO / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest / rel)
    apply_profile(dest / "params.yaml", dest / "profiles" / "smoke.yaml", dest / "params.yaml")
    (dest / "data" / "benchmarks").mkdir(parents=True, exist_ok=True)   # as `make repro` does in a clone
    run(["git", "init", "-q"], dest)
    commit(dest, "fresh clone")
    return dest


@pytest.fixture(scope="module")
def reproduced(pipeline_copy) -> tuple[Path, str]:
    return pipeline_copy, run(["dvc", "repro"], pipeline_copy)


def test_repro_runs_every_stage_without_notebook_errors(reproduced):
    repo, log = reproduced
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for name, spec in stages.items():
        if "foreach" in spec:      # ${analysis.operators} -> one stage per item, named <stage>@<item>
            items = params[spec["foreach"][2:-1].split(".")[0]][spec["foreach"][2:-1].split(".")[1]]
            for item in items:
                assert f"Running stage '{name}@{item}'" in log
        else:
            assert f"Running stage '{name}'" in log
    notebooks = list((repo / "reports").glob("*.ipynb")) + list((repo / "reports" / "variants").glob("*.ipynb"))
    assert len(notebooks) >= len(stages)
    for nb in notebooks:
        for cell in json.loads(nb.read_text())["cells"]:
            for out in cell.get("outputs", []):
                assert out.get("output_type") != "error", f"{nb.name}: {out.get('ename')}: {out.get('evalue')}"
        assert nb.with_suffix(".html").is_file()


def test_metrics_are_declared_for_every_tracker(reproduced):
    repo, _ = reproduced
    p = load_params(repo / "params.yaml")
    families = ["baseline", "automatch", "random", "pgnet"]
    trained = [f"{f}/seed_{s}" for f in families for s in p.train.seeds]
    trackers = ["static", *trained]

    shown = run_json(["dvc", "metrics", "show", "--json"], repo)
    text = json.dumps(shown)
    for tracker in trackers:
        assert f'"{tracker}"' in text

    metrics = json.loads((repo / "metrics" / "eval.json").read_text())
    for tracker in trackers:
        m = metrics[tracker]
        assert METRIC_KEYS <= set(m), (tracker, sorted(m))
        assert 0 <= m["success_auc"] <= 1 and 0 <= m["precision_20"] <= 1 and 0 <= m["success_50"] <= 1, m
        assert m["fps"] > 0, m
    for family in families:
        assert metrics["families"][family]["seeds"] == [metrics[f"{family}/seed_{s}"]["success_auc"]
                                                         for s in p.train.seeds]
    # every comparison the issue asks for, with an interval around its difference and a verdict read from it
    pairs = {(c["a"], c["b"]): c for c in metrics["comparisons"]}
    for pair in (("automatch", "baseline"), ("automatch", "random"), ("pgnet", "automatch"), ("pgnet", "baseline")):
        c = pairs[pair]
        assert c["ci95"][0] <= c["diff"] <= c["ci95"][1], c
        assert c["verdict"] in ("better", "worse", "no detectable difference"), c
        assert len(c["a_seeds"]) == len(c["b_seeds"]) == len(p.train.seeds)
    for family in families:
        assert sorted(c.stem for c in (repo / "models" / family).glob("*.pt")) == \
            sorted(f"seed_{s}" for s in p.train.seeds)

    # one result file per tracker and test sequence, one x,y,w,h row per frame
    sequences = load_benchmark("otb", repo / "data" / "synthetic" / "test")
    assert len(sequences) == yaml.safe_load((repo / "params.yaml").read_text())["data"]["n_sequences"]["test"]
    for tracker in trackers:
        folder = repo / "results" / "synthetic" / tracker
        assert sorted(f.stem for f in folder.glob("*.txt")) == sorted(s.name for s in sequences), tracker
        for seq in sequences:
            rows = np.loadtxt(folder / f"{seq.name}.txt", delimiter=",", ndmin=2)
            assert rows.shape == (len(seq), 4), (tracker, seq.name, rows.shape)
            assert np.isfinite(rows).all()
            np.testing.assert_allclose(rows[0], seq.boxes[0], atol=0.01)   # every tracker starts at the GT box

    # the search: per seed and combined potentials and gated-off fractions, the retained sets, the agreement
    search = json.loads((repo / "metrics" / "search.json").read_text())
    assert [r["seed"] for r in search["seeds"]] == p.search.seeds
    for branch in ("cls", "reg"):
        assert len(search["retained"][branch]) == p.search.retain == 2
        assert set(search["potentials"][branch]) == set(search["gated_off"][branch]) == set(search_space(p))
        assert 0 <= search["agreement"][branch] <= 1
        for run in search["seeds"]:
            assert all(0 <= v <= 1 for v in run["gated_off"][branch].values())
    genotype = Genotype.load(repo / "models" / "genotype.json")
    assert list(genotype.cls) == search["retained"]["cls"] and list(genotype.reg) == search["retained"]["reg"]


def test_analysis_metrics_name_every_operator_and_k_with_intervals(reproduced):
    repo, _ = reproduced
    p = load_params(repo / "params.yaml")
    single = json.loads((repo / "metrics" / "single_operator.json").read_text())
    assert list(single["operators"]) == p.analysis.operators
    for op, cols in single["operators"].items():
        cell = cols["overall"]
        assert cell["ci95"][0] <= cell["mean"] <= cell["ci95"][1], (op, cell)
        per_seed = json.loads((repo / "metrics" / "single" / f"{op}.json").read_text())
        assert sorted(per_seed["seeds"]) == sorted(str(s) for s in p.analysis.seeds)
        assert cell["mean"] == pytest.approx(per_seed["success_auc"])    # the table's mean is the seeds' mean
    assert set(single["winners"]["overall"]) >= {"best", "separated"}
    retained = json.loads((repo / "metrics" / "retained_operators.json").read_text())
    ranking = json.loads((repo / "models" / "ranking.json").read_text())
    assert sorted(retained["k"]) == sorted(str(k) for k in p.analysis.retained)
    for k, row in retained["k"].items():
        assert row["ci95"][0] <= row["success_auc"] <= row["ci95"][1], (k, row)
        assert row["cls_ops"] == "+".join(ranking["cls"][:int(k)])
    ablations = json.loads((repo / "metrics" / "ablations.json").read_text())
    assert list(ablations["arms"]) == list(p.analysis.ablations)
    cell = ablations["arms"]["cell"]["search"]["retained"]["cls"].split("+")
    assert cell and all("@" in edge for edge in cell)               # the derived DARTS-like cell was retrained
    for name, row in ablations["rows"].items():
        assert row["ci95"][0] <= row["mean"] <= row["ci95"][1] and row["fps"] > 0, (name, row)
    assert {(c["a"], c["b"]) for c in ablations["comparisons"]} == {
        ("operator", ablations["reference"]), ("cell", ablations["reference"]), ("pg_corr", ablations["reference"]),
        ("second_order_sgd", "first_order_sgd")}
    efficiency = json.loads((repo / "metrics" / "efficiency.json").read_text())
    longer = f"baseline_x{p.analysis.efficiency_pairs:g}"
    assert efficiency["pairs"][longer] > efficiency["pairs"]["automatch"] == efficiency["pairs"]["baseline_x1"]
    assert [(c["a"], c["b"]) for c in efficiency["comparisons"]][0] == ("automatch", longer)
    index = (repo / "reports" / "index.html").read_text()
    for name in ("04_evaluate", "01_single_operator", "06_retained_operators", "07_ablations", "08_efficiency"):
        assert f"{name}.html" in index
    assert "error output" not in index


def test_a_queued_sweep_reruns_only_the_new_k_in_parallel_workers_and_exp_show_compares_it(reproduced):
    """The README's sweep recipe at smoke size: two retained counts queued, two queue workers, both succeed
    (each in its own temporary workspace sharing the DVC cache), each reruns only its new k (the trained
    k = 1, 2 and everything upstream are restored from the cache), and `dvc exp show` lists their metrics."""
    repo, _ = reproduced
    run(["dvc", "repro"], repo)
    commit(repo, "before the sweep")
    for k in (3, 4):
        run(["dvc", "exp", "run", "--queue", "-S", f"analysis.retained=[1,2,{k}]", "-n", f"sweep{k}",
             "retained_report"], repo)
    run(["dvc", "queue", "start", "-j", "2"], repo)
    deadline = time.monotonic() + 600
    while True:
        status = run(["dvc", "queue", "status"], repo)
        if "Queued" not in status and "Running" not in status:
            break
        assert time.monotonic() < deadline, status
        time.sleep(5)
    assert status.count("Success") == 2 and "Failed" not in status, status
    for k in (3, 4):
        log = run(["dvc", "queue", "logs", f"sweep{k}"], repo)
        assert f"Running stage 'retained@{k}'" in log and "Running stage 'retained_report'" in log, log[-3000:]
        for other in (*TRAINING_STAGES, "retained@1", "retained@2"):
            assert f"Running stage '{other}'" not in log
    shown = run_json(["dvc", "exp", "show", "--json", "--no-pager"], repo)
    text = json.dumps(shown)
    for k in (3, 4):
        assert f"sweep{k}" in text
    found = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for revision in exp.get("revs", []):
                metrics = ((revision.get("data") or {}).get("metrics") or {}).get("metrics/retained_operators.json")
                if revision.get("name", "").startswith("sweep") and metrics:
                    found[revision["name"]] = sorted(metrics["data"]["k"])
    assert found == {"sweep3": ["1", "2", "3"], "sweep4": ["1", "2", "4"]}, found


def test_second_repro_does_nothing_and_one_param_reruns_only_its_stages(reproduced):
    repo, _ = reproduced
    again = run(["dvc", "repro"], repo)
    assert "Running stage" not in again
    commit(repo, "repro")
    exp = run(["dvc", "exp", "run", "-S", "analysis.efficiency_pairs=2.0"], repo)   # only 08_efficiency lists it
    assert "Running stage 'efficiency'" in exp and "Running stage 'report'" in exp
    for other in (*TRAINING_STAGES, "evaluate", "single_operator@pg_corr", "retained@1", "ablations"):
        assert f"Running stage '{other}'" not in exp
    commit(repo, "analysis.efficiency_pairs=2.0")


def test_changing_resources_runs_no_stage(reproduced):
    repo, _ = reproduced
    run(["dvc", "repro"], repo)           # whatever the previous tests left, start from an up-to-date pipeline
    params = repo / "params.yaml"
    original = params.read_text()
    try:
        raw = yaml.safe_load(original)
        assert raw["resources"]["threads"] != 2
        raw["resources"]["threads"] = 2
        raw["resources"]["progress"] = not raw["resources"]["progress"]
        params.write_text(yaml.safe_dump(raw, sort_keys=False))
        assert load_params(params).resources.threads == 2
        assert_up_to_date(repo)
    finally:
        params.write_text(original)


def test_rerunning_the_search_rewrites_the_same_genotype_and_retrains_nothing(reproduced):
    repo, _ = reproduced
    run(["dvc", "repro"], repo)
    genotype = repo / "models" / "genotype.json"
    before = genotype.read_bytes()
    trained = {c: c.read_bytes() for family in ("automatch", "baseline", "random")
               for c in sorted((repo / "models" / family).glob("*.pt"))}
    log = run(["dvc", "repro", "-f", "-s", "search"], repo)
    assert "Running stage 'search'" in log
    for other in ("data", "pretrain", "features", "train_baseline", "retrain", "random_search", "evaluate"):
        assert f"Running stage '{other}'" not in log
    assert genotype.read_bytes() == before, "the seeded search retained different operators"
    # only the index page is behind: it lists the re-executed search notebook (new wall time in its outputs)
    status = run_json(["dvc", "status", "--json"], repo)
    assert status == {"report": [{"changed deps": {"reports/02_search.ipynb": "modified"}}]}, status
    for path, data in trained.items():
        assert path.read_bytes() == data, f"{path.name} was rewritten"
