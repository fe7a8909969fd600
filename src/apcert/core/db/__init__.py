"""Database helpers shared by the apps: the planner's statistics after bulk writes."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS, connections


def gather_statistics(using: str = DEFAULT_DB_ALIAS) -> None:
    """Refresh what PostgreSQL's planner knows of the tables' sizes and the values in them,
    after a bulk load or a migration that filled tables: until then it plans a large table
    as the small one it was, until autovacuum gets to it (the register's search at 100,000
    certificates took 50 ms instead of 7).

    SQLite is left without statistics, on purpose: its planner then follows fixed rules that
    the register's queries and indexes are written for. Measured on the 100,000-certificate
    demo data, statistics from ``ANALYZE`` sped some back-office pages up threefold and
    slowed others twofold, so they wait until each page's plan is pinned by a test."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
