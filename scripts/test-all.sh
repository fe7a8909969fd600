#!/bin/sh
# Runs every check: ruff, the import layers, mypy, the suite on SQLite, then on PostgreSQL,
# then that no process a test started is still running.
# The PostgreSQL pass writes var/test-results/postgres.ok when it passed. Without a reachable
# server it says so loudly and, when APCERT_REQUIRE_POSTGRES=1 (as in .ci/run), fails.
set -u
PY="${PYTHON:-.venv/bin/python}"
BIN="$(dirname "$PY")"
RESULTS="var/test-results"
mkdir -p "$RESULTS"
rm -f "$RESULTS/postgres.ok" "$RESULTS/sqlite.ok"

# Keep compiled modules (and pytest's rewritten test modules): with PYTHONDONTWRITEBYTECODE
# set, each pass, and each apcert command a test starts, would compile them all again.
unset PYTHONDONTWRITEBYTECODE

step() { printf '\n==> %s\n' "$*"; }

step "ruff"
"$BIN/ruff" check src tests bench || exit 1
"$BIN/ruff" format --check src tests bench || exit 1

step "import-linter (layers point one way; production code does not import the demo)"
"$BIN/lint-imports" --no-cache || exit 1

step "mypy"
"$BIN/mypy" || exit 1

step "Debian's chromium for the Playwright tests, and zbarimg for the certificate PDF's QR code"
if ! sh scripts/install-browser.sh; then
    echo "!! Chromium or zbarimg is not available: the tests that need them will be skipped"
    if [ "${APCERT_REQUIRE_BROWSER:-0}" = "1" ]; then
        exit 1
    fi
fi

# The two passes run side by side, one a core: each is mostly one process waiting on its
# own database, and together they take the time of the longer one. Each line of output
# names its pass; the exit codes are kept in files, since a pipe would hide them.
sqlite_pass() {
    ( env -u DATABASE_URL APCERT_VAR_DIR="$PWD/var/test-sqlite" "$BIN/pytest" -p no:randomly
      echo $? > "$RESULTS/sqlite.rc" ) 2>&1 | sed -u 's/^/[sqlite] /'
}
postgres_pass() {
    # The tests marked own_sqlite run apcert on a SQLite database of their own whatever
    # the pass's, and the browser tests read the pages the other tests check on both
    # databases: the SQLite pass runs them, once.
    ( DATABASE_URL="$APCERT_TEST_DATABASE_URL" APCERT_VAR_DIR="$PWD/var/test-postgres" \
          "$BIN/pytest" -p no:randomly -m "not own_sqlite and not browser"
      echo $? > "$RESULTS/postgres.rc" ) 2>&1 | sed -u 's/^/[postgres] /'
}
rm -f "$RESULTS/sqlite.rc" "$RESULTS/postgres.rc"

# Every process a test starts inherits this variable, and keeps it when it detaches or is
# orphaned: once both passes are over, a process that still carries it was left behind.
APCERT_TEST_RUN="$(date +%s)-$$"
export APCERT_TEST_RUN

if "$PY" -m apcert.testing.pgcheck "$APCERT_TEST_DATABASE_URL"; then
    step "pytest on SQLite and on PostgreSQL ($APCERT_TEST_DATABASE_URL), side by side"
    sqlite_pass &
    postgres_pass &
    wait
    postgres_ran=1
else
    step "pytest on SQLite"
    sqlite_pass
    postgres_ran=0
fi

failed=0
step "no process of the tests is left running"
"$PY" -m apcert.testing.leftovers "APCERT_TEST_RUN=$APCERT_TEST_RUN" || failed=1
if [ "$(cat "$RESULTS/sqlite.rc" 2>/dev/null)" = "0" ]; then
    touch "$RESULTS/sqlite.ok"
    echo "SQLite pass: passed"
else
    echo "!! SQLite pass: FAILED (see the [sqlite] lines above)"
    failed=1
fi
if [ "$postgres_ran" = "1" ]; then
    if [ "$(cat "$RESULTS/postgres.rc" 2>/dev/null)" = "0" ]; then
        touch "$RESULTS/postgres.ok"
        echo "PostgreSQL pass: passed"
    else
        echo "!! PostgreSQL pass: FAILED (see the [postgres] lines above)"
        failed=1
    fi
fi
[ "$failed" = "0" ] || exit 1

if [ "$postgres_ran" = "0" ]; then
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
