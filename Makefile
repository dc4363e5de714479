# The two commands of the README: `make run` (the tutorial pipeline on the local stack) and `make test`.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
PIPELINE ?= examples/tutorial.yml
PYTEST_ARGS ?=

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

.PHONY: install run test test-all bench docs
install: $(VENV)/.installed

run: $(VENV)/.installed
	$(VENV)/bin/streamstash run --config $(PIPELINE)

test: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS)

# Also the tests marked `slow` (soak-style), which `make test` leaves out.
test-all: $(VENV)/.installed
	$(PY) -m pytest -m '' $(PYTEST_ARGS)

docs: $(VENV)/.installed
	$(VENV)/bin/streamstash config-docs --update README.md
