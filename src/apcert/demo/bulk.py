"""Fast inserts for the demo data: rows as tuples, written in chunks, one transaction each,
by :func:`apcert.core.db.insert_rows` (a few hundred rows per INSERT statement on SQLite,
``COPY`` on PostgreSQL). Table and column names come from each model's ``_meta``, and a
table refuses to be set up unless it is told every column of its model, so a field added
later cannot be left out silently.

These rows, statuses included, bypass the transition services (the one road every status
change takes in production) for speed: the demo loader plans each certificate's history
with the lifecycle tables (:mod:`apcert.demo.timeline`), writes the statuses and history
rows directly, and rebuilds the derived data (search index, visit schedule) once at the end.
Nothing outside ``apcert.demo`` may write a status this way.
"""

from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import queue
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import orjson
from django.core.exceptions import ImproperlyConfigured
from django.core.management.color import no_style
from django.db import connection, connections, models
from django.db.models import Max


class Table:
    """Rows waiting to be written to one model's table, in the order of ``fields``."""

    def __init__(self, model: type[models.Model], fields: Sequence[str]) -> None:
        opts = model._meta
        known = {f.name for f in opts.concrete_fields}
        pk = opts.pk.name if opts.pk is not None else ""
        missing = sorted(known - set(fields) - {pk})
        unknown = sorted(set(fields) - known)
        if missing or unknown:
            raise ImproperlyConfigured(
                f"demo data for {opts.label}: columns missing {missing}, unknown {unknown}; "
                "update apcert.demo.generate for the model's current fields"
            )
        self.model = model
        self.name = opts.db_table
        self.columns = [opts.get_field(f).column for f in fields]  # type: ignore[union-attr]
        self.explicit_pk = pk in fields
        self.rows: list[tuple[Any, ...]] = []
        self.written = 0  # rows handed over to be written

    def take(self) -> list[tuple[Any, ...]]:
        """The waiting rows, handed over for writing."""
        rows, self.rows = self.rows, []
        self.written += len(rows)
        return rows


class WriterFailed(RuntimeError):
    """A write job failed in the writer process; its message says how."""


#: Seconds the writer waits for a job before it checks that the loading process is alive.
PARENT_CHECK_SECONDS = 1.0


def _writer_main(jobs: Any, errors: Any, parent: int) -> None:  # pragma: no cover - the child
    """The writer process: run each job in turn; after a failure, report it and only drain.
    It ends with the process that started it: when no job comes and that process is gone
    (killed, say), nothing will send the rest, and the writer stops rather than wait for
    ever holding its connection."""
    failed = False
    try:
        while True:
            try:
                job = jobs.get(timeout=PARENT_CHECK_SECONDS)
            except queue.Empty:
                if os.getppid() != parent:
                    return
                continue
            if job is None:
                break
            if failed:
                continue  # keep taking jobs, so that the main process never blocks
            function, args = job
            try:
                function(*args)
            except BaseException as exc:
                failed = True
                errors.put(f"{type(exc).__name__}: {exc}")
    finally:
        connections.close_all()


class Writer:
    """Runs write jobs in order: in a writer process when ``parallel``, else at once.

    Generating rows is Python work and writing them is mostly the database's: a writer
    process does the second on the other core while this one goes on with the first, and
    keeps one connection (and its page cache) for the whole load. A thread would not help,
    as SQLite takes Python's GIL back after every statement. The process is forked, so
    it starts with everything this one has loaded; it opens its own connection, and is
    only used outside a transaction, since another connection could not see a
    transaction's rows. A job is a module-level function and arguments that pickle.
    """

    def __init__(self, *, parallel: bool) -> None:
        self.process: Any = None
        if parallel and "fork" in multiprocessing.get_all_start_methods():
            context = multiprocessing.get_context("fork")
            self.jobs = context.Queue(maxsize=2)
            self.errors = context.Queue()
            connections.close_all()  # the child must not share this process's connections
            self.process = context.Process(
                target=_writer_main, args=(self.jobs, self.errors, os.getpid()), daemon=True
            )
            self.process.start()

    def _check(self) -> None:
        try:
            message = self.errors.get_nowait()
        except queue.Empty:
            if self.process.is_alive():
                return
            message = f"the writer process ended (exit code {self.process.exitcode})"
        self.close(raise_errors=False)
        raise WriterFailed(message)

    def submit(self, function: Callable[..., Any], *args: Any) -> None:
        if self.process is None:
            function(*args)
            return
        while True:
            self._check()
            try:
                self.jobs.put((function, args), timeout=1)
                return
            except queue.Full:
                continue

    def close(self, *, raise_errors: bool = True) -> None:
        """Wait for every job; raise WriterFailed if one failed."""
        if self.process is None:
            return
        process, self.process = self.process, None
        if process.is_alive():
            self.jobs.put(None)
            process.join()
        if not raise_errors:
            return
        try:
            message = self.errors.get(timeout=0.1)
        except queue.Empty:
            message = "" if process.exitcode == 0 else f"exit code {process.exitcode}"
        if message:
            raise WriterFailed(message)


def next_id(model: type[models.Model]) -> int:
    """The first free primary key: explicit ids link the rows before they are written."""
    top = model._default_manager.aggregate(top=Max("pk"))["top"]
    return int(top or 0) + 1


def reset_sequences(tables: Iterable[Table]) -> None:
    """After explicit ids, point PostgreSQL's sequences past them (SQLite needs nothing)."""
    models_ = [t.model for t in tables if t.explicit_pk]
    statements = connection.ops.sequence_reset_sql(no_style(), models_)
    if statements:
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)


class Clock:
    """Dates and moments as the database wants them in raw SQL.

    A moment is a date (as an ordinal) and seconds after midnight, in UTC. SQLite keeps
    Django datetimes as naive UTC text; PostgreSQL reads the same text with an offset.
    """

    def __init__(self) -> None:
        self.suffix = "+00:00" if connection.vendor == "postgresql" else ""
        self._dates: dict[int, str] = {}

    def day(self, ordinal: int) -> str:
        text = self._dates.get(ordinal)
        if text is None:
            text = self._dates[ordinal] = dt.date.fromordinal(ordinal).isoformat()
        return text

    def moment(self, ordinal: int, seconds: int) -> str:
        day = self._dates.get(ordinal) or self.day(ordinal)
        return (
            f"{day} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}{self.suffix}"
        )

    @staticmethod
    def aware(ordinal: int, seconds: int) -> dt.datetime:
        day = dt.date.fromordinal(ordinal)
        h, rest = divmod(seconds, 3600)
        return dt.datetime(day.year, day.month, day.day, h, rest // 60, rest % 60, tzinfo=dt.UTC)


def json_text(value: Any) -> str:
    """Compact JSON text of plain values, by orjson: several times faster than the standard
    library, and smaller stored (no spaces after separators); by the standard library the
    same text of what orjson refuses (a key that is a subclass of str, say)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
