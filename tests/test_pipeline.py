"""Smoke run of the real DVC pipeline (papermill notebooks) in a temporary copy of the repository, with the smoke
profile: every stage executes, notebooks hold no errors, metrics are declared, a second `dvc repro` does nothing
and changing one parameter (through `dvc exp run -S`) reruns only the stages that use it."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from automatch_lib.config import apply_profile
from conftest import REPO

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent


def run(cmd: list[str], cwd: Path, timeout: int = 900) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "DVC_NO_ANALYTICS": "1",
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


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
    apply_profile(dest / "params.yaml", dest / "profiles" / "smoke.yaml")
    run(["git", "init", "-q"], dest)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], dest)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "fresh clone"], dest)
    return dest


@pytest.fixture(scope="module")
def reproduced(pipeline_copy) -> tuple[Path, str]:
    return pipeline_copy, run(["dvc", "repro"], pipeline_copy)


def test_repro_runs_every_stage_without_notebook_errors(reproduced):
    repo, log = reproduced
    stages = json.loads(json.dumps(__import__("yaml").safe_load((repo / "dvc.yaml").read_text())["stages"]))
    for name in stages:
        assert f"Running stage '{name}'" in log
    for nb in (repo / "reports").glob("*.ipynb"):
        for cell in json.loads(nb.read_text())["cells"]:
            for out in cell.get("outputs", []):
                assert out.get("output_type") != "error", f"{nb.name}: {out.get('ename')}: {out.get('evalue')}"
        assert nb.with_suffix(".html").is_file()


def test_metrics_are_declared_for_every_tracker(reproduced):
    repo, _ = reproduced
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo))
    text = json.dumps(shown)
    for tracker in ("static", "baseline", "automatch", "random_1"):
        assert f'"{tracker}"' in text
    metrics = json.loads((repo / "metrics" / "eval.json").read_text())
    assert 0 <= metrics["baseline"]["success_auc"] <= 1
    search = json.loads((repo / "metrics" / "search.json").read_text())
    assert len(search["retained"]["cls"]) == len(search["retained"]["reg"]) == 2


def test_second_repro_does_nothing_and_one_param_reruns_only_its_stages(reproduced):
    repo, _ = reproduced
    again = run(["dvc", "repro"], repo)
    assert "Running stage" not in again
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A"], repo)
    run(["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "repro"], repo)
    exp = run(["dvc", "exp", "run", "-S", "track.lr=0.35"], repo)
    assert "Running stage 'evaluate'" in exp
    for other in ("data", "train_baseline", "search", "retrain", "random_search"):
        assert f"Running stage '{other}'" not in exp
