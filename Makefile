# Dockyard developer entry points.
#
#   make serve   run the registry on http://127.0.0.1:5000, data in ./dockyard-data
#   make check   the gates: ruff, mypy (strict), the architecture contract (lint-imports)
#   make test    run the whole test suite (CI adds --durations to show the slowest tests)
#   make test-fast   only the unit and integration tests (no real server or client): a minute or two
#
# Both create or update .venv first; that step is skipped while .venv is newer than
# requirements.lock and pyproject.toml. Override the defaults on the command line or in
# the environment, e.g. `make serve DOCKYARD_PORT=5001` or `make test PYTEST_ARGS="tests/e2e -x"`.

PYTHON ?= python3
VENV := .venv
INSTALLED := $(VENV)/.installed

DOCKYARD_HOST ?= 127.0.0.1
DOCKYARD_PORT ?= 5000
DOCKYARD_DATA_DIR ?= ./dockyard-data
PYTEST_ARGS ?= tests/
# Four test processes (pytest-xdist) on two cores, a test file each at a time: most real-client
# tests wait on docker, git, chromium or a starting server, and the other processes use the cores
# meanwhile (two processes left a third of the CPU idle). Files go out slowest first, by the
# record in tests/durations.json (tests/schedule.py), not xdist's default (most tests first).
TEST_PROCESSES ?= 4

.PHONY: serve check test test-fast venv

serve: $(INSTALLED)
	$(VENV)/bin/dockyard serve --host $(DOCKYARD_HOST) --port $(DOCKYARD_PORT) --data-dir $(DOCKYARD_DATA_DIR)

check: $(INSTALLED)
	$(VENV)/bin/ruff check src tests
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache --no-logo

test: $(INSTALLED)
	$(VENV)/bin/pytest -q -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

# The markers are given per directory in tests/conftest.py (unit, integration, e2e).
test-fast: $(INSTALLED)
	$(VENV)/bin/pytest -q -m "unit or integration" $(PYTEST_ARGS)

venv: $(INSTALLED)

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/bin/uv: | $(VENV)/bin/python
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv

# The lock already pins the dev extras (pytest, httpx, ruff, mypy); the project itself goes in
# editable and without dependencies, so the lock alone decides every version.
# Bytecode is compiled here, once: uv does not by default, and where PYTHONDONTWRITEBYTECODE is set
# (this machine, CI) every process would otherwise compile each module it imports from source,
# ~1.3 s of CPU per `dockyard serve` and ~0.5 s per CLI command. A .pyc of src/ that an edit made
# stale is ignored, so developers lose nothing.
$(INSTALLED): requirements.lock pyproject.toml | $(VENV)/bin/uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(VENV)/bin/python -r requirements.lock
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(VENV)/bin/python --no-deps -e .
	$(VENV)/bin/python -m compileall -q -j 0 $(VENV)/lib src
	touch $@
