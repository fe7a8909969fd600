"""The API for integrators: a CB's, an organization's or the Secretariat's own system,
calling with an API token (``Authorization: Bearer apcert_...``) issued in the back office.

A token acts for one place (a CB, an organization, or the Secretariat) with the rights its
issuer holds there, so each read here is the issuer's own back-office selector narrowed to
the token's place: a token never sees what its issuer could not, nor anything of another
place. Every refusal is problem JSON, ``{"code": ..., "message": ...}``; a request without a
valid token is answered 401 with ``WWW-Authenticate: Bearer``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.security import HttpBearer

from apcert.accounts.api_tokens import INVALID_MESSAGE, ApiCaller, api_token_open
from apcert.accounts.errors import API_TOKEN_INVALID, API_TOKEN_WRITE_SCOPE_REQUIRED
from apcert.api.errors import (
    APPLICATION_NOT_FOUND,
    CERTIFICATE_NOT_FOUND,
    IDEMPOTENCY_KEY_INVALID,
    IDEMPOTENCY_KEY_REUSED,
    IF_MATCH_FAILED,
    IF_MATCH_REQUIRED,
)
from apcert.api.models import IdempotentWrite
from apcert.applications.models import Application
from apcert.applications.selectors import (
    applications_for_cb_staff,
    applications_for_organization_users,
    applications_visible_to,
)
from apcert.applications.services import application_accept, application_reject
from apcert.audit.context import acting_through
from apcert.audit.selectors import last_event_seqs
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import (
    certificate_statuses_on,
    certificates_for_cb_staff,
    certificates_for_organization_users,
    certificates_visible_to,
)
from apcert.certificates.services import certificate_lock
from apcert.core.errors import (
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from apcert.core.ratelimit import RateLimiter
from apcert.register.status_today import status_recorded

#: The most rows a list answers at once; the next page starts after the last id.
PAGE_MAX = 100


class TokenRateLimited(Exception):
    """A token that made more requests than its limit allows; ``wait``: whole seconds."""

    def __init__(self, wait: int) -> None:
        super().__init__(wait)
        self.wait = wait


_limiter: tuple[tuple[int, int], RateLimiter | None] | None = None
_limiter_lock = threading.Lock()


def _token_limiter() -> RateLimiter | None:
    """The process's limiter of requests per token (made again when the settings change),
    or None when the limit is off."""
    global _limiter
    wanted = (settings.API_TOKEN_RATE_LIMIT, settings.API_TOKEN_RATE_WINDOW)
    current = _limiter
    if current is None or current[0] != wanted:
        with _limiter_lock:
            limit, window = wanted
            current = _limiter = (wanted, RateLimiter(limit, window) if limit and window else None)
    return current[1]


class TokenAuth(HttpBearer):
    """The caller a bearer token stands for (:func:`api_token_open`), or a 401; past the
    token's rate limit, a 429 with ``Retry-After``. The limit counts per token, not per
    address: a CB's system calls from wherever it runs."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiCaller | None:
        try:
            caller = api_token_open(secret=token, address=request.META.get("REMOTE_ADDR"))
        except DomainError:
            return None
        limiter = _token_limiter()
        if limiter is not None:
            wait = limiter.hit(f"token:{caller.token.pk}")
            if wait > 0:
                raise TokenRateLimited(math.ceil(wait))
        return caller


_PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
#: Every operation may answer these, whatever its own answers: no valid token, and the
#: token's rate limit.
_EVERY_OPERATION = {
    "401": {
        "description": "Code `api_token.invalid`: no token, or one that is not valid.",
        "headers": {
            "WWW-Authenticate": {"required": True, "schema": {"type": "string"}},
        },
        "content": _PROBLEM,
    },
    "429": {
        "description": (
            "Code `rate_limited`: too many requests with this token; try again after "
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
    },
}


#: The operations without ``If-Match`` whose answer is a certificate with its ETag.
_ANSWER_A_CERTIFICATE = {"certificate_read", "certificate_record_calendar"}


def _declare_etag(operation: dict[str, Any], responses: dict[str, Any]) -> None:
    """The ``ETag`` header of the answers that carry a certificate's state: its read, the
    record of what the calendar did to it, and each change that takes ``If-Match`` (a
    decision that makes no certificate has none)."""
    names = {p.get("name") for p in operation.get("parameters", ())}
    if operation.get("operationId") not in _ANSWER_A_CERTIFICATE and "If-Match" not in names:
        return
    ok = responses.get("200")
    if ok is None:
        return
    ok["headers"] = {
        "ETag": {
            "description": "The certificate's state: send it as If-Match with a change of "
            "the certificate.",
            "required": operation.get("operationId") != "assessment_decide",
            "schema": {"type": "string"},
        }
    }


class IntegrationsAPI(NinjaAPI):
    """The ninja API, declaring on every operation the answers that do not come from its
    view (401 and 429)."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> Any:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        for path_item in schema["paths"].values():
            for operation in path_item.values():
                # ninja keys its responses by number, a document by text: one key each
                responses = {
                    str(status): answer for status, answer in operation["responses"].items()
                }
                responses.update(_EVERY_OPERATION)
                _declare_etag(operation, responses)
                operation["responses"] = dict(sorted(responses.items()))
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "Problem", Problem.json_schema()
        )
        return schema


api = IntegrationsAPI(
    title="apcert API for integrators",
    version="1",
    description=(
        "For the systems of CBs, certified organizations and the Secretariat, with an API "
        "token issued in the back office (Office > API tokens) and sent as "
        "`Authorization: Bearer apcert_...`. A token acts for one place with its issuer's "
        "rights there; its scope is read, or read and write. Refusals are problem JSON with "
        "a stable `code`."
    ),
    urls_namespace="integrations-api",
    docs_url="/docs",
    auth=TokenAuth(),
)


class Problem(Schema):
    code: str
    message: str


def _problem(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    return api.create_response(request, {"code": code, "message": message}, status=status)


@api.exception_handler(AuthenticationError)
def _no_valid_token(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _problem(request, 401, API_TOKEN_INVALID, INVALID_MESSAGE)
    response["WWW-Authenticate"] = 'Bearer realm="apcert"'
    return response


@api.exception_handler(TokenRateLimited)
def _rate_limited(request: HttpRequest, exc: TokenRateLimited) -> HttpResponse:
    limit, window = settings.API_TOKEN_RATE_LIMIT, settings.API_TOKEN_RATE_WINDOW
    response = _problem(
        request,
        429,
        "rate_limited",
        f"Too many requests with this token: the API answers {limit} every {window} seconds "
        f"a token. Try again in {exc.wait} second{'' if exc.wait == 1 else 's'}.",
    )
    response["Retry-After"] = str(exc.wait)
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    # ninja's own refusals (a body that is not JSON, for one) as problem JSON too
    if isinstance(exc, AuthenticationError):
        return _no_valid_token(request, exc)
    return _problem(request, exc.status_code, "invalid", str(exc))


@api.exception_handler(ValidationError)
def _invalid_input(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    parts = []
    for error in exc.errors:
        where = ".".join(str(p) for p in error.get("loc", ())[1:]) or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return _problem(request, 422, "invalid", "; ".join(parts) or "Invalid request.")


@api.exception_handler(DomainError)
def _refused(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return _problem(request, exc.http_status, exc.code, exc.message)


def caller_of(request: HttpRequest) -> ApiCaller:
    caller = request.auth  # type: ignore[attr-defined]
    assert isinstance(caller, ApiCaller)  # the API's auth let the request through
    return caller


# --- what the token is ----------------------------------------------------------------------


class PlaceOut(Schema):
    kind: str  # "cb", "organization" or "secretariat"
    id: int | None
    code: str | None
    name: str


class TokenOut(Schema):
    id: int
    name: str
    hint: str
    scope: str
    place: PlaceOut
    issued_by: str
    created_at: dt.datetime
    expires_at: dt.datetime


def _place(caller: ApiCaller) -> PlaceOut:
    if caller.cb is not None:
        return PlaceOut(kind="cb", id=caller.cb.pk, code=caller.cb.code, name=caller.cb.name)
    if caller.organization is not None:
        org = caller.organization
        return PlaceOut(kind="organization", id=org.pk, code=None, name=org.legal_name)
    return PlaceOut(kind="secretariat", id=None, code=None, name="the Secretariat")


@api.get(
    "/token",
    response={200: TokenOut, 401: Problem},
    operation_id="token_read",
    summary="The token that calls: its place, scope and expiry",
)
def token_read(request: HttpRequest) -> TokenOut:
    caller = caller_of(request)
    token = caller.token
    return TokenOut(
        id=token.pk,
        name=token.name,
        hint=token.hint,
        scope=token.scope,
        place=_place(caller),
        issued_by=caller.user.username,
        created_at=token.created_at,
        expires_at=token.expires_at,
    )


# --- the place's certificates and applications ----------------------------------------------


def place_certificates(caller: ApiCaller) -> QuerySet[Certificate]:
    """The certificates the token's issuer sees in the back office, of the token's place
    only."""
    if caller.cb is not None:
        return certificates_for_cb_staff(caller.user).filter(cb=caller.cb)
    if caller.organization is not None:
        return certificates_for_organization_users(caller.user).filter(
            organization=caller.organization
        )
    return certificates_visible_to(caller.user)


def place_applications(caller: ApiCaller) -> QuerySet[Application]:
    """The applications the token's issuer sees in the back office, of the token's place
    only."""
    if caller.cb is not None:
        return applications_for_cb_staff(caller.user).filter(cb=caller.cb)
    if caller.organization is not None:
        return applications_for_organization_users(caller.user).filter(
            organization=caller.organization
        )
    return applications_visible_to(caller.user)


class CertificateOut(Schema):
    id: int
    number: str
    status: str
    status_since: dt.date
    #: False when the status is one the calendar gave the certificate and the daily check
    #: has not recorded yet.
    status_recorded: bool
    expires_on: dt.date
    holder: str
    organization_id: int
    cb: str
    scheme: str
    #: The certificate's ETag (also the ``ETag`` header of its read): send it as
    #: ``If-Match`` with a change of the certificate.
    etag: str


class CertificatePage(Schema):
    items: list[CertificateOut]
    #: The ``after`` of the next page, or null on the last.
    next_after: int | None


class PageIn(Schema):
    #: The id after which the page starts (the ``next_after`` of the page before).
    after: int = Field(0, ge=0, le=2**63 - 1)
    limit: int = Field(50, ge=1, le=PAGE_MAX)


def keyset_page(rows: QuerySet[Any], page: PageIn) -> tuple[list[Any], int | None]:
    """A page of ``rows`` by id after ``page.after`` (an index range, however far in), and
    the ``after`` of the next page, or None on the last."""
    after, limit = page.after, page.limit
    found = list(rows.filter(pk__gt=after).order_by("pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1].pk if more else None)


def _etag(cert: Certificate, shown: dict[str, Any], last_event: int) -> str:
    """A strong ETag of the certificate: a digest of what the API shows of it (its status
    today, with the calendar's), the row's own state, and the latest audit event of the
    certificate. Every service that changes a certificate writes the row, or an audit event
    of it, in the change's transaction, so every change gives another ETag."""
    facts = [
        shown,
        last_event,
        cert.status,
        cert.status_since,
        cert.current_issue_number,
        cert.surveillance_due_by,
        cert.lapses_on,
        cert.transferred_from_id,
    ]
    text = json.dumps(facts, default=str, sort_keys=True, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def _certificates_out(certificates: list[Certificate]) -> list[CertificateOut]:
    today = certificate_statuses_on(certificates)
    events = last_event_seqs(
        object_type=Certificate._meta.label_lower, object_ids=[c.pk for c in certificates]
    )
    out = []
    for cert in certificates:
        day = today[cert.pk]
        shown: dict[str, Any] = {
            "id": cert.pk,
            "number": cert.number,
            "status": day.status,
            "status_since": day.since,
            "status_recorded": status_recorded(day),
            "expires_on": cert.expires_on,
            "holder": cert.organization.legal_name,
            "organization_id": cert.organization_id,
            "cb": cert.cb.code,
            "scheme": cert.scheme.code,
        }
        out.append(CertificateOut(**shown, etag=_etag(cert, shown, events.get(cert.pk, 0))))
    return out


def certificate_out(certificate: Certificate) -> CertificateOut:
    """What the API shows of one certificate, with its ETag."""
    return _certificates_out([certificate])[0]


@api.get(
    "/certificates",
    response={200: CertificatePage, 401: Problem, 422: Problem},
    operation_id="certificates_list",
    summary="The certificates of the token's place, by id, a page at a time",
)
def certificates_list(request: HttpRequest, page: Query[PageIn]) -> CertificatePage:
    rows, next_after = keyset_page(place_certificates(caller_of(request)), page)
    return CertificatePage(items=_certificates_out(rows), next_after=next_after)


def place_certificate(request: HttpRequest, number: str) -> Certificate:
    """The certificate ``number`` of the token's place, or 404 (``certificate.not_found``):
    another place's certificate is not told apart from one that does not exist."""
    cert = place_certificates(caller_of(request)).filter(number=number).first()
    if cert is None:
        raise NotFound(f"No certificate {number!r} of this place.", code=CERTIFICATE_NOT_FOUND)
    return cert


@api.get(
    "/certificates/{number}",
    response={200: CertificateOut, 401: Problem, 404: Problem},
    operation_id="certificate_read",
    summary="One certificate of the token's place, by number, with its ETag",
)
def certificate_read(request: HttpRequest, number: str) -> HttpResponse:
    out = certificate_out(place_certificate(request, number))
    response = api.create_response(request, out, status=200)
    response["ETag"] = out.etag
    return response


class ApplicationOut(Schema):
    id: int
    status: str
    organization_id: int
    organization: str
    cb: str
    scheme: str
    submitted_at: dt.datetime | None
    closed_at: dt.datetime | None


class ApplicationPage(Schema):
    items: list[ApplicationOut]
    next_after: int | None


@api.get(
    "/applications",
    response={200: ApplicationPage, 401: Problem, 422: Problem},
    operation_id="applications_list",
    summary="The applications of the token's place, by id, a page at a time",
)
def applications_list(request: HttpRequest, page: Query[PageIn]) -> ApplicationPage:
    rows, next_after = keyset_page(place_applications(caller_of(request)), page)
    return ApplicationPage(items=[application_out(a) for a in rows], next_after=next_after)


# --- writes ----------------------------------------------------------------------------------


class PreconditionRequired(DomainError):
    """A change of a certificate sent without ``If-Match`` (428). Not kept with an
    ``Idempotency-Key``: the same request with the header is then carried out."""

    http_status = 428


class PreconditionFailed(DomainError):
    """A change of a certificate whose ``If-Match`` is not the certificate's ETag (412):
    it changed since the client read it. Not kept with an ``Idempotency-Key`` either."""

    http_status = 412


def certificate_if_match(request: HttpRequest, certificate: Certificate) -> Certificate:
    """The certificate locked for the caller's transaction, provided the request's
    ``If-Match`` names its current ETag (or is ``*``); else a 428 without the header, a 412
    when it changed since the client read it. Checked under the lock, so that of two
    writers sending the same ETag at once, the second waits for the first and then fails."""
    wanted = request.headers.get("If-Match")
    if wanted is None or not wanted.strip():
        raise PreconditionRequired(
            "A change of a certificate needs If-Match: the ETag of the certificate as you "
            "last read it (GET /certificates/{number}).",
            code=IF_MATCH_REQUIRED,
        )
    locked = certificate_lock(certificate)
    current = certificate_out(locked).etag
    tags = {tag.strip() for tag in wanted.split(",")}
    if "*" not in tags and current not in tags:
        raise PreconditionFailed(
            f"{locked.number} changed since you read it: nothing was written. Read it again "
            "and decide on what it is now.",
            code=IF_MATCH_FAILED,
        )
    return locked


class KeyReused(DomainError):
    """An ``Idempotency-Key`` sent again with another request (422, as the IETF draft on
    the header asks)."""

    http_status = 422


#: How long a client may make its ``Idempotency-Key`` (a UUID is 36 characters).
IDEMPOTENCY_KEY_MAX = 200


def require_write_scope(caller: ApiCaller) -> None:
    if not caller.may_write:
        raise PermissionDenied(
            "This token may only read: issue a token with the scope Read and write.",
            code=API_TOKEN_WRITE_SCOPE_REQUIRED,
        )


_PRECONDITIONS = (PreconditionRequired, PreconditionFailed)


def _answered(run: Callable[[], Schema]) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of a write: the service's answer, or its refusal. A failed
    precondition is raised on, so that its transaction (and the key) is rolled back."""
    try:
        return 200, run().model_dump(mode="json")
    except _PRECONDITIONS:
        raise
    except DomainError as exc:
        return exc.http_status, {"code": exc.code, "message": exc.message}


def _response(request: HttpRequest, status: int, body: dict[str, Any]) -> HttpResponse:
    response = api.create_response(request, body, status=status)
    if status == 200 and isinstance(body.get("etag"), str):
        # A change of a certificate answers the certificate's new ETag.
        response["ETag"] = body["etag"]
    return response


def written(request: HttpRequest, run: Callable[[], Schema]) -> HttpResponse:
    """Carry out a write for the calling token: refused without the write scope; every
    audit event it records names the token beside its issuer. With an ``Idempotency-Key``
    header, the key, the request and its answer are kept in the transaction of the change
    (:class:`apcert.api.models.IdempotentWrite`): a retry of the same request answers the
    same and writes nothing, also after a first attempt whose process died (it left
    nothing), and also while the first is still running (the retry waits for it); the same
    key with another request is refused (422, ``idempotency.key_reused``). A failed
    precondition (``If-Match``, :func:`certificate_if_match`) rolls the transaction back,
    key included, and is not kept: the same request with the right ETag then goes through."""
    caller = caller_of(request)
    require_write_scope(caller)
    key = request.headers.get("Idempotency-Key")

    def run_through() -> tuple[int, dict[str, Any]]:
        with acting_through(caller.user.pk, caller.through):
            return _answered(run)

    try:
        return _written(request, caller, key, run_through)
    except _PRECONDITIONS as exc:
        return _response(request, exc.http_status, {"code": exc.code, "message": exc.message})


def _written(
    request: HttpRequest,
    caller: ApiCaller,
    key: str | None,
    run_through: Callable[[], tuple[int, dict[str, Any]]],
) -> HttpResponse:
    if key is None:
        with transaction.atomic():
            return _response(request, *run_through())
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not key.isprintable() or not key.isascii():
        raise ValidationFailed(
            f"Idempotency-Key: 1 to {IDEMPOTENCY_KEY_MAX} printable ASCII characters.",
            code=IDEMPOTENCY_KEY_INVALID,
        )
    digest = hashlib.sha256(
        b"\0".join([(request.method or "").encode(), request.path.encode(), request.body])
    ).hexdigest()
    try:
        with transaction.atomic():
            kept = IdempotentWrite.objects.create(
                token=caller.token, key=key, request_hash=digest, status=0, answer={}
            )
            status, body = run_through()
            kept.status, kept.answer = status, body
            kept.save(update_fields=["status", "answer"])
    except IntegrityError:
        # The key was used: this is a retry (the first attempt has committed).
        first = IdempotentWrite.objects.filter(token=caller.token, key=key).first()
        if first is None:
            raise
        if first.request_hash != digest:
            raise KeyReused(
                "This Idempotency-Key was sent with another request: use a new key for "
                "each change.",
                code=IDEMPOTENCY_KEY_REUSED,
            ) from None
        response = _response(request, first.status, first.answer)
        response["Idempotent-Replayed"] = "true"
        return response
    return _response(request, status, body)


def place_application(request: HttpRequest, application_id: int) -> Application:
    found = place_applications(caller_of(request)).filter(pk=application_id).first()
    if found is None:
        raise NotFound(
            f"No application {application_id} of this place.", code=APPLICATION_NOT_FOUND
        )
    return found


def application_out(a: Application) -> ApplicationOut:
    return ApplicationOut(
        id=a.pk,
        status=a.status,
        organization_id=a.organization_id,
        organization=a.organization.legal_name,
        cb=a.cb.code,
        scheme=a.scheme.code,
        submitted_at=a.submitted_at,
        closed_at=a.closed_at,
    )


class ReasonIn(Schema):
    reason: str = ""


WRITE_HEADERS = {
    "parameters": [
        {
            "in": "header",
            "name": "Idempotency-Key",
            "required": False,
            "schema": {"type": "string", "maxLength": IDEMPOTENCY_KEY_MAX},
            "description": (
                "A key of the client's own (a UUID) for this change: a retry with the same "
                "key and request answers the same and writes nothing."
            ),
        }
    ]
}


#: The headers of a change of a certificate: the key, and the ETag it was read with.
CERTIFICATE_WRITE_HEADERS = {
    "parameters": [
        *WRITE_HEADERS["parameters"],
        {
            "in": "header",
            "name": "If-Match",
            "required": True,
            "schema": {"type": "string"},
            "description": (
                "The certificate's ETag as the client last read it (GET "
                "/certificates/{number}): the change is refused with 412 if the certificate "
                "changed since, and with 428 without the header."
            ),
        },
    ]
}


@api.post(
    "/applications/{application_id}/accept",
    response={
        200: ApplicationOut,
        400: Problem,
        401: Problem,
        403: Problem,
        404: Problem,
        409: Problem,
        422: Problem,
    },
    operation_id="application_accept",
    summary="Accept an application made to the token's CB",
    openapi_extra=WRITE_HEADERS,
)
def application_accept_api(
    request: HttpRequest, application_id: int, body: ReasonIn | None = None
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    application = place_application(request, application_id)
    reason = body.reason if body is not None else ""
    return written(
        request,
        lambda: application_out(
            application_accept(actor=caller.user, application=application, reason=reason)
        ),
    )


@api.post(
    "/applications/{application_id}/reject",
    response={
        200: ApplicationOut,
        400: Problem,
        401: Problem,
        403: Problem,
        404: Problem,
        409: Problem,
        422: Problem,
    },
    operation_id="application_reject",
    summary="Reject an application made to the token's CB, saying why",
    openapi_extra=WRITE_HEADERS,
)
def application_reject_api(
    request: HttpRequest, application_id: int, body: ReasonIn
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    application = place_application(request, application_id)
    return written(
        request,
        lambda: application_out(
            application_reject(actor=caller.user, application=application, reason=body.reason)
        ),
    )


__all__ = [
    "WRITE_HEADERS",
    "Problem",
    "api",
    "caller_of",
    "certificate_if_match",
    "certificate_out",
    "place_applications",
    "place_certificate",
    "place_certificates",
    "written",
]

# The workflow's endpoints, registered on ``api`` as their modules are imported.
from apcert.api import (  # noqa: E402, F401
    integrations_applying,
    integrations_assessments,
    integrations_certificates,
    integrations_corrections,
    integrations_decisions,
    integrations_publication,
    integrations_recorded,
    integrations_transfers,
)
