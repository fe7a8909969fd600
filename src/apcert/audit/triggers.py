"""Database triggers that make a table append-only, on SQLite and on PostgreSQL.

The audit trail (``audit.0002``), certificate issues (``certificates.0002``) and the signed
credential of each issue (``credentials.0003``) are protected this way: the database itself
refuses UPDATE and DELETE, whoever connects. The only other caller is the test suite, which
must empty these tables between transactional tests (see ``tests/conftest.py``).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

APPEND_ONLY_TABLES = {
    "audit_auditevent": "audit events",
    "certificates_certificateissue": "certificate issues",
    "credentials_issuecredential": "signed credentials",
}


def _message(table: str) -> str:
    return f"{APPEND_ONLY_TABLES[table]} are append-only: UPDATE and DELETE are refused"


def _sqlite_install(table: str) -> list[str]:
    msg = _message(table)
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{msg}'); END",
        f"CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{msg}'); END",
    ]


def _sqlite_remove(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_update",
        f"DROP TRIGGER IF EXISTS {table}_no_delete",
    ]


def _pg_install(table: str) -> list[str]:
    msg = _message(table)
    return [
        f"""CREATE OR REPLACE FUNCTION {table}_refuse_change() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{msg}' USING ERRCODE = 'insufficient_privilege';
            END; $$ LANGUAGE plpgsql""",
        # TRUNCATE of an empty table changes nothing; of a filled one it would erase history.
        f"""CREATE OR REPLACE FUNCTION {table}_refuse_truncate() RETURNS trigger AS $$
            BEGIN
                IF EXISTS (SELECT 1 FROM {table}) THEN
                    RAISE EXCEPTION '{msg}' USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN NULL;
            END; $$ LANGUAGE plpgsql""",
        f"""CREATE OR REPLACE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {table}_refuse_change()""",
        f"""CREATE OR REPLACE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION {table}_refuse_truncate()""",
    ]


def _pg_remove(table: str) -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_change ON {table}",
        f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
    ]


def _statements(vendor: str, table: str, install: bool) -> list[str]:
    if table not in APPEND_ONLY_TABLES:
        raise ValueError(f"{table} is not an append-only table")
    if vendor == "sqlite":
        return _sqlite_install(table) if install else _sqlite_remove(table)
    if vendor == "postgresql":
        return _pg_install(table) if install else _pg_remove(table)
    raise NotImplementedError(f"no append-only triggers for the {vendor} backend")


def install(connection: BaseDatabaseWrapper, table: str) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, table, True):
            cursor.execute(sql)


def remove(connection: BaseDatabaseWrapper, table: str) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, table, False):
            cursor.execute(sql)
