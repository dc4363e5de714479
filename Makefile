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

.PHONY: install engines run test test-all bench docs
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
