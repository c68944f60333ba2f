# The two commands a new machine needs: `make serve` and `make test`; `make lint` runs the checkers.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The machine keeps a local CPU build of this torch; install it first so nothing pulls a CUDA build.
TORCH_VERSION := 2.13.0

.PHONY: install serve test lint bench-smoke clean

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

# Every checker runs even when an earlier one fails, so one run lists everything; the target fails if any did.
lint: install
	status=0; \
	$(BIN)/ruff check src tests benchmarks || status=1; \
	$(BIN)/mypy src benchmarks || status=1; \
	$(BIN)/lint-imports || status=1; \
	exit $$status

bench-smoke: install
	$(BIN)/python benchmarks/engine.py --smoke

clean:
	rm -rf $(VENV) build src/*.egg-info
