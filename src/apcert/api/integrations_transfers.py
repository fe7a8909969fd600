"""The transfer of a certificate from another CB, over the API for integrators: the taking
CB plans its transfer review of the certificate, carries it out as any assessment, and its
decision maker decides the transfer (``POST /assessments/{id}/decision`` with
``transfer``, :mod:`apcert.api.integrations_decisions`).

The certificate is another CB's, so the taker's token does not read it among its place's
certificates: it names it by number, as the back office's "take over a certificate" screen
does (a published certificate, as the public register shows it), and reads on the transfer
review (``assessed_certificate``) what the screens show it of the certificate, with the
ETag that the transfer decision sends as ``If-Match``.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Schema

from apcert.api.errors import CERTIFICATE_NOT_FOUND
from apcert.api.integrations import WRITE_HEADERS, api, caller_of, require_write_scope, written
from apcert.api.integrations_assessments import (
    WRITE_REFUSALS,
    AssessmentDetailOut,
    TeamMemberIn,
    assessment_detail,
    team_of,
)
from apcert.assessments.choices import AssessmentKind
from apcert.assessments.services import assessment_plan
from apcert.certificates.planning import certificate_by_number, visit_plan_problems
from apcert.core.errors import PERMISSION_CB_ROLE_REQUIRED, NotFound, PermissionDenied


class TransferReviewIn(Schema):
    #: The number of the other CB's certificate to take over.
    certificate: str = Field(..., min_length=1, max_length=100)
    start_date: dt.date
    end_date: dt.date
    team: list[TeamMemberIn] = Field(..., max_length=50)


@api.post(
    "/transfer-reviews",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="transfer_review_plan",
    summary="Plan the transfer review of another CB's certificate by the token's CB, with "
    "its team (a scheme manager)",
    description=(
        "The certificate is named by its number (a published certificate, current at the "
        "other CB). After the review's report, a decision maker of the token's CB who was "
        "not on its team decides the transfer: `POST /assessments/{id}/decision` with "
        "`transfer`, and `If-Match` with the `assessed_certificate.etag` read on the review."
    ),
    openapi_extra=WRITE_HEADERS,
)
def transfer_review_plan_api(request: HttpRequest, body: TransferReviewIn) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    cb = caller.cb
    if cb is None:
        raise PermissionDenied(
            "A transfer review is planned by the certification body that takes the "
            "certificate over: use a token of that CB.",
            code=PERMISSION_CB_ROLE_REQUIRED,
            params={"roles": ["scheme_manager"]},
        )
    cert = certificate_by_number(body.certificate)
    if cert is None:
        raise NotFound(
            f"No published certificate {body.certificate!r}.", code=CERTIFICATE_NOT_FOUND
        )

    def run() -> AssessmentDetailOut:
        # The rules the screen checks before it offers the plan, in its words.
        problems = visit_plan_problems(
            certificate=cert, kind=AssessmentKind.TRANSFER_REVIEW, cb=cb, on=timezone.localdate()
        )
        if problems:
            raise problems[0]
        a = assessment_plan(
            actor=caller.user,
            kind=AssessmentKind.TRANSFER_REVIEW,
            certificate=cert,
            start_date=body.start_date,
            end_date=body.end_date,
            team=team_of(cb, body.team),
            cb=cb,
        )
        return assessment_detail(a)

    return written(request, run)
