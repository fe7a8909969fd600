# apcert: the two commands a newcomer needs are `make demo` and `make test`.
# Only Python 3.11+ and make are required; everything else is installed into .venv.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
HOST   ?= 127.0.0.1
PORT   ?= 8000
DEMO_CERTIFICATES ?= 300
DEMO_SEED ?= 1
APCERT_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo test lint typecheck pytest-sqlite pytest-postgres venv clean help

help:
	@echo "make demo   set up, load reference and demo data into SQLite, serve on http://$(HOST):$(PORT)"
	@echo "make test   set up, then ruff, mypy and the test suite on SQLite and on PostgreSQL"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "apcert needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24"

# The runtime install, pinned by constraints.txt (regenerate it with `make constraints`).
$(VENV)/.runtime: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(PIP) install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

venv: $(VENV)/.dev

demo: $(VENV)/.runtime
	$(BIN)/apcert migrate --noinput
	$(BIN)/apcert load-reference
	$(BIN)/apcert demo-data --certificates $(DEMO_CERTIFICATES) --seed $(DEMO_SEED) --if-empty
	$(BIN)/apcert keys-generate --missing
	$(BIN)/apcert collectstatic --noinput --verbosity 0
	$(BIN)/apcert demo-accounts --base-url http://$(HOST):$(PORT)/
	$(BIN)/apcert serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports --no-cache

typecheck: $(VENV)/.dev
	$(BIN)/mypy

test: $(VENV)/.dev
	APCERT_TEST_DATABASE_URL="$(APCERT_TEST_DATABASE_URL)" PYTHON="$(BIN)/python" sh scripts/test-all.sh

constraints: $(VENV)/.dev
	$(PIP) freeze --exclude-editable | grep -v '^apcert' > constraints.txt

clean:
	rm -rf $(VENV) var/test-*
