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

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[pipeline,test]'
	touch $(STAMP)

repro: $(STAMP)
	mkdir -p data/benchmarks  # real benchmarks go here (data.dvc); the real_benchmarks stage depends on the folder
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/dvc repro

# Two pytest-xdist workers (one per core): the pipeline smoke run, one xdist group of single-process stages,
# holds one worker while the unit tests run on the other; every test process keeps torch on one thread.
test: $(STAMP)
	PATH="$(abspath $(BIN)):$$PATH" OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n 2 --dist loadgroup --durations=20

clean-env:
	rm -rf $(VENV)
