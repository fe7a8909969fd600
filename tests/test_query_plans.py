"""Each back-office list reads its page along an index in the list's order: no sort of
every row the user may see to show the first 25 (a CB's whole history, or the register).

The page's query is found among those the list runs (``LIMIT 26``: a page and one more) and
asked for its plan. SQLite, which has no statistics here as in production, must not sort it
in a temporary B-tree; PostgreSQL, told to avoid sequential scans and sorts wherever it has a
choice (its tables here are too small for its own choice to say anything), must not need a
Sort node. A list whose order needs a join (sorting by a holder's name) is not among them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apcert.accounts.models import User
from apcert.web.lists import PER_PAGE
from tests.factories import World

pytestmark = pytest.mark.django_db

#: A page's query reads a page and one more row: ``LIMIT 26`` (or 51 for a list of 50).
PAGE_QUERY = re.compile(rf"ORDER BY .* LIMIT ({PER_PAGE + 1}|\d{{2,3}})$")

#: (list, who reads it, its address).
LISTS: list[tuple[str, Callable[[World], User], Callable[[World], str]]] = [
    ("CB applications", lambda w: w.team.manager, lambda w: "/office/cb/applications/"),
    ("CB assessments", lambda w: w.team.manager, lambda w: "/office/cb/assessments/"),
    (
        "CB assessments on my team",
        lambda w: w.team.lead,
        lambda w: "/office/cb/assessments/?tab=mine",
    ),
    (
        "CB assessments awaiting my decision",
        lambda w: w.team.decision_maker,
        lambda w: "/office/cb/assessments/?tab=decide",
    ),
    ("CB certificates", lambda w: w.team.manager, lambda w: "/office/cb/certificates/"),
    (
        "Secretariat certificates",
        lambda w: w.secretariat,
        lambda w: "/office/secretariat/certificates/",
    ),
    ("Secretariat organizations", lambda w: w.secretariat, lambda w: "/office/org/"),
]


def page_query(client: Client, address: str) -> tuple[str, tuple[Any, ...]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(address)
    assert response.status_code == 200, response.status_code
    found = [q["sql"] for q in queries.captured_queries if PAGE_QUERY.search(q["sql"])]
    assert len(found) == 1, [q["sql"][-120:] for q in queries.captured_queries]
    return found[0], ()


def sorts_every_row(sql: str, params: tuple[Any, ...] = ()) -> list[str]:
    """The plan's steps that sort the page's rows (empty: read in order along an index)."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return [row[3] for row in cursor.fetchall() if "TEMP B-TREE FOR ORDER BY" in row[3]]
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        if node["Node Type"] == "Sort":
            found.append(f"Sort on {node.get('Sort Key')}")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan[0]["Plan"])
    return found


@pytest.mark.parametrize("name,who,address", LISTS, ids=[name for name, *_ in LISTS])
def test_a_list_reads_its_page_in_order_along_an_index(
    client: Client, world: World, name: str, who: Callable[[World], User], address: Any
) -> None:
    world.granted()
    world.accepted_application()
    client.force_login(who(world))
    sql, _ = page_query(client, address(world))
    assert sorts_every_row(sql) == [], sql


@pytest.mark.parametrize("everything", [True, False], ids=["Secretariat", "one CB"])
def test_the_dashboard_reads_what_the_sweep_has_not_recorded_along_its_index(
    world: World, everything: bool
) -> None:
    import datetime as dt

    from apcert.cycle.dashboard import DashboardScope, stale_candidates

    # The dashboard's read of the certificates the calendar has changed (as many as the
    # sweep is behind) goes straight to them, in order: not through every live certificate
    world.granted()
    scope = (
        DashboardScope(everything=True)
        if everything
        else DashboardScope(cb_ids=(world.team.cb.pk,))
    )
    sql, params = stale_candidates(scope, dt.date(2026, 12, 6)).query.sql_with_params()
    assert sorts_every_row(sql, tuple(params)) == [], sql
