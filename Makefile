# Quick start: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.demo: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[plot]'
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[bench]'
	touch $@

demo: $(VENV)/.demo
	$(BIN)/matnet train --out demo

test: $(VENV)/.test
	$(BIN)/python -m pytest

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/sgd_epoch.py --threads 1
	$(BIN)/python benchmarks/sgd_epoch.py
	$(BIN)/python benchmarks/lm_vs_pyrenn.py
	$(BIN)/python benchmarks/narx_vs_pyrenn.py
	$(BIN)/python benchmarks/pyrenn_problems.py
	$(BIN)/python benchmarks/recurrent_seeds.py
	$(BIN)/python benchmarks/sparse_break_even.py --threads 1
	$(BIN)/python benchmarks/sparse_break_even.py
	$(BIN)/python benchmarks/compression_digits.py
	$(BIN)/python benchmarks/busy_machine.py
	$(BIN)/python benchmarks/gcn_cora.py
	$(BIN)/python benchmarks/mf_ratings.py
	$(BIN)/python benchmarks/lm_scale.py
	$(BIN)/python benchmarks/analysis_costs.py
	$(BIN)/python benchmarks/quantization.py
	$(BIN)/python benchmarks/lm_dask.py
	$(BIN)/python benchmarks/gpu.py

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .hypothesis
