"""params.yaml -> typed config: every section validates, bad values fail loudly, profiles merge, and the
notebooks, dvc.yaml and params.yaml agree with each other (paths appear once, stages list the params they use)."""
from __future__ import annotations

import ast
import json
import re
import shutil

import pytest
import yaml

from automatch_lib.config import SECTIONS, apply_profile, load_params
from automatch_lib.errors import ConfigError
from conftest import REPO


def test_default_params_validate_and_cover_every_section():
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    assert set(raw) == set(SECTIONS)
    p = load_params(REPO / "params.yaml")
    assert p.pairs.search_size > p.pairs.exemplar_size
    assert p.track_config().search_size == p.pairs.search_size


@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_profiles_merge_into_valid_params(profile, tmp_path):
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    apply_profile(tmp_path / "params.yaml", REPO / "profiles" / f"{profile}.yaml")
    load_params(tmp_path / "params.yaml")


@pytest.mark.parametrize("section,key,value,message", [
    ("train", "epochs", "many", "train.epochs: expected an integer"),
    ("train", "lr", True, "train.lr: expected a number"),
    ("search", "unrolled", "yes", "search.unrolled: expected true/false"),
    ("train", "epochz", 3, "unknown key"),
    ("pairs", "search_size", 12.5, "pairs.search_size: expected an integer"),
])
def test_bad_values_raise_config_errors_naming_the_key(tmp_path, section, key, value, message):
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_params(path)


def test_unknown_section_is_rejected(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text() + "\nsurprise: {a: 1}\n")
    with pytest.raises(ConfigError, match="surprise"):
        load_params(path)


def _notebook_cells(path):
    return json.loads(path.read_text())["cells"]


def _parameters(path) -> dict:
    cell = next(c for c in _notebook_cells(path) if "parameters" in c["metadata"].get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_thin_and_clean(notebook):
    for cell in _notebook_cells(notebook):
        if cell["cell_type"] != "code":
            continue
        assert not cell.get("outputs"), f"{notebook.name}: committed with outputs"
        tree = ast.parse("".join(cell["source"]))
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
        assert not defs, f"{notebook.name}: logic belongs in automatch_lib, found {[d.name for d in defs]}"
    assert _parameters(notebook)["params_file"] == "params.yaml"


def test_dvc_stages_pass_only_known_parameters_and_declare_their_notebook():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for name, stage in stages.items():
        cmd = stage["cmd"]
        nb = re.search(r"papermill --no-progress-bar (\S+\.ipynb) (\S+\.ipynb)", cmd)
        assert nb, f"stage {name} must run a notebook with papermill"
        assert nb.group(1) in stage["deps"], f"stage {name} must depend on its notebook"
        assert nb.group(2) in stage["outs"], f"stage {name} must version its executed notebook"
        known = _parameters(REPO / nb.group(1))
        for key, value in re.findall(r"-p (\S+) (\S+)", cmd):
            assert key in known, f"stage {name}: notebook {nb.group(1)} has no parameter {key}"
            if value.startswith(("data/", "models/", "metrics/")) and ":" not in value:
                declared = [d for d in stage["deps"]] + [next(iter(o)) if isinstance(o, dict) else o
                                                        for o in stage.get("outs", []) + stage.get("metrics", [])]
                assert any(value == d or value.startswith(d.rstrip("/") + "/") or d.startswith(value)
                           for d in declared), f"stage {name}: path {value} is neither a dep nor an out"
        for entry in stage.get("params", []):
            head = entry.split(".")[0]
            assert head in params, f"stage {name} lists unknown params section {entry}"
