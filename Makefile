# Two entry points for a fresh machine: `make demo` and `make test`. Both build .venv if missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0

$(BIN)/onestep: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/onestep

.PHONY: install demo test test-slow bench
install: $(BIN)/onestep

demo: install
	$(BIN)/onestep demo

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

bench: install
	$(BIN)/python benchmarks/teacher.py
	$(BIN)/python benchmarks/pose_memory.py
	$(BIN)/python benchmarks/wan.py
	$(BIN)/python benchmarks/scale.py
