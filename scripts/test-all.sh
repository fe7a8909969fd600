#!/bin/sh
# Runs every check: ruff, mypy, the suite on SQLite, then the suite on PostgreSQL.
# The PostgreSQL pass writes var/test-results/postgres.ok when it passed. Without a reachable
# server it says so loudly and, when APCERT_REQUIRE_POSTGRES=1 (as in .ci/run), fails.
set -u
PY="${PYTHON:-.venv/bin/python}"
BIN="$(dirname "$PY")"
RESULTS="var/test-results"
mkdir -p "$RESULTS"
rm -f "$RESULTS/postgres.ok" "$RESULTS/sqlite.ok"

step() { printf '\n==> %s\n' "$*"; }

step "ruff"
"$BIN/ruff" check src tests bench || exit 1
"$BIN/ruff" format --check src tests bench || exit 1

step "mypy"
"$BIN/mypy" || exit 1

step "browser for the Playwright tests (Debian's chromium)"
if ! sh scripts/install-browser.sh; then
    echo "!! Chromium is not available: the browser tests will be skipped"
    if [ "${APCERT_REQUIRE_BROWSER:-0}" = "1" ]; then
        exit 1
    fi
fi

step "pytest on SQLite"
env -u DATABASE_URL APCERT_VAR_DIR="$PWD/var/test-sqlite" "$BIN/pytest" -p no:randomly || exit 1
touch "$RESULTS/sqlite.ok"

step "pytest on PostgreSQL ($APCERT_TEST_DATABASE_URL)"
if "$PY" -m apcert.testing.pgcheck "$APCERT_TEST_DATABASE_URL"; then
    DATABASE_URL="$APCERT_TEST_DATABASE_URL" APCERT_VAR_DIR="$PWD/var/test-postgres" \
        "$BIN/pytest" -p no:randomly || exit 1
    touch "$RESULTS/postgres.ok"
else
    echo
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    echo "!!  PostgreSQL is NOT reachable at $APCERT_TEST_DATABASE_URL"
    echo "!!  The PostgreSQL pass did NOT run. Set APCERT_TEST_DATABASE_URL to a server."
    echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
    if [ "${APCERT_REQUIRE_POSTGRES:-0}" = "1" ]; then
        exit 3
    fi
fi
step "all checks passed"
