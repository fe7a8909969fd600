"""Shared fixtures. Reference data is loaded from the shipped files once per database."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from hypothesis import settings as hypothesis_settings

from apcert.audit import triggers
from apcert.notifications.models import NotificationsStart
from apcert.schemes.models import Scheme
from apcert.schemes.services import reference_load
from tests.credentials_support import key_dir
from tests.factories import World
from tests.flows_support import issues_not_saying_what_changed

__all__ = ["key_dir"]  # signing keys in a temporary directory, for any test that asks

# In CI the property tests replay the same examples every run, so that a red run points to
# a change of ours, not to a new draw; locally every run explores new examples.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


# Tests send webhooks to receivers of their own on 127.0.0.1, in this process (whatever the
# scope of the fixture that subscribes them) and in the apcert processes they start; the
# refusal of such addresses has tests of its own, which set it back for themselves.
os.environ["APCERT_WEBHOOK_PRIVATE_ADDRESSES"] = "true"
django_settings.WEBHOOK_PRIVATE_ADDRESSES = True


#: The fixtures through which a test reaches the database (those that build on them, such
#: as ``world``, bring them along).
DATABASE_FIXTURES = frozenset({"db", "transactional_db", "live_server"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On PostgreSQL, only the tests that reach the database: the others run the very same
    code on either pass, and the SQLite pass runs them. (A test cannot reach the database
    without one of these fixtures or the ``django_db`` mark: pytest-django refuses it.)"""
    from django.conf import settings

    if "postgresql" not in str(settings.DATABASES["default"]["ENGINE"]):
        return
    kept, dropped = [], []
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & DATABASE_FIXTURES or item.get_closest_marker("django_db") is not None:
            kept.append(item)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


#: Tests between two VACUUMs of the PostgreSQL test database (see below).
VACUUM_EVERY = 150
_tests_since_vacuum = 0


@pytest.fixture(autouse=True)
def _vacuum_now_and_then(django_db_setup: None, django_db_blocker: Any) -> None:
    """Every test's rolled-back writes leave dead rows behind on PostgreSQL, and the GIN
    indexes a pending list; where the server runs without autovacuum (as a test server may)
    they pile up, and every query of the run gets slower than the one before. The test
    database is vacuumed and analysed every ``VACUUM_EVERY`` tests, between two tests."""
    global _tests_since_vacuum
    _tests_since_vacuum += 1
    if _tests_since_vacuum < VACUUM_EVERY or connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock():
        if connection.in_atomic_block:
            return
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    _tests_since_vacuum = 0


@pytest.fixture(autouse=True)
def _fresh_page_limits() -> None:
    # The limits per client on the costly public pages count in the process's memory, and
    # every test's client is 127.0.0.1: each test starts with full buckets.
    from apcert.register import limits

    limits.reset()


@pytest.fixture(autouse=True)
def _exports_read_in_the_request(settings) -> None:  # type: ignore[no-untyped-def]
    # A kept export is built by a process of its own, which sees neither a test's open
    # transaction nor its moved clock: tests read each export in its request (as
    # APCERT_KEPT_EXPORTS=0 does), but those of the kept exports, which turn them on.
    settings.KEPT_EXPORTS_DIR = None


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    # Test users are made by the dozen; Argon2 at its production cost would dominate the
    # run. Tests of password hashing itself set their own hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _ensure_reference() -> None:
    if not Scheme.objects.filter(code="AP").exists():
        reference_load(actor=None, system=True)
    # Notifications started before any test world's history: the worlds take their steps
    # on the days they are dated, with the clock moved back there, and what they record is
    # news. The tests of the first run set their own start.
    NotificationsStart.objects.update_or_create(
        id=1,
        defaults={
            "started_at": dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
            "started_on": dt.date(2000, 1, 1),
            "finding_floor": 0,
        },
    )


@pytest.fixture
def reference(db: None) -> None:
    _ensure_reference()


@pytest.fixture
def world(reference: None) -> World:
    """A CB accepted for AP with its staff, an organization with two sites, a secretariat."""
    return World.build()


@pytest.fixture(autouse=True)
def _flow_issues_say_what_changed(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each flow test, every issue it made says what changed from the one before,
    read from the two snapshots: a re-issue announces only what it changed."""
    if not request.module.__name__.startswith("tests.test_flows_"):
        yield
        return
    request.getfixturevalue("db")  # set up first, so torn down after the check
    yield
    assert issues_not_saying_what_changed() == []


ISSUE_CREDENTIALS = "credentials_issuecredential"


def _tables_pointing_at_append_only_tables() -> list[str]:
    # Rows elsewhere that point at an append-only row (a kept certificate PDF at its issue)
    # must go before the rows they point at.
    from django.apps import apps

    pointing = set()
    for model in apps.get_models():
        table = model._meta.db_table
        if table in triggers.APPEND_ONLY_TABLES:
            continue
        for field in model._meta.concrete_fields:
            target = field.related_model
            if target is not None and target._meta.db_table in triggers.APPEND_ONLY_TABLES:
                pointing.add(table)
    return sorted(pointing)


def _empty_append_only_tables() -> None:
    # Transactional tests end with a flush that the append-only triggers would refuse:
    # lift them, empty the tables, put them back. Only tests do this.
    for table in triggers.APPEND_ONLY_TABLES:
        triggers.remove(connection, table)
    with connection.cursor() as cursor:
        for table in _tables_pointing_at_append_only_tables():
            cursor.execute(f"DELETE FROM {table}")
        # The signed credentials point at the issues: they go first.
        for table in sorted(triggers.APPEND_ONLY_TABLES, key=lambda t: t != ISSUE_CREDENTIALS):
            cursor.execute(f"DELETE FROM {table}")
    for table in triggers.APPEND_ONLY_TABLES:
        triggers.install(connection, table)


@pytest.fixture
def live_db(transactional_db: None) -> Iterator[None]:
    """Real commits (for threads and concurrent connections); tables emptied afterwards."""
    _ensure_reference()
    yield
    connection.close_if_unusable_or_obsolete()
    _empty_append_only_tables()
    _empty_word_index()


def _empty_word_index() -> None:
    # The flush after a transactional test empties the tables Django knows; the search's
    # word index (FTS5 tables, or the tsvector table) is the database's own.
    tables = (
        ["register_search_doc"]
        if connection.vendor == "postgresql"
        else ["register_search_fts", "register_search_words"]
    )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table}")


@pytest.fixture
def live_world(live_db: None) -> World:
    return World.build()
