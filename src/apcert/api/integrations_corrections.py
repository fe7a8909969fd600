"""Corrections over the API for integrators, as the back office's screens make them: a
finding corrected by a member of the team while the assessment is in progress, and an
issued report's date or summary corrected by the lead assessor until a decision rests on
it. Each says why; each calls the screen's service, which keeps the rules and writes the
audit event listing what changed.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema

from apcert.api.integrations import WRITE_HEADERS, api, caller_of, require_write_scope, written
from apcert.api.integrations_assessments import (
    WRITE_REFUSALS,
    AssessmentDetailOut,
    FindingOut,
    assessment_written,
    finding_out,
    place_finding,
)
from apcert.assessments.edits import finding_update
from apcert.assessments.models import Finding
from apcert.assessments.services import assessment_report_correct
from apcert.schemes.selectors import standard_by_id


class FindingCorrectIn(Schema):
    """The finding as it should read (the day it was raised stays as recorded)."""

    #: ``major`` or ``minor`` for a nonconformity (an observation stays one); the
    #: grade as recorded when not given.
    grade: str | None = Field(None, max_length=30)
    requirement_kind: str = Field(..., max_length=30)
    requirement_ref: str = Field(..., max_length=200)
    description: str = Field(..., max_length=20000)
    #: The id of the declared standard whose clause is not met; null for none.
    standard_id: int | None = Field(None, ge=1, le=2**63 - 1)
    #: The due date as recorded when not given.
    due_date: dt.date | None = None
    reason: str = Field("", max_length=2000)


class ReportCorrectIn(Schema):
    reason: str = Field(..., max_length=5000)
    #: The date as the report says when not given.
    issued_on: dt.date | None = None
    #: The summary as the report says when not given.
    summary: str | None = Field(None, max_length=20000)


@api.post(
    "/findings/{finding_id}/correct",
    response={200: FindingOut, **WRITE_REFUSALS},
    operation_id="finding_correct",
    summary="Correct a finding (a member of the team) while its assessment is in progress",
    openapi_extra=WRITE_HEADERS,
)
def finding_correct_api(
    request: HttpRequest, finding_id: int, body: FindingCorrectIn
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    finding = place_finding(request, finding_id)

    def run() -> FindingOut:
        finding_update(
            actor=caller.user,
            finding=finding,
            grade=body.grade,
            requirement_kind=body.requirement_kind,
            requirement_ref=body.requirement_ref,
            description=body.description,
            standard=standard_by_id(body.standard_id),
            due_date=body.due_date,
            reason=body.reason,
        )
        return finding_out(Finding.objects.select_related("standard").get(pk=finding.pk))

    return written(request, run)


@api.post(
    "/assessments/{assessment_id}/report/correct",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="assessment_report_correct",
    summary="Correct the date or summary of an issued report (its lead assessor), saying "
    "why, until a decision rests on it",
    openapi_extra=WRITE_HEADERS,
)
def assessment_report_correct_api(
    request: HttpRequest, assessment_id: int, body: ReportCorrectIn
) -> HttpResponse:
    return assessment_written(
        request,
        assessment_id,
        lambda user, a: assessment_report_correct(
            actor=user,
            assessment=a,
            reason=body.reason,
            issued_on=body.issued_on,
            summary=body.summary,
        ),
    )
