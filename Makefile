# One entry point for people and CI: `make test` sets up .venv and runs the suite.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: setup test lint typecheck bench docs clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml tools/agentkit-desktop/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# The CPU build of torch first, so that nothing later resolves a CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,transformers,camera,cli,bench]' -e tools/agentkit-desktop
	# xgrammar's wheel asks for triton (GPU kernels); on a CPU machine its grammar engine needs
	# only apache-tvm-ffi, so it is installed without its declared dependencies.
	$(PIP) install -q --no-deps xgrammar==0.2.8 apache-tvm-ffi==0.1.15.post2
	touch $@

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check agentkit tests tools benchmarks examples
	$(VENV)/bin/ruff format --check agentkit tools

typecheck: setup
	$(VENV)/bin/mypy agentkit

bench: setup
	$(PY) benchmarks/run_all.py

docs: setup
	$(PY) scripts/gen_cli_docs.py

clean:
	rm -rf $(VENV) runs .pytest_cache
