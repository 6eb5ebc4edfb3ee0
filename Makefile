# Waybill: `make demo` sets everything up and runs the main job; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install demo test dev bench bench-cdc bench-nightly stop clean help

help:
	@echo "make demo   - create .venv, start embedded PostgreSQL, build the sandbox, run the master-data sync"
	@echo "make test   - the whole test suite (real PostgreSQL, real Dagster, real GX)"
	@echo "make dev    - the Dagster UI on http://127.0.0.1:3000"
	@echo "make bench  - benchmarks/batch_load.py (prints figures; see DESIGN baselines)"
	@echo "make bench-cdc, make bench-nightly - change capture; the nightly at 10k/100k/1M orders vs reladiff"
	@echo "make stop   - stop the embedded PostgreSQL"
	@echo "make clean  - stop it and delete .waybill/ (all local data)"

$(BIN)/waybill: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Waybill needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/waybill

demo: install
	$(BIN)/waybill demo

test: install
	$(BIN)/pytest -n auto --maxprocesses 4

dev: install
	$(BIN)/waybill dev

bench: install
	$(BIN)/python benchmarks/batch_load.py

bench-cdc: install
	$(BIN)/python benchmarks/cdc.py

bench-nightly: install
	$(BIN)/python benchmarks/nightly.py

stop:
	@if [ -x $(BIN)/waybill ]; then $(BIN)/waybill db stop; fi

clean: stop
	rm -rf .waybill
