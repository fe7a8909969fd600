"""The PostgreSQL backend checks a kept connection at most every few seconds, not before
every request; a connection that had an error is still checked before its next use."""

from __future__ import annotations

from typing import Any

import pytest

from apcert.core.db.postgresql import base


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def wrapper(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Clock, list[str]]:
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
    db.connection = object()
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
