# apcert: the two commands a newcomer needs are `make demo` and `make test`.
# Only Python 3.11+ and make are required; everything else is installed into .venv.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check
HOST   ?= 127.0.0.1
PORT   ?= 8000
# The address the demo names in its links, QR codes, DIDs and signed credentials: where it
# is served, unless set (e.g. APCERT_SITE_URL=https://demo.example behind a proxy). An IPv6
# address goes in brackets, in the URL as in the allowed hosts.
URL_HOST := $(if $(findstring :,$(HOST)),[$(HOST)],$(HOST))
APCERT_SITE_URL ?= http://$(URL_HOST):$(PORT)
ALLOWED_HOSTS ?= 127.0.0.1,localhost,[::1],$(URL_HOST)
# Every demo command sees the same address, so that keys and credentials name it.
DEMO = APCERT_SITE_URL="$(APCERT_SITE_URL)" ALLOWED_HOSTS="$(ALLOWED_HOSTS)" $(BIN)/apcert
DEMO_CERTIFICATES ?= 300
DEMO_SEED ?= 1
APCERT_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo test lint typecheck pytest-sqlite pytest-postgres venv clean help

help:
	@echo "make demo   set up, load reference and demo data into SQLite, serve on $(APCERT_SITE_URL) with the worker"
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

# The data is made up to today (kept if already there, unless its keys name another
# address); the sweep brings a kept data set's statuses up to today before anything is
# served; the worker then sweeps each new day beside the server, and stops with it. The
# last line execs, so that make's SIGTERM reaches the serve command itself, not a shell that
# would end and leave the server and the worker running.
demo: $(VENV)/.runtime
	$(DEMO) migrate --noinput
	$(DEMO) load-reference
	$(DEMO) demo-data --certificates $(DEMO_CERTIFICATES) --seed $(DEMO_SEED) --if-empty
	$(DEMO) keys-generate --missing
	$(DEMO) sweep
	$(DEMO) collectstatic --noinput --verbosity 0
	$(DEMO) demo-accounts --base-url $(APCERT_SITE_URL)/
	exec env $(DEMO) serve --host $(HOST) --port $(PORT) --with-worker --worker-log "$${APCERT_VAR_DIR:-var}/worker.log"

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
