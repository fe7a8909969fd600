"""The public register's reads from PostgreSQL streaming replicas.

With ``DATABASE_REPLICA_URLS`` set, the DATABASES setting holds the aliases ``replica1``,
``replica2``... beside ``default``, the primary. Which one a query reads from is decided once a
request, before any view runs, and kept in a context variable that :class:`ReplicaRouter`
reads (Django's ``db_for_read`` sees only the model, not the request):

- a request to the public register (``settings.PUBLIC_PATHS`` and ``PUBLIC_PATH_PREFIXES``,
  less ``PRIMARY_ONLY_PATHS``) reads from a usable replica, taken in turn;
- everything else (the back office, the admin, sign-in, the health check, commands, jobs)
  reads from the primary, and every write goes to the primary, whichever request makes it;
- a read inside a transaction of the primary reads from the primary: what a service reads
  and then writes (a credential signed on the first download of a PDF) is read where it is
  written, and a lock (``select_for_update``) is taken where it holds;
- a browser that wrote (a request other than GET, HEAD or OPTIONS outside the public
  register, answered without error) is given a short-lived signed cookie; while it holds one,
  its public reads also go to the primary, so that it never sees the page as it was before
  its own change.

A replica is usable when it answers and its replay is at most ``REPLICA_MAX_LAG_SECONDS``
behind the primary. Each server process checks each replica at most every
``REPLICA_CHECK_SECONDS`` (one small query) and keeps the answer in between. A replica that
does not answer, or lags further, is skipped (logged once when it goes, once when it comes
back); with none usable, the primary answers: a register that is slower is better than one
that is down. Lag never makes the register state what is not true today: a status that
follows from dates is computed for today on every read, so a lagging replica only shows a
recorded change (a suspension, a new issue) later, within the bound.

The public API's fast path (:mod:`apcert.api.fastpath`) answers outside Django's middleware:
it asks :func:`public_read_alias` itself and runs its query on that alias.
"""

from __future__ import annotations

import contextvars
import itertools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.signals import setting_changed
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connections,
)
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponseBase

logger = logging.getLogger(__name__)

PRIMARY = DEFAULT_DB_ALIAS

#: The alias this request's reads go to (the primary outside a public request).
_reads: contextvars.ContextVar[str] = contextvars.ContextVar("apcert_reads", default=PRIMARY)

#: Methods that read only; any other outside the public register counts as a write.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The salt of the read-your-writes cookie's signature (a value signed for another purpose
#: does not pass for it).
COOKIE_SALT = "apcert.core.db.replicas"

#: How far behind the primary a replica's replay is, in seconds: 0 while it has replayed
#: all it has received from a primary it is streaming from (an idle primary writes nothing
#: to replay, however old the last transaction), else the age of the last transaction it
#: replayed; NULL when that is unknown. On a server that is not in recovery (a primary named
#: as a replica by mistake) 0.
LAG_SQL = """
SELECT CASE
  WHEN NOT pg_is_in_recovery() THEN 0
  WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
       AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0
  ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())
END
"""


@dataclass(frozen=True)
class _Check:
    at: float
    usable: bool


#: The last check of each replica in this process.
_checks: dict[str, _Check] = {}
#: Public requests take the replicas in turn.
_turn = itertools.count()
_aliases: list[str] | None = None


def replica_aliases() -> list[str]:
    """The replicas' aliases in the DATABASES setting (none without DATABASE_REPLICA_URLS)."""
    global _aliases
    if _aliases is None:
        _aliases = [alias for alias in settings.DATABASES if alias.startswith("replica")]
    return _aliases


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    global _aliases
    if setting == "DATABASES":
        _aliases = None
    if setting in {"DATABASES", "REPLICA_MAX_LAG_SECONDS"}:
        _checks.clear()


setting_changed.connect(_settings_changed, dispatch_uid="apcert.core.db.replicas")


# --- the choice for a request --------------------------------------------------------------


def is_public_read(path: str) -> bool:
    """Whether a request to ``path`` is one of the public register's, which may read from a
    replica."""
    if path in settings.PRIMARY_ONLY_PATHS:
        return False
    return path in settings.PUBLIC_PATHS or path.startswith(settings.PUBLIC_PATH_PREFIXES)


def public_read_alias(path: str, cookies: Mapping[str, str]) -> str:
    """The alias a request to ``path`` with these cookies reads from."""
    if not replica_aliases() or not is_public_read(path) or wrote_recently(cookies):
        return PRIMARY
    if connections[PRIMARY].in_atomic_block:
        return PRIMARY  # (only a test runs a request inside a transaction)
    return usable_replica()


def wrote_recently(cookies: Mapping[str, str]) -> bool:
    """Whether the cookies hold a read-your-writes mark still within its time."""
    value = cookies.get(settings.READ_YOUR_WRITES_COOKIE)
    if not value:
        return False
    try:
        signing.TimestampSigner(salt=COOKIE_SALT).unsign(
            value, max_age=settings.READ_YOUR_WRITES_SECONDS
        )
    except signing.BadSignature:  # (an expired mark too)
        return False
    return True


def mark_wrote(response: HttpResponseBase) -> None:
    """Give the browser the read-your-writes mark."""
    response.set_cookie(
        settings.READ_YOUR_WRITES_COOKIE,
        signing.TimestampSigner(salt=COOKIE_SALT).sign("1"),
        max_age=settings.READ_YOUR_WRITES_SECONDS,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def usable_replica() -> str:
    """The next replica in turn that is usable, or the primary when none is."""
    aliases = replica_aliases()
    start = next(_turn) % len(aliases)
    for alias in aliases[start:] + aliases[:start]:
        if replica_usable(alias):
            return alias
    return PRIMARY


def replica_usable(alias: str) -> bool:
    """Whether the replica answers and lags within the bound, as last checked (checked now
    when the last check is older than ``REPLICA_CHECK_SECONDS``)."""
    now = time.monotonic()
    last = _checks.get(alias)
    if last is not None and now - last.at < settings.REPLICA_CHECK_SECONDS:
        return last.usable
    problem = _problem(alias)
    _checks[alias] = _Check(at=now, usable=problem is None)
    was_usable = last is None or last.usable
    if problem is not None and was_usable:
        logger.warning("database %s is not used for reads until it recovers: %s", alias, problem)
    elif problem is None and not was_usable:
        logger.warning("database %s is used for reads again", alias)
    return problem is None


def replica_failed(alias: str) -> None:
    """Count the replica as unusable until its next check: a query on it has just failed."""
    last = _checks.get(alias)
    _checks[alias] = _Check(at=time.monotonic(), usable=False)
    if last is None or last.usable:
        logger.warning("database %s is not used for reads until it recovers: a query failed", alias)


def _problem(alias: str) -> str | None:
    """Why the replica may not serve reads now, or ``None`` when it may."""
    connection = connections[alias]
    try:
        connection.close_if_unusable_or_obsolete()
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            row = cursor.fetchone()
    except DatabaseError as error:
        # Closed, so that the next check connects again rather than reuse a broken link.
        connection.close()
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return f"it does not answer ({type(error).__name__}: {first_line})"
    lag = None if row is None or row[0] is None else float(row[0])
    if lag is None:
        return "how far its replay is behind is unknown"
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        return (
            f"its replay is {lag:.1f} s behind the primary "
            f"(APCERT_REPLICA_MAX_LAG_SECONDS is {settings.REPLICA_MAX_LAG_SECONDS})"
        )
    return None


# --- reads and writes ----------------------------------------------------------------------


def read_alias() -> str:
    """The alias a read made now goes to (see the module docstring)."""
    alias = _reads.get()
    if alias != PRIMARY and connections[PRIMARY].in_atomic_block:
        return PRIMARY
    return alias


def reading_connection() -> BaseDatabaseWrapper:
    """The connection a read in plain SQL made now uses: the one the ORM would read from."""
    return connections[read_alias()]


class reading_from:
    """Within ``with reading_from(alias):`` reads go to ``alias`` (``PRIMARY`` for a read
    that must see the latest committed write, such as one that decides whether to write)."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self._token: contextvars.Token[str] | None = None

    def __enter__(self) -> None:
        self._token = _reads.set(self.alias)

    def __exit__(self, *exc: object) -> None:
        assert self._token is not None
        _reads.reset(self._token)


class ReplicaRouter:
    """DATABASE_ROUTERS: reads where :func:`read_alias` says, writes and migrations on the
    primary. Rows read from a replica may be related to rows of the primary: they are the
    same rows."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        return read_alias()

    def db_for_write(self, model: type, **hints: Any) -> str:
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        # A replica replays the primary's schema; it cannot be migrated itself.
        return db == PRIMARY


@dataclass
class _Attempt:
    """Where a request reads, and whether a query there lost its connection."""

    alias: str
    failed: bool = False


_attempt: contextvars.ContextVar[_Attempt | None] = contextvars.ContextVar(
    "apcert_read_attempt", default=None
)


class ReplicaReadsMiddleware:
    """Decide where the request reads from, before any view, and mark a browser that wrote.

    A replica that fails after its last check (the view's query loses its connection) is
    skipped from then on, and a request that reads only (GET, HEAD) is answered again from
    the primary. A streamed answer (the register's exports) is read while it is sent, after
    this middleware has returned: its reads are made from the same alias as the view's.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not replica_aliases():
            return self.get_response(request)
        attempt = _Attempt(public_read_alias(request.path_info, request.COOKIES))
        token = _attempt.set(attempt)
        try:
            with reading_from(attempt.alias):
                response = self.get_response(request)
            if attempt.failed and request.method in SAFE_METHODS:
                response.close()
                attempt.alias = PRIMARY
                with reading_from(PRIMARY):
                    response = self.get_response(request)
        finally:
            _attempt.reset(token)
        if attempt.alias != PRIMARY and response.streaming:
            response.streaming_content = _read_from(attempt.alias, response.streaming_content)  # type: ignore[attr-defined]
        if (
            request.method not in SAFE_METHODS
            and not is_public_read(request.path_info)
            and response.status_code < 400
        ):
            mark_wrote(response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        attempt = _attempt.get()
        if (
            attempt is not None
            and attempt.alias != PRIMARY
            and not attempt.failed
            and isinstance(exception, OperationalError | InterfaceError)
        ):
            attempt.failed = True
            replica_failed(attempt.alias)


def _read_from(alias: str, chunks: Iterable[Any]) -> Iterator[Any]:
    """``chunks``, each made with reads going to ``alias`` (the server may send each one
    between other work of its thread, so the choice is set around each chunk alone)."""
    iterator = iter(chunks)
    try:
        while True:
            with reading_from(alias):
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
            yield chunk
    finally:
        close = getattr(iterator, "close", None)
        if close is not None:
            close()
