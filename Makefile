# prunebook: every target works on a fresh machine with nothing but Python 3 installed.
#   make test            set up .venv, check notebooks and modules are in sync, run the test suite
#   make book [FULL=1]   execute every chapter in a fresh kernel and write HTML to _book/ (offline: MathJax copied in)
#   make book EXECUTE=0  render the committed outputs to _book/ without running anything (seconds)
#   make lab             open JupyterLab on nbs/
#   make test-e2e        run every chapter in a real JupyterLab in headless Chromium
#   make test-portable   run the chapters as on another CPU (ATEN_CPU_CAPABILITY=default; CAPABILITY=avx2 for another)
#   make test-parity     the Paoding `reference` profile side by side with the authors' toolkit (own venv, TensorFlow)
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
	$(BIN)/python -m pytest tests --ignore=tests/e2e --ignore=tests/parity --durations=12

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
	$(BIN)/python -m pytest tests --ignore=tests/test_notebooks.py --ignore=tests/e2e --ignore=tests/parity

book: setup
	$(BIN)/python tools/build_book.py $(if $(filter 0,$(EXECUTE)),--no-execute,$(if $(FULL),--full))

lab: setup
	$(BIN)/jupyter lab nbs

outputs: setup
	$(BIN)/python tools/build_book.py --inplace $(if $(FULL),--full) $(NB)
	$(BIN)/nbdev_clean

clean:
	rm -rf _book _docs _e2e .pytest_cache

# make test-parity: prunebook's Paoding `reference` profile side by side with the authors' released toolkit
# paoding-dl 1.0.0.post3 on real TensorFlow (tests/parity, tools/parity); summary in build/parity/report.md.
# The toolkit gets its own environment. Its wheel metadata is malformed (`opencv-python (>=4.5numpy)`), which a
# current pip refuses: pip 24.0 installs it with --no-deps, and its dependencies are listed here. Only what the Dense
# pruning path imports: TensorFlow 2.15 (Keras 2), numpy < 2, pandas, and importlib_metadata (undeclared by the
# toolkit); its opencv, scikit-learn, tabulate and pydot serve training, conv surgery and plots, never imported here.
PARITY_VENV ?= .venv-parity
PARITY_STAMP := $(PARITY_VENV)/.paoding-installed
PARITY_DEPS ?= tensorflow-cpu==2.15.1 "numpy<2" pandas==2.2.3 importlib_metadata

$(PARITY_STAMP):
	test -x $(PARITY_VENV)/bin/python || $(PYTHON) -m venv $(PARITY_VENV)
	$(PARITY_VENV)/bin/python -m pip install -q pip==24.0
	$(PARITY_VENV)/bin/python -m pip install -q $(PARITY_DEPS)
	$(PARITY_VENV)/bin/python -m pip install -q --no-deps paoding-dl==1.0.0.post3
	cd /tmp && TF_CPP_MIN_LOG_LEVEL=3 $(abspath $(PARITY_VENV))/bin/python -c "import paoding, paoding.pruner, tensorflow as tf, keras, numpy, pandas; \
	  print('paoding-dl', paoding.__version__, '| tensorflow', tf.__version__, '| keras', keras.__version__, '| numpy', numpy.__version__, '| pandas', pandas.__version__)"
	@touch $@

.PHONY: test-parity
test-parity: setup $(PARITY_STAMP)
	PARITY_PYTHON=$(abspath $(PARITY_VENV))/bin/python $(BIN)/python -m pytest tests/parity -v --durations=5
