"""The decisions taken on a certificate's own page, over the API for integrators: suspend,
restore, withdraw, cancel at the holder's request, reduce the scope, remove a site, and
re-issue for a change the holder's records show; and, as the page's button does, record
what the scheme's calendar has done to the certificate.

Each calls the service the certificate's page confirms with, the token's issuer as the
actor (a decision maker of the CB). None of them can be undone once public, so each takes
``If-Match`` with the certificate's ETag as the client last read it: checked under the
certificate's lock in the change's transaction, a certificate that changed in between is
refused with 412 and nothing written, so two systems never overwrite each other silently.
The answer is the certificate as it is now, with its new ETag.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Schema

from apcert.accounts.models import User
from apcert.api.errors import RECORDED_CHANGE_NOT_FOUND, SITE_NOT_FOUND
from apcert.api.integrations import (
    CERTIFICATE_WRITE_HEADERS,
    WRITE_HEADERS,
    CertificateOut,
    Problem,
    api,
    caller_of,
    certificate_if_match,
    certificate_out,
    place_certificate,
    require_write_scope,
    written,
)
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_recorded_changes
from apcert.certificates.services import (
    certificate_cancel,
    certificate_holder_renamed,
    certificate_reduce_scope,
    certificate_restore,
    certificate_site_moved,
    certificate_site_remove,
    certificate_site_renamed,
    certificate_standard_update,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.dates import today
from apcert.core.errors import ValidationFailed
from apcert.cycle.sweep import certificate_sweep
from apcert.organizations.selectors import sites_of

CERTIFICATE_ANSWERS: dict[int, Any] = {
    200: CertificateOut,
    400: Problem,
    401: Problem,
    403: Problem,
    404: Problem,
    409: Problem,
    412: Problem,
    422: Problem,
    428: Problem,
}

PRECONDITION_WORDS = (
    " Needs `If-Match` with the certificate's ETag (code `precondition.if_match_required`, "
    "428, without it; code `precondition.if_match_failed`, 412, when the certificate changed "
    "since it was read: nothing is written). The answer carries the new ETag."
)


class StatusDecisionIn(Schema):
    #: The public reason category (``missed_surveillance``, ``misuse``, ...).
    reason_category: str = Field(..., max_length=30)
    reason: str = Field(..., max_length=5000)
    #: Today when not given.
    decided_on: dt.date | None = None


class EndDecisionIn(Schema):
    reason: str = Field(..., max_length=5000)
    #: Today when not given.
    decided_on: dt.date | None = None


class ScopeLineRef(Schema):
    #: The process category's code.
    category: str = Field(..., max_length=30)
    site_id: int = Field(..., ge=1, le=2**63 - 1)


class ReduceScopeIn(Schema):
    remove: list[ScopeLineRef] = Field(..., max_length=100)
    reason: str = Field(..., max_length=5000)
    decided_on: dt.date | None = None


class RemoveSiteIn(Schema):
    site_id: int = Field(..., ge=1, le=2**63 - 1)
    reason: str = Field(..., max_length=5000)
    decided_on: dt.date | None = None


def certificate_changed(
    request: HttpRequest, number: str, change: Callable[[User, Certificate], object]
) -> HttpResponse:
    """A decision on one of the place's certificates: the write scope, then, in the
    change's transaction, the ETag checked under the lock, the service, the certificate as
    it is after (with its new ETag)."""
    caller = caller_of(request)
    require_write_scope(caller)
    cert = place_certificate(request, number)

    def run() -> CertificateOut:
        locked = certificate_if_match(request, cert)
        change(caller.user, locked)
        return certificate_out(Certificate.objects.get(pk=locked.pk))

    return written(request, run)


@api.post(
    "/certificates/{number}/suspend",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_suspend",
    summary="Suspend a certificate of the token's CB, with the reason",
    description="A decision maker of the CB." + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_suspend_api(request: HttpRequest, number: str, body: StatusDecisionIn) -> Any:
    return certificate_changed(
        request,
        number,
        lambda user, cert: certificate_suspend(
            actor=user,
            certificate=cert,
            reason_category=body.reason_category,
            reason=body.reason,
            decided_on=body.decided_on,
        ),
    )


@api.post(
    "/certificates/{number}/restore",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_restore",
    summary="Restore a suspended certificate of the token's CB: the cause is resolved",
    description="A decision maker of the CB, within the scheme's maximum suspension."
    + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_restore_api(request: HttpRequest, number: str, body: EndDecisionIn) -> Any:
    return certificate_changed(
        request,
        number,
        lambda user, cert: certificate_restore(
            actor=user, certificate=cert, reason=body.reason, decided_on=body.decided_on
        ),
    )


@api.post(
    "/certificates/{number}/withdraw",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_withdraw",
    summary="Withdraw a certificate of the token's CB for good, with the reason",
    description="A decision maker of the CB." + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_withdraw_api(request: HttpRequest, number: str, body: StatusDecisionIn) -> Any:
    return certificate_changed(
        request,
        number,
        lambda user, cert: certificate_withdraw(
            actor=user,
            certificate=cert,
            reason_category=body.reason_category,
            reason=body.reason,
            decided_on=body.decided_on,
        ),
    )


@api.post(
    "/certificates/{number}/cancel",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_cancel",
    summary="Cancel a certificate of the token's CB at the holder's request",
    description="A decision maker of the CB." + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_cancel_api(request: HttpRequest, number: str, body: EndDecisionIn) -> Any:
    return certificate_changed(
        request,
        number,
        lambda user, cert: certificate_cancel(
            actor=user, certificate=cert, reason=body.reason, decided_on=body.decided_on
        ),
    )


@api.post(
    "/certificates/{number}/reduce-scope",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_reduce_scope",
    summary="Remove scope lines from a certificate of the token's CB: a new issue",
    description="A decision maker of the CB; the certificate keeps at least one line."
    + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_reduce_scope_api(request: HttpRequest, number: str, body: ReduceScopeIn) -> Any:
    return certificate_changed(
        request,
        number,
        lambda user, cert: certificate_reduce_scope(
            actor=user,
            certificate=cert,
            remove=[(line.category, line.site_id) for line in body.remove],
            reason=body.reason,
            decided_on=body.decided_on or today(),
        ),
    )


def _remove_site(user: User, cert: Certificate, body: RemoveSiteIn) -> Certificate:
    site = sites_of(cert.organization).filter(pk=body.site_id).first()
    if site is None:
        raise ValidationFailed(
            f"Site {body.site_id} is not one of the holder's sites.",
            code=SITE_NOT_FOUND,
            field="site_id",
            params={"site_id": body.site_id},
        )
    return certificate_site_remove(
        actor=user,
        certificate=cert,
        site=site,
        reason=body.reason,
        decided_on=body.decided_on or today(),
    )


@api.post(
    "/certificates/{number}/remove-site",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_site_remove",
    summary="Remove a site with its scope lines from a certificate of the token's CB: a new issue",
    description="A decision maker of the CB." + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_site_remove_api(request: HttpRequest, number: str, body: RemoveSiteIn) -> Any:
    return certificate_changed(request, number, lambda user, cert: _remove_site(user, cert, body))


class RecordedChangeOut(Schema):
    #: What to send as ``change`` to re-issue for it.
    key: str
    #: ``holder_renamed``, ``site_renamed``, ``site_moved`` or ``standard_updated``.
    kind: str
    label: str


class ReissueIn(Schema):
    #: The ``key`` of one of the certificate's recorded changes.
    change: str = Field(..., max_length=100)
    rationale: str = Field("", max_length=5000)
    decided_on: dt.date | None = None


@api.get(
    "/certificates/{number}/recorded-changes",
    response={200: list[RecordedChangeOut], 401: Problem, 404: Problem},
    operation_id="certificate_recorded_changes",
    summary="What a certificate of the token's place may be re-issued for: the holder's new "
    "name, a site's new name or address, a declared edition superseded",
)
def certificate_recorded_changes_api(request: HttpRequest, number: str) -> Any:
    cert = place_certificate(request, number)
    return [
        RecordedChangeOut(key=c.key, kind=c.kind, label=c.label)
        for c in certificate_recorded_changes(cert)
    ]


#: Each recorded change and the service that re-issues the certificate for it (as on the
#: certificate's page).
_REISSUE: dict[str, Callable[..., Certificate]] = {
    "holder_renamed": certificate_holder_renamed,
    "site_renamed": certificate_site_renamed,
    "site_moved": certificate_site_moved,
    "standard_updated": certificate_standard_update,
}


def _reissue(user: User, cert: Certificate, body: ReissueIn) -> Certificate:
    changes = {c.key: c for c in certificate_recorded_changes(cert)}
    change = changes.get(body.change)
    if change is None:
        raise ValidationFailed(
            f"{cert.number} has no recorded change {body.change!r} to re-issue for; it has: "
            f"{', '.join(changes) or 'none'}.",
            code=RECORDED_CHANGE_NOT_FOUND,
            field="change",
            params={"change": body.change},
        )
    target: dict[str, Any] = {}
    if change.site is not None:
        target["site"] = change.site
    elif change.standard is not None:
        target["standard"] = change.standard
    return _REISSUE[change.kind](
        actor=user,
        certificate=cert,
        decided_on=body.decided_on or today(),
        rationale=body.rationale,
        **target,
    )


@api.post(
    "/certificates/{number}/reissue",
    response=CERTIFICATE_ANSWERS,
    operation_id="certificate_reissue",
    summary="Re-issue a certificate of the token's CB for a change the holder's records show",
    description="A decision maker of the CB; `change` is a key of "
    "`/certificates/{number}/recorded-changes`." + PRECONDITION_WORDS,
    openapi_extra=CERTIFICATE_WRITE_HEADERS,
)
def certificate_reissue_api(request: HttpRequest, number: str, body: ReissueIn) -> Any:
    return certificate_changed(request, number, lambda user, cert: _reissue(user, cert, body))


@api.post(
    "/certificates/{number}/record-calendar",
    response={
        200: CertificateOut,
        400: Problem,
        401: Problem,
        403: Problem,
        404: Problem,
        409: Problem,
        422: Problem,
    },
    operation_id="certificate_record_calendar",
    summary="Record now what the scheme's calendar did to a certificate of the token's CB "
    "(a suspension after a missed surveillance window, an expiry ...), dated when it happened",
    description="A decision maker of the CB, before deciding on a record that is straight; "
    "as the daily check would, so nothing to record is not an error. It decides nothing: "
    "every read already shows the status the calendar gave (`status_recorded` false until "
    "it is recorded), so it takes no `If-Match`; the answer carries the new ETag.",
    openapi_extra=WRITE_HEADERS,
)
def certificate_record_calendar_api(request: HttpRequest, number: str) -> Any:
    caller = caller_of(request)
    require_write_scope(caller)
    cert = place_certificate(request, number)

    def run() -> CertificateOut:
        certificate_sweep(actor=caller.user, certificate=cert, as_of=today())
        return certificate_out(Certificate.objects.get(pk=cert.pk))

    return written(request, run)
