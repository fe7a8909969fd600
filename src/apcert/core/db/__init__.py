"""Database helpers shared by the apps: fast bulk inserts, indexes set aside during them,
and the planner's statistics after bulk writes."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections


def gather_statistics(using: str = DEFAULT_DB_ALIAS, *, vacuum: bool = False) -> None:
    """Refresh what PostgreSQL's planner knows of the tables' sizes and the values in them,
    after a bulk load or a migration that filled tables: until then it plans a large table
    as the small one it was, until autovacuum gets to it (the register's search at 100,000
    certificates took 50 ms instead of 7).

    SQLite is left without statistics, on purpose: its planner then follows fixed rules that
    the register's queries and indexes are written for. Measured on the 100,000-certificate
    demo data, statistics from ``ANALYZE`` sped some back-office pages up threefold and
    slowed others twofold, so they wait until each page's plan is pinned by a test.

    ``vacuum`` (after a bulk write, outside any transaction) vacuums as well: PostgreSQL then
    marks the written pages as visible to every transaction, so that a read that an index
    alone can answer (the register's counts, the search's candidates) no longer visits the
    table for each row to check it, as it does until autovacuum has passed."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            if vacuum and not connection.in_atomic_block:
                cursor.execute("VACUUM (ANALYZE)")
            else:
                cursor.execute("ANALYZE")


#: Bound parameters per statement where the SQLite library does not say (its old default).
SQLITE_MAX_PARAMS = 999


def _sqlite_max_params() -> int:
    raw = connection.connection
    try:
        return int(raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))  # Python 3.11+
    except AttributeError:  # pragma: no cover - older Python
        return SQLITE_MAX_PARAMS


def insert_rows(table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows on this process's connection, inside the caller's transaction, the
    fastest way each database offers: PostgreSQL's ``COPY ... FROM STDIN`` (psycopg 3), and
    on SQLite a few hundred rows per ``INSERT`` statement, so that the per-statement work
    (CHECK lists, AUTOINCREMENT bookkeeping) is done once per few hundred rows instead of
    once per row (on apcert's tables about 130k to 180k rows/s, against about 37k for
    ``bulk_create``). The values must be what the database driver takes as they are."""
    if not rows:
        return
    qn = connection.ops.quote_name
    cols = ", ".join(qn(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            raw = cursor.cursor  # the psycopg 3 cursor under Django's wrapper
            with raw.copy(f"COPY {qn(table)} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        per = max(1, min(500, _sqlite_max_params() // len(columns)))
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"
        insert = f"INSERT INTO {qn(table)} ({cols}) VALUES "
        full = len(rows) - len(rows) % per
        if full:
            groups = [
                tuple(itertools.chain.from_iterable(rows[i : i + per])) for i in range(0, full, per)
            ]
            cursor.executemany(insert + ", ".join([one] * per), groups)
        if full < len(rows):
            rest = rows[full:]
            cursor.execute(
                insert + ", ".join([one] * len(rest)), tuple(itertools.chain.from_iterable(rest))
            )


def drop_indexes(tables: Iterable[str]) -> list[str]:
    """Drop the indexes of these tables that no constraint needs (unique ones stay, checking
    every row as it comes), and return the statements that make them again
    (:func:`create_indexes`). A bulk write then appends rows to the tables alone, and each
    index is built at the end in one sorted pass, instead of being updated row by row at
    random places in a tree that outgrows the cache (at a million certificates, loading
    with the indexes in place took the longer by about a third)."""
    names = list(tables)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i"
                " WHERE i.schemaname = current_schema() AND i.tablename = ANY(%s)"
                " AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
                " WHERE c.conindid = (quote_ident(i.schemaname) || '.'"
                " || quote_ident(i.indexname))::regclass)"
                " AND i.indexdef NOT LIKE 'CREATE UNIQUE %%' ORDER BY i.tablename, i.indexname",
                [names],
            )
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                " AND sql NOT LIKE 'CREATE UNIQUE %%'"
                f" AND tbl_name IN ({', '.join(['%s'] * len(names))}) ORDER BY tbl_name, name",
                names,
            )
        found = cursor.fetchall()
        for name, _ in found:
            cursor.execute(f"DROP INDEX {connection.ops.quote_name(name)}")
    return [sql for _, sql in found]


def create_indexes(statements: Iterable[str]) -> None:
    """Make again the indexes :func:`drop_indexes` dropped. Inside a transaction that wrote
    rows, PostgreSQL first checks its deferred foreign keys: it makes no index over a table
    with checks pending."""
    statements = list(statements)
    if not statements:
        return
    with connection.cursor() as cursor:
        deferred = connection.vendor == "postgresql" and connection.in_atomic_block
        if deferred:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        for sql in statements:
            cursor.execute(sql)
        if deferred:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
