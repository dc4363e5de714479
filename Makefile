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

.PHONY: install engines run test test-all bench docs lint
install: $(VENV)/.installed

# Apache Kafka's and OpenSearch's jars from Maven Central, once, into ~/.cache/streamstash (STREAMSTASH_ENGINES_DIR);
# where Java or Maven is missing it says so and the local stack runs the noida-db stand-in instead.
engines: $(VENV)/.installed
	$(VENV)/bin/streamstash stack fetch --if-possible

run: $(VENV)/.installed engines
	$(VENV)/bin/streamstash run --config $(PIPELINE)

test: $(VENV)/.installed engines
	$(PY) -m pytest $(PYTEST_ARGS)

# Also the tests marked `slow` (soak-style), which `make test` leaves out.
test-all: $(VENV)/.installed engines
	$(PY) -m pytest -m '' $(PYTEST_ARGS)

docs: $(VENV)/.installed
	$(VENV)/bin/streamstash config-docs --update README.md

# ruff (lint and format check) and mypy on the library and the services, as configured in pyproject.toml.
# mypy checks the package as it is installed (shared/ is `streamstash`, services/ is `streamstash.services`);
# the editable install maps those with an import hook mypy cannot follow, so the package root is rebuilt
# here from symlinks in build/typecheck (mypy_path), and errors name files as `streamstash/<...>`, i.e.
# shared/<...>, and `streamstash/services/<...>`, i.e. services/<...>.
TYPECHECK := build/typecheck/streamstash
$(VENV)/.lint-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[test,lint]'
	touch $@

lint: $(VENV)/.lint-installed
	$(VENV)/bin/ruff check shared services tests bench
	$(VENV)/bin/ruff format --check shared services tests bench
	rm -rf $(TYPECHECK) && mkdir -p $(TYPECHECK)
	for entry in shared/*; do ln -s ../../../$$entry $(TYPECHECK)/$$(basename $$entry); done
	ln -s ../../../services $(TYPECHECK)/services
	cd build/typecheck && ../../$(VENV)/bin/mypy --config-file ../../pyproject.toml --python-executable ../../$(PY)

