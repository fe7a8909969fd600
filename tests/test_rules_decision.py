"""Rules of the certification decision: certificate_grant
and certificate_refuse.

Each test breaks one rule and checks the stable error code, then that nothing was written:
no decision, certificate, issue, status change, number sequence or audit event, and the
application and assessment, read again from the database, in the status they had.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

import pytest

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.applications.services import application_withdraw
from apcert.assessments.models import Assessment, Finding
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBAcceptance
from apcert.bodies.services import cb_acceptance_grant, cb_acceptance_transition
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateNumberSequence,
    CertificateStatusChange,
    Decision,
)
from apcert.certificates.services import certificate_grant, certificate_refuse
from apcert.core.dates import add_months, format_date
from apcert.core.errors import DomainError, PermissionDenied, RuleViolation
from apcert.schemes.models import Standard
from apcert.schemes.selectors import scheme_rules
from tests.factories import DAY0, World

pytestmark = pytest.mark.django_db

_cb_codes = itertools.count(1)


# --- helpers -------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    """Rows in every table that a decision could write."""
    return {
        "decision": Decision.objects.count(),
        "certificate": Certificate.objects.count(),
        "certificate_issue": CertificateIssue.objects.count(),
        "status_change": CertificateStatusChange.objects.count(),
        "number_sequence": CertificateNumberSequence.objects.count(),
        "audit_event": AuditEvent.objects.count(),
    }


def _statuses(app: Application, a: Assessment) -> tuple[str, str]:
    return (
        Application.objects.get(pk=app.pk).status,
        Assessment.objects.get(pk=a.pk).status,
    )


def _ready(world: World, *, findings: tuple[str, ...] = ()) -> tuple[Application, Assessment]:
    """An accepted application and its issued initial assessment."""
    app = world.accepted_application()
    return app, world.assessment(app, findings=findings)


def _decision_day(a: Assessment) -> dt.date:
    return a.end_date + dt.timedelta(days=40)


def _refused_grant(
    world: World,
    app: Application,
    a: Assessment,
    *,
    actor: User | None = None,
    decided_on: dt.date | None = None,
) -> DomainError:
    """Grant, expecting a refusal; check that nothing was written and return the error."""
    before, statuses = _counts(), _statuses(app, a)
    with pytest.raises(DomainError) as exc:
        certificate_grant(
            actor=actor or world.team.decision_maker,
            application=app,
            assessment=a,
            decided_on=decided_on or _decision_day(a),
        )
    assert _counts() == before
    assert _statuses(app, a) == statuses
    return exc.value


def _limit(world: World, a: Assessment) -> dt.date:
    months = scheme_rules(world.scheme).initial_major_verification_months
    return add_months(a.end_date, months)


def _major(a: Assessment) -> Finding:
    return a.findings.get(grade="major")


# --- the decision maker ---------------------------------------------------------------------


def test_given_decision_maker_on_team_when_granting_then_maker_on_team(world: World) -> None:
    # Given: decision_maker2 is also an assessor and sits on the team
    t = world.team
    app = world.accepted_application()
    a = world.assessment(app, team=[(t.lead, "lead"), (t.decision_maker2, "member")])

    # When
    err = _refused_grant(world, app, a, actor=t.decision_maker2)

    # Then
    assert isinstance(err, RuleViolation)
    assert err.code == "decision.maker_on_team"
    assert err.params == {"also": []}


def test_given_decision_maker_on_team_when_refusing_then_maker_on_team(world: World) -> None:
    # Given
    t = world.team
    app = world.accepted_application()
    a = world.assessment(app, team=[(t.lead, "lead"), (t.decision_maker2, "member")])
    before, statuses = _counts(), _statuses(app, a)

    # When
    with pytest.raises(RuleViolation) as exc:
        certificate_refuse(
            actor=t.decision_maker2,
            application=app,
            assessment=a,
            rationale="Process control not demonstrated",
            decided_on=_decision_day(a),
        )

    # Then
    assert exc.value.code == "decision.maker_on_team"
    assert _counts() == before
    assert _statuses(app, a) == statuses


def test_given_decision_maker_not_on_team_when_granting_then_granted(world: World) -> None:
    # Given: the same team, decided by the other decision maker
    t = world.team
    app = world.accepted_application()
    a = world.assessment(app, team=[(t.lead, "lead"), (t.decision_maker2, "member")])

    # When
    cert = certificate_grant(
        actor=t.decision_maker, application=app, assessment=a, decided_on=_decision_day(a)
    )

    # Then
    assert Certificate.objects.get(pk=cert.pk).status == "current"


@pytest.mark.parametrize("role", ["manager", "lead", "assessor"])
def test_given_cb_staff_without_decision_role_when_granting_then_cb_role_required(
    world: World, role: str
) -> None:
    # Given
    app, a = _ready(world)
    actor = getattr(world.team, role)

    # When
    err = _refused_grant(world, app, a, actor=actor)

    # Then
    assert isinstance(err, PermissionDenied)
    assert err.code == "permission.cb_role_required"
    assert err.params == {"cb": world.team.cb.code, "roles": ["decision_maker"]}


def test_given_organization_user_when_granting_then_cb_role_required(world: World) -> None:
    # Given
    app, a = _ready(world)

    # When
    err = _refused_grant(world, app, a, actor=world.org_user)

    # Then
    assert err.code == "permission.cb_role_required"


def test_given_decision_maker_of_another_cb_when_granting_then_cb_role_required(
    world: World,
) -> None:
    # Given
    other = World.make_cb(world.secretariat, f"RD{next(_cb_codes)}", dt.date(2020, 1, 1))
    app, a = _ready(world)

    # When
    err = _refused_grant(world, app, a, actor=other.decision_maker)

    # Then
    assert isinstance(err, PermissionDenied)
    assert err.code == "permission.cb_role_required"
    assert err.params["cb"] == world.team.cb.code


# --- the report and the findings ------------------------------------------------------------


def test_given_report_not_issued_when_granting_then_report_not_issued(world: World) -> None:
    # Given
    app = world.accepted_application()
    a = world.assessment(app, report=False)
    assert Assessment.objects.get(pk=a.pk).status == "in_progress"

    # When
    err = _refused_grant(world, app, a)

    # Then
    assert err.code == "decision.report_not_issued"
    assert err.params == {"also": []}


@pytest.mark.parametrize("answer", ["none", "answered", "accept_plan", "reject"])
def test_given_major_not_verified_when_granting_then_open_major(world: World, answer: str) -> None:
    # Given: a major left open, answered, with only its plan accepted, or rejected
    app, a = _ready(world, findings=("major",))
    major = _major(a)
    if answer != "none":
        ca = world.answer(major)
        if answer != "answered":
            world.review(ca, answer)

    # When
    err = _refused_grant(world, app, a)

    # Then
    assert err.code == "decision.open_major"
    assert err.params == {"findings": [major.pk], "also": []}


@pytest.mark.parametrize("answer", ["none", "answered", "reject"])
def test_given_minor_without_accepted_plan_when_granting_then_minor_without_plan(
    world: World, answer: str
) -> None:
    # Given
    app, a = _ready(world, findings=("minor", "observation"))
    minor = a.findings.get(grade="minor")
    if answer != "none":
        ca = world.answer(minor)
        if answer == "reject":
            world.review(ca, "reject")

    # When
    err = _refused_grant(world, app, a)

    # Then
    assert err.code == "decision.minor_without_plan"
    assert err.params == {"findings": [minor.pk], "also": []}


@pytest.mark.parametrize("outcome", ["accept_plan", "verify"])
def test_given_minor_with_accepted_plan_or_verified_when_granting_then_granted(
    world: World, outcome: str
) -> None:
    # Given
    app, a = _ready(world, findings=("minor",))
    world.review(world.answer(a.findings.get()), outcome)

    # When
    cert = certificate_grant(
        actor=world.team.decision_maker, application=app, assessment=a, decided_on=_decision_day(a)
    )

    # Then
    assert Certificate.objects.get(pk=cert.pk).status == "current"


# --- the six-month rule for majors of an initial assessment ---------------------------------


def test_given_major_verified_after_six_months_when_granting_then_initial_assessment_expired(
    world: World,
) -> None:
    # Given: the major is verified one day after the limit
    app, a = _ready(world, findings=("major",))
    limit = _limit(world, a)
    major = _major(a)
    world.review(world.answer(major), "verify", on=limit + dt.timedelta(days=1))

    # When
    err = _refused_grant(world, app, a, decided_on=limit + dt.timedelta(days=10))

    # Then: the major is closed, so only the six-month rule speaks
    assert err.code == "decision.initial_assessment_expired"
    assert err.params == {"limit": limit.isoformat(), "findings": [major.pk], "also": []}
    assert format_date(limit) in err.message


def test_given_major_open_and_decision_after_six_months_when_granting_then_expired(
    world: World,
) -> None:
    # Given
    app, a = _ready(world, findings=("major",))
    limit = _limit(world, a)
    major = _major(a)

    # When
    err = _refused_grant(world, app, a, decided_on=limit + dt.timedelta(days=1))

    # Then
    assert err.code == "decision.initial_assessment_expired"
    assert err.params == {
        "limit": limit.isoformat(),
        "findings": [major.pk],
        "also": ["decision.open_major"],
    }


def test_given_major_open_and_decision_on_the_limit_when_granting_then_only_open_major(
    world: World,
) -> None:
    # Given
    app, a = _ready(world, findings=("major",))

    # When
    err = _refused_grant(world, app, a, decided_on=_limit(world, a))

    # Then
    assert err.code == "decision.open_major"
    assert err.params["also"] == []


@pytest.mark.parametrize("verified_after_days", [30, None], ids=["well-within", "on-the-limit"])
def test_given_major_verified_within_six_months_when_decided_later_then_granted(
    world: World, verified_after_days: int | None
) -> None:
    # Given: the major is verified within the limit; the decision comes two months after it
    app, a = _ready(world, findings=("major",))
    limit = _limit(world, a)
    verified_on = (
        limit if verified_after_days is None else a.end_date + dt.timedelta(verified_after_days)
    )
    world.review(world.answer(_major(a)), "verify", on=verified_on)
    decided_on = add_months(limit, 2)

    # When
    cert = certificate_grant(
        actor=world.team.decision_maker, application=app, assessment=a, decided_on=decided_on
    )

    # Then
    cert = Certificate.objects.get(pk=cert.pk)
    assert cert.status == "current"
    assert cert.initial_decision_on == decided_on
    assert _statuses(app, a) == ("accepted", "closed")


# --- the CB's acceptance and the declared standards on the decision day ---------------------


#: The acceptance action that leads to each status.
ACTION_TO = {"suspended": "suspend", "withdrawn": "withdraw"}


@pytest.mark.parametrize("status", ["suspended", "withdrawn"])
def test_given_cb_acceptance_lost_before_decision_when_granting_then_cb_not_accepted(
    world: World, status: str
) -> None:
    # Given: everything in order, then the Secretariat suspends or withdraws the acceptance
    app, a = _ready(world, findings=("major", "minor"))
    world.resolve_findings(a)
    acceptance = CBAcceptance.objects.get(cb=world.team.cb, programme=world.programme)
    cb_acceptance_transition(
        actor=world.secretariat,
        acceptance=acceptance,
        action=ACTION_TO[status],
        reason="Peer assessment",
    )

    # When
    err = _refused_grant(world, app, a)

    # Then
    assert err.code == "decision.cb_not_accepted"
    assert err.params == {"programme": "AP", "also": []}


def test_given_cb_acceptance_expired_before_decision_when_granting_then_cb_not_accepted(
    world: World,
) -> None:
    # Given: a CB whose acceptance ends between submission and the decision
    team = World.make_cb(world.secretariat, f"RD{next(_cb_codes)}", dt.date(2020, 1, 1), ())
    valid_until = DAY0 + dt.timedelta(days=60)
    cb_acceptance_grant(
        actor=world.secretariat,
        cb=team.cb,
        programme=world.programme,
        accepted_on=dt.date(2020, 1, 1),
        valid_until=valid_until,
    )
    w = replace(world, team=team)
    app = w.accepted_application()
    a = w.assessment(app)
    assert a.report_issued_on is not None
    assert a.report_issued_on <= valid_until
    decided_on = valid_until + dt.timedelta(days=1)

    # When
    err = _refused_grant(w, app, a, decided_on=decided_on)

    # Then
    assert err.code == "decision.cb_not_accepted"
    assert err.params == {"programme": "AP", "also": []}


def test_given_standard_superseded_after_submission_when_granting_then_standard_not_current(
    world: World,
) -> None:
    # Given: ISO 9001:2015 was current when declared; a new edition supersedes it
    app, a = _ready(world)
    new = Standard.objects.create(
        designation="ISO 9001", edition="2026", title="Quality management systems"
    )
    Standard.objects.filter(designation="ISO 9001", edition="2015").update(
        status="superseded", superseded_by=new
    )

    # When
    err = _refused_grant(world, app, a)

    # Then
    assert err.code == "decision.standard_not_current"
    assert err.params == {"standard": "ISO 9001:2015", "current": "ISO 9001:2026", "also": []}
    assert "ISO 9001:2026" in err.message


def test_given_standard_withdrawn_by_decision_day_when_granting_then_standard_not_current(
    world: World,
) -> None:
    # Given: the declared edition reaches its withdrawal date on the decision day
    app, a = _ready(world)
    decided_on = _decision_day(a)
    Standard.objects.filter(designation="ISO 9001", edition="2015").update(withdrawn_on=decided_on)

    # When
    err = _refused_grant(world, app, a, decided_on=decided_on)

    # Then
    assert err.code == "decision.standard_not_current"
    assert err.params == {"standard": "ISO 9001:2015", "also": []}


# --- the application ------------------------------------------------------------------------


def test_given_application_already_granted_when_granting_again_then_already_granted(
    world: World,
) -> None:
    # Given
    cert = world.granted()
    app = Application.objects.get(pk=cert.application_id)
    a = Assessment.objects.get(application=app)

    # When: the other decision maker tries again
    err = _refused_grant(world, app, a, actor=world.team.decision_maker2)

    # Then
    assert err.code == "decision.already_granted"
    assert err.params == {"also": []}
    assert Certificate.objects.filter(application=app).count() == 1


def test_given_application_withdrawn_after_assessment_when_granting_then_not_accepted(
    world: World,
) -> None:
    # Given
    app, a = _ready(world)
    app = application_withdraw(actor=world.org_user, application=app, reason="Plant sold")

    # When
    err = _refused_grant(world, app, a)

    # Then
    assert err.code == "decision.application_not_accepted"
    assert err.params == {"also": []}
    assert "withdrawn" in err.message


def test_given_assessment_already_refused_on_when_granting_then_assessment_already_used(
    world: World,
) -> None:
    # Given: a refusal rests on the assessment
    app, a = _ready(world)
    certificate_refuse(
        actor=world.team.decision_maker,
        application=app,
        assessment=a,
        rationale="Process control not demonstrated",
        decided_on=_decision_day(a),
    )

    # When: the other decision maker tries to grant on the same assessment
    err = _refused_grant(world, app, a, actor=world.team.decision_maker2)

    # Then
    assert err.code == "decision.assessment_already_used"
    assert err.params == {"also": []}


# --- bugs found while writing these tests (fixed; kept as regression tests) -----------------


def test_given_application_already_granted_when_refused_then_refused(world: World) -> None:
    # Given
    cert = world.granted()
    app = Application.objects.get(pk=cert.application_id)
    a = Assessment.objects.get(application=app)
    before = _counts()

    # When
    with pytest.raises(DomainError) as exc:
        certificate_refuse(
            actor=world.team.decision_maker2,
            application=app,
            assessment=a,
            rationale="Changed our mind",
            decided_on=_decision_day(a),
        )

    # Then
    assert exc.value.code == "decision.already_granted"
    assert _counts() == before
    assert Certificate.objects.get(pk=cert.pk).status == "current"
