"""The public register API under ``/api/public/``.

No account, no cookies, no record of who asks. Every answer has its own output schema that
lists its fields one by one, filled only from what
:mod:`apcert.register.selectors` returns, so nothing private can reach it by accident.
Errors are problem JSON: ``{"code": ..., "message": ...}``, whatever refuses the request.

In front of Django, the WSGI layer of :mod:`apcert.api.fastpath` applies the rate limit to
every path here and answers ``GET /certificates/{number}`` from the search index; the views
below answer everything else, and that read too whenever the layer leaves it to them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

import orjson
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import URLPattern, URLResolver, re_path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Query, Schema
from ninja.errors import ValidationError
from ninja.openapi.schema import OpenAPISchema
from pydantic import Field, WithJsonSchema

from apcert.certificates.asof import certificate_as_of
from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_status_on
from apcert.core.errors import DomainError, NotFound
from apcert.credentials.services import receipt_issue
from apcert.register import search as register_search
from apcert.register import selectors
from apcert.register.caching import public_cache
from apcert.register.documents import certificate_document, document_on_day, transfer_link
from apcert.register.search import (
    FACETS,
    MAX_PAGE,
    PER_PAGE_DEFAULT,
    PER_PAGE_MAX,
    SORTS,
    TEXT_MAX,
    InvalidSearch,
    SearchHit,
    SearchQuery,
    SearchResult,
)
from apcert.register.status_today import unrecorded_changes

#: The status a read gives is the status on the day asked, whether or not the register's
#: daily check has recorded what the calendar did; this flag says which.
STATUS_RECORDED = (
    "False when the status, its date and reason category are what the calendar alone made "
    "them (the validity ended, a surveillance window closed without a visit, a suspension "
    "ran to the scheme's maximum) and the register's daily check has not recorded this "
    "change yet; true when the status is the one the register has recorded."
)

_PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

#: Every answer may be a refusal of the rate limit (apcert.api.ratelimit), which the WSGI
#: layer in front of Django sends for every path under /api/public/.
RATE_LIMITED = {
    "description": (
        "Code `rate_limited`: too many requests from this address; try again after "
        "Retry-After seconds."
    ),
    "headers": {
        "Retry-After": {
            "description": "Seconds to wait before the next request will be answered.",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        }
    },
    "content": _PROBLEM,
}


#: Every operation refuses a request that holds a NUL character (in its path or in any query
#: parameter, named or not), and one whose parameters ninja cannot read, with the API-wide
#: handler below.
INVALID_INPUT = {
    "description": (
        "Code `invalid`: a parameter of the wrong type, out of range or missing, or a NUL "
        "character anywhere in the request."
    ),
    "content": _PROBLEM,
}


def refusals(**descriptions: str) -> dict[str, Any]:
    """``openapi_extra`` of an operation: what each of its refusals means, by status
    (``_404="..."``), with the codes it carries. The status and its schema are declared in
    the operation's ``response``; a description here is only the words."""
    return {
        "responses": {
            int(status.lstrip("_")): {"description": text} for status, text in descriptions.items()
        }
    }


class PublicAPI(NinjaAPI):
    """The ninja API, declaring on every operation (those of included routers too) the
    answers that do not come from its view: the rate limit's 429, and the 422 of a request
    that is refused before the view is called. Its URLs answer problem JSON where ninja
    and Django would answer HTML: a method an operation does not take (405), and a path
    under the API that names no operation (404)."""

    @property
    def urls(self) -> tuple[list[URLResolver | URLPattern], str, str]:
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            if not isinstance(pattern, URLPattern):
                continue
            if pattern.name == "api-root":  # ninja's raises Http404: Django's HTML page
                pattern.callback = _no_such_path
            else:
                pattern.callback = _public_view(pattern.callback, name=pattern.name or "")
        # Last, so that it matches only what no operation (of any router) matched.
        patterns.append(re_path(r"", _no_such_path, name="not-found"))
        return patterns, app_name, namespace

    def get_openapi_schema(
        self,
        *,
        path_prefix: str | None = None,
        path_params: dict[str, Any] | None = None,
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                # ninja keys the responses it declares by number; a document keys them by
                # text. Both at once would make the same key twice in the JSON, which a
                # reader of the document refuses (or silently takes one of).
                declared = operation["responses"].items()
                responses = {str(status): answer for status, answer in declared}
                # (an operation that declares its own 422 describes all of it)
                responses.setdefault("422", INVALID_INPUT)
                responses["429"] = RATE_LIMITED
                operation["responses"] = dict(sorted(responses.items()))
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas.setdefault("Problem", Problem.json_schema())
        return schema


#: Operations whose answers no cache may keep: a receipt is signed with the time it was
#: checked, for the one who asked.
NOT_CACHED = frozenset({"certificate_receipt"})
#: The API's own description, which changes only with a release: it reads no register.
DESCRIPTION = frozenset({"openapi-json", "openapi-view"})


def _public_view(
    operation: Callable[..., HttpResponse], *, name: str
) -> Callable[..., HttpResponse]:
    """An operation's view, refusing what no operation can use, and its 405 as a problem.
    Its GET answers are cacheable (:func:`apcert.register.caching.public_cache`: a 304
    without calling the operation when the client's copy still holds), but those of
    :data:`NOT_CACHED`, kept by no cache."""
    cached = name not in NOT_CACHED
    view = public_cache(reads_register=name not in DESCRIPTION)(operation) if cached else operation

    @wraps(operation)  # (keeps csrf_exempt)
    def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # No value in the register holds a NUL character, and PostgreSQL refuses to compare
        # text with one: refused here, for every operation, before any query.
        sent = [request.path, *(k + "".join(vs) for k, vs in request.GET.lists())]
        if any("\x00" in text for text in sent):
            return _problem(
                request, 422, "invalid", "The request holds a NUL character, which no value has."
            )
        response = view(request, *args, **kwargs)
        if not cached:
            response["Cache-Control"] = "no-store"
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = ", ".join(sorted(m.strip() for m in response["Allow"].split(",")))
        problem = _problem(
            request,
            405,
            "method_not_allowed",
            f"{request.method} is not answered here; the methods are {allowed}.",
        )
        problem["Allow"] = allowed
        return problem

    return answer


@csrf_exempt
def _no_such_path(request: HttpRequest) -> HttpResponse:
    return _problem(
        request,
        404,
        "not_found",
        f"The public API has nothing at {request.path!r}; its operations are listed at "
        f"{api.get_root_path({})}docs.",
    )


api = PublicAPI(
    title="apcert public register API",
    version="1",
    description=(
        "The public IECQ Approved Process certificate register: certificates, their issue "
        "and status history, and whether a certificate was valid on a given day; a search of "
        "the register. No account. Each client address may make only so many requests in a "
        "time window; beyond it the answer is 429, with Retry-After."
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


class TransferLinkOut(Schema):
    """The other certificate of a transfer to another CB: its number and public page."""

    number: str
    url: str


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
    status_recorded: bool = Field(description=STATUS_RECORDED)
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
    #: A transfer to another CB makes a new certificate under it and withdraws the old one;
    #: each names the other.
    transferred_from: TransferLinkOut | None
    transferred_to: TransferLinkOut | None


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
    recorded: bool = Field(
        description="False for a change the calendar made (on effective_on) that the "
        "register's daily check has not recorded yet."
    )


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
    status_recorded: bool = Field(description=STATUS_RECORDED)


class ReceiptIssuerOut(Schema):
    id: str
    name: str


class ReceiptSubjectOut(Schema):
    type: str
    certificate_number: str = Field(alias="certificateNumber")
    certificate: str
    date: str
    checked_at: str = Field(alias="checkedAt")
    current: bool
    status: str
    reason_category: str | None = Field(alias="reasonCategory")
    issue_number: int | None = Field(alias="issueNumber")
    valid_until: str | None = Field(alias="validUntil")


class ReceiptProofOut(Schema):
    context: list[str] = Field(alias="@context")
    type: str
    cryptosuite: str
    created: str
    verification_method: str = Field(alias="verificationMethod")
    proof_purpose: str = Field(alias="proofPurpose")
    proof_value: str = Field(alias="proofValue")


class ReceiptOut(Schema):
    """The register's signed verification receipt (a W3C VC 2.0 credential with an
    eddsa-jcs-2022 proof), field for field as signed."""

    context: list[str] = Field(alias="@context")
    id: str
    type: list[str]
    name: str
    issuer: ReceiptIssuerOut
    valid_from: str = Field(alias="validFrom")
    credential_subject: ReceiptSubjectOut = Field(alias="credentialSubject")
    proof: ReceiptProofOut


class SearchHitOut(Schema):
    number: str
    holder_name: str
    country: str
    organization_id: int
    cb_code: str
    cb_name: str
    scheme_code: str
    programmes: list[str]
    status: str
    status_since: dt.date
    status_recorded: bool = Field(description=STATUS_RECORDED)
    expires_on: dt.date
    cities: list[str]
    categories: list[str]
    transferred_from: TransferLinkOut | None
    transferred_to: TransferLinkOut | None


class FacetCountOut(Schema):
    value: str
    label: str
    count: int


class FacetsOut(Schema):
    """Counts per filter value among the matches, each list ordered by count; all empty when
    the matches are too many to count."""

    status: list[FacetCountOut]
    scheme: list[FacetCountOut]
    programme: list[FacetCountOut]
    category: list[FacetCountOut]
    standard: list[FacetCountOut]
    country: list[FacetCountOut]
    cb: list[FacetCountOut]


class SearchOut(Schema):
    hits: list[SearchHitOut]
    total: int
    total_exact: bool
    page: int
    pages: int
    per_page: int
    facets: FacetsOut
    corrected: str | None


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


@api.exception_handler(InvalidSearch)
def _invalid_search(request: HttpRequest, exc: InvalidSearch) -> HttpResponse:
    return _problem(request, 422, exc.code, exc.message)


def _not_found(request: HttpRequest, number: str) -> HttpResponse:
    return _problem(
        request,
        404,
        "certificate.not_found",
        f"There is no certificate {number!r} in the public register.",
    )


# --- rendering --------------------------------------------------------------------------


def _certificate_out(certificate: Certificate) -> CertificateOut:
    today = certificate_status_on(certificate)
    return CertificateOut(**document_on_day(certificate_document(certificate), today))


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
                recorded=True,
            )
            for c in selectors.status_changes_of(certificate)
        ]
        + [
            StatusChangeOut(
                effective_on=c.effective_on,
                from_status=c.from_status,
                to_status=c.to_status,
                reason_category=c.reason_category,
                recorded=False,
            )
            for c in unrecorded_changes(certificate.status, certificate_status_on(certificate))
        ],
    )


def _hit_answer(hit: SearchHit) -> dict[str, Any]:
    """One hit of the search answer, its keys in the order of :class:`SearchHitOut`."""
    return {
        "number": hit.number,
        "holder_name": hit.holder_name,
        "country": hit.country,
        "organization_id": hit.organization_id,
        "cb_code": hit.cb_code,
        "cb_name": hit.cb_name,
        "scheme_code": hit.scheme_code,
        "programmes": list(hit.programmes),
        "status": hit.status,
        "status_since": hit.status_since,
        "status_recorded": hit.status_recorded,
        "expires_on": hit.expires_on,
        "cities": list(hit.cities),
        "categories": list(hit.categories),
        "transferred_from": transfer_link(hit.transferred_from),
        "transferred_to": transfer_link(hit.transferred_to),
    }


def search_answer(result: SearchResult) -> dict[str, Any]:
    """The answer of ``GET /search`` (:class:`SearchOut`) as plain dicts, from the search
    result, its keys in the schema's order. The schema documents the answer; validating
    every hit through it cost as much as the search itself, and the result holds nothing
    but public fields of the types the schema names. A test holds the two equal over the
    demo data."""
    return {
        "hits": [_hit_answer(hit) for hit in result.hits],
        "total": result.total,
        "total_exact": result.total_exact,
        "page": result.query.page,
        "pages": result.pages,
        "per_page": result.query.per_page,
        "facets": {
            name: [
                {"value": c.value, "label": c.label, "count": c.count}
                for c in result.facets.get(name, [])
            ]
            for name in FACETS
        },
        "corrected": result.corrected,
    }


def search_answer_json(result: SearchResult) -> bytes:
    """:func:`search_answer` as JSON: orjson's compact bytes, dates as ``YYYY-MM-DD``."""
    return orjson.dumps(search_answer(result))


# --- endpoints --------------------------------------------------------------------------

CERTIFICATE_TAG = ["certificates"]
_NO_CERTIFICATE = "Code `certificate.not_found`: no public certificate has this number."


@api.get(
    "/certificates/{number}",
    response={200: CertificateOut, 404: Problem},
    openapi_extra=refusals(_404=_NO_CERTIFICATE),
    tags=CERTIFICATE_TAG,
    summary="A certificate by number",
    description="The number (``IECQ-A XX 26.0001``) goes URL-encoded: spaces as ``%20``.",
)
def certificate_detail(request: HttpRequest, number: str) -> CertificateOut | HttpResponse:
    # The WSGI layer (apcert.api.fastpath) answers this read from the search index before
    # Django sees it; this view answers whatever the index does not hold, the same way.
    certificate = selectors.public_certificate(number)
    if certificate is None:
        return _not_found(request, number)
    return _certificate_out(certificate)


# HEAD answers as GET does (the server sends no body), as the fast path does; left out of
# the document, where HEAD is implied.
api.api_operation(
    ["HEAD"],
    "/certificates/{number}",
    response={200: CertificateOut, 404: Problem},
    include_in_schema=False,
    url_name="certificate_detail_head",
)(certificate_detail)


@api.get(
    "/certificates/{number}/history",
    response={200: HistoryOut, 404: Problem},
    openapi_extra=refusals(_404=_NO_CERTIFICATE),
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
    response={200: AsOfOut, 400: Problem, 404: Problem},
    openapi_extra=refusals(
        _400="Code `site.not_published`: the certificate publishes no site with this id.",
        _404=_NO_CERTIFICATE,
    ),
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
        status_recorded=answer.recorded,
    )


@api.get(
    "/certificates/{number}/receipt",
    response={200: ReceiptOut, 400: Problem, 404: Problem, 503: Problem},
    openapi_extra=refusals(
        _400=(
            "A day the register cannot speak for: code `receipt.before_first_issue`, a day "
            "before the certificate was first issued; code `invalid.date`, a day after today."
        ),
        _404=_NO_CERTIFICATE,
        _503="Code `key.none`: the register has no signing key yet.",
    ),
    by_alias=True,
    tags=CERTIFICATE_TAG,
    summary="A signed receipt: was the certificate current on a date (default today)?",
    description=(
        "The register's own signed statement (issuer: the register's did:web, key in "
        "/.well-known/did.json) that the certificate was, or was not, current on the date, "
        "with the time it was checked. `apcert verify` checks it offline. The day runs from "
        "the certificate's first issue to today; 503 while the register has no signing key."
    ),
)
def certificate_receipt(
    request: HttpRequest,
    number: str,
    on: dt.date | None = Query(None, description="The day, YYYY-MM-DD; today if left out."),  # noqa: B008
) -> dict[str, Any] | HttpResponse:
    try:
        return receipt_issue(number=number, on=on or timezone.localdate())
    except NotFound:
        return _not_found(request, number)
    except DomainError as error:
        status = 400 if error.http_status == 400 else 503
        return _problem(request, status, error.code, error.message)


# The search parameters reach the view as the text sent, checked in one place,
# SearchQuery.from_params, as for the search pages; their annotations say what the document
# promises about them.
_Text = Annotated[str | None, WithJsonSchema({"type": "string", "maxLength": TEXT_MAX})]
_Filter = Annotated[str | None, WithJsonSchema({"type": "string"})]
_Status = Annotated[str | None, WithJsonSchema({"type": "string", "enum": list(PUBLIC_STATUSES)})]
_Sort = Annotated[
    str | None, WithJsonSchema({"type": "string", "enum": list(SORTS), "default": "relevance"})
]
_Page = Annotated[
    str | None, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1})
]
_PerPage = Annotated[
    str | None,
    WithJsonSchema(
        {"type": "integer", "minimum": 1, "maximum": PER_PAGE_MAX, "default": PER_PAGE_DEFAULT}
    ),
]


_ANY = "; empty or left out: any."


@api.get(
    "/search",
    response={200: SearchOut, 422: Problem},
    openapi_extra=refusals(
        _422=(
            "Code `search.invalid`: a parameter the search cannot use (a value out of its "
            "range or not among its choices, or words too long); code `invalid`: a NUL "
            "character anywhere in the request."
        )
    ),
    tags=["search"],
    summary="Search the register",
    description=(
        "Words match the number, holder, places and scope of public certificates (typos are "
        "corrected, and ``corrected`` says into what); filters narrow the matches. The "
        "answer is one page of hits with the total and, when the matches are few enough to "
        "count, the counts per filter value. A parameter the search cannot use is a 422 "
        "problem with code ``search.invalid``."
    ),
)
def search_register(
    request: HttpRequest,
    q: _Text = Query(None, description="Search words; empty: every certificate."),  # noqa: B008
    status: _Status = Query(None, description="Status" + _ANY),  # noqa: B008
    scheme: _Filter = Query(None, description="Scheme code, e.g. AP" + _ANY),  # noqa: B008
    programme: _Filter = Query(None, description="Programme code" + _ANY),  # noqa: B008
    category: _Filter = Query(None, description="Process category" + _ANY),  # noqa: B008
    standard: _Filter = Query(None, description="Standard, e.g. ISO 9001" + _ANY),  # noqa: B008
    country: _Filter = Query(None, description="Holder country, e.g. DE" + _ANY),  # noqa: B008
    cb: _Filter = Query(None, description="Certification body code" + _ANY),  # noqa: B008
    sort: _Sort = Query(None, description="Order; without words, relevance is newest."),  # noqa: B008
    page: _Page = Query(None, description="The page of hits."),  # noqa: B008
    per_page: _PerPage = Query(None, description="Hits a page."),  # noqa: B008
) -> HttpResponse:
    sent = {
        "q": q,
        "status": status,
        "scheme": scheme,
        "programme": programme,
        "category": category,
        "standard": standard,
        "country": country,
        "cb": cb,
        "sort": sort,
        "page": page,
        "per_page": per_page,
    }
    query = SearchQuery.from_params({name: value or "" for name, value in sent.items()})
    body = search_answer_json(register_search.search(query))
    return HttpResponse(body, content_type=api.get_content_type())


# Organizations and certification bodies live in their own router.
from apcert.api.public_directory import router as _directory_router  # noqa: E402

api.add_router("/", _directory_router)
