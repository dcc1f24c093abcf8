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
	$(PIP) install -q -e '.[dev,transformers,camera,cli]' -e tools/agentkit-desktop
	touch $@

test: setup
	$(PY) -m pytest -q -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check agentkit tests tools benchmarks examples
	$(VENV)/bin/ruff format --check agentkit

typecheck: setup
	$(VENV)/bin/mypy agentkit

bench: setup
	$(PY) benchmarks/run_all.py

docs: setup
	$(PY) scripts/gen_cli_docs.py

clean:
	rm -rf $(VENV) runs .pytest_cache
