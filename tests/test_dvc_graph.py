"""The DVC graph reruns exactly what changed: every stage depends on all the package code its notebook imports
(followed through the imports of the package itself) and on nothing of the package it does not import, and no
stage lists the `resources` section."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PACKAGE = "automatch_lib"
STAGES = {name: spec.get("do", spec) for name, spec in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items()}
# (a foreach stage's `do` is its template: its deps are checked once for every item)


def _module_file(name: str) -> Path | None:
    """automatch_lib.a.b -> its file (module or package __init__), or None when it is not a module."""
    base = REPO.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _with_parents(name: str) -> list[str]:
    """A module and the packages whose __init__ runs when it is imported."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _imports(tree: ast.AST, package: str) -> set[str]:
    """Modules of the package imported by a parsed file; `package` is the importing module's package."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == PACKAGE}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != PACKAGE:
                continue
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names if _module_file(f"{module}.{a.name}")}
    return found


def closure(roots: set[str]) -> set[Path]:
    """Files of every package module reached from `roots`, following imports and parent packages."""
    seen: set[str] = set()
    todo = [m for r in roots for m in _with_parents(r)]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        assert path is not None, f"import of {name}, which is not a module of the package"
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        todo += [m for imp in _imports(ast.parse(path.read_text()), package) for m in _with_parents(imp)]
    return {_module_file(n).relative_to(REPO) for n in seen}


def notebook_imports(notebook: Path) -> set[str]:
    cells = json.loads(notebook.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    return _imports(ast.parse(code), "")


def _covered(path: Path, deps: list[str]) -> bool:
    return any(str(path) == d or str(path).startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_depends_on_exactly_the_package_code_its_notebook_runs(stage):
    spec = STAGES[stage]
    notebook = re.search(r"papermill --no-progress-bar (\S+\.ipynb)", spec["cmd"]).group(1)
    used = closure(notebook_imports(REPO / notebook))
    deps = [d for d in spec["deps"] if d.startswith(PACKAGE)]
    missing = sorted(str(f) for f in used if not _covered(f, deps))
    assert not missing, f"stage {stage}: {notebook} runs {missing}, which the stage does not list as deps"
    unused = [d for d in deps if not any(_covered(f, [d]) for f in used)]
    assert not unused, f"stage {stage} lists {unused}, which {notebook} never imports (it would rerun for nothing)"


def test_no_stage_lists_the_resources_section():
    for stage, spec in STAGES.items():
        assert not [p for p in spec.get("params", []) if str(p).split(".")[0] == "resources"], stage


def test_closure_follows_relative_imports_and_parent_packages():
    files = {str(f) for f in closure({"automatch_lib.experiments.searching"})}
    assert "automatch_lib/search/__init__.py" in files      # parent package of search.bilevel
    assert "automatch_lib/search/bcm.py" in files           # registered by search/__init__.py
    assert "automatch_lib/config.py" in files               # via ..config
    assert "automatch_lib/evaluation/metrics.py" not in files


def test_the_index_page_lists_every_stage_report():
    """The report stage depends on every stage's executed notebook (the variants' aside) and its notebook lists
    exactly those, so a new stage cannot be left out of reports/index.html."""
    outs = {o for name, spec in STAGES.items() if name != "report" for o in spec.get("outs", [])
            if isinstance(o, str) and o.endswith(".ipynb") and "/variants/" not in o}
    deps = {d for d in STAGES["report"]["deps"] if d.startswith("reports/")}
    assert deps == outs
    cells = json.loads((REPO / "notebooks" / "10_report.ipynb").read_text())["cells"]
    params = next("".join(c["source"]) for c in cells if "parameters" in c["metadata"].get("tags", []))
    listed = re.search(r"notebooks = \[(.*?)\]", params, re.S).group(1)
    assert {f"reports/{n}.ipynb" for n in re.findall(r'"([^"]+)"', listed)} == outs
