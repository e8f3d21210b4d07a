"""params.yaml -> typed config: every section validates, bad values fail loudly naming `section.key`, profiles merge,
the validation rules of `validation.Section`, and the notebooks, dvc.yaml and params.yaml agree with each other
(paths appear once, stages list the params they use)."""
from __future__ import annotations

import ast
import dataclasses
import json
import re
import typing
from dataclasses import dataclass, field

import numpy as np
import pytest
import yaml

from automatch_lib.config import (SECTIONS, CropConfig, FeaturesConfig, PairConfig, PretrainConfig,
                                  RandomSearchConfig, ResourcesConfig, SearchConfig, TrackConfig, TrainConfig,
                                  apply_profile, load_params, merged_profile, parse_params)
from automatch_lib.errors import ConfigError
from automatch_lib.model.genotype import search_space
from automatch_lib.operators import OPERATORS, SEARCH_SPACE
from automatch_lib.validation import Section, build
from conftest import REPO

CROP_KEYS = {"exemplar_size", "search_size", "context"}


def _raw_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text())


def test_default_params_validate_and_cover_every_section():
    raw = _raw_params()
    assert set(raw) == set(SECTIONS)
    p = load_params(REPO / "params.yaml")
    assert p.crop.search_size > p.crop.exemplar_size
    assert dataclasses.asdict(p.crop) == raw["crop"]
    # one crop geometry: the pairs and the tracker no longer carry their own copies
    for cls in (PairConfig, TrackConfig):
        assert not CROP_KEYS & {f.name for f in dataclasses.fields(cls)}, cls.__name__
    assert not hasattr(p, "track_config")
    # machine settings live in `resources` only
    for cls in (TrainConfig, SearchConfig):
        assert not {"workers", "threads", "device", "log_every"} & {f.name for f in dataclasses.fields(cls)}
    assert dataclasses.asdict(p.resources) == {**dataclasses.asdict(ResourcesConfig()), **raw["resources"]}
    # the architecture sections only name registered operators; an empty search.operators means the paper's space
    for ops in (p.baseline.cls_ops, p.baseline.reg_ops):
        assert ops and set(ops) <= set(OPERATORS)
    assert set(p.search.operators) <= set(OPERATORS)
    assert search_space(p) == (list(p.search.operators) or list(SEARCH_SPACE))
    assert set(SEARCH_SPACE) <= set(OPERATORS) and len(SEARCH_SPACE) == 7
    # every compared configuration runs once per seed
    for seeds in (p.train.seeds, p.search.seeds, p.pretrain.seeds):
        assert seeds and len(set(seeds)) == len(seeds)
    assert isinstance(p.pretrain, PretrainConfig) and isinstance(p.pretrain, TrainConfig)
    assert isinstance(p.features, FeaturesConfig)
    assert not hasattr(p.train, "seed") and not hasattr(p.search, "seed") and not hasattr(p.random_search, "seeds")


def _leaves(tree: dict, prefix: tuple = ()):
    """(path, value) of every non-mapping value of a nested mapping."""
    for k, v in tree.items():
        if isinstance(v, dict) and v:
            yield from _leaves(v, prefix + (k,))
        else:
            yield prefix + (k,), v


def _get(tree: dict, path: tuple):
    for k in path:
        tree = tree[k]
    return tree


@pytest.mark.parametrize("profile", ["smoke", "paper"])
def test_profiles_merge_into_valid_params(profile, tmp_path):
    raw = _raw_params()
    override = yaml.safe_load((REPO / "profiles" / f"{profile}.yaml").read_text())
    before = (REPO / "params.yaml").read_bytes()
    merged = merged_profile(REPO / "params.yaml", REPO / "profiles" / f"{profile}.yaml")
    assert (REPO / "params.yaml").read_bytes() == before, "merged_profile must not write"
    assert set(merged) == set(raw)
    # every value of the profile ends up in the merged params ...
    for path, value in _leaves(override):
        assert _get(merged, path) == value, path
    # ... and every key the profile does not set keeps params.yaml's value
    touched = {path for path, _ in _leaves(override)}
    untouched = [(path, v) for path, v in _leaves(raw) if path not in touched]
    assert len(untouched) > 20
    for path, value in untouched:
        assert _get(merged, path) == value, path
    p = parse_params(merged)
    if profile == "smoke":
        assert (p.crop.exemplar_size, p.crop.search_size) == (32, 64)
        assert p.resources.workers == 0 and p.resources.log_every == 1
        assert p.crop.context == raw["crop"]["context"] and p.track.lr == raw["track"]["lr"]
        assert p.train.lr == raw["train"]["lr"] and p.train.epochs == 1
    else:
        assert (p.crop.exemplar_size, p.crop.search_size) == (127, 255)
        assert (p.resources.workers, p.resources.threads, p.resources.device) == (8, 4, "cuda")
        assert p.model.backbone == "resnet50_dilated" and p.train.optimizer == "sgd"
        assert p.tune == load_params(REPO / "params.yaml").tune
    # apply_profile writes the same merge to `out` (here a copy; params.yaml itself is untouched)
    out = tmp_path / "merged.yaml"
    assert apply_profile(REPO / "params.yaml", REPO / "profiles" / f"{profile}.yaml", out) == merged
    assert yaml.safe_load(out.read_text()) == merged and load_params(out) == p
    assert (REPO / "params.yaml").read_bytes() == before
    assert not list(tmp_path.glob("*.tmp"))


def test_apply_profile_in_place(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text((REPO / "params.yaml").read_text())
    apply_profile(params, REPO / "profiles" / "smoke.yaml", params)
    assert load_params(params).crop.search_size == 64


def test_a_profile_with_a_bad_value_is_rejected_before_anything_is_written(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("crop: {search_size: 16}\n")  # smaller than exemplar_size 48
    with pytest.raises(ConfigError, match=r"crop\.search_size = 16 must exceed crop\.exemplar_size = 48"):
        merged_profile(REPO / "params.yaml", bad)
    bad.write_text("resources: {threads: 0}\n")
    with pytest.raises(ConfigError, match=re.escape("resources.threads: expected a value >= 1, got 0")):
        apply_profile(REPO / "params.yaml", bad, tmp_path / "out.yaml")
    assert not (tmp_path / "out.yaml").exists()


@pytest.mark.parametrize("section,key,value,message", [
    ("train", "epochs", "many", "train.epochs: expected an integer, got 'many'"),
    ("train", "lr", True, "train.lr: expected a number, got True"),
    ("search", "unrolled", "yes", "search.unrolled: expected true/false, got 'yes'"),
    ("train", "epochz", 3, "unknown key"),
    ("crop", "search_size", 12.5, "crop.search_size: expected an integer, got 12.5"),
    ("crop", "context", -0.1, "crop.context: expected a value >= 0, got -0.1"),
    ("train", "optimizer", "adam", "train.optimizer: expected one of ['adamw', 'sgd'], got 'adam'"),
    ("search", "granularity", "layer", "search.granularity: expected one of ['channel', 'operator', 'cell'], got 'layer'"),
    ("track", "window_influence", 1.5, "track.window_influence: expected a value <= 1, got 1.5"),
    ("tune", "lr", [0.5, 0.1], "tune.lr = [0.5, 0.1]: expected [low, high] numbers with low <= high"),
    ("resources", "threads", 0, "resources.threads: expected a value >= 1, got 0"),
    ("resources", "workers", "two", "resources.workers: expected an integer, got 'two'"),
    ("resources", "progress", 1, "resources.progress: expected true/false, got 1"),
    ("resources", "jobs", 0, "resources.jobs: expected a value >= 1, got 0"),
    ("train", "seeds", [], "train.seeds = []: expected a non-empty list of distinct non-negative integers"),
    ("train", "seeds", [0, 0], "train.seeds = [0, 0]: expected a non-empty list of distinct"),
    ("train", "seeds", [1, -1], "train.seeds = [1, -1]: expected a non-empty list of distinct"),
    ("train", "seeds", [0, 1.5], "train.seeds = [0, 1.5]: expected a non-empty list of distinct"),
    ("train", "seeds", 3, "train.seeds: expected a list, got 3"),
    ("train", "seed", 3, "unknown key"),
    ("search", "seeds", [True], "search.seeds = [True]: expected a non-empty list of distinct"),
    ("search", "sparsity", -0.5, "search.sparsity: expected a value >= 0, got -0.5"),
    ("search", "momentum", 1.5, "search.momentum: expected a value <= 1, got 1.5"),
    ("random_search", "seed", [1, 2], "random_search.seed: expected an integer, got [1, 2]"),
    ("pretrain", "processes", 0, "pretrain.processes: expected a value >= 1, got 0"),
    ("pretrain", "seeds", [], "pretrain.seeds = []: expected a non-empty list"),
    ("features", "train_pairs", 0, "features.train_pairs: expected a value >= 1, got 0"),
])
def test_bad_values_raise_config_errors_naming_the_key(tmp_path, section, key, value, message):
    raw = _raw_params()
    raw[section][key] = value
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_params(path)


def test_sections_validate_when_built_in_code_too():
    with pytest.raises(ConfigError, match=re.escape("crop.exemplar_size: expected a value >= 8, got 4")):
        CropConfig(exemplar_size=4)
    with pytest.raises(ConfigError, match=re.escape("crop.search_size = 48 must exceed crop.exemplar_size = 48")):
        CropConfig(exemplar_size=48, search_size=48)
    with pytest.raises(ConfigError, match=re.escape("train.batch_size: expected a value >= 1, got 0")):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match=re.escape("train.batch_size: expected a value >= 1, got 0")):
        dataclasses.replace(TrainConfig(), batch_size=0)
    assert TrainConfig(lr=1).lr == 1.0 and isinstance(TrainConfig(lr=1).lr, float)


def test_seed_lists_and_the_unrolled_search_needs_sgd():
    assert TrainConfig().seeds == [0] and TrainConfig(seeds=(3, 1)).seeds == [3, 1]
    assert SearchConfig(seeds=[2, 0]).seeds == [2, 0]
    assert RandomSearchConfig(seed=4).seed == 4
    with pytest.raises(ConfigError, match=re.escape("train.seeds = [1, 1]: expected a non-empty list")):
        TrainConfig(seeds=[1, 1])
    with pytest.raises(ConfigError, match=re.escape("pretrain.seeds = []: expected a non-empty list")):
        PretrainConfig(seeds=[])
    # the second-order step unrolls the weights' SGD update: with AdamW there is nothing to unroll
    with pytest.raises(ConfigError, match=r"search\.unrolled = true .* search\.optimizer: sgd \(got 'adamw'\)"):
        SearchConfig(unrolled=True, optimizer="adamw")
    with pytest.raises(ConfigError, match="search.optimizer: sgd"):
        dataclasses.replace(SearchConfig(optimizer="sgd", unrolled=True), optimizer="adamw")
    ok = SearchConfig(unrolled=True, optimizer="sgd", momentum=0.5, weight_decay=1e-3, sparsity=0.1)
    assert (ok.unrolled, ok.momentum, ok.weight_decay, ok.sparsity) == (True, 0.5, 1e-3, 0.1)
    assert not SearchConfig(optimizer="adamw").unrolled
    # the pretraining section is a training schedule plus its process count
    assert PretrainConfig.SECTION == "pretrain" and PretrainConfig(processes=2, epochs=3).epochs == 3
    assert {f.name for f in dataclasses.fields(TrainConfig)} | {"processes"} == \
        {f.name for f in dataclasses.fields(PretrainConfig)}


def test_unrolled_search_with_adamw_in_a_params_file_is_rejected(tmp_path):
    raw = _raw_params()
    raw["search"].update(unrolled=True, optimizer="adamw")
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match="search.optimizer: sgd"):
        load_params(path)
    raw["search"]["optimizer"] = "sgd"
    path.write_text(yaml.safe_dump(raw))
    assert load_params(path).search.unrolled


def test_unknown_section_is_rejected(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text((REPO / "params.yaml").read_text() + "\nsurprise: {a: 1}\n")
    with pytest.raises(ConfigError, match="surprise"):
        load_params(path)


def test_missing_or_malformed_params_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: line \d+ not valid YAML"):
        load_params(bad)


# --------------------------------------------------------------------------------------------- validation.Section

def _ordered(value):
    return None if value[0] <= value[1] else "expected low <= high"


@dataclass
class Demo(Section):
    SECTION: typing.ClassVar[str] = "demo"
    mode: str = field(default="a", metadata=dict(choices=("a", "b")))
    count: int = field(default=2, metadata=dict(min=1, max=5))
    ratio: float = field(default=0.5, metadata=dict(min=0.0, max=1.0))
    flag: bool = False
    span: list = field(default_factory=lambda: [1, 2], metadata=dict(length=2, check=_ordered))


@dataclass
class Unnamed(Section):
    size: int = 1


def test_section_accepts_valid_values_and_coerces_ints_to_floats():
    d = Demo(mode="b", count=5, ratio=1, flag=True, span=(3, 4))
    assert d.ratio == 1.0 and isinstance(d.ratio, float)
    assert d.span == [3, 4] and isinstance(d.span, list)
    assert Demo(count=np.int64(3)).count == 3 and type(Demo(count=np.int64(3)).count) is int
    assert build(Demo, {"count": 1}) == Demo(count=1) and build(Demo, None) == Demo()


@pytest.mark.parametrize("kwargs,message", [
    (dict(mode="c"), "demo.mode: expected one of ['a', 'b'], got 'c'"),
    (dict(count=0), "demo.count: expected a value >= 1, got 0"),
    (dict(count=6), "demo.count: expected a value <= 5, got 6"),
    (dict(ratio=-0.25), "demo.ratio: expected a value >= 0.0, got -0.25"),
    (dict(ratio=np.float64(1.5)), "demo.ratio: expected a value <= 1.0, got 1.5"),
    (dict(count=2.0), "demo.count: expected an integer, got 2.0"),
    (dict(count=True), "demo.count: expected an integer, got True"),
    (dict(ratio="half"), "demo.ratio: expected a number, got 'half'"),
    (dict(flag="no"), "demo.flag: expected true/false, got 'no'"),
    (dict(mode=3), "demo.mode: expected a string, got 3"),
    (dict(span="1,2"), "demo.span: expected a list, got '1,2'"),
    (dict(span=[1, 2, 3]), "demo.span: expected 2 values, got [1, 2, 3]"),
    (dict(span=[5, 2]), "demo.span = [5, 2]: expected low <= high"),
])
def test_section_rules_name_section_key_and_value(kwargs, message):
    with pytest.raises(ConfigError, match=re.escape(message)) as err:
        Demo(**kwargs)
    assert "np." not in str(err.value) and "numpy" not in str(err.value)


def test_section_without_a_name_uses_the_class_name_and_build_rejects_unknown_keys():
    with pytest.raises(ConfigError, match=re.escape("Unnamed.size: expected an integer, got 'x'")):
        Unnamed(size="x")
    with pytest.raises(ConfigError, match=re.escape("params section 'demo': unknown key(s) ['colour', 'size']")):
        build(Demo, {"colour": 1, "size": 2})
    with pytest.raises(ConfigError, match=re.escape("params section 'demo' must be a mapping, got [1, 2]")):
        build(Demo, [1, 2])


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
        stage = stage.get("do", stage)          # a foreach stage's template
        cmd = stage["cmd"]
        nb = re.search(r"papermill --no-progress-bar (\S+\.ipynb) (\S+\.ipynb)", cmd)
        assert nb, f"stage {name} must run a notebook with papermill"
        assert nb.group(1) in stage["deps"], f"stage {name} must depend on its notebook"
        assert nb.group(2) in stage["outs"], f"stage {name} must version its executed notebook"
        known = _parameters(REPO / nb.group(1))
        for key, value in re.findall(r"-p (\S+) (\S+)", cmd.split("papermill", 1)[1]):
            assert key in known, f"stage {name}: notebook {nb.group(1)} has no parameter {key}"
            if value.startswith(("data/", "models/", "metrics/")) and ":" not in value:
                declared = [d for d in stage["deps"]] + [next(iter(o)) if isinstance(o, dict) else o
                                                        for o in stage.get("outs", []) + stage.get("metrics", [])]
                assert any(value == d or value.startswith(d.rstrip("/") + "/") or d.startswith(value)
                           for d in declared), f"stage {name}: path {value} is neither a dep nor an out"
        for entry in stage.get("params", []):
            head = entry.split(".")[0]
            assert head in params, f"stage {name} lists unknown params section {entry}"
            assert head != "resources", f"stage {name} lists resources (machine settings do not change results)"
