"""The Secretariat's review of a new certificate before publication, over the API for
integrators (when the scheme asks for one): the Secretariat's token approves a pending
review (the certificate becomes current and enters the register) or returns it with the
reason; the CB's decision maker submits a returned certificate again with its answer.

Each calls the service of the screen that does it (the Secretariat's review page, the CB's
certificate page). Each changes what becomes of the certificate, so each takes
``If-Match`` with the certificate's ETag, checked under its lock, as every change of a
certificate does; the answer is the certificate with its new ETag. The reviews are the
CB's and the Secretariat's business: an organization's token reads none.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Query, Schema

from apcert.accounts.api_tokens import ApiCaller
from apcert.api.integrations import (
    CERTIFICATE_WRITE_HEADERS,
    PageIn,
    Problem,
    api,
    caller_of,
    keyset_page,
    place_certificates,
)
from apcert.api.integrations_certificates import (
    CERTIFICATE_ANSWERS,
    PRECONDITION_WORDS,
    certificate_changed,
)
from apcert.certificates.models import PublicationReview
from apcert.certificates.selectors import publication_reviews_for_secretariat
from apcert.certificates.services import (
    certificate_publication_approve,
    certificate_publication_resubmit,
    certificate_publication_return,
)


class PublicationReviewOut(Schema):
    id: int
    certificate: str
    #: ``pending``, ``approved`` or ``returned``.
    status: str
    submitted_at: dt.datetime
    submitted_by: str
    #: What the CB said with the submission (after a return: its answer).
    submission_note: str
    reviewed_at: dt.datetime | None
    reviewed_by: str | None
    #: The Secretariat's reason for a return, or its remark on an approval.
    review_note: str


class PublicationReviewPage(Schema):
    items: list[PublicationReviewOut]
    next_after: int | None


class PublicationReviewsIn(PageIn):
    #: Only the reviews of this status (``pending``: those awaiting the Secretariat).
    status: str | None = Field(None, max_length=20)


def place_publication_reviews(caller: ApiCaller) -> QuerySet[PublicationReview]:
    """The reviews the token's place takes part in: all, for the Secretariat; those of its
    certificates, for a CB; none for an organization."""
    if caller.organization is not None:
        return PublicationReview.objects.none()
    if caller.cb is None:
        return publication_reviews_for_secretariat(caller.user)
    return PublicationReview.objects.filter(
        certificate__in=place_certificates(caller).values("pk")
    ).select_related("certificate", "submitted_by")


def _review_out(r: PublicationReview) -> PublicationReviewOut:
    return PublicationReviewOut(
        id=r.pk,
        certificate=r.certificate.number,
        status=r.status,
        submitted_at=r.submitted_at,
        submitted_by=r.submitted_by.username,
        submission_note=r.submission_note,
        reviewed_at=r.reviewed_at,
        reviewed_by=r.reviewed_by.username if r.reviewed_by is not None else None,
        review_note=r.review_note,
    )


@api.get(
    "/publication-reviews",
    response={200: PublicationReviewPage, 401: Problem, 422: Problem},
    operation_id="publication_reviews_list",
    summary="The reviews of new certificates before publication (the Secretariat's: all; a "
    "CB's: its certificates'), by id, a page at a time",
)
def publication_reviews_list(
    request: HttpRequest, query: Query[PublicationReviewsIn]
) -> PublicationReviewPage:
    rows = place_publication_reviews(caller_of(request)).select_related("reviewed_by")
    if query.status:
        rows = rows.filter(status=query.status)
    found, next_after = keyset_page(rows, query)
    return PublicationReviewPage(items=[_review_out(r) for r in found], next_after=next_after)


class ApproveIn(Schema):
    note: str = Field("", max_length=5000)


class ReturnIn(Schema):
    reason: str = Field(..., max_length=5000)


class ResubmitIn(Schema):
    #: What was done about the Secretariat's reason.
    note: str = Field(..., max_length=5000)


@api.post(
    "/certificates/{number}/publication/approve",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_publication_approve",
    summary="Approve a new certificate's pending review (the Secretariat): it becomes current "
    "and enters the register",
    description="A Secretariat token." + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_publication_approve_api(request: HttpRequest, number: str, body: ApproveIn) -> Any:
    return certificate_changed(
        request,
        number,
        lambda user, cert: certificate_publication_approve(
            actor=user, certificate=cert, note=body.note
        ),
    )


@api.post(
    "/certificates/{number}/publication/return",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_publication_return",
    summary="Return a new certificate's pending review to its CB with the reason (the "
    "Secretariat): it stays out of the register",
    description="A Secretariat token." + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_publication_return_api(request: HttpRequest, number: str, body: ReturnIn) -> Any:
    return certificate_changed(
        request,
        number,
        lambda user, cert: certificate_publication_return(
            actor=user, certificate=cert, reason=body.reason
        ),
    )


@api.post(
    "/certificates/{number}/publication/resubmit",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_publication_resubmit",
    summary="Submit a certificate the Secretariat returned for review again, with the CB's "
    "answer (a decision maker of the CB)",
    description="A decision maker of the token's CB." + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_publication_resubmit_api(
    request: HttpRequest, number: str, body: ResubmitIn
) -> Any:
    return certificate_changed(
        request,
        number,
        lambda user, cert: certificate_publication_resubmit(
            actor=user, certificate=cert, note=body.note
        ),
    )
