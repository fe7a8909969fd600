"""Decided status changes (suspend, restore, withdraw, cancel) and time-driven expiry."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction

from apcert.bodies.permissions import require_cb_role
from apcert.certificates.choices import CertificateStatus, DecisionKind, StatusReason
from apcert.certificates.errors import (
    CERTIFICATE_NOT_YET_EXPIRED,
    CERTIFICATE_SUSPENDED_BY_CALENDAR,
    CERTIFICATE_SUSPENSION_EXCEEDED,
)
from apcert.certificates.models import (
    Certificate,
    Decision,
)
from apcert.certificates.timeline import suspension_limit
from apcert.core.dates import format_date, today
from apcert.core.errors import (
    INVALID_REASON_CATEGORY,
    INVALID_REASON_REQUIRED,
    RuleViolation,
    ValidationFailed,
)
from apcert.schemes.choices import SuspensionEndAction
from apcert.schemes.selectors import scheme_rules

if TYPE_CHECKING:
    from apcert.accounts.models import User
from apcert.certificates.services._common import (
    _check_decision_date,
    _lock,
    _record_calendar,
    _state,
    calendar_suspension,
)
from apcert.certificates.services.transition import (
    certificate_transition,
    certificate_transition_check,
)


def _status_decision(
    *,
    actor: User,
    certificate: Certificate,
    action: str,
    reason_category: str,
    reason: str,
    decided_on: dt.date | None,
) -> Certificate:
    decision_kind, allowed_reasons = STATUS_DECISIONS[action]
    require_cb_role(actor, certificate.cb, "decision_maker")
    if reason_category not in allowed_reasons:
        raise ValidationFailed(
            f"'{reason_category}' is not a reason to {action} a certificate; use one of "
            f"{', '.join(allowed_reasons)}.",
            code=INVALID_REASON_CATEGORY,
            field="reason_category",
        )
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why, for the record.", code=INVALID_REASON_REQUIRED, field="reason"
        )
    decided_on = decided_on or today()
    with transaction.atomic():
        cert = _lock(certificate)
        if action == "suspend":
            _check_not_suspended_by_calendar(cert, decided_on)
        _record_calendar(cert, decided_on)
        before = _state(cert)
        certificate_transition_check(cert, action)
        if action == "restore":
            _check_restorable(cert, decided_on)
        _check_decision_date(cert, decided_on)
        decision = Decision.objects.create(
            cb=cert.cb,
            kind=decision_kind,
            certificate=cert,
            decided_by=actor,
            decided_on=decided_on,
            rationale=reason,
        )
        certificate_transition(
            actor=actor,
            certificate=cert,
            action=action,
            effective_on=decided_on,
            reason_category=reason_category,
            reason=reason,
            decision=decision,
            before=before,
            after={
                "decision": decision.pk,
                "reason_category": reason_category,
                "decided_on": decided_on,
            },
        )
    return cert


def _check_not_suspended_by_calendar(cert: Certificate, decided_on: dt.date) -> None:
    """A certificate whose surveillance window closed without a visit was suspended by the
    scheme's rules the day after, whether or not the daily sweep has recorded it yet: a
    second suspension would date it later than the public already reads it."""
    change = calendar_suspension(cert, decided_on)
    if change is None:
        return
    raise RuleViolation(
        f"{cert.number} has been suspended since {format_date(change.effective_on)} by the "
        f"scheme's rules ({StatusReason(change.reason_category).label}): it is "
        f"suspended already. Record the calendar's change, then restore it once the cause is "
        f"resolved, or withdraw it.",
        code=CERTIFICATE_SUSPENDED_BY_CALENDAR,
        params={"suspended_since": change.effective_on},
    )


def _check_restorable(cert: Certificate, decided_on: dt.date) -> None:
    """A suspension lasts at most the scheme's maximum; once it has run out the certificate
    is withdrawn (or its scope reduced), whether or not the sweep has recorded it yet, and a
    restoration is no longer possible."""
    if cert.status != CertificateStatus.SUSPENDED:
        return  # the transition table refuses it, naming the status
    rules = scheme_rules(cert.scheme)
    limit = suspension_limit(cert.status_since, rules.max_suspension_months)
    if decided_on >= limit:
        instead = (
            "reduce its scope to what can still be certified"
            if rules.suspension_end_action == SuspensionEndAction.REDUCE_SCOPE
            else "withdraw it"
        )
        raise RuleViolation(
            f"{cert.number} has been suspended since {format_date(cert.status_since)}; the "
            f"scheme's maximum suspension of {rules.max_suspension_months} months ran out on "
            f"{format_date(limit)}, so it can no longer be restored on "
            f"{format_date(decided_on)}. Instead, {instead}; the holder may apply again.",
            code=CERTIFICATE_SUSPENSION_EXCEEDED,
            params={"suspended_since": cert.status_since, "limit": limit},
        )


SUSPEND_REASONS = (
    StatusReason.MISSED_SURVEILLANCE,
    StatusReason.CORRECTIVE_ACTION_LATE,
    StatusReason.MISUSE,
    StatusReason.HOLDER_REQUEST,
    StatusReason.COMPLAINT,
    StatusReason.UNPAID_FEES,
    StatusReason.NONCONFORMITY,
    StatusReason.OTHER,
)
WITHDRAW_REASONS = (*SUSPEND_REASONS, StatusReason.SUSPENSION_EXCEEDED, StatusReason.TRANSFERRED)

#: For each decided status change: the kind of decision it records, and the public reason
#: categories it may give (the scheme's causes of suspension, withdrawal ...).
STATUS_DECISIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "suspend": (DecisionKind.SUSPEND, tuple(SUSPEND_REASONS)),
    "restore": (DecisionKind.RESTORE, (StatusReason.RESOLVED,)),
    "withdraw": (DecisionKind.WITHDRAW, tuple(WITHDRAW_REASONS)),
    "cancel": (DecisionKind.CANCEL, (StatusReason.HOLDER_REQUEST,)),
}


def certificate_suspend(
    *,
    actor: User,
    certificate: Certificate,
    reason_category: str,
    reason: str,
    decided_on: dt.date | None = None,
) -> Certificate:
    return _status_decision(
        actor=actor, certificate=certificate, action="suspend",
        reason_category=reason_category, reason=reason, decided_on=decided_on,
    )  # fmt: skip


def certificate_restore(
    *, actor: User, certificate: Certificate, reason: str, decided_on: dt.date | None = None
) -> Certificate:
    """Restore a suspended certificate: a decision recording that the cause is resolved."""
    return _status_decision(
        actor=actor, certificate=certificate, action="restore",
        reason_category=StatusReason.RESOLVED, reason=reason, decided_on=decided_on,
    )  # fmt: skip


def certificate_withdraw(
    *,
    actor: User,
    certificate: Certificate,
    reason_category: str,
    reason: str,
    decided_on: dt.date | None = None,
) -> Certificate:
    return _status_decision(
        actor=actor, certificate=certificate, action="withdraw",
        reason_category=reason_category, reason=reason, decided_on=decided_on,
    )  # fmt: skip


def certificate_cancel(
    *, actor: User, certificate: Certificate, reason: str, decided_on: dt.date | None = None
) -> Certificate:
    """End the certificate at the holder's request."""
    return _status_decision(
        actor=actor, certificate=certificate, action="cancel",
        reason_category=StatusReason.HOLDER_REQUEST, reason=reason, decided_on=decided_on,
    )  # fmt: skip


def certificate_expire(
    *, certificate: Certificate, as_of: dt.date, actor: User | None = None
) -> Certificate:
    """Expire a certificate whose validity has ended (time-driven; no decision)."""
    with transaction.atomic():
        cert = _lock(certificate)
        before = _state(cert)
        certificate_transition_check(cert, "expire")
        if as_of <= cert.expires_on:
            raise RuleViolation(
                f"{cert.number} is valid until {format_date(cert.expires_on)}; it cannot expire "
                f"on {format_date(as_of)}.",
                code=CERTIFICATE_NOT_YET_EXPIRED,
            )
        effective = cert.expires_on + dt.timedelta(days=1)
        certificate_transition(
            actor=actor,
            certificate=cert,
            action="expire",
            effective_on=effective,
            reason_category=StatusReason.VALIDITY_ENDED,
            reason="validity period ended",
            before=before,
            after={"effective_on": effective, "reason_category": StatusReason.VALIDITY_ENDED},
        )
    return cert
