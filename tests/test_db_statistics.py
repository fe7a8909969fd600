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
