# Two commands do all the set-up on a fresh clone:  `make repro` (the main job) and `make test` (the tests).
# The virtual environment is created on first use; torch is pinned to the CPU build that pip finds locally
# (an unpinned torch would pull a multi-GB CUDA build) and every other package to the versions in constraints.txt,
# so a fresh machine computes the same numbers (OpenCV's resampling, for one, changes pixels between releases).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: repro test env clean-env

env: $(STAMP)

# rfc3987-syntax (jupyter-events -> jsonschema[format-nongpl]) compiles a grammar when jsonschema is imported: 1.9 s
# added to every papermill and nbconvert start, two per stage. Without it jsonschema skips the IRI formats that nothing
# here validates (`pip check` stays clean), so the env target removes it after the install.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[pipeline,test]'
	$(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax
	touch $(STAMP)

repro: $(STAMP)
	mkdir -p data/benchmarks  # real benchmarks go here (data.dvc); the real_benchmarks stage depends on the folder
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

# Two pytest-xdist workers, one per core, each test file on one worker: the pipeline smoke run (tests/test_pipeline.py,
# collected first by tests/conftest.py; its stages run one process at a time in the smoke profile) holds one worker
# while the unit tests run on the other. Every test process keeps torch on one thread.
test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=20

clean-env:
	rm -rf $(VENV)
