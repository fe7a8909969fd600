"""The dashboard on the back-office home page: due this week and this month,
overdue, certificates by status over time; each limited to what the viewer may see."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from apcert.accounts.models import User
from apcert.assessments.models import Finding
from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.cycle import dashboard
from apcert.cycle.dashboard import DashboardScope, status_history
from apcert.cycle.selectors import visits_due, visits_overdue
from apcert.notifications.services import messages_mark_all_read
from apcert.web.sections.account import dashboard as views_dashboard
from tests.factories import World, make_user
from tests.test_cycle_programme import _visit

pytestmark = pytest.mark.django_db

HOME = "/office/"
D = dt.date


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def home(client: Client, user: User, on: dt.date) -> str:
    with time_machine.travel(dt.datetime(on.year, on.month, on.day, 10, 0), tick=False):
        client.force_login(user)  # the session's idle expiry counts from the travelled clock
        response = client.get(HOME)
    assert response.status_code == 200
    return response.content.decode()


def counts_row(html: str, label: str) -> list[str]:
    """The three figures of one row of the counts table."""
    row = re.search(rf"<th scope=\"row\">{label}</th>(.*?)</tr>", html, re.S)
    assert row is not None, label
    return [text(cell) for cell in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]


@pytest.fixture
def two_worlds(world: World) -> tuple[World, World, Certificate, Certificate]:
    """Two CBs, each with its own holder and one certificate granted on 2026-03-24."""
    other = World.build()
    return world, other, world.granted(), other.granted()


def test_cb_staff_see_visits_due_of_their_own_clients_only(
    client: Client, two_worlds: tuple[World, World, Certificate, Certificate]
) -> None:
    world, _other, mine, theirs = two_worlds
    # Given both first surveillances are due on 2027-03-24, when the CB's manager looks on
    # 2027-03-01 (within the month, not the week)
    html = home(client, world.team.manager, D(2027, 3, 1))

    # Then only the CB's own client is listed, with a count for the month and none this week
    assert mine.number in html
    assert theirs.number not in html
    assert counts_row(html, "Surveillance and re-assessment visits") == ["0", "1", "0"]
    assert "2027-03-24" in html and "surveillance 1" in html
    # The CB's staff go to the certificate's page in the CB section, and plan the visit
    assert f'href="{reverse("web:cb:certificate", args=[mine.pk])}"' in html
    assert f'href="{reverse("web:cb:certificate-plan", args=[mine.pk, "surveillance"])}"' in html
    assert f'href="{reverse("register:certificate", args=[mine.number])}"' not in html


def test_organization_users_see_their_own_organization_only(
    client: Client, two_worlds: tuple[World, World, Certificate, Certificate]
) -> None:
    _world, other, mine, theirs = two_worlds
    html = home(client, other.org_user, D(2027, 3, 20))
    assert theirs.number in html and mine.number not in html
    assert counts_row(html, "Surveillance and re-assessment visits") == ["1", "1", "0"]
    # not the CB's staff: the public record, and no planning
    assert f'href="{reverse("register:certificate", args=[theirs.number])}"' in html
    assert "/office/cb/" not in html


def test_the_secretariat_sees_every_cb(
    client: Client, two_worlds: tuple[World, World, Certificate, Certificate]
) -> None:
    world, _other, mine, theirs = two_worlds
    html = home(client, world.secretariat, D(2027, 3, 20))
    assert mine.number in html and theirs.number in html
    assert counts_row(html, "Surveillance and re-assessment visits") == ["2", "2", "0"]
    assert "across every certification body" in html


def test_overdue_visits_and_expiries(
    client: Client, two_worlds: tuple[World, World, Certificate, Certificate]
) -> None:
    world, _other, mine, theirs = two_worlds
    # The window of the first surveillance closes on 2027-05-23: overdue on 2027-06-01
    html = home(client, world.team.decision_maker, D(2027, 6, 1))
    assert counts_row(html, "Surveillance and re-assessment visits") == ["0", "0", "1"]
    overdue = html.split('id="dash-visits-overdue"')[1].split("<h3")[0]
    assert mine.number in overdue and "2027-05-23" in overdue

    # With both surveillances carried out, the certificate expires on 2029-03-23: this week
    # on 2029-03-20 (without them, the calendar would have withdrawn it long before)
    _visit(world, mine, "surveillance", D(2027, 3, 20))
    _visit(world, mine, "surveillance", D(2028, 3, 20))
    html = home(client, world.team.manager, D(2029, 3, 20))
    assert counts_row(html, "Certificate expiries") == ["1", "1", "–"]
    expiring = html.split('id="dash-expiries"')[1].split("<h3")[0]
    assert mine.number in expiring and theirs.number not in expiring


def test_corrective_actions_due_and_overdue(client: Client, world: World) -> None:
    # Given an initial assessment with an open major nonconformity and an observation
    other = World.build()
    app = world.accepted_application()
    world.assessment(app, findings=("major", "observation"), report=False)
    other.assessment(other.accepted_application(), findings=("minor",), report=False)
    finding = Finding.objects.get(assessment__application=app, grade="major")
    due = finding.due_date

    # When the CB's lead looks three days before the due date
    html = home(client, world.team.lead, due - dt.timedelta(days=3))
    # Then the major is due this week; the observation needs no action; the other CB's
    # minor is not theirs
    assert counts_row(html, "Corrective actions") == ["1", "1", "0"]
    listed = html.split('id="dash-findings"')[1].split("<h3")[0]
    assert "major nonconformity: ISO 9001:2015 8.5.1" in listed
    assert world.org.legal_name in listed and other.org.legal_name not in listed

    # And the organization sees it overdue the day after the due date
    html = home(client, world.org_user, due + dt.timedelta(days=1))
    assert counts_row(html, "Corrective actions") == ["0", "0", "1"]
    late = html.split('id="dash-findings-overdue"')[1].split("<h3")[0]
    assert due.isoformat() in late

    # And the Secretariat sees both CBs' findings
    html = home(client, world.secretariat, due - dt.timedelta(days=3))
    assert counts_row(html, "Corrective actions")[1] == "2"


def test_status_history_counts_per_month_from_the_status_changes(world: World) -> None:
    # Given a certificate granted on 2026-03-24 and suspended on 2026-06-10
    cert = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="Complaint under review",
        decided_on=D(2026, 6, 10),
    )
    scope = DashboardScope(cb_ids=(world.team.cb.pk,))

    # When reading the last 24 months as of 2026-08-15
    history = status_history(scope=scope, as_of=D(2026, 8, 15))

    # Then 24 months, from 2024-09 to 2026-08, with the certificate current in March to May
    # and suspended from June
    assert len(history) == 24
    assert (history[0].month, history[-1].month) == (D(2024, 9, 1), D(2026, 8, 1))
    by_month = {m.month: m.counts for m in history}
    assert by_month[D(2026, 2, 1)] == dict.fromkeys(by_month[D(2026, 2, 1)], 0)
    assert by_month[D(2026, 3, 1)]["current"] == 1
    assert by_month[D(2026, 5, 1)]["current"] == 1
    assert by_month[D(2026, 6, 1)] == {
        "current": 0,
        "suspended": 1,
        "withdrawn": 0,
        "cancelled": 0,
        "expired": 0,
    }
    # A baseline before the window is carried: read two years later, it starts suspended
    later = status_history(scope=scope, as_of=D(2028, 8, 15))
    assert later[0].counts["suspended"] == 1
    # And another tenant sees nothing of it
    assert all(
        m.total == 0
        for m in status_history(scope=DashboardScope(cb_ids=(0,)), as_of=D(2026, 8, 15))
    )


@pytest.mark.parametrize(
    "as_of",
    [
        D(2026, 5, 31),
        D(2026, 6, 9),
        D(2026, 6, 10),
        D(2026, 6, 30),
        D(2026, 7, 20),
        D(2026, 8, 1),
        D(2028, 7, 1),
    ],
)
def test_the_kept_counts_give_the_history_a_count_from_the_changes_gives(
    world: World, as_of: dt.date
) -> None:
    # Given three certificates granted on 2026-03-24: one suspended on 10 June and
    # restored on 20 July, one withdrawn on 10 June, one left current (the calendar
    # suspends and ends it later, which no sweep records)
    a, b, _ = world.granted(), world.granted(), world.granted()
    t = world.team
    certificate_suspend(
        actor=t.decision_maker, certificate=a, reason_category="complaint",
        reason="Complaint", decided_on=D(2026, 6, 10),
    )  # fmt: skip
    certificate_restore(
        actor=t.decision_maker, certificate=a, reason="Resolved", decided_on=D(2026, 7, 20)
    )
    certificate_withdraw(
        actor=t.decision_maker, certificate=b, reason_category="misuse",
        reason="Misuse", decided_on=D(2026, 6, 10),
    )  # fmt: skip

    # When the history is read as of a day before, on, or after those changes, from the
    # CB's kept counts and, for comparison, counted from the changes (a scope that names an
    # organization is counted on read; organization 0 has no certificate)
    kept = status_history(scope=DashboardScope(cb_ids=(t.cb.pk,)), as_of=as_of)
    counted = status_history(
        scope=DashboardScope(cb_ids=(t.cb.pk,), organization_ids=(0,)), as_of=as_of
    )
    # and read on that day itself (its month then read from the month's tally alone)
    with time_machine.travel(dt.datetime.combine(as_of, dt.time(12), tzinfo=dt.UTC)):
        on_the_day = status_history(scope=DashboardScope(cb_ids=(t.cb.pk,)), as_of=as_of)

    # Then both say the same, month by month
    assert [(m.month, m.counts) for m in kept] == [(m.month, m.counts) for m in counted]
    if as_of != D(2026, 6, 9):  # on 9 June, no change could yet take effect on the 10th
        assert [(m.month, m.counts) for m in on_the_day] == [(m.month, m.counts) for m in counted]
    assert kept[-1].total == (0 if as_of < D(2026, 3, 24) else 3)


def test_the_plot_is_an_accessible_inline_svg_with_its_table(client: Client, world: World) -> None:
    world.granted()
    html = home(client, world.team.manager, D(2026, 8, 15))
    plot = html.split('id="dash-plot"')[1]
    assert '<svg viewBox="0 0 640 260" role="img" aria-labelledby="plot-title plot-desc"' in plot
    assert '<title id="plot-title">Certificates by status over the last 24 months</title>' in plot
    assert "Now: 1 current, 0 suspended, 0 withdrawn, 0 cancelled, 0 expired." in plot
    assert plot.count("<polyline") == 5
    table = text(plot.split('class="plot-table"')[1].split("</table>")[0])
    assert "March 2026 1 0 0 0 0" in table
    assert "February 2026 0 0 0 0 0" in table
    # No external asset anywhere on the page
    assert not re.search(r'(src|href)="(https?:)?//', html)


def test_someone_without_a_role_gets_no_dashboard(client: Client, world: World) -> None:
    world.granted()
    html = home(client, make_user("nobody"), D(2027, 3, 20))
    assert "What needs attention" not in html
    assert "You hold no role yet" in html


def test_home_makes_a_bounded_number_of_queries(
    client: Client, world: World, django_assert_max_num_queries: object
) -> None:
    # Given several certificates and open findings (the bound does not grow with them: the
    # Secretariat's home with one certificate makes the same number of queries)
    for _ in range(3):
        world.granted()
    app = world.accepted_application()
    world.assessment(app, findings=("major", "minor"), report=False)
    for user in (world.secretariat, world.team.manager, world.org_user):
        with time_machine.travel(dt.datetime(2027, 3, 20, 10, 0), tick=False):
            client.force_login(user)
            with django_assert_max_num_queries(32):  # type: ignore[operator]
                assert client.get(HOME).status_code == 200


def test_home_queries_do_not_grow_with_the_data(client: Client, world: World) -> None:
    def queries(user: User) -> int:
        # The messages panel reads one query per kind of record its five newest messages
        # name (its own tests hold it flat): read, so that this measures the dashboard.
        messages_mark_all_read(actor=user)
        with time_machine.travel(dt.datetime(2027, 3, 20, 10, 0), tick=False):
            client.force_login(user)
            with CaptureQueriesContext(connection) as captured:
                assert client.get(HOME).status_code == 200
        return len(captured)

    # The Secretariat, a CB's staff and a holder's user, each with visits due in view
    users = (world.secretariat, world.team.manager, world.org_user)
    world.granted()
    before = [queries(user) for user in users]
    for _ in range(3):
        world.granted()
    World.build().granted()
    assert [queries(user) for user in users] == before


def test_cut_visit_lists_say_how_many_more(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given three certificates whose first surveillances are due on 2027-03-24, and a page
    # that shows two rows a list
    certs = [world.granted() for _ in range(3)]
    monkeypatch.setattr(views_dashboard, "SHOWN", 2)
    html = home(client, world.team.manager, D(2027, 3, 1))
    due = html.split('id="dash-visits"')[1].split("<h3")[0]
    assert "The first 2 of 3, by due date" in due
    assert "… and 1 more due this month." in due
    assert [c.number in due for c in certs] == [True, True, False]  # by number
    # And past their windows, the overdue list is cut the same way
    html = home(client, world.team.manager, D(2027, 6, 1))
    overdue = html.split('id="dash-visits-overdue"')[1].split("<h3")[0]
    assert "the first 2 of 3" in overdue and "… and 1 more overdue." in overdue


def test_dashboard_visits_agree_with_the_cycle_selectors(
    two_worlds: tuple[World, World, Certificate, Certificate],
) -> None:
    # Given two certificates, one of which had its first surveillance (reported late, so it
    # counts for the next visit and leaves the first one overdue)
    world, other, _mine, theirs = two_worlds
    _visit(other, theirs, "surveillance", D(2027, 6, 10))
    scopes = {
        DashboardScope(everything=True): {},
        DashboardScope(cb_ids=(world.team.cb.pk,)): {"cb": world.team.cb},
        DashboardScope(organization_ids=(other.org.pk,)): {"organization": other.org},
    }

    def pairs(rows: list[tuple[Certificate, Any]]) -> list[tuple[int, Any]]:
        return [
            (c.pk, (v.kind, v.sequence, v.due_date, v.window_start, v.window_end)) for c, v in rows
        ]

    for on in (D(2027, 3, 1), D(2027, 3, 20), D(2027, 6, 1), D(2028, 3, 10), D(2029, 1, 1)):
        for scope, where in scopes.items():
            found = dashboard.dashboard_visits(scope=scope, as_of=on, limit=100)
            month = visits_due(as_of=on, days=30, **where)
            week = visits_due(as_of=on, days=7, **where)
            overdue = visits_overdue(as_of=on, **where)
            # The stored schedule gives the rows and counts the selectors compute
            assert pairs(found.due_rows) == pairs(month), on
            assert (found.month, found.week, found.overdue) == (
                len(month),
                len(week),
                len(overdue),
            ), on
            assert pairs(found.overdue_rows) == pairs(overdue), on
            week_end = on + dt.timedelta(days=7)
            assert pairs([r for r in found.due_rows if r[1].due_date <= week_end]) == pairs(week)


@pytest.mark.parametrize("limit", [1, 2])
def test_the_first_certificates_expiring_skip_those_no_longer_live(
    world: World, limit: int
) -> None:
    # Given three certificates ending on the same day, the first two by number withdrawn
    certs = sorted((world.granted() for _ in range(3)), key=lambda c: c.number)
    for cert in certs[:2]:
        certificate_withdraw(
            actor=world.team.decision_maker,
            certificate=cert,
            reason_category="holder_request",
            reason="Business closed",
            decided_on=D(2026, 8, 1),
        )
    ends = certs[2].expires_on
    assert {c.expires_on for c in certs} == {ends}
    # When the first live ones are read (past the first chunk of rows, for a limit of 1)
    for scope in (DashboardScope(everything=True), DashboardScope(cb_ids=(world.team.cb.pk,))):
        found = dashboard.certificates_expiring(
            scope=scope, as_of=ends - dt.timedelta(days=5), days=30, limit=limit
        )
        # Then only the live one is there
        assert [c.number for c in found] == [certs[2].number]
