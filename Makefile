# skyatlas — the two commands of the quick start, and a few helpers.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LINTED := src tests $(wildcard bench)
PIP_FLAGS ?= --disable-pip-version-check -q

.PHONY: demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install $(PIP_FLAGS) --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install $(PIP_FLAGS) -e '.[dev]'
	touch $(VENV)/.installed $@

## make demo: install, then serve the demo organisation on http://127.0.0.1:8000
demo: $(VENV)/.installed
	$(BIN)/skyatlas serve --demo

## make test: install with dev extras, lint, then run the whole suite (SQLite and PostgreSQL)
test: $(VENV)/.installed-dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/pytest -n 2 --dist loadgroup

## make bench BENCH_ARGS="--count 200000 --backend sqlite": the inventory benchmark (bench/)
bench: $(VENV)/.installed-dev
	$(BIN)/python bench/inventory.py $(BENCH_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(VENV)/.installed-dev
	$(BIN)/ruff format $(LINTED)
	$(BIN)/ruff check --fix $(LINTED)

clean:
	rm -rf $(VENV) skyatlas-data .pytest_cache .ruff_cache .hypothesis
