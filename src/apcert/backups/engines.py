"""Copying the database out and back in, for each kind of database apcert runs on.

SQLite: the online backup API copies the pages while the app keeps writing, all of them from
the one snapshot that a read transaction held through the copy pins (the write-ahead log
keeps what the app writes meanwhile apart), so the copy is one consistent moment. The chain
head is then read from the copy itself.

PostgreSQL: ``pg_dump`` in its custom format, run on a snapshot exported by a repeatable-read
transaction that has read the chain head first: the head and the dump are the same moment.
``pg_restore`` loads a dump in one transaction: it is restored whole or not at all.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Protocol

from django.db import connection

from apcert.audit.chain import GENESIS_HASH
from apcert.audit.models import AuditChainHead, AuditEvent
from apcert.backups.errors import BackupRefused

#: ``progress(done, total)``: how far a copy has gone, in the copy's own units.
Progress = Callable[[int, int], None]

EVENT_TABLE = AuditEvent._meta.db_table
HEAD_TABLE = AuditChainHead._meta.db_table
SQLITE_PAGES_A_STEP = 4096


@dataclasses.dataclass(frozen=True)
class ChainFacts:
    """What a copy of the database holds of the audit chain: its head, and the hash of the
    event at each place asked about (absent when the chain does not reach it)."""

    end_seq: int
    end_hash: str
    hashes: dict[int, str]


def _no_progress(done: int, total: int) -> None:
    return None


def database_kind() -> str:
    return "postgresql" if connection.vendor == "postgresql" else "sqlite"


def database_is_empty() -> bool:
    """Whether the database holds nothing to lose: no tables, or apcert's tables with no
    audit event (every regulated change writes one, so no event means no record)."""
    tables = connection.introspection.table_names()
    if EVENT_TABLE not in tables:
        return not tables
    return not AuditEvent.objects.exists()


def database_chain_facts(wanted: Iterable[int]) -> ChainFacts | None:
    """The chain facts of the database apcert is connected to (None if it has no chain)."""
    if EVENT_TABLE not in connection.introspection.table_names():
        return None
    head = AuditChainHead.objects.filter(id=1).values_list("last_seq", "last_hash").first()
    end_seq, end_hash = head if head is not None else (0, GENESIS_HASH)
    seqs = set(wanted)
    found = dict(AuditEvent.objects.filter(seq__in=seqs).values_list("seq", "hash"))
    if 0 in seqs:
        found[0] = GENESIS_HASH
    return ChainFacts(end_seq=int(end_seq), end_hash=str(end_hash), hashes=found)


class Engine(Protocol):
    kind: str
    member_name: str

    def dump(self, target: Path, progress: Progress) -> tuple[int, str]: ...

    def chain_facts(self, dump: Path, wanted: Iterable[int]) -> ChainFacts: ...

    def load(self, dump: Path, progress: Progress) -> None: ...


# --- SQLite --------------------------------------------------------------------------------------


class SqliteEngine:
    kind = "sqlite"
    member_name = "database.sqlite3"

    def __init__(self) -> None:
        self.path = Path(str(connection.settings_dict["NAME"]))

    def dump(self, target: Path, progress: Progress) -> tuple[int, str]:
        if not self.path.is_file():
            raise BackupRefused(f"there is no database at {self.path} to back up")
        source = sqlite3.connect(
            f"{self.path.as_uri()}?mode=ro", uri=True, timeout=20, isolation_level=None
        )
        copy = sqlite3.connect(target)
        try:
            # The read transaction pins one snapshot of the write-ahead log for the whole
            # copy; without it each write by the app would start the copy again, and a busy
            # app could keep a large backup from ever ending.
            source.execute("BEGIN")
            source.execute("SELECT count(*) FROM sqlite_master").fetchone()
            source.backup(
                copy,
                pages=SQLITE_PAGES_A_STEP,
                progress=lambda _status, remaining, total: progress(total - remaining, total),
            )
            source.execute("COMMIT")
            # The copy is one file on its own: no write-ahead log beside it.
            copy.execute("PRAGMA journal_mode=DELETE")
            row = _sqlite_head(copy)
        finally:
            copy.close()
            source.close()
        if row is None:
            raise BackupRefused(
                "the database has no audit chain: is it migrated? Run `apcert migrate` first."
            )
        return row

    def chain_facts(self, dump: Path, wanted: Iterable[int]) -> ChainFacts:
        copy = sqlite3.connect(f"{dump.as_uri()}?mode=ro", uri=True)
        try:
            head = _sqlite_head(copy)
            if head is None:
                raise BackupRefused("the database in the backup has no audit chain")
            seqs = sorted(set(wanted))
            found: dict[int, str] = {0: GENESIS_HASH} if 0 in seqs else {}
            for seq in seqs:
                row = copy.execute(
                    f"SELECT hash FROM {EVENT_TABLE} WHERE seq = ?", (seq,)
                ).fetchone()
                if row is not None:
                    found[seq] = row[0]
        except sqlite3.DatabaseError as error:
            raise BackupRefused(f"the database in the backup cannot be read ({error})") from None
        finally:
            copy.close()
        return ChainFacts(end_seq=head[0], end_hash=head[1], hashes=found)

    def load(self, dump: Path, progress: Progress) -> None:
        # Copied page by page into the live file through SQLite itself, so that the
        # write-ahead log and any other connection see one change, not a file swapped
        # under them.
        connection.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        source = sqlite3.connect(f"{dump.as_uri()}?mode=ro", uri=True)
        target = sqlite3.connect(self.path, timeout=20)
        try:
            source.backup(
                target,
                pages=SQLITE_PAGES_A_STEP,
                progress=lambda _status, remaining, total: progress(total - remaining, total),
            )
        except sqlite3.DatabaseError as error:
            raise BackupRefused(f"the database could not be restored ({error})") from None
        finally:
            target.close()
            source.close()


def _sqlite_head(db: sqlite3.Connection) -> tuple[int, str] | None:
    try:
        row = db.execute(f"SELECT last_seq, last_hash FROM {HEAD_TABLE} WHERE id = 1").fetchone()
    except sqlite3.OperationalError:
        return None
    return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)


# --- PostgreSQL ----------------------------------------------------------------------------------

PG_SEARCH = "/usr/lib/postgresql/*/bin"


def pg_binary(name: str) -> str:
    """The path of a PostgreSQL client program: on PATH, else the newest under PG_SEARCH."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> int:
        match = re.search(r"/postgresql/(\d+)/", path)
        return int(match.group(1)) if match else 0

    candidates = sorted(glob.glob(f"{PG_SEARCH}/{name}"), key=version, reverse=True)
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    raise BackupRefused(
        f"{name} was not found on PATH nor under {PG_SEARCH}: install the PostgreSQL client "
        "programs of the server's major version or newer (Debian: postgresql-client)"
    )


def _pg_environment() -> tuple[list[str], dict[str, str]]:
    """The connection arguments and environment for pg_dump and pg_restore (the password
    travels in the environment, never on the command line)."""
    config = connection.settings_dict
    env = dict(os.environ)
    args = ["--dbname", str(config["NAME"])]
    if config.get("HOST"):
        args += ["--host", str(config["HOST"])]
    if config.get("PORT"):
        args += ["--port", str(config["PORT"])]
    if config.get("USER"):
        args += ["--username", str(config["USER"])]
    if config.get("PASSWORD"):
        env["PGPASSWORD"] = str(config["PASSWORD"])
    sslmode = (config.get("OPTIONS") or {}).get("sslmode")
    if sslmode:
        env["PGSSLMODE"] = str(sslmode)
    return args, env


def _run_counting(
    command: list[str], env: dict[str, str], *, marker: str, total: int, progress: Progress
) -> None:
    """Run a pg_ program in verbose mode, counting the stderr lines that hold ``marker``
    as progress; any failure is a BackupRefused quoting what the program said."""
    said: list[str] = []
    done = 0
    with subprocess.Popen(  # noqa: S603 - a PostgreSQL program found by pg_binary
        command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    ) as process:  # fmt: skip
        assert process.stderr is not None
        try:
            for line in process.stderr:
                if marker in line:
                    done += 1
                    progress(min(done, total), total)
                elif "error" in line.lower() or "fatal" in line.lower():
                    said.append(line.strip())
        except BaseException:
            process.kill()  # stopped (Ctrl-C, SIGTERM): the program stops with us
            raise
        code = process.wait()
    if code != 0:
        name = Path(command[0]).name
        detail = "; ".join(said[-5:]) or f"exit code {code}"
        raise BackupRefused(f"{name} failed: {detail}")


class PostgresEngine:
    kind = "postgresql"
    member_name = "database.pgdump"

    def dump(self, target: Path, progress: Progress) -> tuple[int, str]:
        pg_dump = pg_binary("pg_dump")
        args, env = _pg_environment()
        snapshot_holder = connection.copy()
        try:
            with snapshot_holder.cursor() as cursor:
                cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cursor.execute("SELECT pg_export_snapshot()")
                snapshot = cursor.fetchone()[0]
                cursor.execute(f"SELECT last_seq, last_hash FROM {HEAD_TABLE} WHERE id = 1")
                row = cursor.fetchone()
                cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()")
                tables = int(cursor.fetchone()[0])
                _run_counting(
                    [pg_dump, *args, "--format=custom", "--verbose", f"--snapshot={snapshot}",
                     "--file", str(target)],
                    env, marker="dumping contents of table", total=tables, progress=progress,
                )  # fmt: skip
                cursor.execute("COMMIT")
        except BackupRefused:
            raise
        except Exception as error:
            raise BackupRefused(
                f"the database could not be read for a backup ({error}); is it migrated?"
            ) from None
        finally:
            snapshot_holder.close()
        return (int(row[0]), str(row[1])) if row is not None else (0, GENESIS_HASH)

    def chain_facts(self, dump: Path, wanted: Iterable[int]) -> ChainFacts:
        """Read from the dump itself, before anything is restored: pg_restore writes the two
        audit tables' rows as COPY text, which is read a line at a time."""
        pg_restore = pg_binary("pg_restore")
        seqs = set(wanted)
        found: dict[int, str] = {0: GENESIS_HASH} if 0 in seqs else {}
        head: tuple[int, str] | None = None
        command = [pg_restore, "--data-only", "--table", EVENT_TABLE, "--table", HEAD_TABLE,
                   "--file", "-", str(dump)]  # fmt: skip
        columns: list[str] | None = None
        table = ""
        with subprocess.Popen(  # noqa: S603 - a PostgreSQL program found by pg_binary
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        ) as process:  # fmt: skip
            assert process.stdout is not None and process.stderr is not None
            for line in process.stdout:
                if columns is None:
                    match = re.match(r"COPY (?:\S+\.)?(\w+) \(([^)]*)\) FROM stdin;", line)
                    if match:
                        table = match.group(1)
                        columns = [c.strip().strip('"') for c in match.group(2).split(",")]
                    continue
                if line.startswith("\\."):
                    columns = None
                    continue
                values = dict(zip(columns, line.rstrip("\n").split("\t"), strict=False))
                if table == EVENT_TABLE and int(values["seq"]) in seqs:
                    found[int(values["seq"])] = values["hash"]
                elif table == HEAD_TABLE:
                    head = (int(values["last_seq"]), values["last_hash"])
            errors = process.stderr.read()
            code = process.wait()
        if code != 0:
            raise BackupRefused(f"pg_restore could not read the dump: {errors.strip()}")
        end = head if head is not None else (0, GENESIS_HASH)
        return ChainFacts(end_seq=end[0], end_hash=end[1], hashes=found)

    def load(self, dump: Path, progress: Progress) -> None:
        pg_restore = pg_binary("pg_restore")
        args, env = _pg_environment()
        listing = subprocess.run(  # noqa: S603 - a PostgreSQL program found by pg_binary
            [pg_restore, "--list", str(dump)], capture_output=True, text=True, check=False
        )
        total = sum(" TABLE DATA " in line for line in listing.stdout.splitlines())
        connection.close()
        _run_counting(
            [pg_restore, *args, "--clean", "--if-exists", "--single-transaction",
             "--exit-on-error", "--no-owner", "--no-privileges", "--verbose", str(dump)],
            env, marker="processing data for table", total=total, progress=progress,
        )  # fmt: skip


def engine_for(kind: str | None = None) -> Engine:
    kind = kind or database_kind()
    return PostgresEngine() if kind == "postgresql" else SqliteEngine()
