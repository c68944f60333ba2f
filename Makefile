# The two commands a new machine needs: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The machine keeps a local CPU build of this torch; install it first so nothing pulls a CUDA build.
TORCH_VERSION := 2.13.0

.PHONY: install serve test bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/pip install --quiet -e '.[dev]'
	# pymatting compiles its numba kernels on first import (~40 s): pay that once, here.
	$(BIN)/python -c "import pymatting"
	touch $@

install: $(VENV)/.installed

serve: install
	$(BIN)/craftgen serve

test: install
	$(BIN)/python -m pytest

bench-smoke: install
	$(BIN)/python benchmarks/engine.py --smoke

clean:
	rm -rf $(VENV) build src/*.egg-info
