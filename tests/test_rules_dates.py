"""Dates that make sense, enforced by the services.

An assessment starts no earlier than planned (the scheme manager reschedules it first), a
finding is raised during the assessment and not after today, is due and closed no earlier
than it was raised, a report is dated between the assessment's last day and today and may
be corrected while no decision rests on it, and no decision is dated after today.

Each refusal carries its code, names both dates as people read them ("7 December 2026"),
names the form field where there is one, and writes nothing: the rows read again from the
database are as they were, no row was added and no audit event written. The clock is set
with ``on_day``: each step is taken on the day it is dated.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from apcert.applications.models import Application
from apcert.assessments.models import Assessment, CorrectiveAction, Finding
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_report_correct,
    assessment_reschedule,
    assessment_start,
    corrective_action_review,
    corrective_action_submit,
    finding_record,
)
from apcert.audit.models import AuditEvent
from apcert.certificates.models import Certificate, CertificateIssue, Decision
from apcert.certificates.selectors import grant_blockers
from apcert.certificates.services import (
    NewScopeLine,
    certificate_cancel,
    certificate_extend_scope,
    certificate_grant,
    certificate_holder_renamed,
    certificate_maintain,
    certificate_reduce_scope,
    certificate_refuse,
    certificate_renew,
    certificate_restore,
    certificate_site_add,
    certificate_site_moved,
    certificate_site_remove,
    certificate_site_renamed,
    certificate_standard_update,
    certificate_suspend,
    certificate_transfer,
    certificate_withdraw,
)
from apcert.core.dates import format_date
from apcert.core.errors import DomainError
from apcert.cycle.models import ScheduledVisit
from apcert.cycle.schedule import visit_schedule_check
from apcert.schemes.models import Standard
from tests.factories import CBTeam, World, make_user, on_day
from tests.flows_support import DAYS, assert_refused, cert_row, visit

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 12, 6)


# --- helpers -------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    """Rows in every table that these services could write."""
    return {
        "assessments": Assessment.objects.count(),
        "findings": Finding.objects.count(),
        "corrective_actions": CorrectiveAction.objects.count(),
        "decisions": Decision.objects.count(),
        "certificates": Certificate.objects.count(),
        "issues": CertificateIssue.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def _assessment_row(a: Assessment) -> dict[str, Any]:
    fresh = Assessment.objects.get(pk=a.pk)
    return {
        "status": fresh.status,
        "start_date": fresh.start_date,
        "end_date": fresh.end_date,
        "report_issued_on": fresh.report_issued_on,
        "summary": fresh.summary,
    }


def _refused(call: Callable[[], Any], code: str, *assessments: Assessment) -> DomainError:
    """``call`` is refused with ``code``; nothing is written and each assessment reads as
    it did."""
    before = _counts()
    rows = [_assessment_row(a) for a in assessments]
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code, exc.value
    assert _counts() == before
    assert [_assessment_row(a) for a in assessments] == rows
    return exc.value


def _plan(
    world: World,
    start: dt.date,
    end: dt.date,
    *,
    application: Application | None = None,
    certificate: Certificate | None = None,
) -> Assessment:
    t = world.team
    return assessment_plan(
        actor=t.manager,
        kind="initial" if certificate is None else "surveillance",
        application=application or (world.accepted_application() if certificate is None else None),
        certificate=certificate,
        start_date=start,
        end_date=end,
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )


def _started(world: World, start: dt.date, end: dt.date) -> Assessment:
    a = _plan(world, start, end)
    with on_day(start):
        assessment_start(actor=world.team.lead, assessment=a)
    return Assessment.objects.get(pk=a.pk)


def _record(world: World, a: Assessment, **kw: Any) -> Finding:
    return finding_record(
        actor=world.team.lead,
        assessment=a,
        grade=kw.pop("grade", "minor"),
        requirement_kind="iso9001",
        requirement_ref="ISO 9001:2015 8.5.1",
        description="Records incomplete",
        **kw,
    )


def _reported(world: World, start: dt.date, issued_on: dt.date) -> Assessment:
    a = _started(world, start, start + DAYS)
    with on_day(issued_on):
        return assessment_issue_report(
            actor=world.team.lead, assessment=a, issued_on=issued_on, summary="All in order"
        )


# --- an assessment starts on or after its planned start date -------------------------------


def test_an_assessment_is_not_started_before_its_planned_start_date(world: World) -> None:
    # Given an assessment planned for 7 and 8 December 2026
    a = _plan(world, dt.date(2026, 12, 7), dt.date(2026, 12, 8))

    # When its lead starts it on 6 December, Then it is refused, naming both dates and what
    # unblocks it, and nothing changed
    with on_day(TODAY):
        err = _refused(
            lambda: assessment_start(actor=world.team.lead, assessment=a),
            "assessment.start_before_planned",
            a,
        )
    assert "planned to start on 7 December 2026; today is 6 December 2026" in err.message
    assert "re-plans its dates" in err.message
    assert err.params == {"start_date": dt.date(2026, 12, 7), "today": TODAY}

    # But on 7 December it starts
    with on_day(dt.date(2026, 12, 7)):
        assessment_start(actor=world.team.lead, assessment=a)
    assert _assessment_row(a)["status"] == "in_progress"


# --- rescheduling a planned assessment --------------------------------------------------------


def test_a_planned_assessment_rescheduled_earlier_then_starts_on_its_new_date(
    world: World,
) -> None:
    # Given a surveillance of a certificate planned for 7 and 8 December 2026
    cert = world.granted()
    a = _plan(world, dt.date(2026, 12, 7), dt.date(2026, 12, 8), certificate=cert)
    events = AuditEvent.objects.count()

    # When the scheme manager moves it one day earlier, saying why
    with on_day(TODAY):
        assessment_reschedule(
            actor=world.team.manager,
            assessment=a,
            start_date=TODAY,
            end_date=dt.date(2026, 12, 7),
            reason="The holder asked to start a day earlier",
        )

    # Then its dates moved, with one audit event holding the dates before and after
    row = _assessment_row(a)
    assert (row["status"], row["start_date"], row["end_date"]) == (
        "planned",
        TODAY,
        dt.date(2026, 12, 7),
    )
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_id) == ("assessment.reschedule", str(a.pk))
    assert event.before == {"start_date": "2026-12-07", "end_date": "2026-12-08"}
    assert event.after == {"start_date": "2026-12-06", "end_date": "2026-12-07"}
    assert event.reason == "The holder asked to start a day earlier"
    # and the certificate's stored visit schedule is in step with its programme
    assert visit_schedule_check() == []

    # And it can be started today
    with on_day(TODAY):
        assessment_start(actor=world.team.lead, assessment=a)
    assert _assessment_row(a)["status"] == "in_progress"


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        pytest.param("end-before-start", "invalid.date_order", "end_date", id="end-before-start"),
        pytest.param("no-reason", "invalid.reason_required", "reason", id="no-reason"),
        pytest.param("not-manager", "permission.cb_role_required", None, id="not-manager"),
        pytest.param("same-dates", "assessment.nothing_changed", "start_date", id="same-dates"),
        pytest.param("started", "assessment.transition_not_allowed", None, id="started"),
    ],
)
def test_a_faulty_reschedule_is_refused(
    world: World, case: str, code: str, field: str | None
) -> None:
    # Given an assessment planned for 1 and 2 December 2026 (started, in one case)
    start, end = dt.date(2026, 12, 1), dt.date(2026, 12, 2)
    a = _plan(world, start, end)
    if case == "started":
        with on_day(start):
            assessment_start(actor=world.team.lead, assessment=a)
    new_start, new_end = start + DAYS, end + DAYS
    if case == "end-before-start":
        new_end = new_start - DAYS
    elif case == "same-dates":
        new_start, new_end = start, end

    # When it is rescheduled, Then it is refused and nothing changed
    with on_day(TODAY):
        err = _refused(
            lambda: assessment_reschedule(
                actor=world.team.lead if case == "not-manager" else world.team.manager,
                assessment=a,
                start_date=new_start,
                end_date=new_end,
                reason="" if case == "no-reason" else "Plant shut down that week",
            ),
            code,
            a,
        )
    assert err.field == field
    if case == "end-before-start":
        assert "end on 1 December 2026, before it starts on 2 December 2026" in err.message
    if case == "started":
        assert err.params == {"state": "in_progress", "action": "reschedule"}


# --- findings: raised during the assessment and by today; due and closed after -------------


def test_a_finding_is_not_raised_before_the_assessment_started(world: World) -> None:
    a = _started(world, dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    with on_day(TODAY):
        err = _refused(
            lambda: _record(world, a, raised_on=dt.date(2026, 11, 30)),
            "finding.raised_outside_assessment",
            a,
        )
    assert err.field == "raised_on"
    assert "raised on 30 November 2026, before the assessment started on 1 December 2026" in (
        err.message
    )


def test_a_finding_is_not_raised_after_today(world: World) -> None:
    # Given an assessment from 5 to 8 December 2026, in progress on the 6th
    a = _started(world, dt.date(2026, 12, 5), dt.date(2026, 12, 8))

    # When a finding is recorded on the 6th as raised on the 7th, Then it is refused
    with on_day(TODAY):
        err = _refused(
            lambda: _record(world, a, raised_on=dt.date(2026, 12, 7)),
            "finding.raised_in_future",
            a,
        )
    assert err.field == "raised_on"
    assert "raised on 7 December 2026, after today (6 December 2026)" in err.message

    # But raised on the 6th it is recorded
    with on_day(TODAY):
        assert _record(world, a, raised_on=TODAY).raised_on == TODAY


def test_a_finding_is_not_due_before_it_is_raised(world: World) -> None:
    a = _started(world, dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    with on_day(TODAY):
        err = _refused(
            lambda: _record(
                world, a, raised_on=dt.date(2026, 12, 2), due_date=dt.date(2026, 12, 1)
            ),
            "invalid.date_order",
            a,
        )
    assert err.field == "due_date"
    assert "due date cannot be 1 December 2026, before the finding is raised on 2 December" in (
        err.message
    )


def test_a_finding_is_not_closed_before_it_was_raised(world: World) -> None:
    # Given a minor raised on 2 December 2026, answered as if on 30 November
    a = _started(world, dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    with on_day(TODAY):
        f = _record(world, a, raised_on=dt.date(2026, 12, 2))
        ca = corrective_action_submit(
            actor=world.org_user,
            finding=f,
            correction="Records completed",
            root_cause="No checklist",
            action="Checklist introduced",
            submitted_on=dt.date(2026, 11, 30),
        )
    finding_row = Finding.objects.filter(pk=f.pk).values("status", "closed_on").get()
    answer_row = CorrectiveAction.objects.filter(pk=ca.pk).values().get()

    # When an assessor verifies it on 1 December, which would close the finding that day,
    # Then it is refused, naming both dates, and neither the finding nor the answer changed
    with on_day(TODAY):
        err = _refused(
            lambda: corrective_action_review(
                actor=world.team.lead,
                corrective_action=ca,
                outcome="verify",
                reviewed_on=dt.date(2026, 12, 1),
            ),
            "finding.closed_before_raised",
            a,
        )
    assert err.field == "reviewed_on"
    assert "closed on 1 December 2026, before it was raised on 2 December 2026" in err.message
    assert Finding.objects.filter(pk=f.pk).values("status", "closed_on").get() == finding_row
    assert finding_row == {"status": "answered", "closed_on": None}
    assert CorrectiveAction.objects.filter(pk=ca.pk).values().get() == answer_row


# --- the report: dated between the last day and today, corrected until decided on -----------


def test_a_report_is_not_dated_after_today(world: World) -> None:
    a = _started(world, dt.date(2026, 12, 1), dt.date(2026, 12, 2))
    with on_day(TODAY):
        err = _refused(
            lambda: assessment_issue_report(
                actor=world.team.lead, assessment=a, issued_on=dt.date(2026, 12, 7)
            ),
            "assessment.report_in_future",
            a,
        )
    assert err.field == "issued_on"
    assert "dated 7 December 2026, after today (6 December 2026)" in err.message


def test_a_report_is_not_dated_before_the_assessment_s_last_day(world: World) -> None:
    a = _started(world, dt.date(2026, 12, 1), dt.date(2026, 12, 3))
    with on_day(TODAY):
        err = _refused(
            lambda: assessment_issue_report(
                actor=world.team.lead, assessment=a, issued_on=dt.date(2026, 12, 2)
            ),
            "assessment.report_before_end",
            a,
        )
    assert err.field == "issued_on"
    assert err.message == (
        "The report cannot be issued before the assessment's last day (3 December 2026); "
        "it is dated 2 December 2026."
    )


def test_a_report_dated_wrongly_is_corrected_and_the_decision_then_taken(world: World) -> None:
    # Given an initial assessment on 1 and 2 December 2026 whose report was dated the 5th
    # although it was issued on the 3rd
    app = world.accepted_application()
    a = _plan(world, dt.date(2026, 12, 1), dt.date(2026, 12, 2), application=app)
    with on_day(dt.date(2026, 12, 1)):
        assessment_start(actor=world.team.lead, assessment=a)
    with on_day(dt.date(2026, 12, 5)):
        assessment_issue_report(
            actor=world.team.lead,
            assessment=a,
            issued_on=dt.date(2026, 12, 5),
            summary="No findings",
        )
    dm = world.team.decision_maker

    # When the decision maker grants on the 4th, Then it is refused, naming both dates
    # and what unblocks it
    with on_day(TODAY):
        err = _refused(
            lambda: certificate_grant(
                actor=dm, application=app, assessment=a, decided_on=dt.date(2026, 12, 4)
            ),
            "decision.before_report",
            a,
        )
    assert err.field == "decided_on"
    assert "dated 4 December 2026, before the report it rests on (issued on 5 December 2026)" in (
        err.message
    )
    assert "corrects it" in err.message

    # When the lead assessor corrects the report's date, saying why
    events = AuditEvent.objects.count()
    with on_day(TODAY):
        assessment_report_correct(
            actor=world.team.lead,
            assessment=a,
            issued_on=dt.date(2026, 12, 3),
            summary="No findings; all requirements met",
            reason="The report was sent on the 3rd",
        )

    # Then the report reads so, with one audit event holding it before and after
    assert _assessment_row(a) == {
        "status": "report_issued",
        "start_date": dt.date(2026, 12, 1),
        "end_date": dt.date(2026, 12, 2),
        "report_issued_on": dt.date(2026, 12, 3),
        "summary": "No findings; all requirements met",
    }
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_id) == ("assessment.correct_report", str(a.pk))
    assert event.before == {"report_issued_on": "2026-12-05", "summary": "No findings"}
    assert event.after == {
        "report_issued_on": "2026-12-03",
        "summary": "No findings; all requirements met",
    }
    assert event.reason == "The report was sent on the 3rd"

    # And the grant dated the 4th is taken
    with on_day(TODAY):
        cert = certificate_grant(
            actor=dm, application=app, assessment=a, decided_on=dt.date(2026, 12, 4)
        )
    assert cert.initial_decision_on == dt.date(2026, 12, 4)


def test_a_corrected_report_date_moves_the_visit_schedule(world: World) -> None:
    # Given a certificate granted on 24 March 2026 (first surveillance window 23 January to
    # 23 May 2027) and a surveillance reported on 22 May 2027, within that window
    cert = world.granted()
    a = visit(world, cert, "surveillance", start=dt.date(2027, 5, 18))
    assert a.report_issued_on == dt.date(2027, 5, 22)
    first_window_open = ("surveillance", 1)
    kinds = set(ScheduledVisit.objects.filter(certificate=cert).values_list("kind", "sequence"))
    assert first_window_open not in kinds

    # When the report's date is corrected to 25 May 2027, after the window closed
    with on_day(dt.date(2027, 6, 1)):
        assessment_report_correct(
            actor=world.team.lead,
            assessment=a,
            issued_on=dt.date(2027, 5, 25),
            reason="Date typed wrongly",
        )

    # Then the first surveillance is open again in the stored schedule, in step
    kinds = set(ScheduledVisit.objects.filter(certificate=cert).values_list("kind", "sequence"))
    assert first_window_open in kinds
    assert visit_schedule_check() == []


@pytest.mark.parametrize(
    ("case", "code", "field"),
    [
        pytest.param("in-future", "assessment.report_in_future", "issued_on", id="in-future"),
        pytest.param("before-end", "assessment.report_before_end", "issued_on", id="before-end"),
        pytest.param("unchanged", "assessment.nothing_changed", "issued_on", id="unchanged"),
        pytest.param("no-reason", "invalid.reason_required", "reason", id="no-reason"),
        pytest.param("not-lead", "permission.team_member_required", None, id="not-lead"),
        pytest.param("in-progress", "assessment.transition_not_allowed", None, id="in-progress"),
        pytest.param("refused", "assessment.report_decided_on", None, id="refused-on-it"),
        pytest.param("granted", "assessment.transition_not_allowed", None, id="granted-on-it"),
    ],
)
def test_a_faulty_report_correction_is_refused(
    world: World, case: str, code: str, field: str | None
) -> None:
    # Given an initial assessment on 1 and 2 December 2026, reported on the 3rd (still in
    # progress, or decided on, in some cases)
    app = world.accepted_application()
    a = _plan(world, dt.date(2026, 12, 1), dt.date(2026, 12, 2), application=app)
    with on_day(dt.date(2026, 12, 1)):
        assessment_start(actor=world.team.lead, assessment=a)
    if case != "in-progress":
        with on_day(dt.date(2026, 12, 3)):
            assessment_issue_report(
                actor=world.team.lead, assessment=a, issued_on=dt.date(2026, 12, 3)
            )
    dm = world.team.decision_maker
    with on_day(TODAY):
        if case == "refused":
            certificate_refuse(
                actor=dm, application=app, assessment=a, rationale="Scope not covered"
            )
        elif case == "granted":
            certificate_grant(actor=dm, application=app, assessment=a)
    issued_on = {
        "in-future": dt.date(2026, 12, 7),
        "before-end": dt.date(2026, 12, 1),
        "unchanged": dt.date(2026, 12, 3),
    }.get(case, dt.date(2026, 12, 4))

    # When the report is corrected, Then it is refused and nothing changed
    with on_day(TODAY):
        err = _refused(
            lambda: assessment_report_correct(
                actor=world.team.assessor if case == "not-lead" else world.team.lead,
                assessment=a,
                issued_on=issued_on,
                reason="" if case == "no-reason" else "Date typed wrongly",
            ),
            code,
            a,
        )
    assert err.field == field
    if case == "refused":
        assert "A decision rests on this report" in err.message
    if case == "granted":
        assert err.params == {"state": "closed", "action": "correct_report"}


# --- no decision is dated after today --------------------------------------------------------

DECIDED = dt.date(2026, 6, 1)  # the test's today: the certificate below was granted before


def _other_cb(world: World) -> CBTeam:
    return World.make_cb(world.secretariat, f"N{make_user('cb').pk}", dt.date(2020, 1, 1))


def _decide(world: World, decision: str) -> tuple[Callable[[dt.date], Any], list[Certificate]]:
    """The decision service ``decision`` as a function of the decision's date, and the
    certificates it would change. What each service checks before the date (the subject's
    status, the assessment it rests on, the decision maker) is valid."""
    dm = world.team.decision_maker
    if decision in ("grant", "refuse"):
        app = world.accepted_application()
        a = world.assessment(app)
        if decision == "grant":
            return lambda on: certificate_grant(
                actor=dm, application=app, assessment=a, decided_on=on
            ), []
        return lambda on: certificate_refuse(
            actor=dm, application=app, assessment=a, rationale="Scope not covered", decided_on=on
        ), []
    cert = world.granted()
    if decision in ("renew", "maintain", "extend_scope", "site_add"):
        kind = {
            "renew": "reassessment",
            "maintain": "surveillance",
            "extend_scope": "scope_extension",
            "site_add": "scope_extension",
        }[decision]
        a = visit(world, cert, kind)
        line = NewScopeLine(
            category="PWB",
            site=world.site if decision == "extend_scope" else world.site2,
            wording="Printed board fabrication",
            standards=("ISO 9001:2015",),
        )
        service: Any = {
            "renew": certificate_renew,
            "maintain": certificate_maintain,
            "extend_scope": certificate_extend_scope,
            "site_add": certificate_site_add,
        }[decision]
        extra = {"new_scope_lines": [line]} if decision in ("extend_scope", "site_add") else {}
        return lambda on: service(
            actor=dm, certificate=cert, assessment=a, decided_on=on, **extra
        ), [cert]
    if decision == "transfer":
        new = _other_cb(world)
        a = visit(world, cert, "transfer_review", team=new)
        return lambda on: certificate_transfer(
            actor=new.decision_maker, certificate=cert, assessment=a, decided_on=on
        ), [cert]
    if decision == "restore":
        certificate_suspend(
            actor=dm,
            certificate=cert,
            reason_category="complaint",
            reason="Complaint",
            decided_on=cert.status_since + DAYS,
        )
    simple: dict[str, Callable[[dt.date], Any]] = {
        "reduce_scope": lambda on: certificate_reduce_scope(
            actor=dm, certificate=cert, remove=[("EPL", world.site.pk)], reason="x", decided_on=on
        ),
        "site_remove": lambda on: certificate_site_remove(
            actor=dm, certificate=cert, site=world.site, reason="Closed", decided_on=on
        ),
        "site_renamed": lambda on: certificate_site_renamed(
            actor=dm, certificate=cert, site=world.site, decided_on=on
        ),
        "site_moved": lambda on: certificate_site_moved(
            actor=dm, certificate=cert, site=world.site, decided_on=on
        ),
        "holder_renamed": lambda on: certificate_holder_renamed(
            actor=dm, certificate=cert, decided_on=on
        ),
        "standard_update": lambda on: certificate_standard_update(
            actor=dm,
            certificate=cert,
            standard=Standard.objects.get(designation="ISO 9001", edition="2015"),
            decided_on=on,
        ),
        "suspend": lambda on: certificate_suspend(
            actor=dm, certificate=cert, reason_category="complaint", reason="x", decided_on=on
        ),
        "restore": lambda on: certificate_restore(
            actor=dm, certificate=cert, reason="Resolved", decided_on=on
        ),
        "withdraw": lambda on: certificate_withdraw(
            actor=dm, certificate=cert, reason_category="misuse", reason="x", decided_on=on
        ),
        "cancel": lambda on: certificate_cancel(
            actor=dm, certificate=cert, reason="Holder's request", decided_on=on
        ),
    }
    return simple[decision], [cert]


DECISIONS = [
    "grant",
    "refuse",
    "renew",
    "maintain",
    "extend_scope",
    "site_add",
    "reduce_scope",
    "site_remove",
    "site_renamed",
    "site_moved",
    "holder_renamed",
    "standard_update",
    "transfer",
    "suspend",
    "restore",
    "withdraw",
    "cancel",
]


@pytest.mark.parametrize("decision", DECISIONS)
def test_a_decision_is_not_dated_after_today(world: World, decision: str) -> None:
    # Given everything a decision needs, but its date
    decide, certs = _decide(world, decision)
    rows = {c.pk: cert_row(c.pk) for c in certs}
    application_rows = list(Application.objects.values_list("pk", "status"))
    assessment_rows = list(Assessment.objects.values_list("pk", "status", "report_issued_on"))

    # When it is dated the day after today, Then it is refused, naming both dates, and
    # nothing is written
    with on_day(DECIDED):
        err = assert_refused(lambda: decide(DECIDED + DAYS), "decision.in_future", *certs)
    assert err.field == "decided_on"
    assert f"dated {format_date(DECIDED + DAYS)}, after today ({format_date(DECIDED)})" in (
        err.message
    )
    assert {c.pk: cert_row(c.pk) for c in certs} == rows
    assert list(Application.objects.values_list("pk", "status")) == application_rows
    assert list(Assessment.objects.values_list("pk", "status", "report_issued_on")) == (
        assessment_rows
    )


def test_the_decision_screen_lists_a_date_after_today(world: World) -> None:
    app = world.accepted_application()
    a = world.assessment(app)
    with on_day(DECIDED):
        codes = [
            b.code
            for b in grant_blockers(
                actor=world.team.decision_maker,
                application=app,
                assessment=a,
                on=DECIDED + DAYS,
            )
        ]
    assert codes == ["decision.in_future"]
