"""The PostgreSQL backend checks a kept connection at most every few seconds, not before
every request; a connection that had an error, or that the server spoke to while it was
idle (as a server does when it ends a connection), is still checked before its next use."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import Client

from apcert.core.db.postgresql import base


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class Connection:
    """A connection as the check sees it: a socket, here one end of a pair whose other end
    plays the server."""

    def __init__(self, end: socket.socket) -> None:
        self.end = end

    def fileno(self) -> int:
        return self.end.fileno()


@pytest.fixture
def server_end() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.fixture
def wrapper(
    monkeypatch: pytest.MonkeyPatch, server_end: tuple[socket.socket, socket.socket]
) -> tuple[Any, Clock, list[str]]:
    clock = Clock()
    monkeypatch.setattr(base, "time", clock)
    db = base.DatabaseWrapper(
        {
            "NAME": "x",
            "CONN_HEALTH_CHECKS": True,
            "CONN_MAX_AGE": None,
            "AUTOCOMMIT": True,
            "OPTIONS": {},
            "TIME_ZONE": None,
        },
        alias="health-check-test",
    )
    calls: list[str] = []
    # A connection made now (as ``connect`` leaves it), without a server.
    db.connection = Connection(server_end[0])
    db.health_check_enabled = True
    db.health_check_done = True
    db._vouched_at = clock.now
    monkeypatch.setattr(db, "is_usable", lambda: calls.append("check") or True)
    monkeypatch.setattr(db, "close", lambda: calls.append("close"))
    monkeypatch.setattr(db, "get_autocommit", lambda: True)
    return db, clock, calls


def next_request(db: Any) -> None:
    """What Django does between requests, then before the request's first query."""
    db.close_if_unusable_or_obsolete()
    db.close_if_health_check_failed()


def test_requests_within_a_few_seconds_are_not_checked_again(
    wrapper: tuple[Any, Clock, list[str]],
) -> None:
    db, clock, calls = wrapper
    for _ in range(50):
        clock.now += 0.05
        next_request(db)
    assert calls == []
    # Once the last check is older than the interval, the next request checks, once
    clock.now += base.HEALTH_CHECK_EVERY
    next_request(db)
    next_request(db)
    assert calls == ["check"]


def test_a_connection_that_had_an_error_is_checked_before_its_next_request(
    wrapper: tuple[Any, Clock, list[str]],
) -> None:
    db, clock, calls = wrapper
    clock.now += 0.1
    db.errors_occurred = True
    next_request(db)
    assert calls == ["check"]


def test_a_connection_that_fails_its_check_is_closed(
    wrapper: tuple[Any, Clock, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, clock, calls = wrapper
    monkeypatch.setattr(db, "is_usable", lambda: calls.append("check") and False)
    clock.now += base.HEALTH_CHECK_EVERY + 1
    next_request(db)
    assert calls == ["check", "close"]


def test_a_connection_the_server_spoke_to_while_idle_is_checked_at_once(
    wrapper: tuple[Any, Clock, list[str]], server_end: tuple[socket.socket, socket.socket]
) -> None:
    db, clock, calls = wrapper
    clock.now += 0.1
    next_request(db)
    assert calls == []
    # The server says it ends the connection, and closes it: checked before the next query
    server_end[1].sendall(b"E terminating connection due to administrator command")
    server_end[1].close()
    clock.now += 0.1
    next_request(db)
    assert calls == ["check"]


def _backend_gone(pid: int) -> bool:
    settings = connections[DEFAULT_DB_ALIAS].settings_dict
    with psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
        deadline = time.monotonic() + 10
        while other.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
    return True


@pytest.mark.postgres_only
def test_a_request_after_the_server_ended_the_connection_is_answered(
    transactional_db: None,
) -> None:
    # What a restart or a fail-over of the database does to every kept connection: the
    # next request of each would fail on its first query unless the ended connection is
    # noticed and replaced first.
    connection = connections[DEFAULT_DB_ALIAS]
    if not isinstance(connection, base.DatabaseWrapper):
        pytest.skip("needs apcert's PostgreSQL backend (the tests run on another database)")
    client = Client()
    assert client.get("/bodies/").status_code == 200
    pid = connection.connection.info.backend_pid
    assert _backend_gone(pid)
    time.sleep(0.2)  # the farewell and the close reach this end
    # What a server does between requests (the test client leaves it out): a connection kept
    # from an earlier request is due for its check before the next request's first query.
    connection.close_if_unusable_or_obsolete()
    # and one vouched for a moment ago, so that the periodic check is not what finds it
    connection._vouched_at = time.monotonic()
    assert client.get("/bodies/").status_code == 200
    assert connection.connection.info.backend_pid != pid
