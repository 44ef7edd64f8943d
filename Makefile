# invspark: `make demo` and `make test` are the whole quickstart.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export PYSPARK_PYTHON := $(abspath $(BIN)/python)
export PYSPARK_DRIVER_PYTHON := $(abspath $(BIN)/python)

.PHONY: demo test test-fast cluster-test wheel java clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "invspark needs Python 3.11; set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

java:
	@bash scripts/ensure_java.sh

demo: $(BIN)/.installed java
	$(BIN)/invspark demo --series 3000 --data ./demo_data --warehouse ./warehouse

test: $(BIN)/.installed java
	$(BIN)/lint-imports
	$(BIN)/pytest -m "not cluster"

# A standalone master and two workers on this machine, with a worker and a driver killed
# mid-run (about 15 minutes on 2 cores; see docs/deploy.md).
cluster-test: $(BIN)/.installed java
	$(BIN)/python scripts/cluster_test.py

test-fast: $(BIN)/.installed java
	$(BIN)/pytest -m "not slow"

wheel: $(BIN)/.installed
	rm -rf dist && $(BIN)/pip wheel -q --no-deps -w dist .

clean:
	rm -rf $(VENV) dist build warehouse demo_data *.egg-info
