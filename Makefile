# grand-bargain: `make run` and `make test` set everything up from a fresh clone.
# Mesa 3.5 needs Python >= 3.12; the first interpreter below that actually runs and is new enough wins.
# Override with `make PYTHON=/path/to/python3.12 ...`.
PY_CANDIDATES := python3.12 python3.13 python3 $(wildcard $(HOME)/.pyenv/versions/3.1[2-9]*/bin/python3)
ifndef PYTHON
PYTHON := $(firstword $(foreach p,$(PY_CANDIDATES),$(shell $(p) -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && echo $(p))))
endif
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= results

.PHONY: run test bench lint clean venv check-python

check-python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: grand-bargain needs Python >= 3.12 (Mesa 3.5 requires it), and none was found."; \
	  echo "       Tried: $(PY_CANDIDATES)"; \
	  echo "       Install Python 3.12 or 3.13, or run: make PYTHON=/path/to/python3.12 $(MAKECMDGOALS)"; \
	  exit 1; fi

$(STAMP): pyproject.toml | check-python
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/bargain validate scenarios/*.yaml
	$(BIN)/bargain run scenarios/belarus_us_2025.yaml --out $(OUT)/baseline
	$(BIN)/bargain sweep experiments/quick.yaml --out $(OUT)/quick
	$(BIN)/bargain plot $(OUT)/quick

# The tests also need the app extra: tests/test_app.py runs `bargain app` in a headless browser
# (Playwright, from the dev extra, drives /usr/bin/chromium; .ci/run installs chromium).
APP_STAMP := $(VENV)/.app-installed
$(APP_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,app]"
	@touch $(APP_STAMP)

test: $(APP_STAMP)
	$(BIN)/python -m pytest

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	@touch $(BENCH_STAMP)

# Benchmarks (never part of `make test`): writes benchmarks/results.json and RESULTS.md.
# `make bench BENCH_ARGS=--quick` for a shorter run.
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check model tests
	$(BIN)/mypy model

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis
