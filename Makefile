# Entry points. `make solution`, `make test` and `make demo` create .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_ARGS ?=
ARGS ?=

.PHONY: setup solution demo test lint typecheck docs wheel check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[test,docs,plots]"
	touch $(STAMP)

setup: $(STAMP)

# The whole two-stage solution (synthetic data, CPU, a few minutes); options pass through:
# make solution ARGS="--device cuda --preset released-code --task1-dir ... --out runs/x"
solution: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python examples/two_stage_solution.py $(ARGS)

demo: $(STAMP)
	$(BIN)/radiogenomics demo $(DEMO_ARGS)

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict examples benchmarks

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -n -q -b html docs docs/_build/html
	$(BIN)/sphinx-build -W --keep-going -n -q -b doctest docs docs/_build/doctest

wheel: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --wheel --outdir dist .

check: lint typecheck test docs

clean:
	rm -rf $(VENV) dist build docs/_build .pytest_cache .mypy_cache .ruff_cache demo-output two-stage-out
