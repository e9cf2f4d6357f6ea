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

.PHONY: run test test-fast check bench lint clean venv check-python lock

check-python:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "error: grand-bargain needs Python >= 3.12 (Mesa 3.5 requires it), and none was found."; \
	  echo "       Tried: $(PY_CANDIDATES)"; \
	  echo "       Install Python 3.12 or 3.13, or run: make PYTHON=/path/to/python3.12 $(MAKECMDGOALS)"; \
	  exit 1; fi

# Every install takes the versions pinned in constraints.txt (`make lock` regenerates it).
PIP := $(BIN)/python -m pip install --quiet -c constraints.txt

# Two install stamps: `make run` needs only the runtime packages (RUN_STAMP); the linters, tests
# and benchmarks add the dev extra on top (STAMP). Measured on a fresh Python 3.12 venv with
# constraints.txt: see README ("Install").
RUN_STAMP := $(VENV)/.run-installed

$(VENV)/bin/python: | check-python
	@echo "Creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version))"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e .
	@touch $(RUN_STAMP)

$(STAMP): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(PIP) -e ".[dev]"
	@touch $(STAMP) $(RUN_STAMP)

venv: $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/bargain validate scenarios/*.yaml
	$(BIN)/bargain run scenarios/belarus_us_2025.yaml --out $(OUT)/baseline
	$(BIN)/bargain sweep experiments/quick.yaml --out $(OUT)/quick
	$(BIN)/bargain plot $(OUT)/quick

# The tests also need the app extra: tests/test_app.py runs `bargain app` in a headless browser
# (Playwright, from the dev extra, drives /usr/bin/chromium; .ci/run installs chromium).
APP_STAMP := $(VENV)/.app-installed
$(APP_STAMP): $(STAMP)
	$(PIP) -e ".[dev,app]"
	@touch $(APP_STAMP)

# `make test` runs the linters first (`make check`), then every test; CI (.ci/run) runs it.
test: check $(APP_STAMP)
	$(BIN)/python -m pytest

# The quick inner loop: every test not marked `slow` (pyproject.toml; docs/architecture.md).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(PIP) -e ".[dev,bench]"
	@touch $(BENCH_STAMP)

# Benchmarks (never part of `make test`): writes benchmarks/results.json and RESULTS.md.
# `make bench BENCH_ARGS=--quick` for a shorter run.
bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

check: $(STAMP)
	$(BIN)/ruff check model tests
	$(BIN)/mypy model

lint: check

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Re-resolve every extra in a scratch venv and pin the result in constraints.txt.
lock: | check-python
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet --dry-run --report .lock-venv/report.json -e ".[dev,app,bench,export]"
	.lock-venv/bin/python -c "import json; r = json.load(open('.lock-venv/report.json')); \
	rows = sorted(((i['metadata']['name'], i['metadata']['version']) for i in r['install']), key=lambda t: t[0].lower()); \
	head = [l for l in open('constraints.txt') if l.startswith('#')]; \
	open('constraints.txt', 'w').write(''.join(head) + ''.join(f'{n}=={v}\\n' for n, v in rows \
	if n != 'grand-bargain'))"
	rm -rf .lock-venv
