"""Certification decisions and the certificate lifecycle.

Each public service takes a decision (or, for expiry, a date), applies one transition of
``lifecycle.CERTIFICATE``, writes the status history and, where the content changes, a new
immutable issue, and records exactly one audit event, all in one transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from apcert.applications.models import Application
from apcert.assessments.choices import AssessmentKind
from apcert.assessments.lifecycle import ASSESSMENT
from apcert.assessments.models import Assessment
from apcert.audit.services import audit_record
from apcert.certificates.choices import DecisionKind, IssueReason, StatusReason
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateStatusChange,
    Decision,
)
from apcert.certificates.numbering import allocate_number
from apcert.certificates.selectors import (
    decision_maker_problems,
    decision_subject_problems,
    findings_problems,
    grant_problems,
    report_problems,
)
from apcert.certificates.snapshots import (
    application_scope,
    holder_snapshot,
    site_snapshot,
    sites_of,
    standards_of,
)
from apcert.core.dates import add_months
from apcert.core.errors import RuleViolation, ValidationFailed
from apcert.core.permissions import require_cb_role
from apcert.organizations.models import Site
from apcert.schemes.selectors import scheme_rules

if TYPE_CHECKING:
    from apcert.accounts.models import User


def _raise_first(problems: list[RuleViolation]) -> None:
    if problems:
        first = problems[0]
        first.params["also"] = [p.code for p in problems[1:]]
        raise first


def _lock(certificate: Certificate) -> Certificate:
    return (
        Certificate.objects.select_for_update(of=("self",))
        .select_related("cb", "scheme", "organization")
        .get(pk=certificate.pk)
    )


def _validity_end(start: dt.date, months: int) -> dt.date:
    # Valid through the day before the same date ``months`` later (three years = 36 months).
    return add_months(start, months) - dt.timedelta(days=1)


def _status_record(
    cert: Certificate,
    *,
    before: str,
    on: dt.date,
    reason_category: str,
    reason: str,
    decision: Decision | None,
) -> CertificateStatusChange:
    return CertificateStatusChange.objects.create(
        certificate=cert,
        from_status=before,
        to_status=cert.status,
        effective_on=on,
        reason_category=reason_category,
        reason=reason,
        decision=decision,
    )


def _new_issue(
    cert: Certificate,
    *,
    on: dt.date,
    reason: str,
    summary: str,
    decision: Decision | None,
    scope_lines: list[dict[str, Any]],
    programmes: list[dict[str, str]],
) -> CertificateIssue:
    cert.current_issue_number += 1
    return CertificateIssue.objects.create(
        certificate=cert,
        issue_number=cert.current_issue_number,
        issued_on=on,
        valid_from=cert.initial_decision_on,
        valid_until=cert.expires_on,
        reason=reason,
        change_summary=summary,
        decision=decision,
        holder=holder_snapshot(cert.organization),
        sites=sites_of(scope_lines),
        programmes=programmes,
        scope_lines=scope_lines,
        standards=standards_of(scope_lines),
    )


def _check_decision_date(cert: Certificate, decided_on: dt.date) -> None:
    """A decision on a certificate follows its last status change and its last issue, and
    falls within its validity: after expiry there is nothing left to decide on."""
    last_issue = cert.issues.order_by("-issue_number").values_list("issued_on", flat=True).first()
    latest = max(d for d in (cert.status_since, last_issue) if d is not None)
    if decided_on < latest:
        raise RuleViolation(
            f"The decision date {decided_on.isoformat()} is before the certificate's last "
            f"change ({latest.isoformat()}).",
            code="decision.date_before_last_change",
        )
    if decided_on > cert.expires_on:
        raise RuleViolation(
            f"{cert.number} was valid until {cert.expires_on.isoformat()}; a decision dated "
            f"{decided_on.isoformat()} comes after its validity ended. Record its expiry.",
            code="certificate.validity_ended",
        )


def _state(cert: Certificate) -> dict[str, Any]:
    return {
        "number": cert.number,
        "status": cert.status,
        "issue": cert.current_issue_number,
        "expires_on": cert.expires_on,
    }


def certificate_grant(
    *,
    actor: User,
    application: Application,
    assessment: Assessment,
    decided_on: dt.date | None = None,
    rationale: str = "",
) -> Certificate:
    """Grant certification: check every rule, allocate the number, publish issue 1."""
    require_cb_role(actor, application.cb, "decision_maker")
    decided_on = decided_on or timezone.localdate()
    with transaction.atomic():
        app = (
            Application.objects.select_for_update(of=("self",))
            .select_related("cb", "scheme", "organization")
            .get(pk=application.pk)
        )
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        _raise_first(
            grant_problems(application=app, assessment=a, decided_by=actor, decided_on=decided_on)
        )
        rules = scheme_rules(app.scheme)
        number, serial = allocate_number(rules=rules, cb=app.cb, on=decided_on)
        decision = Decision.objects.create(
            cb=app.cb,
            kind=DecisionKind.GRANT,
            application=app,
            assessment=a,
            decided_by=actor,
            decided_on=decided_on,
            rationale=rationale,
        )
        cert = Certificate.objects.create(
            number=number,
            number_year=decided_on.year,
            number_serial=serial,
            cb=app.cb,
            scheme=app.scheme,
            organization=app.organization,
            application=app,
            status="draft",
            status_since=decided_on,
            first_issued_on=decided_on,
            initial_decision_on=decided_on,
            expires_on=_validity_end(decided_on, rules.validity_months),
        )
        decision.certificate = cert
        decision.save(update_fields=["certificate"])
        cert.status = CERTIFICATE.next_state("draft", "grant")
        programmes = [{"code": p.code, "name": p.name} for p in app.programmes.order_by("code")]
        issue = _new_issue(
            cert,
            on=decided_on,
            reason=IssueReason.INITIAL,
            summary="initial certification",
            decision=decision,
            scope_lines=application_scope(app),
            programmes=programmes,
        )
        cert.save(update_fields=["status", "current_issue_number"])
        _status_record(
            cert,
            before="draft",
            on=decided_on,
            reason_category=StatusReason.GRANTED,
            reason=rationale,
            decision=decision,
        )
        a.status = (
            ASSESSMENT.next_state(a.status, "close") if a.status == "report_issued" else a.status
        )
        a.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="certificate.grant",
            obj=cert,
            before=None,
            after={
                **_state(cert),
                "decision": decision.pk,
                "application": app.pk,
                "assessment": a.pk,
                "decided_on": decided_on,
                "issue_id": issue.pk,
                "scope_lines": issue.scope_lines,
            },
            reason=rationale,
        )
    return cert


def certificate_refuse(
    *,
    actor: User,
    application: Application,
    assessment: Assessment,
    rationale: str,
    decided_on: dt.date | None = None,
) -> Decision:
    """Refuse certification; no certificate is made."""
    require_cb_role(actor, application.cb, "decision_maker")
    if not rationale.strip():
        raise ValidationFailed(
            "Say why certification is refused.", code="invalid.reason_required", field="rationale"
        )
    decided_on = decided_on or timezone.localdate()
    with transaction.atomic():
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        app = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
        if a.application_id != app.pk:
            raise RuleViolation(
                "A refusal rests on the assessment of this application.",
                code="decision.wrong_assessment",
            )
        _raise_first(
            decision_subject_problems(application=app, assessment=a)
            + decision_maker_problems(assessment=a, decided_by=actor)
            + report_problems(assessment=a, decided_on=decided_on)
        )
        decision = Decision.objects.create(
            cb=application.cb,
            kind=DecisionKind.REFUSE,
            application=application,
            assessment=a,
            decided_by=actor,
            decided_on=decided_on,
            rationale=rationale,
        )
        audit_record(
            actor=actor,
            action="decision.refuse",
            obj=decision,
            after={"application": application.pk, "decided_on": decided_on},
            reason=rationale,
        )
    return decision


def _status_decision(
    *,
    actor: User,
    certificate: Certificate,
    action: str,
    decision_kind: str,
    reason_category: str,
    reason: str,
    decided_on: dt.date | None,
    allowed_reasons: tuple[str, ...],
) -> Certificate:
    require_cb_role(actor, certificate.cb, "decision_maker")
    if reason_category not in allowed_reasons:
        raise ValidationFailed(
            f"'{reason_category}' is not a reason to {action} a certificate; use one of "
            f"{', '.join(allowed_reasons)}.",
            code="invalid.reason_category",
            field="reason_category",
        )
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why, for the record.", code="invalid.reason_required", field="reason"
        )
    decided_on = decided_on or timezone.localdate()
    with transaction.atomic():
        cert = _lock(certificate)
        before = _state(cert)
        cert.status = CERTIFICATE.next_state(cert.status, action)
        _check_decision_date(cert, decided_on)
        cert.status_since = decided_on
        cert.save(update_fields=["status", "status_since"])
        decision = Decision.objects.create(
            cb=cert.cb,
            kind=decision_kind,
            certificate=cert,
            decided_by=actor,
            decided_on=decided_on,
            rationale=reason,
        )
        _status_record(
            cert,
            before=before["status"],
            on=decided_on,
            reason_category=reason_category,
            reason=reason,
            decision=decision,
        )
        audit_record(
            actor=actor,
            action=f"certificate.{action}",
            obj=cert,
            before=before,
            after={
                **_state(cert),
                "decision": decision.pk,
                "reason_category": reason_category,
                "decided_on": decided_on,
            },
            reason=reason,
        )
    return cert


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


def certificate_suspend(
    *,
    actor: User,
    certificate: Certificate,
    reason_category: str,
    reason: str,
    decided_on: dt.date | None = None,
) -> Certificate:
    return _status_decision(
        actor=actor,
        certificate=certificate,
        action="suspend",
        decision_kind=DecisionKind.SUSPEND,
        reason_category=reason_category,
        reason=reason,
        decided_on=decided_on,
        allowed_reasons=tuple(SUSPEND_REASONS),
    )


def certificate_restore(
    *,
    actor: User,
    certificate: Certificate,
    reason: str,
    decided_on: dt.date | None = None,
) -> Certificate:
    """Restore a suspended certificate: a decision recording that the cause is resolved."""
    return _status_decision(
        actor=actor,
        certificate=certificate,
        action="restore",
        decision_kind=DecisionKind.RESTORE,
        reason_category=StatusReason.RESOLVED,
        reason=reason,
        decided_on=decided_on,
        allowed_reasons=(StatusReason.RESOLVED,),
    )


def certificate_withdraw(
    *,
    actor: User,
    certificate: Certificate,
    reason_category: str,
    reason: str,
    decided_on: dt.date | None = None,
) -> Certificate:
    return _status_decision(
        actor=actor,
        certificate=certificate,
        action="withdraw",
        decision_kind=DecisionKind.WITHDRAW,
        reason_category=reason_category,
        reason=reason,
        decided_on=decided_on,
        allowed_reasons=tuple(WITHDRAW_REASONS),
    )


def certificate_cancel(
    *,
    actor: User,
    certificate: Certificate,
    reason: str,
    decided_on: dt.date | None = None,
) -> Certificate:
    """End the certificate at the holder's request."""
    return _status_decision(
        actor=actor,
        certificate=certificate,
        action="cancel",
        decision_kind=DecisionKind.CANCEL,
        reason_category=StatusReason.HOLDER_REQUEST,
        reason=reason,
        decided_on=decided_on,
        allowed_reasons=(StatusReason.HOLDER_REQUEST,),
    )


def certificate_expire(
    *, certificate: Certificate, as_of: dt.date, actor: User | None = None
) -> Certificate:
    """Expire a certificate whose validity has ended (time-driven; no decision)."""
    with transaction.atomic():
        cert = _lock(certificate)
        before = _state(cert)
        target = CERTIFICATE.next_state(cert.status, "expire")
        if as_of <= cert.expires_on:
            raise RuleViolation(
                f"{cert.number} is valid until {cert.expires_on.isoformat()}; it cannot expire "
                f"on {as_of.isoformat()}.",
                code="certificate.not_yet_expired",
            )
        effective = cert.expires_on + dt.timedelta(days=1)
        cert.status = target
        cert.status_since = effective
        cert.save(update_fields=["status", "status_since"])
        _status_record(
            cert,
            before=before["status"],
            on=effective,
            reason_category=StatusReason.VALIDITY_ENDED,
            reason="validity period ended",
            decision=None,
        )
        audit_record(
            actor=actor,
            action="certificate.expire",
            obj=cert,
            before=before,
            after=_state(cert),
            reason="validity period ended",
        )
    return cert


def certificate_reissue(
    *,
    actor: User,
    certificate: Certificate,
    reason: str,
    change_summary: str,
    decided_on: dt.date | None = None,
    scope_lines: list[dict[str, Any]] | None = None,
) -> Certificate:
    """Make a new issue (scope or site change, holder renamed, correction). The holder and
    sites are read afresh; the scope lines are kept unless new ones are given."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    if reason not in (
        IssueReason.SCOPE_EXTENSION,
        IssueReason.SCOPE_REDUCTION,
        IssueReason.SITE_CHANGE,
        IssueReason.HOLDER_RENAMED,
        IssueReason.CORRECTION,
    ):
        raise ValidationFailed(
            f"'{reason}' is not a reason to re-issue.",
            code="invalid.reason_category",
            field="reason",
        )
    if not (change_summary or "").strip():
        raise ValidationFailed(
            "Say what changed in this issue.",
            code="invalid.reason_required",
            field="change_summary",
        )
    decided_on = decided_on or timezone.localdate()
    with transaction.atomic():
        cert = _lock(certificate)
        before = _state(cert)
        cert.status = CERTIFICATE.next_state(cert.status, "reissue")
        last = cert.issues.order_by("-issue_number").first()
        if last is None:  # pragma: no cover - a granted certificate always has issue 1
            raise RuleViolation(
                "This certificate has no issue to follow.", code="certificate.no_issue"
            )
        _check_decision_date(cert, decided_on)
        lines = scope_lines if scope_lines is not None else last.scope_lines
        if not lines:
            raise RuleViolation(
                "A certificate keeps at least one scope line; withdraw it instead.",
                code="certificate.empty_scope",
            )
        own_sites = set(
            Site.objects.filter(organization=cert.organization).values_list("pk", flat=True)
        )
        if any(line["site_id"] not in own_sites for line in lines):
            raise RuleViolation(
                "A scope line names a site of another organization.",
                code="certificate.site_not_own",
            )
        kinds: dict[str, str] = {
            IssueReason.SCOPE_EXTENSION: DecisionKind.EXTEND_SCOPE,
            IssueReason.SCOPE_REDUCTION: DecisionKind.REDUCE_SCOPE,
        }
        kind = kinds.get(reason, DecisionKind.REISSUE)
        decision = Decision.objects.create(
            cb=cert.cb,
            kind=kind,
            certificate=cert,
            decided_by=actor,
            decided_on=decided_on,
            rationale=change_summary,
        )
        issue = _new_issue(
            cert,
            on=decided_on,
            reason=reason,
            summary=change_summary,
            decision=decision,
            scope_lines=lines,
            programmes=last.programmes,
        )
        cert.save(update_fields=["status", "current_issue_number"])
        audit_record(
            actor=actor,
            action="certificate.reissue",
            obj=cert,
            before=before,
            after={
                **_state(cert),
                "decision": decision.pk,
                "reason": reason,
                "issue_id": issue.pk,
                "scope_lines": lines,
            },
            reason=change_summary,
        )
    return cert


def certificate_renew(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    rationale: str = "",
    decided_on: dt.date | None = None,
) -> Certificate:
    """Renew after a re-assessment, decided before expiry: same number, a new issue, and a
    new expiry counted from the old one."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    decided_on = decided_on or timezone.localdate()
    with transaction.atomic():
        cert = _lock(certificate)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        before = _state(cert)
        target = CERTIFICATE.next_state(cert.status, "renew")
        if a.certificate_id != cert.pk or a.kind != AssessmentKind.REASSESSMENT:
            raise RuleViolation(
                "A renewal rests on a re-assessment of this certificate.",
                code="decision.wrong_assessment",
            )
        if decided_on > cert.expires_on:
            raise RuleViolation(
                f"{cert.number} expired on {cert.expires_on.isoformat()}; a renewal must be "
                "decided before expiry. The holder must apply again.",
                code="certificate.renewal_too_late",
            )
        _check_decision_date(cert, decided_on)
        if Decision.objects.filter(assessment=a).exists():
            raise RuleViolation(
                "This re-assessment has already supported a decision; a new renewal needs a "
                "new re-assessment.",
                code="decision.assessment_already_used",
            )
        _raise_first(
            decision_maker_problems(assessment=a, decided_by=actor)
            + report_problems(assessment=a, decided_on=decided_on)
            + findings_problems(assessment=a, decided_on=decided_on, initial_six_month_rule=False)
        )
        rules = scheme_rules(cert.scheme)
        cert.expires_on = _validity_end(
            cert.expires_on + dt.timedelta(days=1), rules.validity_months
        )
        cert.status = target
        decision = Decision.objects.create(
            cb=cert.cb,
            kind=DecisionKind.RENEW,
            certificate=cert,
            assessment=a,
            decided_by=actor,
            decided_on=decided_on,
            rationale=rationale,
        )
        last = cert.issues.order_by("-issue_number").first()
        assert last is not None, "a current certificate has an issue"
        issue = _new_issue(
            cert,
            on=decided_on,
            reason=IssueReason.RENEWAL,
            summary="renewal",
            decision=decision,
            scope_lines=last.scope_lines,
            programmes=last.programmes,
        )
        cert.save(update_fields=["status", "expires_on", "current_issue_number"])
        if a.status == "report_issued":
            a.status = ASSESSMENT.next_state(a.status, "close")
            a.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="certificate.renew",
            obj=cert,
            before=before,
            after={**_state(cert), "decision": decision.pk, "issue_id": issue.pk},
            reason=rationale,
        )
    return cert


__all__ = [
    "certificate_cancel",
    "certificate_expire",
    "certificate_grant",
    "certificate_refuse",
    "certificate_reissue",
    "certificate_renew",
    "certificate_restore",
    "certificate_suspend",
    "certificate_withdraw",
    "site_snapshot",
]
