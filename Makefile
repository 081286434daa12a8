# Busan Big Data Academy — the two commands of the README, plus helpers.
#   make run    build and run the whole course (verify data, execute every notebook, report)
#   make test   unit tests + every notebook executed + assignment validation + grading fixtures
# Each creates .venv with python3 -m venv and installs the project when needed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

# Use the shared data mirror when it sits next to the checkout (CI, the academy's machines);
# elsewhere files are downloaded once, checksummed, into the user cache.
ifeq ($(origin ACADEMY_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/datasets),)
    export ACADEMY_DATA_DIR := $(abspath ../shared/datasets)
  endif
endif
export ACADEMY_CACHE_DIR ?= $(CURDIR)/_build/data-cache

.PHONY: run test bench lint clean install chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/academy build

test: $(STAMP) chromium
	$(BIN)/python -m pytest -n 2 --dist loadgroup

bench: $(STAMP)
	$(BIN)/python bench/bench_data_cache.py
	$(BIN)/python bench/bench_runner.py
	$(BIN)/python bench/bench_grading.py

lint: $(STAMP)
	$(BIN)/python -m ruff check src tests bench

clean:
	rm -rf _build

# Browser tests use Debian's chromium (Playwright drives it; no browser download).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || echo "chromium is not installed: browser tests will be skipped"
