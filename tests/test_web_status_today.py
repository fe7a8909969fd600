"""The back office shows each certificate's status today, in the register's words, and says
where the daily sweep has not recorded what the calendar did; the dashboard counts it; the
sweep's runs are recorded and a late sweep is said; ``/healthz``."""

from __future__ import annotations

import datetime as dt
import json
import re
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apcert.accounts.models import User
from apcert.cycle.models import SweepRun
from apcert.cycle.sweep import cycle_sweep
from apcert.notifications.services import messages_mark_all_read
from apcert.register.templatetags.register_tags import plain_day
from tests.factories import World
from tests.status_today_support import DAY, build

pytestmark = pytest.mark.django_db

D = dt.date
NOT_RECORDED = "the daily check has not yet recorded it"
#: What /healthz says of the database and the sweep.
SWEEP_FIELDS = (
    "database",
    "sweep",
    "today",
    "sweep_last_as_of",
    "sweep_last_finished",
    "sweep_lag_days",
)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def get(client: Client, user: User | None, url: str, on: dt.date) -> str:
    with time_machine.travel(dt.datetime.combine(on, dt.time(10), tzinfo=dt.UTC), tick=False):
        if user is not None:
            client.force_login(user)
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return text(response.content.decode())


# --- the status today on the back office's pages ----------------------------------------------


def test_each_screen_shows_the_status_today_and_says_it_is_not_yet_recorded(
    client: Client, world: World
) -> None:
    # Given a certificate whose validity ended with no sweep run since
    case = build(world, "expired_unrecorded")
    cert, day = case.cert, case.today
    ended = plain_day(cert.expires_on + DAY)
    said = f"Expired on {ended}: {NOT_RECORDED}"
    org = world.org.pk

    # Then every screen that shows its status says so
    pages = {
        "cb list": (world.team.manager, "/office/cb/certificates/"),
        "cb certificate": (world.team.manager, f"/office/cb/certificates/{cert.pk}/"),
        "cb application": (world.team.manager, f"/office/cb/applications/{cert.application_id}/"),
        "org list": (world.org_user, f"/office/org/{org}/certificates/"),
        "org certificate": (world.org_user, f"/office/org/{org}/certificates/{cert.pk}/"),
        "secretariat list": (world.secretariat, "/office/secretariat/certificates/"),
    }
    for name, (user, url) in pages.items():
        assert said in get(client, user, url, day), name

    # And once the sweep has recorded it, the same words without the note
    cycle_sweep(as_of=day)
    for name, (user, url) in pages.items():
        page = get(client, user, url, day)
        assert f"Expired on {ended}" in page and NOT_RECORDED not in page, name


def test_a_current_certificate_reads_current_since_its_day(client: Client, world: World) -> None:
    case = build(world, "current")
    page = get(client, world.team.manager, f"/office/cb/certificates/{case.cert.pk}/", case.today)
    assert f"Status Current since {plain_day(case.cert.status_since)}" in page
    assert NOT_RECORDED not in page


def test_the_dashboard_counts_the_status_today(client: Client, world: World) -> None:
    # Given a certificate the calendar withdrew (never surveilled), with no sweep run, and a
    # certificate granted a month before, current
    case = build(world, "withdrawn_unrecorded")
    day = case.today
    world.granted(decided_on=day - 30 * DAY)

    # When the Secretariat looks at its dashboard
    html = get(client, world.secretariat, "/office/", day)

    # Then the plot's figures now count it withdrawn, and the warning says the sweep never ran
    now = re.search(r"Now: (\d+) current, (\d+) suspended, (\d+) withdrawn", html)
    assert now is not None and now.groups() == ("1", "0", "1")
    assert (
        "The daily check has never run ; statuses shown are computed for today, but status "
        "lists, signed credentials and notifications wait for it. What dates alone changed on "
        "1 certificate is not yet recorded."
    ) in html

    # And once the sweep has run, the figures are the same and the warning is gone
    cycle_sweep(as_of=day)
    SweepRun.objects.create(as_of=day, finished_at=dt.datetime.combine(day, dt.time(0, 5), dt.UTC))
    html = get(client, world.secretariat, "/office/", day)
    now = re.search(r"Now: (\d+) current, (\d+) suspended, (\d+) withdrawn", html)
    assert now is not None and now.groups() == ("1", "0", "1")
    assert "more than a day late" not in html and "never run" not in html
    assert f"The daily check last ran on {plain_day(day)}" in html


def test_the_dashboards_queries_do_not_grow_with_the_certificates_not_yet_recorded(
    client: Client, world: World
) -> None:
    def queries(user: User, day: dt.date) -> int:
        # The messages panel is held flat by its own tests: read, to measure the dashboard.
        messages_mark_all_read(actor=user)
        with time_machine.travel(dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)):
            client.force_login(user)
            with CaptureQueriesContext(connection) as captured:
                assert client.get("/office/").status_code == 200
        return len(captured)

    # Given one certificate whose surveillance window has closed, unrecorded
    first = build(world, "suspended_unrecorded")
    users = (world.secretariat, world.team.manager, world.org_user)
    before = [queries(user, first.today) for user in users]
    # When three more are in the same state
    for _ in range(3):
        world.granted()
    # Then each dashboard makes as many queries as before
    assert [queries(user, first.today) for user in users] == before


# --- the sweep's runs and its health ----------------------------------------------------------


def test_the_sweep_command_records_its_run(world: World) -> None:
    cert = world.granted()
    ended = cert.expires_on + DAY
    with time_machine.travel(dt.datetime(2029, 4, 1, 0, 5, tzinfo=dt.UTC), tick=False):
        call_command("sweep", "--as-of", ended.isoformat(), stdout=StringIO())
    run = SweepRun.objects.get()
    moment = dt.datetime(2029, 4, 1, 0, 5, tzinfo=dt.UTC)
    assert (run.as_of, run.source, run.started_at, run.finished_at) == (
        ended,
        "command",
        moment,
        moment,
    )
    # (never surveilled: suspended when its first window closed, withdrawn 6 months later)
    assert (run.summary["suspended"], run.summary["withdrawn"], run.summary["expired"]) == (
        [cert.number],
        [cert.number],
        [],
    )


def test_a_sweep_that_fails_leaves_its_start_without_a_finish(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apcert.cycle import sweep

    def broken(*, as_of: dt.date) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(sweep, "cycle_sweep", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        call_command("sweep", "--as-of", "2027-01-05", stdout=StringIO())
    run = SweepRun.objects.get()
    assert (run.as_of, run.started_at is not None, run.finished_at) == (D(2027, 1, 5), True, None)


@pytest.mark.parametrize(
    ("last_as_of", "today", "late", "lag"),
    [(D(2027, 1, 5), D(2027, 1, 5), False, 0), (D(2027, 1, 5), D(2027, 1, 6), False, 1),
     (D(2027, 1, 5), D(2027, 1, 7), True, 2)],
)  # fmt: skip
def test_the_dashboard_warns_when_the_sweep_is_more_than_a_day_late(
    client: Client, world: World, last_as_of: dt.date, today: dt.date, late: bool, lag: int
) -> None:
    # Given the sweep of last_as_of run by the command, read on today
    with time_machine.travel(dt.datetime.combine(last_as_of, dt.time(0, 5), dt.UTC), tick=False):
        call_command("sweep", stdout=StringIO())
    warning = (
        f"The daily check last ran on {plain_day(last_as_of)} : more than a day late ; "
        "statuses shown are computed for today, but status lists, signed credentials and "
        "notifications wait for it."
    )
    for user in (world.secretariat, world.team.manager):
        html = get(client, user, "/office/", today)
        assert (warning in html) is late
        assert (f"The daily check last ran on {plain_day(last_as_of)} (finished" in html) is (
            not late
        )
    # The holder's users are not told (they have nothing to run)
    assert "The daily check" not in get(client, world.org_user, "/office/", today)

    # And /healthz says the same, for a monitor
    with time_machine.travel(dt.datetime.combine(today, dt.time(10), dt.UTC), tick=False):
        response = client.get("/healthz")
    assert response.status_code == 200
    body = json.loads(response.content)
    assert {key: body[key] for key in SWEEP_FIELDS} == {
        "database": "ok",
        "sweep": "late" if late else "ok",
        "today": today.isoformat(),
        "sweep_last_as_of": last_as_of.isoformat(),
        "sweep_last_finished": f"{last_as_of.isoformat()}T00:05:00+00:00",
        "sweep_lag_days": lag,
    }
    # (no worker runs here: that is an alert of its own, tests/test_operations.py)
    assert body["status"] == "alert"
    assert ("sweep" in body["alerts"]) is late


def test_healthz_before_any_sweep_and_without_a_database(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sweep that never finished is late; the answer needs no account and sets no cookie
    with time_machine.travel(dt.datetime(2027, 1, 7, 10, tzinfo=dt.UTC), tick=False):
        SweepRun.objects.create(as_of=D(2027, 1, 7))  # queued, never finished
        response = client.get("/healthz")
    assert response.status_code == 200
    assert not response.cookies and "Cookie" not in response.get("Vary", "")
    assert response["Cache-Control"] == "no-store"
    body = json.loads(response.content)
    assert {key: body[key] for key in SWEEP_FIELDS} == {
        "database": "ok",
        "sweep": "late",
        "today": "2027-01-07",
        "sweep_last_as_of": None,
        "sweep_last_finished": None,
        "sweep_lag_days": None,
    }
    assert body["status"] == "alert" and "sweep" in body["alerts"]

    # When the database cannot be reached: 503
    from apcert.web import views_health

    def unreachable(*, today: dt.date) -> None:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(views_health, "sweep_health", unreachable)
    with time_machine.travel(dt.datetime(2027, 1, 7, 10, tzinfo=dt.UTC), tick=False):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert {key: body[key] for key in ("status", "database", "sweep", "today")} == {
        "status": "unavailable",
        "database": "unreachable",
        "sweep": "unknown",
        "today": "2027-01-07",
    }
    assert client.post("/healthz").status_code == 405


def test_healthz_reads_one_indexed_row_of_the_sweeps(client: Client) -> None:
    for n in range(5):
        SweepRun.objects.create(
            as_of=D(2027, 1, 1) + n * DAY, finished_at=dt.datetime(2027, 1, 1 + n, tzinfo=dt.UTC)
        )
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/healthz").status_code == 200
    # (and one more, of the worker's heartbeat: tests/test_operations.py)
    (query,) = [q["sql"] for q in captured.captured_queries if "cycle_sweeprun" in q["sql"]]
    assert "ORDER BY" in query and "LIMIT 1" in query
    assert len(captured.captured_queries) == 2
