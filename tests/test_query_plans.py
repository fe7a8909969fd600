"""Each back-office list reads its page along an index in the list's order: no sort of
every row the user may see to show the first 25 (a CB's whole history, or the register).

The page's query is found among those the list runs (``LIMIT 26``: a page and one more) and
asked for its plan. SQLite, which has no statistics here as in production, must not sort it
in a temporary B-tree; PostgreSQL, told to avoid sequential scans and sorts wherever it has a
choice (its tables here are too small for its own choice to say anything), must not need a
Sort node. A list whose order needs a join (sorting by a holder's name) is not among them."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection, transaction
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
        lambda w: "/office/cb/assessments/?show=mine",
    ),
    (
        "CB assessments awaiting my decision",
        lambda w: w.team.decision_maker,
        lambda w: "/office/cb/assessments/?show=decide",
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


def plan_of(sql: str, params: tuple[Any, ...] = (), *, off: tuple[str, ...] = ()) -> Any:
    """SQLite: the steps of ``EXPLAIN QUERY PLAN`` (their text). PostgreSQL: the top node of
    ``EXPLAIN (FORMAT JSON)``, planned with the ``enable_*`` settings named in ``off`` turned
    off (the test tables are tiny: a sequential scan or a sort would win on them)."""
    # In a transaction of its own (nested in the test's, if any): SET LOCAL holds till its end.
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            return [row[3] for row in cursor.fetchall()]
        for setting in off:
            cursor.execute(f"SET LOCAL enable_{setting} = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]


def nodes(node: dict[str, Any], in_subplan: bool = False) -> Iterator[tuple[dict[str, Any], bool]]:
    """Every node of a PostgreSQL plan, and whether it runs inside a subplan."""
    inner = in_subplan or node.get("Parent Relationship") == "SubPlan"
    yield node, inner
    for child in node.get("Plans", []):
        yield from nodes(child, inner)


def sorts_every_row(sql: str, params: tuple[Any, ...] = ()) -> list[str]:
    """The plan's steps that sort the page's rows (empty: read in order along an index)."""
    plan = plan_of(sql, params, off=("seqscan", "sort"))
    if connection.vendor == "sqlite":
        return [step for step in plan if "TEMP B-TREE FOR ORDER BY" in step]
    return [f"Sort on {n.get('Sort Key')}" for n, _ in nodes(plan) if n["Node Type"] == "Sort"]


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


def reads_table_rows(sql: str, params: tuple[Any, ...], table: str) -> list[str]:
    """The plan's steps that read rows of ``table`` itself, not an index alone (empty: every
    column the query needs is in the index it reads)."""
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # Whether PostgreSQL reads an index alone depends on how much of the table it takes
        # to be visible to all: vacuumed, as the bulk loads leave a register, all of it.
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")
    plan = plan_of(sql, params, off=("seqscan", "bitmapscan"))
    if connection.vendor == "sqlite":
        return [
            step
            for step in plan
            if re.match(rf"(SEARCH|SCAN) {table}\b", step) and "COVERING INDEX" not in step
        ]
    return [
        f"{n['Node Type']} on {table}"
        for n, _ in nodes(plan)
        if n.get("Relation Name") == table and n["Node Type"] != "Index Only Scan"
    ]


VISITS = "cycle_scheduledvisit"


def tables_read(sql: str, params: tuple[Any, ...] = ()) -> set[str]:
    """The tables (not their indexes) that the plan reads, by name."""
    plan = plan_of(sql, params, off=("seqscan",))
    if connection.vendor == "sqlite":
        return {m.group(1) for step in plan if (m := re.match(r"(?:SEARCH|SCAN) (\w+)", step))}
    return {n["Relation Name"] for n, _ in nodes(plan) if "Relation Name" in n}


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("everything", [True, False], ids=["Secretariat", "one CB"])
def test_the_calendar_reads_each_day_s_first_visits_in_order_and_counts_from_the_index(
    client: Client, live_world: World, everything: bool
) -> None:
    world = live_world
    # Given visits due on two days of a month
    first = world.granted()
    world.granted(decided_on=first.initial_decision_on + dt.timedelta(days=1))
    due = first.scheduled_visits.order_by("due_date").first()
    assert due is not None
    client.force_login(world.secretariat if everything else world.team.manager)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/office/cb/calendar/", {"month": due.due_date.strftime("%Y-%m")})
    assert response.status_code == 200
    of_visits = [q["sql"] for q in queries.captured_queries if f'FROM "{VISITS}"' in q["sql"]]
    [per_day] = [sql for sql in of_visits if "UNION ALL" in sql]
    [counts] = [sql for sql in of_visits if "GROUP BY" in sql]
    # Then each day's first few are read along an index in their order: no sort of a day's
    # visits, nor of the month's
    assert sorts_every_row(per_day) == [], per_day
    # from the schedule's own index: not through the certificates (their numbers)
    assert tables_read(per_day) <= {VISITS, "day_0", "day_1"}, per_day
    # And the count of each day is read from the index alone
    assert reads_table_rows(counts, (), VISITS) == [], counts


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("everything", [True, False], ids=["Secretariat", "one CB"])
def test_the_dashboard_counts_visits_from_an_index_and_reads_the_first_in_order(
    live_world: World, everything: bool
) -> None:
    world = live_world
    from apcert.cycle.dashboard import DashboardScope, dashboard_visits

    # Given a visit overdue (its window closed), and one due within the month
    late = world.granted()
    world.granted(decided_on=late.initial_decision_on + dt.timedelta(days=80))
    overdue = late.scheduled_visits.order_by("due_date").first()
    assert overdue is not None
    as_of = overdue.window_end + dt.timedelta(days=1)
    scope = (
        DashboardScope(everything=True)
        if everything
        else DashboardScope(cb_ids=(world.team.cb.pk,))
    )
    with CaptureQueriesContext(connection) as queries:
        visits = dashboard_visits(scope=scope, as_of=as_of, limit=10)
    assert (visits.month, visits.overdue) == (1, 1)
    [counts] = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    rows = [q["sql"] for q in queries.captured_queries if q["sql"].endswith("LIMIT 10")]
    # Then the counts are read from an index alone, and each list's first rows in order
    assert reads_table_rows(counts, (), VISITS) == [], counts
    assert len(rows) == 2
    for sql in rows:
        assert sorts_every_row(sql) == [], sql


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("everything", [True, False], ids=["Secretariat", "one CB"])
def test_the_dashboard_reads_the_first_expiries_in_order_and_counts_from_an_index(
    live_world: World, everything: bool
) -> None:
    world = live_world
    from apcert.cycle.dashboard import DashboardScope, certificates_expiring, expiries_counts

    cert = world.granted()
    scope = (
        DashboardScope(everything=True)
        if everything
        else DashboardScope(cb_ids=(world.team.cb.pk,))
    )
    as_of = cert.expires_on - dt.timedelta(days=5)
    with CaptureQueriesContext(connection) as queries:
        assert expiries_counts(scope=scope, as_of=as_of)["week"] == 1
        assert certificates_expiring(scope=scope, as_of=as_of, days=30, limit=10) == [cert]
    [counts, rows] = [q["sql"] for q in queries.captured_queries]
    assert reads_table_rows(counts, (), "certificates_certificate") == [], counts
    assert sorts_every_row(rows) == [], rows


def joins_the_listed(sql: str) -> list[str]:
    """PostgreSQL: the plan's steps that join (or semi-join) the person's team places with
    the listed assessments as sets, rather than checking each place with a subquery of its
    own. (SQLite runs every EXISTS as a subquery of each row: nothing to check there.)"""
    return [
        f"{n['Node Type']} ({n.get('Join Type')})"
        for n, inner in nodes(plan_of(sql))
        if not inner
        and n["Node Type"] in ("Hash Join", "Merge Join", "Nested Loop")
        and n.get("Join Type") in ("Semi", "Inner", None)
    ]


def test_the_assessor_s_own_list_counts_place_by_place(client: Client, world: World) -> None:
    # Given an assessor on a team
    world.granted()
    client.force_login(world.team.lead)
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/office/cb/assessments/", {"show": "mine"})
    assert response.status_code == 200
    [count] = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("SELECT COUNT(") and '"assessments_teammember"' in q["sql"]
    ]
    # Then the count reads the person's places and checks each against the list with a
    # subquery that stops with the count's limit: joined as sets, PostgreSQL reads all of
    # the CB's assessments and all of the person's places first
    assert 'FROM "assessments_teammember"' in count, count
    if connection.vendor == "postgresql":
        assert joins_the_listed(count) == [], count
