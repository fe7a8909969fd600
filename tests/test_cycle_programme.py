"""The audit programme of a certificate, and the due/overdue selectors."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_start,
)
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_renew
from apcert.cycle.programme import PlannedVisit, visits_for
from apcert.cycle.selectors import visits_due, visits_overdue
from apcert.schemes.models import SchemeRules
from tests.factories import World, on_day

D = dt.date


def _visit(world: World, cert: Certificate, kind: str, report_on: dt.date) -> int:
    t = world.team
    a = assessment_plan(
        actor=t.manager,
        kind=kind,
        certificate=cert,
        start_date=report_on - dt.timedelta(days=4),
        end_date=report_on - dt.timedelta(days=3),
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )
    with on_day(a.start_date):
        assessment_start(actor=t.lead, assessment=a)
    with on_day(report_on):
        return assessment_issue_report(actor=t.lead, assessment=a, issued_on=report_on).pk


def _fresh(cert: Certificate) -> Certificate:
    return Certificate.objects.get(pk=cert.pk)


def test_programme_of_a_first_cycle_from_the_default_rules(world: World) -> None:
    # Given a certificate granted on 2026-03-24 under the AP defaults (36/12/12 months, 60 days)
    cert = world.granted()
    assert (cert.initial_decision_on, cert.expires_on) == (D(2026, 3, 24), D(2029, 3, 23))

    # When its programme is computed
    visits = visits_for(_fresh(cert))

    # Then two surveillances a year apart and a re-assessment whose window closes at expiry
    assert visits == [
        PlannedVisit("surveillance", 1, D(2027, 3, 24), D(2027, 1, 23), D(2027, 5, 23)),
        PlannedVisit("surveillance", 2, D(2028, 3, 24), D(2028, 1, 24), D(2028, 5, 23)),
        PlannedVisit("reassessment", 1, D(2029, 1, 22), D(2028, 11, 23), D(2029, 3, 23)),
    ]


def test_programme_moves_with_the_rule_figures(world: World) -> None:
    # Given a certificate, and the scheme's figures changed
    cert = world.granted()
    SchemeRules.objects.filter(scheme=cert.scheme).update(
        first_surveillance_months=6, surveillance_interval_months=9, surveillance_window_days=30
    )

    # When its programme is computed
    visits = visits_for(_fresh(cert))

    # Then every date follows the new figures: 6 months, then every 9, +-30 days
    assert [(v.kind, v.sequence, v.due_date, v.window_start, v.window_end) for v in visits] == [
        ("surveillance", 1, D(2026, 9, 24), D(2026, 8, 25), D(2026, 10, 24)),
        ("surveillance", 2, D(2027, 6, 24), D(2027, 5, 25), D(2027, 7, 24)),
        ("surveillance", 3, D(2028, 3, 24), D(2028, 2, 23), D(2028, 4, 23)),
        ("surveillance", 4, D(2028, 12, 24), D(2028, 11, 24), D(2029, 1, 23)),
        ("reassessment", 1, D(2029, 2, 21), D(2029, 1, 22), D(2029, 3, 23)),
    ]


def test_visits_are_matched_to_reported_assessments_in_order(world: World) -> None:
    # Given a first surveillance reported late but inside its window, and a second missed
    cert = world.granted()
    s1 = _visit(world, cert, "surveillance", D(2027, 5, 20))

    # When the programme is computed
    visits = visits_for(_fresh(cert))

    # Then the first is done by that assessment, the others are not done
    assert [v.done_by_assessment_id for v in visits] == [s1, None, None]

    # And a surveillance reported after the first window counts for the next visit; carried
    # out on 2027-08-29, it makes a third fall due 12 months later, before the re-assessment
    s2 = _visit(world, cert, "surveillance", D(2027, 9, 1))
    visits = visits_for(_fresh(cert))
    assert [v.done_by_assessment_id for v in visits] == [s1, s2, None, None]
    assert (visits[2].kind, visits[2].sequence, visits[2].due_date) == (
        "surveillance",
        3,
        D(2028, 8, 29),
    )


def test_the_next_surveillance_falls_due_a_year_after_the_last_one_carried_out(
    world: World,
) -> None:
    # Given a certificate granted 2026-03-24 whose first surveillance was carried out three
    # months later (its last day 2026-06-21, the report on 2026-06-24)
    cert = world.granted()
    s1 = _visit(world, cert, "surveillance", D(2026, 6, 24))

    # When the programme is computed
    visits = visits_for(_fresh(cert))

    # Then the second falls due 12 months after the first was carried out, not at month 24,
    # with the scheme's 60-day window either side
    second = visits[1]
    assert visits[0].done_by_assessment_id == s1
    assert (second.sequence, second.due_date, second.window_start, second.window_end) == (
        2,
        D(2027, 6, 21),
        D(2027, 4, 22),
        D(2027, 8, 20),
    )


def test_a_late_surveillance_never_moves_the_next_past_the_programme_date(world: World) -> None:
    # Given a first surveillance carried out at the end of its window (2027-05-20)
    cert = world.granted()
    _visit(world, cert, "surveillance", D(2027, 5, 23))

    # Then the second still falls due on the programme's date, 2028-03-24
    second = visits_for(_fresh(cert))[1]
    assert (second.sequence, second.due_date) == (2, D(2028, 3, 24))


def test_a_renewal_starts_the_next_cycle_the_day_after_the_old_expiry(world: World) -> None:
    # Given a certificate renewed in time on a re-assessment
    cert = world.granted()
    _visit(world, cert, "surveillance", D(2027, 3, 20))
    _visit(world, cert, "surveillance", D(2028, 3, 20))
    re = _visit(world, cert, "reassessment", D(2029, 1, 15))
    from apcert.assessments.models import Assessment

    with on_day(D(2029, 2, 1)):
        certificate_renew(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=Assessment.objects.get(pk=re),
            decided_on=D(2029, 2, 1),
        )

    # When the programme is computed
    visits = visits_for(_fresh(cert))

    # Then it is the cycle from 2029-03-24 to 2032-03-23, nothing done in it yet
    assert [(v.kind, v.due_date, v.done) for v in visits] == [
        ("surveillance", D(2030, 3, 24), False),
        ("surveillance", D(2031, 3, 24), False),
        ("reassessment", D(2032, 1, 23), False),
    ]


def _second_world() -> World:
    return World.build()


def test_due_and_overdue_per_cb_and_per_organization(world: World) -> None:
    # Given two certificates of different CBs and holders, granted on the same day
    other = _second_world()
    mine, theirs = world.granted(), other.granted()
    _visit(other, theirs, "surveillance", D(2027, 3, 1))  # theirs did its first surveillance

    # When asking for visits due in the next 60 days as of 2027-02-01
    due = visits_due(as_of=D(2027, 2, 1), days=60)
    # Then both first surveillances are listed, except the one already done
    assert [(c.number, v.kind, v.sequence) for c, v in due] == [(mine.number, "surveillance", 1)]
    assert visits_due(as_of=D(2027, 2, 1), days=30) == []  # due 2027-03-24: beyond 30 days

    # When asking per CB and per organization
    assert [c.pk for c, _ in visits_due(as_of=D(2027, 2, 1), days=60, cb=world.team.cb)] == [
        mine.pk
    ]
    assert visits_due(as_of=D(2027, 2, 1), days=60, cb=other.team.cb) == []
    assert visits_due(as_of=D(2027, 2, 1), days=60, organization=other.org) == []

    # And overdue (window ended) as of 2027-06-01: only mine
    overdue = visits_overdue(as_of=D(2027, 6, 1))
    assert [(c.pk, v.sequence, v.window_end) for c, v in overdue] == [(mine.pk, 1, D(2027, 5, 23))]
    assert visits_overdue(as_of=D(2027, 6, 1), organization=world.org)[0][0].pk == mine.pk
    assert visits_overdue(as_of=D(2027, 6, 1), cb=other.team.cb) == []
    # Not yet overdue on the last day of the window
    assert visits_overdue(as_of=D(2027, 5, 23)) == []


def test_a_visit_due_with_its_window_still_open_stays_due(world: World) -> None:
    cert = world.granted()
    # due 2027-03-24, window to 2027-05-23: on 2027-04-10 it is past due but not overdue
    assert [c.pk for c, _ in visits_due(as_of=D(2027, 4, 10), days=0)] == [cert.pk]
    assert visits_overdue(as_of=D(2027, 4, 10)) == []


def _count_queries(fn: object) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()  # type: ignore[operator]
    return len(ctx.captured_queries)


@pytest.mark.parametrize("selector", ["due", "overdue"])
def test_selectors_make_a_bounded_number_of_queries(world: World, selector: str) -> None:
    def run() -> None:
        if selector == "due":
            visits_due(as_of=D(2027, 3, 1), days=60)
        else:
            visits_overdue(as_of=D(2027, 6, 1))

    world.granted()
    one = _count_queries(run)
    for _ in range(3):
        extra = World.build()
        cert = extra.granted()
        _visit(extra, cert, "surveillance", D(2027, 3, 1))
    assert _count_queries(run) == one
