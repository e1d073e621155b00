# anp-synth — every target installs what it needs into .venv first.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= out/demo

.PHONY: install demo demo-static test lint bench clean static-tools

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=...)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py --dir $(DEMO_DIR)

demo-static: $(STAMP)  # a Hugo site, posts imported at two volumes, its build test and report
	bash scripts/static-tools.sh
	rm -rf $(DEMO_DIR)/static
	$(BIN)/anp-synth site init hugo $(DEMO_DIR)/static/site
	$(BIN)/anp-synth buildtest --sink hugo --target $(DEMO_DIR)/static/site \
	  --build "hugo --minify --quiet" --counts 200,1000 --repeat 3 --out $(DEMO_DIR)/static/buildtest
	@echo "report: $(DEMO_DIR)/static/buildtest/buildtest.html"

lint: $(STAMP)
	$(BIN)/ruff check anp_synth tests bench loadtests scripts
	$(BIN)/ruff format --check anp_synth tests bench loadtests scripts
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

static-tools:  # Hugo, Jekyll, nginx (apt) and Eleventy (npm ci in tools/eleventy) for the static sinks
	bash scripts/static-tools.sh

clean:
	rm -rf out .pytest_cache .mypy_cache .ruff_cache
