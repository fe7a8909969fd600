"""Which assessments may be planned on a certificate, and the rule that stops each other one.

A visit to a certified organization leads to a decision on its certificate, so it is planned
while that decision can still be taken, read from the certificate's status on the day (the
calendar may have suspended or ended it before the daily sweep records it):

- a surveillance leads to the decision to maintain certification, taken on a current
  certificate;
- a re-assessment leads to the renewal, which the certificate lifecycle allows from current;
- a scope extension leads to a new issue with more scope lines or sites, on a current
  certificate (a suspended one may only have its scope reduced);
- a special (short-notice) visit leads to a decision on the certificate's status (suspend,
  restore or withdraw): it may be planned while the lifecycle allows one of them;
- a transfer review is carried out by the certification body that takes the certificate
  over, and leads to the transfer, which ends the current certificate withdrawn: a current
  certificate of another CB, whose programmes and scope the new CB's acceptance covers.

A surveillance, re-assessment or transfer review is planned once at a time: while one is
planned or in progress, it is carried out or cancelled before another is planned.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from apcert.applications.models import ScopeLine
from apcert.applications.selectors import acceptance_problems
from apcert.assessments.choices import AssessmentKind, AssessmentStatus
from apcert.assessments.models import Assessment
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.errors import (
    CERTIFICATE_TRANSFER_NOT_CURRENT,
    CERTIFICATE_TRANSFER_SAME_CB,
    VISIT_ALREADY_PLANNED,
    VISIT_CERTIFICATE_ENDED,
    VISIT_CERTIFICATE_NOT_CURRENT,
    VISIT_KIND_NOT_PLANNED_HERE,
)
from apcert.certificates.lifecycle import CERTIFICATE, TERMINAL
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import certificate_last_issue, certificate_status_on
from apcert.core.dates import format_date
from apcert.core.errors import RuleViolation
from apcert.schemes.models import ProcessCategory, Programme

if TYPE_CHECKING:
    from apcert.bodies.models import CertificationBody

_K = AssessmentKind

#: The kinds of assessment a certificate's own CB plans on it, in the order pages offer them.
FOLLOWUP_KINDS: tuple[str, ...] = (
    _K.SURVEILLANCE,
    _K.REASSESSMENT,
    _K.SPECIAL,
    _K.SCOPE_EXTENSION,
)

#: Planned once at a time, by the same CB.
ONE_AT_A_TIME = (_K.SURVEILLANCE, _K.REASSESSMENT, _K.TRANSFER_REVIEW)

#: The status decisions a special visit may lead to.
SPECIAL_DECISIONS = ("suspend", "restore", "withdraw")

_OPEN = (AssessmentStatus.PLANNED, AssessmentStatus.IN_PROGRESS)


@dataclass(frozen=True)
class VisitOption:
    """One kind of assessment on a certificate: planned now, or stopped by ``problems``
    (each says which rule stops it and what would unblock it)."""

    kind: str
    problems: list[RuleViolation] = field(default_factory=list)

    @property
    def possible(self) -> bool:
        return not self.problems

    @property
    def label(self) -> str:
        return AssessmentKind(self.kind).label


def _ended(cert: Certificate, status: str) -> RuleViolation | None:
    label = CertificateStatus(status).label
    if status in TERMINAL:
        return RuleViolation(
            f"{cert.number} is {label}: nothing more is planned on it. The holder applies "
            "again for a new certificate.",
            code=VISIT_CERTIFICATE_ENDED,
            params={"state": status},
        )
    if status == CertificateStatus.DRAFT:
        return RuleViolation(
            f"{cert.number} is a draft, not yet published: visits are planned once it is current.",
            code=VISIT_CERTIFICATE_ENDED,
            params={"state": status},
        )
    return None


def _status_problem(cert: Certificate, kind: str, status: str) -> RuleViolation | None:
    """The rule of the certificate's status that stops planning ``kind``, if any."""
    ended = _ended(cert, status)
    if ended is not None:
        return ended
    current = status == CertificateStatus.CURRENT
    label = CertificateStatus(status).label
    if kind == _K.SPECIAL:
        if any(CERTIFICATE.allowed(status, d) for d in SPECIAL_DECISIONS):
            return None
    elif kind == _K.REASSESSMENT:
        if CERTIFICATE.allowed(status, "renew"):
            return None
        return RuleViolation(
            f"{cert.number} is {label}: a re-assessment leads to the renewal, which is decided "
            "on a current certificate. Restore it first (a special visit can check that the "
            "cause of the suspension is resolved).",
            code=VISIT_CERTIFICATE_NOT_CURRENT,
            params={"state": status, "kind": kind},
        )
    elif kind == _K.SCOPE_EXTENSION:
        if current and CERTIFICATE.allowed(status, "reissue"):
            return None
        return RuleViolation(
            f"{cert.number} is {label}: its scope is extended only while it is current (a "
            "suspended certificate may only have its scope reduced). Restore it first.",
            code=VISIT_CERTIFICATE_NOT_CURRENT,
            params={"state": status, "kind": kind},
        )
    elif kind == _K.SURVEILLANCE:
        if current:
            return None
        return RuleViolation(
            f"{cert.number} is {label}: a surveillance leads to the decision to maintain "
            "certification, taken on a current certificate. Plan a special visit to check "
            "that the cause of the suspension is resolved, then restore it.",
            code=VISIT_CERTIFICATE_NOT_CURRENT,
            params={"state": status, "kind": kind},
        )
    elif kind == _K.TRANSFER_REVIEW:
        if current and CERTIFICATE.allowed(status, "withdraw"):
            return None
        return RuleViolation(
            f"{cert.number} is {label}: only a current certificate can be transferred. Its "
            "certification body restores it first.",
            code=CERTIFICATE_TRANSFER_NOT_CURRENT,
            params={"state": status},
        )
    return RuleViolation(  # pragma: no cover - every kind planned on a certificate is above
        f"A {AssessmentKind(kind).label} is not planned on a certificate.",
        code=VISIT_KIND_NOT_PLANNED_HERE,
        params={"kind": kind},
    )


def _already_planned(cert: Certificate, kind: str, cb_id: int) -> RuleViolation | None:
    if kind not in ONE_AT_A_TIME:
        return None
    planned = (
        Assessment.objects.filter(certificate=cert, kind=kind, cb_id=cb_id, status__in=_OPEN)
        .order_by("start_date", "pk")
        .first()
    )
    if planned is None:
        return None
    label = AssessmentKind(kind).label
    return RuleViolation(
        f"{label.capitalize()} {planned.pk} is already {planned.get_status_display()} "
        f"({format_date(planned.start_date)} to {format_date(planned.end_date)}): carry it "
        "out, or cancel it to plan another.",
        code=VISIT_ALREADY_PLANNED,
        params={"assessment": planned.pk, "kind": kind, "state": planned.status},
    )


def _transfer_problems(
    cert: Certificate, cb: CertificationBody, on: dt.date
) -> list[RuleViolation]:
    """The CB that takes the certificate over is another CB, accepted for the certificate's
    programmes and scope (as the transfer decision will check)."""
    if cb.pk == cert.cb_id:
        return [
            RuleViolation(
                f"{cert.number} is already certified by {cb.code}: a transfer review is "
                "carried out by the certification body that takes it over.",
                code=CERTIFICATE_TRANSFER_SAME_CB,
            )
        ]
    last = certificate_last_issue(cert)
    if last is None:
        return []
    codes = sorted({line["category"] for line in last.scope_lines})
    categories = {c.code: c for c in ProcessCategory.objects.filter(code__in=codes)}
    programme_ids = list(
        Programme.objects.filter(code__in=[p["code"] for p in last.programmes]).values_list(
            "pk", flat=True
        )
    )
    return acceptance_problems(
        cb_id=cb.pk,
        programme_ids=programme_ids,
        scope_lines=[ScopeLine(category=categories[c]) for c in codes if c in categories],
        on=on,
        code_prefix="decision",
    )


def visit_plan_problems(
    *, certificate: Certificate, kind: str, cb: CertificationBody, on: dt.date
) -> list[RuleViolation]:
    """Every rule that stops ``cb`` planning an assessment of ``kind`` on ``certificate`` on
    ``on``; empty when it may be planned. The certificate's status is its status on ``on``."""
    if kind == _K.TRANSFER_REVIEW:
        problems = _transfer_problems(certificate, cb, on)
        if problems and problems[0].code == CERTIFICATE_TRANSFER_SAME_CB:
            return problems
    elif kind in FOLLOWUP_KINDS:
        problems = []
        if cb.pk != certificate.cb_id:
            return [
                RuleViolation(
                    f"A {AssessmentKind(kind).label} of {certificate.number} is planned by "
                    f"its certification body, {certificate.cb.code}.",
                    code=VISIT_KIND_NOT_PLANNED_HERE,
                    params={"kind": kind},
                )
            ]
    else:
        return [
            RuleViolation(
                f"A {AssessmentKind(kind).label if kind in _K.values else kind} is not planned "
                "on a certificate.",
                code=VISIT_KIND_NOT_PLANNED_HERE,
                params={"kind": kind},
            )
        ]
    status = certificate_status_on(certificate, on).status
    stop = _status_problem(certificate, kind, status)
    if stop is not None:
        return [stop]  # nothing else matters while the status stops it
    planned = _already_planned(certificate, kind, cb.pk)
    return [*([planned] if planned else []), *problems]


def visit_options(
    *, certificate: Certificate, cb: CertificationBody, on: dt.date
) -> list[VisitOption]:
    """The kinds of assessment the certificate's own CB may plan on it (surveillance,
    re-assessment, special, scope extension), each with what stops it."""
    return [
        VisitOption(kind, visit_plan_problems(certificate=certificate, kind=kind, cb=cb, on=on))
        for kind in FOLLOWUP_KINDS
    ]


def certificate_by_number(number: str) -> Certificate | None:
    """A published certificate by its number (as the public register shows it: holder, CB,
    status), for a CB that is asked to take it over; never a draft."""
    wanted = " ".join(number.split())
    if not wanted:
        return None
    return (
        Certificate.objects.select_related("cb", "organization", "scheme")
        .exclude(status=CertificateStatus.DRAFT)
        .filter(number__iexact=wanted)
        .first()
    )


def transfer_reviews_of(certificate: Certificate) -> list[Assessment]:
    """The transfer reviews of ``certificate`` by other certification bodies still under
    way (planned, in progress, or reported and not yet decided on), newest first: its own CB
    sees that another is preparing to take it over."""
    return list(
        Assessment.objects.filter(certificate=certificate, kind=_K.TRANSFER_REVIEW)
        .exclude(cb_id=certificate.cb_id)
        .exclude(status__in=(AssessmentStatus.CANCELLED, AssessmentStatus.CLOSED))
        .select_related("cb")
        .order_by("-start_date", "-pk")
    )


def followups_of(certificate: Certificate, cb: CertificationBody) -> list[Assessment]:
    """The assessments of ``certificate`` carried out by ``cb``, newest first."""
    return list(
        Assessment.objects.filter(certificate=certificate, cb=cb)
        .select_related("cb")
        .order_by("-start_date", "-pk")
    )


def transferred_to(certificate: Certificate) -> Certificate | None:
    """The certificate that replaced ``certificate`` when it was transferred to another
    certification body, if it was."""
    return Certificate.objects.select_related("cb").filter(transferred_from=certificate).first()
