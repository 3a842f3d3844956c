PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test lint typecheck unit soak demo bench walkthrough clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check automation tests benchmarks
	$(BIN)/ruff format --check automation tests benchmarks
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q

test: lint typecheck unit

# A simulated year on the sandbox (minutes; pytest marker `slow`, left out of `make test`).
soak: $(STAMP)
	$(BIN)/python -m pytest -q -m slow -p no:randomly tests/soak

demo: $(STAMP)
	$(BIN)/automation demo

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

# README sections 0-4 as written, including the `pip install` from the package index (make test
# runs the same walkthrough offline, with the dependencies of this venv); as root.
walkthrough: $(STAMP)
	WALKTHROUGH_PIP_INDEX=1 $(BIN)/python -m pytest -q -p no:randomly tests/test_install_walkthrough.py

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
