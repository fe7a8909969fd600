"""The certification decision on a reported assessment, over the API for integrators:
grant or refuse (an initial assessment), maintain (a surveillance), renew (a re-assessment),
extend the scope or add a site (a scope extension), transfer another CB's certificate (a
transfer review), or defer it.

Each calls the decision's service with the token's issuer as the decision maker, so the
scheme's rules hold as on the decision screen: a decision maker of the CB who was not on the
assessment's team, the report issued, no open major nonconformity, an accepted plan for
every minor one. A decision on a certificate changes it, so it takes ``If-Match`` with the
certificate's ETag, checked under its lock: for a transfer, the ETag of the old
certificate, which its taker reads on the transfer review (``assessed_certificate``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Schema

from apcert.accounts.models import User
from apcert.api.errors import DECISION_NOT_OFFERED, SITE_NOT_FOUND
from apcert.api.integrations import (
    CERTIFICATE_WRITE_HEADERS,
    WRITE_HEADERS,
    CertificateOut,
    Problem,
    api,
    caller_of,
    certificate_if_match,
    certificate_out,
    require_write_scope,
    written,
)
from apcert.api.integrations_assessments import (
    WRITE_REFUSALS,
    AssessmentDetailOut,
    AssessmentOut,
    assessment_out,
    assessment_written,
    place_assessment,
)
from apcert.assessments.choices import AssessmentKind
from apcert.assessments.models import Assessment
from apcert.certificates.decision_checks import DECISIONS_BY_KIND
from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    NewScopeLine,
    assessment_decision_defer,
    certificate_extend_scope,
    certificate_grant,
    certificate_maintain,
    certificate_refuse,
    certificate_renew,
    certificate_site_add,
    certificate_transfer,
)
from apcert.core.errors import ValidationFailed
from apcert.organizations.selectors import sites_of

# --- the decision --------------------------------------------------------------------------


class NewScopeLineIn(Schema):
    #: A process category's code.
    category: str = Field(..., max_length=30)
    #: The id of one of the holder's sites.
    site_id: int = Field(..., ge=1, le=2**63 - 1)
    wording: str = Field(..., max_length=2000)
    #: ``DESIGNATION:EDITION`` references.
    standards: list[str] = Field(default_factory=list, max_length=50)


class DecisionIn(Schema):
    #: What the assessment's kind supports: ``grant`` or ``refuse`` (initial),
    #: ``maintain`` (surveillance), ``renew`` (re-assessment), ``extend_scope`` or
    #: ``site_add`` (scope extension), ``transfer`` (transfer review).
    decision: str = Field(..., max_length=30)
    #: Today when not given.
    decided_on: dt.date | None = None
    rationale: str = Field("", max_length=20000)
    #: The lines a scope extension adds.
    new_scope_lines: list[NewScopeLineIn] = Field(default_factory=list, max_length=50)


class DecisionOut(Schema):
    decision: str
    assessment: AssessmentOut
    #: The certificate granted or decided on, with its new ETag (null for a refusal); for a
    #: transfer, the new certificate under the token's CB.
    certificate: CertificateOut | None
    #: The certificate's ETag, as in ``certificate`` (null for a refusal).
    etag: str | None


class DeferIn(Schema):
    reason: str = Field(..., max_length=5000)
    until: dt.date


#: The decisions the API takes on a reported assessment.
API_DECISIONS = ("grant", "refuse", "maintain", "renew", "extend_scope", "site_add", "transfer")


def _new_lines(cert: Certificate, lines: list[NewScopeLineIn]) -> list[NewScopeLine]:
    sites = {s.pk: s for s in sites_of(cert.organization)}
    out = []
    for line in lines:
        site = sites.get(line.site_id)
        if site is None:
            raise ValidationFailed(
                f"Site {line.site_id} is not one of the holder's sites.",
                code=SITE_NOT_FOUND,
                field="new_scope_lines",
                params={"site_id": line.site_id},
            )
        out.append(NewScopeLine(line.category, site, line.wording, tuple(line.standards)))
    return out


def _decide(request: HttpRequest, user: User, a: Assessment, body: DecisionIn) -> DecisionOut:
    """Take the decision with its service. One on a certificate (not a grant or refusal)
    changes it, so it needs the certificate's ETag as If-Match."""
    offered = DECISIONS_BY_KIND.get(a.kind, ())
    if body.decision not in offered or body.decision not in API_DECISIONS:
        raise ValidationFailed(
            f"A {AssessmentKind(a.kind).label} supports over the API: "
            f"{', '.join(d for d in offered if d in API_DECISIONS) or 'no decision'}.",
            code=DECISION_NOT_OFFERED,
            field="decision",
            params={"kind": a.kind, "decision": body.decision},
        )
    decided_on = body.decided_on
    cert: Certificate | None = None
    if body.decision in ("grant", "refuse"):
        assert a.application is not None  # an initial assessment is of an application
        if body.decision == "grant":
            cert = certificate_grant(
                actor=user,
                application=a.application,
                assessment=a,
                decided_on=decided_on,
                rationale=body.rationale,
            )
        else:
            certificate_refuse(
                actor=user,
                application=a.application,
                assessment=a,
                decided_on=decided_on,
                rationale=body.rationale,
            )
    else:
        assert a.certificate is not None  # the other kinds are of a certificate
        cert = certificate_if_match(request, a.certificate)
        on = decided_on or timezone.localdate()
        if body.decision == "maintain":
            certificate_maintain(
                actor=user, certificate=cert, assessment=a, decided_on=on, rationale=body.rationale
            )
        elif body.decision == "renew":
            certificate_renew(
                actor=user, certificate=cert, assessment=a, decided_on=on, rationale=body.rationale
            )
        elif body.decision == "transfer":
            # The old certificate ends withdrawn ("transferred"); the answer is the new one.
            cert = certificate_transfer(
                actor=user, certificate=cert, assessment=a, decided_on=on, rationale=body.rationale
            )
        else:
            service = (
                certificate_extend_scope
                if body.decision == "extend_scope"
                else (certificate_site_add)
            )
            service(
                actor=user,
                certificate=cert,
                assessment=a,
                new_scope_lines=_new_lines(cert, body.new_scope_lines),
                decided_on=on,
                rationale=body.rationale,
            )
    a = Assessment.objects.select_related("cb", "certificate").get(pk=a.pk)
    shown = certificate_out(Certificate.objects.get(pk=cert.pk)) if cert is not None else None
    return DecisionOut(
        decision=body.decision,
        assessment=assessment_out(a),
        certificate=shown,
        etag=shown.etag if shown is not None else None,
    )


_CERTIFICATE_REFUSALS: dict[int, Any] = {
    **WRITE_REFUSALS,
    412: Problem,
    428: Problem,
}


@api.post(
    "/assessments/{assessment_id}/decision",
    response={200: DecisionOut, **_CERTIFICATE_REFUSALS},
    operation_id="assessment_decide",
    summary="Take the certification decision on a reported assessment (a decision maker "
    "who was not on its team); on a certificate, with If-Match",
    description=(
        "A grant or refusal concerns an application. A maintain, renewal, scope extension, "
        "site addition or transfer changes the assessed certificate: it needs `If-Match` "
        "with the certificate's ETag (code `precondition.if_match_required`, 428, without "
        "it; code `precondition.if_match_failed`, 412, when the certificate changed since it "
        "was read). For a transfer, that is the other CB's certificate: its ETag is the "
        "`assessed_certificate.etag` of the transfer review's read; the answer is the new "
        "certificate, with its ETag."
    ),
    openapi_extra={
        "parameters": [
            *WRITE_HEADERS["parameters"],
            {
                **CERTIFICATE_WRITE_HEADERS["parameters"][-1],
                "required": False,
                "description": "The assessed certificate's ETag: required for a decision "
                "on a certificate (all but grant and refuse; for a transfer, the old "
                "certificate's).",
            },
        ]
    },
)
def assessment_decide_api(
    request: HttpRequest, assessment_id: int, body: DecisionIn
) -> HttpResponse:
    caller = caller_of(request)
    require_write_scope(caller)
    a = place_assessment(request, assessment_id)
    return written(request, lambda: _decide(request, caller.user, a, body))


@api.post(
    "/assessments/{assessment_id}/defer",
    response={200: AssessmentDetailOut, **WRITE_REFUSALS},
    operation_id="assessment_decision_defer",
    summary="Defer the decision on a reported assessment until a day, saying why",
    openapi_extra=WRITE_HEADERS,
)
def assessment_defer_api(request: HttpRequest, assessment_id: int, body: DeferIn) -> HttpResponse:
    return assessment_written(
        request,
        assessment_id,
        lambda user, a: assessment_decision_defer(
            actor=user, assessment=a, reason=body.reason, until=body.until
        ),
    )
