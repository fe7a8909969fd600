"""Rules of assessments, findings and corrective actions.

Each test breaks one rule and checks the stable error code, then that nothing was written:
no new assessment, team member, finding, corrective action or audit event, and the objects,
read again from the database, in the status they had.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable

import pytest

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.applications.services import application_submit
from apcert.assessments.models import Assessment, CorrectiveAction, Finding, TeamMember
from apcert.assessments.services import (
    assessment_plan,
    assessment_start,
    corrective_action_review,
    corrective_action_submit,
    finding_record,
)
from apcert.audit.models import AuditEvent
from apcert.core.errors import (
    DomainError,
    PermissionDenied,
    RuleViolation,
    ValidationFailed,
)
from apcert.schemes.models import Standard
from apcert.schemes.selectors import scheme_rules
from tests.factories import DAY0, World

pytestmark = pytest.mark.django_db

_cb_codes = itertools.count(1)

START = DAY0 + dt.timedelta(days=30)
END = START + dt.timedelta(days=1)


# --- helpers -------------------------------------------------------------------------------


def _counts() -> dict[str, int]:
    """Rows in every table that planning, findings and corrective actions could write."""
    return {
        "assessment": Assessment.objects.count(),
        "team_member": TeamMember.objects.count(),
        "finding": Finding.objects.count(),
        "corrective_action": CorrectiveAction.objects.count(),
        "audit_event": AuditEvent.objects.count(),
    }


def _plan(world: World, app: Application, team: list[tuple[User, str]]) -> Assessment:
    return assessment_plan(
        actor=world.team.manager,
        kind="initial",
        application=app,
        start_date=START,
        end_date=END,
        team=team,
    )


def _refused_plan(world: World, app: Application, team: list[tuple[User, str]]) -> DomainError:
    before = _counts()
    status = Application.objects.get(pk=app.pk).status
    with pytest.raises(DomainError) as exc:
        _plan(world, app, team)
    assert _counts() == before
    assert Application.objects.get(pk=app.pk).status == status
    assert not Assessment.objects.filter(application=app).exists()
    return exc.value


def _record(
    world: World,
    a: Assessment,
    *,
    grade: str = "major",
    raised_on: dt.date | None = None,
    requirement_kind: str = "iso9001",
    requirement_ref: str = "ISO 9001:2015 7.1.5",
    standard: Standard | None = None,
) -> Finding:
    return finding_record(
        actor=world.team.lead,
        assessment=a,
        grade=grade,
        requirement_kind=requirement_kind,
        requirement_ref=requirement_ref,
        description="Calibration records missing for the thickness gauge",
        raised_on=raised_on,
        standard=standard,
    )


def _in_progress(world: World) -> Assessment:
    app = world.accepted_application()
    a = _plan(world, app, [(world.team.lead, "lead"), (world.team.assessor, "member")])
    return assessment_start(actor=world.team.lead, assessment=a)


def _answered(world: World) -> tuple[Finding, CorrectiveAction]:
    a = _in_progress(world)
    finding = _record(world, a)
    return finding, world.answer(finding)


# --- the team -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "team",
    [
        pytest.param(lambda t: [(t.lead, "member"), (t.assessor, "member")], id="no-lead"),
        pytest.param(lambda t: [(t.lead, "lead"), (t.assessor, "lead")], id="two-leads"),
        pytest.param(lambda t: [], id="empty"),
    ],
)
def test_given_team_without_exactly_one_lead_when_planned_then_lead_required(
    world: World, team: Callable[..., list[tuple[User, str]]]
) -> None:
    # Given
    app = world.accepted_application()

    # When
    err = _refused_plan(world, app, team(world.team))

    # Then
    assert isinstance(err, RuleViolation)
    assert err.code == "assessment.lead_required"
    assert err.field == "team"


@pytest.mark.parametrize(
    ("who", "role"),
    [
        pytest.param("decision_maker", "member", id="decision-maker-as-member"),
        pytest.param("manager", "lead", id="scheme-manager-as-lead"),
        pytest.param("other_cb_assessor", "member", id="assessor-of-another-cb"),
        pytest.param("other_cb_assessor", "technical_expert", id="expert-of-another-cb"),
    ],
)
def test_given_team_member_not_assessor_of_the_cb_when_planned_then_not_qualified(
    world: World, who: str, role: str
) -> None:
    # Given
    t = world.team
    app = world.accepted_application()
    if who == "other_cb_assessor":
        other = World.make_cb(world.secretariat, f"RS{next(_cb_codes)}", dt.date(2020, 1, 1))
        user = other.assessor
    else:
        user = getattr(t, who)
    team = [(user, "lead")] if role == "lead" else [(t.lead, "lead"), (user, role)]

    # When
    err = _refused_plan(world, app, team)

    # Then
    assert isinstance(err, RuleViolation)
    assert err.code == "assessment.team_member_not_qualified"
    assert err.params == {"user": user.username}
    assert t.cb.code in err.message


@pytest.mark.parametrize("status", ["draft", "submitted"])
def test_given_application_not_accepted_when_initial_assessment_planned_then_refused(
    world: World, status: str
) -> None:
    # Given
    app = world.draft_application()
    if status == "submitted":
        app = application_submit(actor=world.org_user, application=app, on=DAY0)

    # When
    err = _refused_plan(world, app, [(world.team.lead, "lead")])

    # Then
    assert isinstance(err, RuleViolation)
    assert err.code == "assessment.application_not_accepted"


# --- findings -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["planned", "report_issued"])
def test_given_assessment_not_in_progress_when_finding_recorded_then_not_in_progress(
    world: World, status: str
) -> None:
    # Given
    app = world.accepted_application()
    if status == "planned":
        a = _plan(world, app, [(world.team.lead, "lead")])
    else:
        a = world.assessment(app)
    assert Assessment.objects.get(pk=a.pk).status == status
    before = _counts()

    # When
    with pytest.raises(RuleViolation) as exc:
        _record(world, a, raised_on=a.start_date)

    # Then
    assert exc.value.code == "assessment.not_in_progress"
    assert _counts() == before
    assert Assessment.objects.get(pk=a.pk).status == status


@pytest.mark.parametrize("offset", [-1, +1], ids=["day-before-start", "day-after-end"])
def test_given_date_outside_assessment_when_finding_recorded_then_raised_outside(
    world: World, offset: int
) -> None:
    # Given
    a = _in_progress(world)
    raised_on = (a.start_date if offset < 0 else a.end_date) + dt.timedelta(days=offset)
    before = _counts()

    # When
    with pytest.raises(RuleViolation) as exc:
        _record(world, a, raised_on=raised_on)

    # Then
    assert exc.value.code == "finding.raised_outside_assessment"
    assert exc.value.field == "raised_on"
    assert _counts() == before
    assert Assessment.objects.get(pk=a.pk).status == "in_progress"


@pytest.mark.parametrize("grade", ["major", "minor"])
@pytest.mark.parametrize("day", ["start", "end"])
def test_given_nonconformity_without_due_date_when_recorded_then_due_after_scheme_days(
    world: World, grade: str, day: str
) -> None:
    # Given
    a = _in_progress(world)
    raised_on = a.start_date if day == "start" else a.end_date
    days = scheme_rules(world.scheme).nonconformity_due_days

    # When
    finding = _record(world, a, grade=grade, raised_on=raised_on)

    # Then
    finding = Finding.objects.get(pk=finding.pk)
    assert finding.status == "open"
    assert finding.raised_on == raised_on
    assert finding.due_date == raised_on + dt.timedelta(days=days)
    assert AuditEvent.objects.filter(action="finding.record").count() == 1


def test_given_nonconformity_without_raised_on_when_recorded_then_due_from_start_date(
    world: World,
) -> None:
    # Given
    a = _in_progress(world)
    days = scheme_rules(world.scheme).nonconformity_due_days

    # When
    finding = _record(world, a)

    # Then
    assert finding.raised_on == a.start_date
    assert finding.due_date == a.start_date + dt.timedelta(days=days)


def test_given_observation_when_recorded_then_closed_and_due_on_the_day(world: World) -> None:
    # Given
    a = _in_progress(world)

    # When
    finding = _record(world, a, grade="observation", raised_on=a.end_date)

    # Then
    finding = Finding.objects.get(pk=finding.pk)
    assert (finding.status, finding.due_date, finding.closed_on) == (
        "closed",
        a.end_date,
        a.end_date,
    )


# --- corrective actions ---------------------------------------------------------------------


@pytest.mark.parametrize("comment", ["", "   "])
def test_given_reject_without_comment_when_reviewed_then_reason_required(
    world: World, comment: str
) -> None:
    # Given
    finding, ca = _answered(world)
    before = _counts()

    # When
    with pytest.raises(ValidationFailed) as exc:
        corrective_action_review(
            actor=world.team.lead,
            corrective_action=ca,
            outcome="reject",
            comment=comment,
            reviewed_on=ca.submitted_on + dt.timedelta(days=2),
        )

    # Then
    assert exc.value.code == "invalid.reason_required"
    assert exc.value.field == "comment"
    assert _counts() == before
    assert Finding.objects.get(pk=finding.pk).status == "answered"
    fresh = CorrectiveAction.objects.get(pk=ca.pk)
    assert (fresh.status, fresh.reviewed_by_id, fresh.reviewed_on) == ("submitted", None, None)


@pytest.mark.parametrize("who", ["decision_maker", "manager", "org_user", "other_team_lead"])
@pytest.mark.parametrize("outcome", ["verify", "accept_plan", "reject"])
def test_given_user_not_on_team_when_reviewing_then_assessor_required(
    world: World, who: str, outcome: str
) -> None:
    # Given
    finding, ca = _answered(world)
    if who == "org_user":
        actor = world.org_user
    elif who == "other_team_lead":
        actor = World.build().team.lead
    else:
        actor = getattr(world.team, who)
    before = _counts()

    # When
    with pytest.raises(PermissionDenied) as exc:
        corrective_action_review(
            actor=actor,
            corrective_action=ca,
            outcome=outcome,
            comment="Reviewed",
            reviewed_on=ca.submitted_on + dt.timedelta(days=2),
        )

    # Then
    assert exc.value.code == "permission.assessor_required"
    assert _counts() == before
    assert Finding.objects.get(pk=finding.pk).status == "answered"
    assert CorrectiveAction.objects.get(pk=ca.pk).status == "submitted"


def test_given_user_of_another_organization_when_answering_then_member_required(
    world: World,
) -> None:
    # Given: a user who administers another organization
    a = _in_progress(world)
    finding = _record(world, a)
    outsider = World.build().org_user
    before = _counts()

    # When
    with pytest.raises(PermissionDenied) as exc:
        corrective_action_submit(
            actor=outsider,
            finding=finding,
            correction="Records completed",
            root_cause="No checklist",
            action="Checklist introduced",
            submitted_on=finding.raised_on + dt.timedelta(days=10),
        )

    # Then
    assert exc.value.code == "permission.organization_member_required"
    assert _counts() == before
    assert Finding.objects.get(pk=finding.pk).status == "open"


# --- bugs found while writing these tests (fixed; kept as regression tests) -----------------


def test_given_technical_expert_not_assessor_when_verifying_then_refused(world: World) -> None:
    # Given: the scheme manager joins the team as a technical expert (allowed by planning)
    t = world.team
    app = world.accepted_application()
    a = _plan(world, app, [(t.lead, "lead"), (t.manager, "technical_expert")])
    a = assessment_start(actor=t.lead, assessment=a)
    finding = _record(world, a)
    ca = world.answer(finding)
    before = _counts()

    # When
    with pytest.raises(PermissionDenied) as exc:
        corrective_action_review(
            actor=t.manager,
            corrective_action=ca,
            outcome="verify",
            reviewed_on=ca.submitted_on + dt.timedelta(days=2),
        )

    # Then
    assert exc.value.code == "permission.assessor_required"
    assert _counts() == before
    assert Finding.objects.get(pk=finding.pk).status == "answered"


def test_given_standard_not_declared_when_finding_recorded_against_it_then_refused(
    world: World,
) -> None:
    # Given: the scope declares ISO 9001:2015 only
    a = _in_progress(world)
    undeclared = Standard.objects.get(designation="IEC 61340-5-1", edition="2024")
    before = _counts()

    # When
    with pytest.raises(DomainError) as exc:
        _record(
            world,
            a,
            requirement_kind="standard",
            requirement_ref="IEC 61340-5-1:2024 5.3.2",
            standard=undeclared,
        )

    # Then
    assert exc.value.code == "finding.standard_not_declared"
    assert _counts() == before
