"""The public register API under ``/api/public/`` (issue 4, point 2).

No account, no cookies, no record of who asks. Every answer has its own output schema that
lists its fields one by one (STYLE.md rule 7), filled only from what
:mod:`apcert.register.selectors` returns, so nothing private can reach it by accident.
Errors are problem JSON: ``{"code": ..., "message": ...}``.
"""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Query, Schema
from ninja.errors import ValidationError

from apcert.certificates.asof import certificate_as_of
from apcert.certificates.models import Certificate
from apcert.register import selectors
from apcert.register.documents import certificate_document

api = NinjaAPI(
    title="apcert public register API",
    version="1",
    description=(
        "The public IECQ Approved Process certificate register: certificates, their issue "
        "and status history, and whether a certificate was valid on a given day. No account."
    ),
    urls_namespace="public-api",
    docs_url="/docs",
)


# --- output schemas ---------------------------------------------------------------------


class Problem(Schema):
    code: str
    message: str


class CBOut(Schema):
    code: str
    name: str
    country: str


class SchemeOut(Schema):
    code: str
    name: str


class ProgrammeOut(Schema):
    code: str
    name: str


class HolderOut(Schema):
    name: str
    country: str


class SiteOut(Schema):
    id: int
    name: str
    address: str
    city: str
    country: str


class StandardOut(Schema):
    designation: str
    edition: str
    title: str


class ScopeLineOut(Schema):
    category: str
    category_name: str
    wording: str
    standards: list[str]
    site_id: int | None


class CertificateOut(Schema):
    number: str
    status: str
    status_since: dt.date
    status_reason_category: str | None
    first_issued_on: dt.date
    expires_on: dt.date
    issue_number: int
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date
    cb: CBOut
    scheme: SchemeOut
    programmes: list[ProgrammeOut]
    holder: HolderOut
    sites: list[SiteOut]
    scope_lines: list[ScopeLineOut]
    standards: list[StandardOut]


class IssueOut(Schema):
    issue_number: int
    issued_on: dt.date
    valid_from: dt.date
    valid_until: dt.date
    reason: str
    change_summary: str


class StatusChangeOut(Schema):
    effective_on: dt.date
    from_status: str
    to_status: str
    reason_category: str


class HistoryOut(Schema):
    number: str
    issues: list[IssueOut]
    status_changes: list[StatusChangeOut]


class AsOfOut(Schema):
    number: str
    on: dt.date
    category: str | None
    site: int | None
    status: str
    current: bool
    issue_number: int | None
    covered: bool | None
    valid_until: dt.date | None
    reason_category: str | None


# --- errors -----------------------------------------------------------------------------


def _problem(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message}, status=status)


@api.exception_handler(ValidationError)
def _invalid_input(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    parts = []
    for error in exc.errors:
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return _problem(request, 422, "invalid", "; ".join(parts) or "Invalid request.")


def _not_found(request: HttpRequest, number: str) -> HttpResponse:
    return _problem(
        request,
        404,
        "certificate.not_found",
        f"There is no certificate {number!r} in the public register.",
    )


# --- rendering --------------------------------------------------------------------------


def _certificate_out(certificate: Certificate) -> CertificateOut:
    return CertificateOut(**certificate_document(certificate))


def _history_out(certificate: Certificate) -> HistoryOut:
    summaries = selectors.public_change_summaries(certificate)
    return HistoryOut(
        number=certificate.number,
        issues=[
            IssueOut(
                issue_number=i.issue_number,
                issued_on=i.issued_on,
                valid_from=i.valid_from,
                valid_until=i.valid_until,
                reason=i.reason,
                change_summary=summaries[i.issue_number],
            )
            for i in selectors.issues_of(certificate)
        ],
        status_changes=[
            StatusChangeOut(
                effective_on=c.effective_on,
                from_status=c.from_status,
                to_status=c.to_status,
                reason_category=c.reason_category,
            )
            for c in selectors.status_changes_of(certificate)
        ],
    )


# --- endpoints --------------------------------------------------------------------------

CERTIFICATE_TAG = ["certificates"]


@api.get(
    "/certificates/{number}",
    response={200: CertificateOut, 404: Problem},
    tags=CERTIFICATE_TAG,
    summary="A certificate by number",
    description="The number (``IECQ-A XX 26.0001``) goes URL-encoded: spaces as ``%20``.",
)
def certificate_detail(request: HttpRequest, number: str) -> CertificateOut | HttpResponse:
    certificate = selectors.public_certificate(number)
    if certificate is None:
        return _not_found(request, number)
    return _certificate_out(certificate)


@api.get(
    "/certificates/{number}/history",
    response={200: HistoryOut, 404: Problem},
    tags=CERTIFICATE_TAG,
    summary="A certificate's issues and status changes, oldest first",
)
def certificate_history(request: HttpRequest, number: str) -> HistoryOut | HttpResponse:
    certificate = selectors.public_certificate(number)
    if certificate is None:
        return _not_found(request, number)
    return _history_out(certificate)


@api.get(
    "/certificates/{number}/as-of",
    response={200: AsOfOut, 400: Problem, 404: Problem, 422: Problem},
    tags=CERTIFICATE_TAG,
    summary="Was the certificate valid on a date (for a process category and site)?",
)
def certificate_as_of_date(
    request: HttpRequest,
    number: str,
    date: dt.date = Query(..., description="The day asked about, YYYY-MM-DD."),  # noqa: B008
    category: str | None = Query(None, description="A process category code, e.g. PWB.PLT."),
    site: int | None = Query(None, description="The id of a site the certificate publishes."),
) -> AsOfOut | HttpResponse:
    certificate = selectors.public_certificate(number)
    if certificate is None:
        return _not_found(request, number)
    # An unpublished site is not public: asking about one reads like asking about a site the
    # certificate never had, so the answer cannot reveal it.
    if site is not None and site not in selectors.published_site_ids(certificate):
        return _problem(
            request, 400, "site.not_published", f"Certificate {number!r} publishes no site {site}."
        )
    answer = certificate_as_of(certificate=certificate, on=date, category=category, site_id=site)
    return AsOfOut(
        number=answer.number,
        on=answer.on,
        category=category,
        site=site,
        status=answer.status,
        current=answer.current,
        issue_number=answer.issue_number,
        covered=answer.covered,
        valid_until=answer.valid_until,
        reason_category=answer.reason,
    )


# Organizations and certification bodies live in their own router.
from apcert.api.public_directory import router as _directory_router  # noqa: E402

api.add_router("/", _directory_router)
