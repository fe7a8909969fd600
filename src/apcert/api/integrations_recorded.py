"""Recording work done in a CB's own software, over the API for integrators: the outcome of
an initial assessment carried out there and the decision taken on it, for an application
made to the token's CB. The record is checked against the rules of work run in apcert
before anything is written (``assessment_outcome_record``); a refusal names the first
broken rule by its code, and its message every other one."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema

from apcert.accounts.models import User
from apcert.api.errors import APPLICATION_NOT_FOUND
from apcert.api.integrations import (
    WRITE_HEADERS,
    Problem,
    api,
    caller_of,
    place_applications,
    written,
)
from apcert.assessments.errors import ASSESSMENT_TEAM_MEMBER_NOT_QUALIFIED
from apcert.bodies.models import CertificationBody
from apcert.certificates.services import (
    RecordedFinding,
    RecordedMember,
    RecordedOutcome,
    assessment_outcome_record,
)
from apcert.core.errors import (
    PERMISSION_CB_ROLE_REQUIRED,
    NotFound,
    PermissionDenied,
    RuleViolation,
)

#: Words of the record: no NUL character (no value holds one, and PostgreSQL refuses it).
_NO_NUL = r"^[^\x00]*$"
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_NUL)]
Words = Annotated[str, Field(max_length=4000, pattern=_NO_NUL)]
Code = Annotated[str, Field(max_length=40, pattern=_NO_NUL)]


class RecordedMemberIn(Schema):
    """A member of the team as the CB's software names them."""

    name: Name = Field(..., description="The person's name, as the report gives it.")
    role: Code = Field(..., description="`lead`, `member` or `technical_expert`; one lead.")
    username: Code | None = Field(
        None,
        description=(
            "The person's user name in apcert, when they are on the CB's staff here: they "
            "are then checked as for a team run in apcert (an active assessor of the CB; a "
            "technical expert, on its staff). Leave out for people without an account."
        ),
    )


class RecordedFindingIn(Schema):
    """A finding as the CB's software recorded it."""

    grade: Code = Field(..., description="`major`, `minor` or `observation`.")
    requirement_kind: Code = Field(
        "iso9001", description="`iso9001`, `iecq` or `standard` (a clause of a declared standard)."
    )
    requirement: Name = Field(..., description="The requirement, e.g. `ISO 9001:2015 8.5.1`.")
    standard: Words = Field(
        "",
        description=(
            "For a clause of a declared standard: the standard's reference, "
            "`DESIGNATION:EDITION` (e.g. `IEC 61340-5-1:2016`), one declared in the scope."
        ),
    )
    description: Words = Field(..., description="What was found.")
    raised_on: dt.date = Field(..., description="Within the assessment's dates.")
    closed_on: dt.date | None = Field(
        None,
        description=(
            "The day a nonconformity was verified as corrected (null: still open). An "
            "observation is closed when raised. A major closed after the decision was open "
            "when it was taken: a grant is then refused."
        ),
    )
    plan_accepted_on: dt.date | None = Field(
        None,
        description=(
            "The day the corrective action plan of a nonconformity still open was accepted: "
            "a grant needs one for every minor nonconformity open at the decision."
        ),
    )


class RecordedDecisionIn(Schema):
    """The certification decision taken on the assessment."""

    kind: Code = Field(..., description="`grant` or `refuse`.")
    decided_by: Code = Field(
        ...,
        description=(
            "The user name of the decision maker: a decision maker of the CB in apcert, who "
            "was not on the team (neither as a user nor by name)."
        ),
    )
    decided_on: dt.date = Field(..., description="On or after the report's date; not after today.")
    rationale: Words = Field("", description="Why; required for a refusal.")


class RecordedOutcomeIn(Schema):
    """The outcome of an initial assessment run in the CB's own software, and its decision."""

    kind: Code = Field("initial", description="`initial`: the assessment of this application.")
    start_date: dt.date
    end_date: dt.date
    team: list[RecordedMemberIn] = Field(..., max_length=50)
    findings: list[RecordedFindingIn] = Field(default_factory=list, max_length=500)
    report_issued_on: dt.date = Field(..., description="On or after the last day.")
    summary: Words = ""
    decision: RecordedDecisionIn


class RecordedCertificateOut(Schema):
    id: int
    number: str
    status: str
    expires_on: dt.date


class RecordedOutcomeOut(Schema):
    assessment_id: int
    #: Always `recorded`: the assessment was run in the CB's own software.
    origin: str
    decision_id: int
    decision: str
    decided_on: dt.date
    decided_by: str
    #: The certificate granted (a draft while the Secretariat reviews it, when the scheme
    #: asks for that review), or null for a refusal.
    certificate: RecordedCertificateOut | None


def _staff(cb: CertificationBody, username: str) -> User | None:
    """The person of the CB's staff with this user name, or None (a person of another
    place is no one here)."""
    return (
        User.objects.filter(username=username, cb_roles__cb=cb, cb_roles__active=True)
        .distinct()
        .first()
    )


def _out(outcome: RecordedOutcome) -> RecordedOutcomeOut:
    cert = outcome.certificate
    return RecordedOutcomeOut(
        assessment_id=outcome.assessment.pk,
        origin=outcome.assessment.origin,
        decision_id=outcome.decision.pk,
        decision=outcome.decision.kind,
        decided_on=outcome.decision.decided_on,
        decided_by=outcome.decision.decided_by.username,
        certificate=(
            RecordedCertificateOut(
                id=cert.pk, number=cert.number, status=cert.status, expires_on=cert.expires_on
            )
            if cert is not None
            else None
        ),
    )


def _record(request: HttpRequest, application_id: int, body: RecordedOutcomeIn) -> Schema:
    caller = caller_of(request)
    app = (
        place_applications(caller)
        .select_related("cb", "scheme", "organization")
        .filter(pk=application_id)
        .first()
    )
    if app is None:
        raise NotFound(
            f"No application {application_id} of this place.", code=APPLICATION_NOT_FOUND
        )
    decided_by = _staff(app.cb, body.decision.decided_by)
    if decided_by is None:
        raise PermissionDenied(
            f"{body.decision.decided_by!r} is not a decision maker of {app.cb.code}.",
            code=PERMISSION_CB_ROLE_REQUIRED,
            field="decision.decided_by",
        )
    team = []
    for m in body.team:
        user = None
        if m.username is not None:
            user = _staff(app.cb, m.username)
            if user is None:
                raise RuleViolation(
                    f"{m.username!r} is not on the staff of {app.cb.code}: leave out the user "
                    "name of a person without an account here.",
                    code=ASSESSMENT_TEAM_MEMBER_NOT_QUALIFIED,
                    field="team",
                )
        team.append(RecordedMember(name=m.name, role=m.role, user=user))
    outcome = assessment_outcome_record(
        actor=caller.user,
        application=app,
        kind=body.kind,
        start_date=body.start_date,
        end_date=body.end_date,
        team=team,
        findings=[
            RecordedFinding(
                grade=f.grade,
                requirement_kind=f.requirement_kind,
                requirement_ref=f.requirement,
                description=f.description,
                raised_on=f.raised_on,
                closed_on=f.closed_on,
                plan_accepted_on=f.plan_accepted_on,
                standard=f.standard,
            )
            for f in body.findings
        ],
        report_issued_on=body.report_issued_on,
        decision=body.decision.kind,
        decided_by=decided_by,
        decided_on=body.decision.decided_on,
        rationale=body.decision.rationale,
        summary=body.summary,
    )
    return _out(outcome)


_ANSWERS: dict[int, Any] = {
    200: RecordedOutcomeOut,
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    422: Problem,
}


@api.post(
    "/applications/{application_id}/recorded-outcome",
    response=_ANSWERS,
    operation_id="application_recorded_outcome",
    summary="Record the outcome of an initial assessment run in the CB's own software, and "
    "its decision",
    description=(
        "For a CB that runs its audits in its own software: the assessment of an accepted "
        "application to the token's CB with its dates and team (names and roles), its "
        "findings by grade with their closure dates, its report's date, and the grant or "
        "refusal with its decision maker. apcert checks the rules of work run in apcert "
        "against the record before anything is written (the decision maker not on the team, "
        "no major open at the decision, the dates in order and none after today, the "
        "standards current, the scope inside the CB's acceptance): a refusal answers the "
        "first broken rule's `code` (400, 403 or 409) and lists every other in its message, "
        "and writes nothing. A record that passes is kept, marked as recorded rather than "
        "run in apcert, as the basis of the decision, which is taken as on the decision "
        "screens: a grant numbers, issues and publishes the certificate. Needs the write "
        "scope."
    ),
    openapi_extra=WRITE_HEADERS,
)
def application_recorded_outcome(
    request: HttpRequest, application_id: int, body: RecordedOutcomeIn
) -> HttpResponse:
    return written(request, lambda: _record(request, application_id, body))
