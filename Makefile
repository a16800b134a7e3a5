# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   ?= var/demo

.PHONY: install demo test test-fast bench-ingest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --progress-bar off -e '.[test]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the service with its test tools

demo: install  ## migrate the SQLite default, generate the demo scenario, ingest sales and signals, print a summary
	$(BIN)/demand db upgrade
	$(BIN)/demand demo generate --out $(DEMO)
	$(BIN)/demand ingest regions $(DEMO)/regions.csv
	$(BIN)/demand ingest skus $(DEMO)/skus.csv
	$(BIN)/demand ingest sales $(DEMO)/sales.csv.gz
	$(BIN)/demand signals pull --config $(DEMO)/signals.toml
	$(BIN)/demand summary

test: install  ## the whole test suite (PostgreSQL tests skip locally when no server answers; never in CI)
	$(BIN)/python -m pytest

bench-ingest: install  ## 1,000,000 rows into SQLite and PostgreSQL; writes benchmarks/results/ingest.json
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis
