"""PostgreSQL's planner statistics are gathered after bulk writes: the demo data load, a
rebuild of the search index or the visit schedule, and a migrate that applied migrations.
SQLite is left without statistics (its planner's fixed rules are what the queries are
written for)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from apcert.core.db import gather_statistics
from tests.factories import World

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif("connection.vendor != 'postgresql'")


def planner_rows(table: str) -> float | None:
    """What the planner's statistics say of ``table``'s rows (None: nothing gathered)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [table])
        row = cursor.fetchone()
        return float(row[0]) if row and row[0] >= 0 else None


@on_postgresql
def test_statistics_count_the_rows_written(world: World) -> None:
    for _ in range(3):
        world.granted()
    gather_statistics()
    assert planner_rows("certificates_certificate") == 3


@on_postgresql
def test_a_rebuild_of_the_index_and_the_schedule_gathers_statistics(world: World) -> None:
    world.granted()
    world.granted()
    call_command("reindex", "--quiet")
    assert planner_rows("certificates_certificate") == 2
    world.granted()
    call_command("visits-rebuild", "--quiet")
    assert planner_rows("certificates_certificate") == 3


@pytest.mark.skipif("connection.vendor == 'postgresql'")
def test_sqlite_is_left_without_statistics(world: World) -> None:
    world.granted()
    gather_statistics()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert cursor.fetchone()[0] == 0


def pages_all_visible(table: str) -> tuple[int, int]:
    """The table's pages and how many of them the visibility map marks all-visible."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relpages, relallvisible FROM pg_class WHERE relname = %s", [table])
        pages, visible = cursor.fetchone()
        return int(pages), int(visible)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_after_a_bulk_write_the_vacuum_marks_the_pages_visible(live_world: World) -> None:
    # committed rows (a test's transaction would leave the vacuum out)
    for _ in range(3):
        live_world.granted()
    gather_statistics()
    assert pages_all_visible("certificates_certificate")[1] == 0
    gather_statistics(vacuum=True)
    pages, visible = pages_all_visible("certificates_certificate")
    assert pages > 0 and visible == pages
    assert planner_rows("certificates_certificate") == 3


@on_postgresql
def test_inside_a_transaction_the_vacuum_is_left_out(world: World) -> None:
    # VACUUM cannot run in a transaction block: the statistics are gathered alone
    world.granted()
    gather_statistics(vacuum=True)
    assert planner_rows("certificates_certificate") == 1
