"""The CB workflow over the API for integrators: assessments planned with their team,
started, findings recorded and answered, corrective actions reviewed, the report issued
(the decision on it: :mod:`apcert.api.integrations_decisions`).

Each endpoint calls the service the back-office screens call, with the token's issuer as
the actor, so every rule of the scheme holds here as on the screens and is refused with the
same code: the lead assessor starts an assessment and issues its report, a team member
records findings, an assessor of the team reviews answers, a decision maker who was not on
the team decides. A token reaches only its place's assessments (a CB's own; an
organization's issued reports and its findings; the Secretariat reads all).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Query, Schema

from apcert.accounts.api_tokens import ApiCaller
from apcert.accounts.models import User
from apcert.api.errors import (
    ASSESSMENT_NOT_FOUND,
    CORRECTIVE_ACTION_NOT_FOUND,
    FINDING_NOT_FOUND,
    TEAM_MEMBER_UNKNOWN,
)
from apcert.api.integrations import (
    WRITE_HEADERS,
    CertificateOut,
    PageIn,
    Problem,
    api,
    caller_of,
    certificate_out,
    keyset_page,
    place_application,
    place_certificate,
    require_write_scope,
    written,
)
from apcert.assessments.choices import AssessmentKind
from apcert.assessments.models import Assessment, CorrectiveAction, Finding
from apcert.assessments.selectors import (
    assessment_findings,
    assessment_reports_for_organization_users,
    assessment_team,
    assessments_for_cb_staff,
    corrective_actions_for_cb_staff,
    findings_for_organization_users,
    findings_of_assessments,
)
from apcert.assessments.services import (
    assessment_cancel,
    assessment_issue_report,
    assessment_plan,
    assessment_reschedule,
    assessment_start,
    corrective_action_review,
    corrective_action_submit,
    finding_record,
)
from apcert.bodies.models import CertificationBody
from apcert.bodies.selectors import active_staff_of
from apcert.certificates.planning import FOLLOWUP_KINDS, visit_plan_problems
from apcert.core.errors import INVALID_CHOICE, NotFound, ValidationFailed
from apcert.schemes.selectors import standard_by_id

#: The answers of a write of the workflow, besides 200.
WRITE_REFUSALS: dict[int, Any] = {
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    422: Problem,
}


# --- what a token sees of assessments and findings -------------------------------------------


def place_assessments(caller: ApiCaller) -> QuerySet[Assessment]:
    """The assessments the token's issuer sees in the back office, of the token's place: a
    CB's own; an organization's, once their report is issued (as its people see them);
    the Secretariat's, all."""
    if caller.cb is not None:
        return assessments_for_cb_staff(caller.user).filter(cb=caller.cb)
    if caller.organization is not None:
        return assessment_reports_for_organization_users(caller.user, caller.organization)
    return assessments_for_cb_staff(caller.user)


def place_findings(caller: ApiCaller) -> QuerySet[Finding]:
    """The findings the token's issuer sees, of the token's place: those of the CB's
    assessments; those of the organization's assessments (as its people answer them)."""
    if caller.organization is not None:
        return findings_for_organization_users(caller.user, organization_id=caller.organization.pk)
    return findings_of_assessments(place_assessments(caller))


def place_assessment(request: HttpRequest, assessment_id: int) -> Assessment:
    found = place_assessments(caller_of(request)).filter(pk=assessment_id).first()
    if found is None:
        raise NotFound(f"No assessment {assessment_id} of this place.", code=ASSESSMENT_NOT_FOUND)
    return found


def place_finding(request: HttpRequest, finding_id: int) -> Finding:
    found = place_findings(caller_of(request)).filter(pk=finding_id).first()
    if found is None:
        raise NotFound(f"No finding {finding_id} of this place.", code=FINDING_NOT_FOUND)
    return found


def _corrective_action(request: HttpRequest, corrective_action_id: int) -> CorrectiveAction:
    caller = caller_of(request)
    found = None
    if caller.cb is not None:
        found = (
            corrective_actions_for_cb_staff(caller.user)
            .filter(finding__assessment__cb=caller.cb, pk=corrective_action_id)
            .first()
        )
    if found is None:
        raise NotFound(
            f"No corrective action {corrective_action_id} of this place.",
            code=CORRECTIVE_ACTION_NOT_FOUND,
        )
    return found


# --- the answers -------------------------------------------------------------------------------


class AssessmentOut(Schema):
    id: int
    kind: str
    status: str
    cb: str
    application_id: int | None
    #: The number of the certificate assessed (not an initial assessment).
    certificate: str | None
    start_date: dt.date
    end_date: dt.date
    stage1_document_review: bool
    report_issued_on: dt.date | None
    summary: str
    #: "run" in apcert, or "recorded" from the CB's own software.
    origin: str


class AssessmentPage(Schema):
    items: list[AssessmentOut]
    next_after: int | None


class TeamMemberOut(Schema):
    #: The member's user in apcert; null for a member of a team recorded from the CB's own
    #: software who has no account here.
    username: str | None
    name: str
    role: str


class CorrectiveActionOut(Schema):
    id: int
    status: str
    correction: str
    root_cause: str
    action: str
    evidence: str
    submitted_on: dt.date
    reviewed_on: dt.date | None
    review_comment: str


class FindingOut(Schema):
    id: int
    assessment_id: int
    number: int
    grade: str
    status: str
    requirement_kind: str
    requirement_ref: str
    #: The declared standard (``DESIGNATION:EDITION``) whose clause is not met, if any.
    standard: str | None
    description: str
    raised_on: dt.date
    due_date: dt.date
    closed_on: dt.date | None
    corrective_actions: list[CorrectiveActionOut]


class FindingPage(Schema):
    items: list[FindingOut]
    next_after: int | None


class AssessmentDetailOut(AssessmentOut):
    team: list[TeamMemberOut]
    findings: list[FindingOut]
    #: The assessed certificate as it is now, with its ETag: the ``If-Match`` of the
    #: decision on it. For a transfer review, the other CB's certificate, of which its
    #: taker sees what the transfer screens show (number, holder, CB, status, expiry).
    assessed_certificate: CertificateOut | None


def assessment_out(a: Assessment) -> AssessmentOut:
    return AssessmentOut(
        id=a.pk,
        kind=a.kind,
        status=a.status,
        cb=a.cb.code,
        application_id=a.application_id,
        certificate=a.certificate.number if a.certificate is not None else None,
        start_date=a.start_date,
        end_date=a.end_date,
        stage1_document_review=a.stage1_document_review,
        report_issued_on=a.report_issued_on,
        summary=a.summary,
        origin=a.origin,
    )


def _corrective_action_out(ca: CorrectiveAction) -> CorrectiveActionOut:
    return CorrectiveActionOut(
        id=ca.pk,
        status=ca.status,
        correction=ca.correction,
        root_cause=ca.root_cause,
        action=ca.action,
        evidence=ca.evidence,
        submitted_on=ca.submitted_on,
        reviewed_on=ca.reviewed_on,
        review_comment=ca.review_comment,
    )


def finding_out(f: Finding, answers: list[CorrectiveAction] | None = None) -> FindingOut:
    if answers is None:
        answers = list(f.corrective_actions.order_by("id"))
    return FindingOut(
        id=f.pk,
        assessment_id=f.assessment_id,
        number=f.number,
        grade=f.grade,
        status=f.status,
        requirement_kind=f.requirement_kind,
        requirement_ref=f.requirement_ref,
        standard=f.standard.reference if f.standard is not None else None,
        description=f.description,
        raised_on=f.raised_on,
        due_date=f.due_date,
        closed_on=f.closed_on,
        corrective_actions=[_corrective_action_out(ca) for ca in answers],
    )


def assessment_detail(a: Assessment) -> AssessmentDetailOut:
    a = Assessment.objects.select_related("cb", "certificate").get(pk=a.pk)
    return AssessmentDetailOut(
        **assessment_out(a).model_dump(),
        team=[
            TeamMemberOut(
                username=m.user.username if m.user is not None else None,
                name=m.name or (m.user.full_name if m.user is not None else ""),
                role=m.role,
            )
            for m in assessment_team(a)
        ],
        findings=[finding_out(f, list(f.corrective_actions.all())) for f in assessment_findings(a)],
        assessed_certificate=(
            certificate_out(a.certificate) if a.certificate is not None else None
        ),
    )


# --- reads -----------------------------------------------------------------------------------


@api.get(
    "/assessments",
    response={200: AssessmentPage, 401: Problem, 422: Problem},
    operation_id="assessments_list",
    summary="The assessments of the token's place, by id, a page at a time",
)
def assessments_list(request: HttpRequest, page: Query[PageIn]) -> AssessmentPage:
    rows, next_after = keyset_page(
        place_assessments(caller_of(request)).select_related("cb", "certificate"), page
    )
    return AssessmentPage(items=[assessment_out(a) for a in rows], next_after=next_after)


@api.get(
    "/assessments/{assessment_id}",
    response={200: AssessmentDetailOut, 401: Problem, 404: Problem, 422: Problem},
    operation_id="assessment_read",
    summary="One assessment of the token's place, with its team and its findings",
)
def assessment_read(request: HttpRequest, assessment_id: int) -> AssessmentDetailOut:
    return assessment_detail(place_assessment(request, assessment_id))


@api.get(
    "/findings",
    response={200: FindingPage, 401: Problem, 422: Problem},
    operation_id="findings_list",
    summary="The findings of the token's place, with their answers, by id, a page at a time",
)
def findings_list(request: HttpRequest, page: Query[PageIn]) -> FindingPage:
    rows, next_after = keyset_page(
        place_findings(caller_of(request))
        .select_related("standard")
        .prefetch_related("corrective_actions"),
        page,
    )
    return FindingPage(
        items=[
            finding_out(f, sorted(f.corrective_actions.all(), key=lambda ca: ca.pk)) for f in rows
        ],
        next_after=next_after,
    )


# --- planning --------------------------------------------------------------------------------


class TeamMemberIn(Schema):
    #: The username of an active person of the CB's staff.
    username: str = Field(..., min_length=1, max_length=150)
    #: ``lead``, ``member`` or ``technical_expert``.
    role: str = Field(..., min_length=1, max_length=30)


class PlanIn(Schema):
    start_date: dt.date
    end_date: dt.date
    team: list[TeamMemberIn] = Field(..., max_length=50)
    stage1_document_review: bool = False


class FollowUpPlanIn(PlanIn):
    #: ``surveillance``, ``reassessment``, ``scope_extension`` or ``special``.
    kind: str = Field(..., min_length=1, max_length=30)


def team_of(cb: CertificationBody, team: list[TeamMemberIn]) -> list[tuple[User, str]]:
    """The team as the service takes it: each person one of the CB's active staff, as the
    screen offers them; the service checks their roles."""
    staff = {s.user.username: s.user for s in active_staff_of(cb)}
    out = []
    for member in team:
        user = staff.get(member.username)
        if user is None:
            raise ValidationFailed(
                f"{member.username!r} is not an active person of {cb.code}'s staff.",
                code=TEAM_MEMBER_UNKNOWN,
                field="team",
                params={"username": member.username},
            )
        out.append((user, member.role))
    return out


@api.post(
    "/applications/{application_id}/assessments",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="assessment_plan_initial",
    summary="Plan the initial assessment of an accepted application, with its team",
    openapi_extra=WRITE_HEADERS,
)
def assessment_plan_initial_api(
    request: HttpRequest, application_id: int, body: PlanIn
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    application = place_application(request, application_id)

    def run() -> AssessmentDetailOut:
        a = assessment_plan(
            actor=caller.user,
            kind=AssessmentKind.INITIAL,
            application=application,
            start_date=body.start_date,
            end_date=body.end_date,
            stage1_document_review=body.stage1_document_review,
            team=team_of(application.cb, body.team),
        )
        return assessment_detail(a)

    return written(request, run)


@api.post(
    "/certificates/{number}/assessments",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="assessment_plan_followup",
    summary="Plan a surveillance, re-assessment, scope extension or special visit of a "
    "certificate of the token's CB, with its team",
    openapi_extra=WRITE_HEADERS,
)
def assessment_plan_followup_api(
    request: HttpRequest, number: str, body: FollowUpPlanIn
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    cert = place_certificate(request, number)

    def run() -> AssessmentDetailOut:
        if body.kind not in FOLLOWUP_KINDS:
            raise ValidationFailed(
                f"A certificate's assessment is one of {', '.join(FOLLOWUP_KINDS)}.",
                code=INVALID_CHOICE,
                field="kind",
            )
        # The rules the screen checks before it offers the plan, in its words.
        problems = visit_plan_problems(
            certificate=cert, kind=body.kind, cb=cert.cb, on=timezone.localdate()
        )
        if problems:
            raise problems[0]
        a = assessment_plan(
            actor=caller.user,
            kind=body.kind,
            certificate=cert,
            start_date=body.start_date,
            end_date=body.end_date,
            stage1_document_review=body.stage1_document_review,
            team=team_of(cert.cb, body.team),
        )
        return assessment_detail(a)

    return written(request, run)


# --- carrying it out -----------------------------------------------------------------------


class ReasonRequiredIn(Schema):
    reason: str = Field(..., max_length=5000)


class RescheduleIn(Schema):
    start_date: dt.date
    end_date: dt.date
    reason: str = Field(..., max_length=5000)


class ReportIn(Schema):
    #: Today when not given.
    issued_on: dt.date | None = None
    summary: str = Field("", max_length=20000)


class FindingIn(Schema):
    #: ``major``, ``minor`` or ``observation``.
    grade: str = Field(..., max_length=30)
    requirement_kind: str = Field(..., max_length=30)
    requirement_ref: str = Field(..., max_length=200)
    description: str = Field(..., max_length=20000)
    #: The assessment's first day when not given.
    raised_on: dt.date | None = None
    #: The scheme's number of days after it is raised when not given.
    due_date: dt.date | None = None
    #: The id of the declared standard whose clause is not met.
    standard_id: int | None = Field(None, ge=1, le=2**63 - 1)


def assessment_written(request: HttpRequest, assessment_id: int, change: Any) -> HttpResponse:
    """A change of one of the place's assessments, answered with the assessment."""
    caller = caller_of(request)
    require_write_scope(caller)
    a = place_assessment(request, assessment_id)

    def run() -> AssessmentDetailOut:
        change(caller.user, a)
        return assessment_detail(a)

    return written(request, run)


@api.post(
    "/assessments/{assessment_id}/start",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="assessment_start",
    summary="Start the assessment (its lead assessor), not before its planned first day",
    openapi_extra=WRITE_HEADERS,
)
def assessment_start_api(request: HttpRequest, assessment_id: int) -> HttpResponse:
    return assessment_written(
        request, assessment_id, lambda user, a: assessment_start(actor=user, assessment=a)
    )


@api.post(
    "/assessments/{assessment_id}/cancel",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="assessment_cancel",
    summary="Cancel a planned assessment (a scheme manager), saying why",
    openapi_extra=WRITE_HEADERS,
)
def assessment_cancel_api(
    request: HttpRequest, assessment_id: int, body: ReasonRequiredIn
) -> HttpResponse:
    return assessment_written(
        request,
        assessment_id,
        lambda user, a: assessment_cancel(actor=user, assessment=a, reason=body.reason),
    )


@api.post(
    "/assessments/{assessment_id}/reschedule",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="assessment_reschedule",
    summary="Change the dates of an assessment not yet started (a scheme manager)",
    openapi_extra=WRITE_HEADERS,
)
def assessment_reschedule_api(
    request: HttpRequest, assessment_id: int, body: RescheduleIn
) -> HttpResponse:
    return assessment_written(
        request,
        assessment_id,
        lambda user, a: assessment_reschedule(
            actor=user,
            assessment=a,
            start_date=body.start_date,
            end_date=body.end_date,
            reason=body.reason,
        ),
    )


@api.post(
    "/assessments/{assessment_id}/findings",
    response={200: FindingOut, **WRITE_REFUSALS},
    operation_id="finding_record",
    summary="Record a finding of an assessment in progress (a member of its team)",
    openapi_extra=WRITE_HEADERS,
)
def finding_record_api(request: HttpRequest, assessment_id: int, body: FindingIn) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    a = place_assessment(request, assessment_id)

    def run() -> FindingOut:
        finding = finding_record(
            actor=caller.user,
            assessment=a,
            grade=body.grade,
            requirement_kind=body.requirement_kind,
            requirement_ref=body.requirement_ref,
            description=body.description,
            raised_on=body.raised_on,
            due_date=body.due_date,
            standard=standard_by_id(body.standard_id),
        )
        return finding_out(finding)

    return written(request, run)


@api.post(
    "/assessments/{assessment_id}/report",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="assessment_issue_report",
    summary="Issue the assessment's report (its lead assessor), once the on-site part is over",
    openapi_extra=WRITE_HEADERS,
)
def assessment_report_api(request: HttpRequest, assessment_id: int, body: ReportIn) -> HttpResponse:
    return assessment_written(
        request,
        assessment_id,
        lambda user, a: assessment_issue_report(
            actor=user, assessment=a, issued_on=body.issued_on, summary=body.summary
        ),
    )


# --- answering and reviewing findings -----------------------------------------------------------


class CorrectiveActionIn(Schema):
    correction: str = Field(..., max_length=20000)
    root_cause: str = Field(..., max_length=20000)
    action: str = Field(..., max_length=20000)
    evidence: str = Field("", max_length=20000)
    #: Today when not given.
    submitted_on: dt.date | None = None


class ReviewIn(Schema):
    #: ``accept_plan``, ``verify`` or ``reject`` (saying why).
    outcome: str = Field(..., max_length=30)
    comment: str = Field("", max_length=20000)
    #: Today when not given.
    reviewed_on: dt.date | None = None


@api.post(
    "/findings/{finding_id}/corrective-actions",
    response={200: FindingOut, **WRITE_REFUSALS},
    operation_id="corrective_action_submit",
    summary="Answer a nonconformity of the token's organization: correction, root cause, "
    "action and evidence",
    openapi_extra=WRITE_HEADERS,
)
def corrective_action_submit_api(
    request: HttpRequest, finding_id: int, body: CorrectiveActionIn
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    finding = place_finding(request, finding_id)

    def run() -> FindingOut:
        corrective_action_submit(
            actor=caller.user,
            finding=finding,
            correction=body.correction,
            root_cause=body.root_cause,
            action=body.action,
            evidence=body.evidence,
            submitted_on=body.submitted_on,
        )
        return finding_out(Finding.objects.select_related("standard").get(pk=finding.pk))

    return written(request, run)


@api.post(
    "/corrective-actions/{corrective_action_id}/review",
    response={200: FindingOut, **WRITE_REFUSALS},
    operation_id="corrective_action_review",
    summary="Review the latest answer to a finding (an assessor of the team): accept the "
    "plan, verify it, or reject it",
    openapi_extra=WRITE_HEADERS,
)
def corrective_action_review_api(
    request: HttpRequest, corrective_action_id: int, body: ReviewIn
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    ca = _corrective_action(request, corrective_action_id)

    def run() -> FindingOut:
        corrective_action_review(
            actor=caller.user,
            corrective_action=ca,
            outcome=body.outcome,
            comment=body.comment,
            reviewed_on=body.reviewed_on,
        )
        return finding_out(Finding.objects.select_related("standard").get(pk=ca.finding_id))

    return written(request, run)
