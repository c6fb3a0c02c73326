# prunebook: every target works on a fresh machine with nothing but Python 3 installed.
#   make test            set up .venv, check notebooks and modules are in sync, run the test suite
#   make book [FULL=1]   execute every chapter in a fresh kernel and write HTML to _book/
#   make lab             open JupyterLab on nbs/
#   make test-e2e        run every chapter in a real JupyterLab in headless Chromium
#   make test-portable   run the chapters as on another CPU (ATEN_CPU_CAPABILITY=default; CAPABILITY=avx2 for another)
#   make outputs         re-execute the chapters in place (commit their outputs), then nbdev_clean
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.prunebook-installed
NB ?= nbs/[!_]*.ipynb
export OMP_NUM_THREADS ?= 1

.PHONY: setup test test-e2e test-portable unit sync book lab outputs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first: a bare `torch` requirement with no torch installed would pull a multi-GB CUDA build.
$(STAMP): $(BIN)/python settings.ini setup.py
	@$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -e ".[dev]"
	@touch $@

setup: $(STAMP)

sync: setup
	$(BIN)/python tools/check_sync.py

test: sync
	$(BIN)/python -m pytest tests --ignore=tests/e2e --durations=12

# PyTorch picks its CPU kernels by instruction set, and other kernels round differently: run every chapter with
# another set (default: plain C++ kernels) to check that the book's claims hold on any machine, not just this one
CAPABILITY ?= default
test-portable: setup
	ATEN_CPU_CAPABILITY=$(CAPABILITY) $(BIN)/python -c "import torch; print('chapters on CPU kernels:', torch.backends.cpu.get_cpu_capability())"
	ATEN_CPU_CAPABILITY=$(CAPABILITY) $(BIN)/python -m pytest tests/test_notebooks.py --durations=12

# needs Debian's chromium at /usr/bin/chromium (.ci/run installs it); Playwright never downloads a browser here
test-e2e: setup
	$(BIN)/python -m pytest tests/e2e -v -s

unit: setup
	$(BIN)/python -m pytest tests --ignore=tests/test_notebooks.py --ignore=tests/e2e

book: setup
	$(BIN)/python tools/build_book.py $(if $(FULL),--full)

lab: setup
	$(BIN)/jupyter lab nbs

outputs: setup
	$(BIN)/python tools/build_book.py --inplace $(if $(FULL),--full) $(NB)
	$(BIN)/nbdev_clean

clean:
	rm -rf _book _docs _e2e .pytest_cache
