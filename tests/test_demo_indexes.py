"""A large demo load drops the indexes no constraint needs and makes them again after its
rows: what it makes again is exactly what the migrations made, on both databases."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from apcert.core.db import create_indexes, drop_indexes
from apcert.demo.tables import Tables

pytestmark = pytest.mark.django_db


def _indexes(tables: list[str]) -> dict[tuple[str, str], Any]:
    """Every index and constraint of ``tables``, as the database describes them."""
    found = {}
    with connection.cursor() as cursor:
        for table in tables:
            for name, info in connection.introspection.get_constraints(cursor, table).items():
                found[(table, name)] = info
    return found


def test_dropped_indexes_are_made_again_as_they_were(reference: None) -> None:
    tables = Tables().all
    names = [t.name for t in tables]
    before = _indexes(names)

    statements = drop_indexes(names)
    during = _indexes(names)
    # the plain indexes are gone; the keys and unique constraints stay, checking every row
    assert statements
    gone = set(before) - set(during)
    assert gone and not any(before[key]["unique"] for key in gone)
    assert {key for key, info in before.items() if info["unique"]} <= set(during)

    create_indexes(statements)
    assert _indexes(names) == before
