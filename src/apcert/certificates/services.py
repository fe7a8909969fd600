"""Certification decisions and the certificate lifecycle.

Each public service takes a decision (or, for expiry, a date), applies one transition of
``lifecycle.CERTIFICATE``, writes the status history and, where the content changes, a new
immutable issue, and records exactly one audit event, all in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from apcert.applications.models import Application, ScopeLine
from apcert.applications.selectors import acceptance_problems
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
    certificate_last_issue,
    decision_maker_problems,
    decision_subject_problems,
    findings_problems,
    followup_assessment_problems,
    grant_problems,
    new_scope_problems,
    report_problems,
    scope_keys,
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
from apcert.schemes.models import ProcessCategory, Programme, Standard
from apcert.schemes.selectors import scheme_rules, standard_resolve

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
    valid_from: dt.date | None = None,
) -> CertificateIssue:
    cert.current_issue_number += 1
    return CertificateIssue.objects.create(
        certificate=cert,
        issue_number=cert.current_issue_number,
        issued_on=on,
        valid_from=valid_from or cert.initial_decision_on,
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
                "reason_category": StatusReason.GRANTED,
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

#: For each decided status change: the kind of decision it records, and the public reason
#: categories it may give (DOMAIN.md section 4: causes of suspension, withdrawal ...).
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
            after={
                **_state(cert),
                "effective_on": effective,
                "reason_category": StatusReason.VALIDITY_ENDED,
            },
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
                "decided_on": decided_on,
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
            after={
                **_state(cert),
                "decision": decision.pk,
                "issue_id": issue.pk,
                "decided_on": decided_on,
                "scope_lines": issue.scope_lines,
            },
            reason=rationale,
        )
    return cert


# --- decisions that follow a visit, and re-issues (issue 3, point 2) -------------------------


@dataclass(frozen=True)
class NewScopeLine:
    """A scope line to add to a certificate: a process category (by code) at a site of the
    holder, the wording as it will read on the certificate, and the declared standards as
    ``DESIGNATION:EDITION`` references."""

    category: str
    site: Site
    wording: str
    standards: tuple[str, ...]


@dataclass(frozen=True)
class _ResolvedLine:
    line: ScopeLine  # unsaved: carries the category and site for the acceptance check
    standards: list[Standard]
    snapshot: dict[str, Any]


def _resolve_new_lines(new_scope_lines: Sequence[NewScopeLine]) -> list[_ResolvedLine]:
    """Turn the input into snapshot-shaped lines; malformed input is refused here, before
    the transaction (the rules on content are checked inside it)."""
    if not new_scope_lines:
        raise ValidationFailed(
            "Give at least one scope line to add.",
            code="invalid.required",
            field="new_scope_lines",
        )
    out: list[_ResolvedLine] = []
    for new in new_scope_lines:
        wording = (new.wording or "").strip()
        if not wording:
            raise ValidationFailed(
                "Each scope line needs its wording.", code="invalid.required", field="wording"
            )
        if not new.standards:
            raise ValidationFailed(
                f"Scope line {new.category} at {new.site.name} declares no standard.",
                code="certificate.scope_line_without_standard",
                field="standards",
            )
        category = ProcessCategory.objects.filter(code=new.category).first()
        if category is None:
            raise ValidationFailed(
                f"There is no process category with the code {new.category}.",
                code="invalid.choice",
                field="category",
            )
        standards = [standard_resolve(ref) for ref in new.standards]
        line = ScopeLine(category=category, site=new.site, wording=wording)
        out.append(
            _ResolvedLine(
                line=line,
                standards=standards,
                snapshot={
                    "category": category.code,
                    "category_name": category.name,
                    "site_id": new.site.pk,
                    "site_name": new.site.name,
                    "wording": wording,
                    "standards": sorted({s.reference for s in standards}),
                },
            )
        )
    return out


def _programme_ids(issue: CertificateIssue) -> list[int]:
    codes = [p["code"] for p in issue.programmes]
    return list(Programme.objects.filter(code__in=codes).values_list("pk", flat=True))


def _last_issue(cert: Certificate) -> CertificateIssue:
    last = certificate_last_issue(cert)
    if last is None:  # pragma: no cover - a granted certificate always has issue 1
        raise RuleViolation("This certificate has no issue to follow.", code="certificate.no_issue")
    return last


def _require_current(cert: Certificate, what: str) -> None:
    if cert.status != "current":
        raise RuleViolation(
            f"{cert.number} is {cert.status}; {what} only on a current certificate.",
            code="certificate.not_current",
            params={"state": cert.status},
        )


def _close_assessment(a: Assessment) -> None:
    if a.status == "report_issued":
        a.status = ASSESSMENT.next_state(a.status, "close")
        a.save(update_fields=["status"])


def _write_reissue(
    cert: Certificate,
    *,
    actor: User,
    action: str,
    decision_kind: str,
    issue_reason: str,
    summary: str,
    rationale: str,
    decided_on: dt.date,
    lines: list[dict[str, Any]],
    programmes: list[dict[str, str]],
    before: dict[str, Any],
    assessment: Assessment | None = None,
    extra: dict[str, Any] | None = None,
) -> Certificate:
    """The records every re-issue writes: the decision, the new issue, the certificate's
    issue number, the assessment closed, and the one audit event."""
    decision = Decision.objects.create(
        cb=cert.cb,
        kind=decision_kind,
        certificate=cert,
        assessment=assessment,
        decided_by=actor,
        decided_on=decided_on,
        rationale=rationale or summary,
    )
    issue = _new_issue(
        cert,
        on=decided_on,
        reason=issue_reason,
        summary=summary,
        decision=decision,
        scope_lines=lines,
        programmes=programmes,
    )
    cert.save(update_fields=["status", "current_issue_number"])
    if assessment is not None:
        _close_assessment(assessment)
    audit_record(
        actor=actor,
        action=f"certificate.{action}",
        obj=cert,
        before=before,
        after={
            **_state(cert),
            "decision": decision.pk,
            "reason": issue_reason,
            "issue_id": issue.pk,
            "decided_on": decided_on,
            "assessment": assessment.pk if assessment is not None else None,
            "scope_lines": lines,
            **(extra or {}),
        },
        reason=rationale or summary,
    )
    return cert


def _describe(lines: Iterable[dict[str, Any]]) -> str:
    return "; ".join(f"{line['category']} at {line['site_name']}" for line in lines)


def certificate_maintain(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    decided_on: dt.date,
    rationale: str = "",
) -> Decision:
    """Maintain certification after a surveillance visit: a decision, no new issue, the
    status unchanged. Open majors or minors without an accepted plan refuse it; suspending
    the certificate is a separate decision (:func:`certificate_suspend`)."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    with transaction.atomic():
        cert = _lock(certificate)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        _require_current(cert, "certification is maintained")
        _check_decision_date(cert, decided_on)
        _raise_first(
            followup_assessment_problems(
                certificate=cert,
                assessment=a,
                kind=AssessmentKind.SURVEILLANCE,
                cb_id=cert.cb_id,
                decided_by=actor,
                decided_on=decided_on,
            )
        )
        decision = Decision.objects.create(
            cb=cert.cb,
            kind=DecisionKind.MAINTAIN,
            certificate=cert,
            assessment=a,
            decided_by=actor,
            decided_on=decided_on,
            rationale=rationale,
        )
        _close_assessment(a)
        audit_record(
            actor=actor,
            action="certificate.maintain",
            obj=cert,
            before=_state(cert),
            after={
                **_state(cert),
                "decision": decision.pk,
                "assessment": a.pk,
                "decided_on": decided_on,
            },
            reason=rationale,
        )
    return decision


def _add_lines(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    new_scope_lines: Sequence[NewScopeLine],
    decided_on: dt.date,
    rationale: str,
    new_sites: bool,
) -> Certificate:
    """Scope extension (``new_sites`` False: every line at a site already certified) or a
    site added (``new_sites`` True: every line at a site not yet on the certificate)."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    resolved = _resolve_new_lines(new_scope_lines)
    with transaction.atomic():
        cert = _lock(certificate)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        before = _state(cert)
        cert.status = CERTIFICATE.next_state(cert.status, "reissue")
        _require_current(cert, "the scope is extended")
        _check_decision_date(cert, decided_on)
        last = _last_issue(cert)
        # The visit that covers the new lines: a scope-extension assessment of this
        # certificate by its CB, reported, not yet used, with its findings resolved.
        problems = followup_assessment_problems(
            certificate=cert,
            assessment=a,
            kind=AssessmentKind.SCOPE_EXTENSION,
            cb_id=cert.cb_id,
            decided_by=actor,
            decided_on=decided_on,
        )
        own_sites = set(
            Site.objects.filter(organization=cert.organization).values_list("pk", flat=True)
        )
        certified_sites = {line["site_id"] for line in last.scope_lines}
        existing = scope_keys(last.scope_lines)
        seen: set[tuple[str, int]] = set()
        for r in resolved:
            key = (r.snapshot["category"], r.snapshot["site_id"])
            where = f"{key[0]} at {r.snapshot['site_name']}"
            if key[1] not in own_sites:
                problems.append(
                    RuleViolation(
                        f"{r.snapshot['site_name']} is a site of another organization.",
                        code="certificate.site_not_own",
                    )
                )
            elif key in existing or key in seen:
                problems.append(
                    RuleViolation(
                        f"{where} is already in the scope.",
                        code="certificate.scope_line_exists",
                        params={"category": key[0], "site_id": key[1]},
                    )
                )
            elif new_sites and key[1] in certified_sites:
                problems.append(
                    RuleViolation(
                        f"{r.snapshot['site_name']} is already on the certificate: extend the "
                        "scope instead.",
                        code="certificate.site_already_on_certificate",
                        params={"site_id": key[1]},
                    )
                )
            elif not new_sites and key[1] not in certified_sites:
                problems.append(
                    RuleViolation(
                        f"{r.snapshot['site_name']} is not on the certificate yet: add the site "
                        "instead.",
                        code="certificate.site_not_on_certificate",
                        params={"site_id": key[1]},
                    )
                )
            seen.add(key)
        problems += new_scope_problems(
            cb_id=cert.cb_id,
            programme_ids=_programme_ids(last),
            scope_lines=[r.line for r in resolved],
            standards=[s for r in resolved for s in r.standards],
            on=decided_on,
        )
        _raise_first(problems)
        added = [r.snapshot for r in resolved]
        what = "site added" if new_sites else "scope extended"
        return _write_reissue(
            cert,
            actor=actor,
            action="site_add" if new_sites else "extend_scope",
            decision_kind=DecisionKind.EXTEND_SCOPE,
            issue_reason=IssueReason.SITE_CHANGE if new_sites else IssueReason.SCOPE_EXTENSION,
            summary=f"{what}: {_describe(added)}",
            rationale=rationale,
            decided_on=decided_on,
            lines=[*last.scope_lines, *added],
            programmes=last.programmes,
            before=before,
            assessment=a,
            extra={"added": added},
        )


def certificate_extend_scope(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    new_scope_lines: Sequence[NewScopeLine],
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Extend the scope at sites already certified, after a scope-extension assessment:
    a new issue (reason scope_extension) and an extend-scope decision. The new lines must be
    inside the CB's acceptance and declare current standards, as at grant."""
    return _add_lines(
        actor=actor,
        certificate=certificate,
        assessment=assessment,
        new_scope_lines=new_scope_lines,
        decided_on=decided_on,
        rationale=rationale,
        new_sites=False,
    )


def certificate_site_add(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    new_scope_lines: Sequence[NewScopeLine],
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Add a site: its scope lines need a scope-extension assessment like any new line.
    A new issue (reason site_change) and an extend-scope decision."""
    return _add_lines(
        actor=actor,
        certificate=certificate,
        assessment=assessment,
        new_scope_lines=new_scope_lines,
        decided_on=decided_on,
        rationale=rationale,
        new_sites=True,
    )


def _remove_lines(
    *,
    actor: User,
    certificate: Certificate,
    decided_on: dt.date,
    reason: str,
    pick: Any,
    action: str,
    issue_reason: str,
) -> Certificate:
    require_cb_role(actor, certificate.cb, "decision_maker")
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why the scope is reduced, for the record.",
            code="invalid.reason_required",
            field="reason",
        )
    with transaction.atomic():
        cert = _lock(certificate)
        before = _state(cert)
        # Allowed while suspended: the scheme's alternative to withdrawal (lifecycle.py).
        cert.status = CERTIFICATE.next_state(cert.status, "reissue")
        _check_decision_date(cert, decided_on)
        last = _last_issue(cert)
        removed, kept = pick(last.scope_lines)
        if not kept:
            raise RuleViolation(
                "A certificate keeps at least one scope line; withdraw it instead.",
                code="certificate.empty_scope",
            )
        return _write_reissue(
            cert,
            actor=actor,
            action=action,
            decision_kind=DecisionKind.REDUCE_SCOPE,
            issue_reason=issue_reason,
            summary=f"removed: {_describe(removed)}",
            rationale=reason,
            decided_on=decided_on,
            lines=kept,
            programmes=last.programmes,
            before=before,
            extra={"removed": removed},
        )


def certificate_reduce_scope(
    *,
    actor: User,
    certificate: Certificate,
    remove: Sequence[tuple[str, int]],
    reason: str,
    decided_on: dt.date,
) -> Certificate:
    """Reduce the scope by a decision with its reason: remove the given (process category
    code, site id) lines. A new issue (reason scope_reduction); allowed while suspended."""
    wanted = {(code, site_id) for code, site_id in remove}
    if not wanted:
        raise ValidationFailed(
            "Name at least one scope line to remove.", code="invalid.required", field="remove"
        )

    def pick(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        unknown = wanted - scope_keys(lines)
        if unknown:
            raise RuleViolation(
                "Not in the certificate's scope: "
                + "; ".join(f"{c} at site {s}" for c, s in sorted(unknown))
                + ".",
                code="certificate.scope_line_not_found",
                params={"lines": sorted(unknown)},
            )
        removed = [x for x in lines if (x["category"], x["site_id"]) in wanted]
        kept = [x for x in lines if (x["category"], x["site_id"]) not in wanted]
        return removed, kept

    return _remove_lines(
        actor=actor,
        certificate=certificate,
        decided_on=decided_on,
        reason=reason,
        pick=pick,
        action="reduce_scope",
        issue_reason=IssueReason.SCOPE_REDUCTION,
    )


def certificate_site_remove(
    *, actor: User, certificate: Certificate, site: Site, reason: str, decided_on: dt.date
) -> Certificate:
    """Remove a site from the certificate with all its scope lines: a new issue (reason
    site_change) and a reduce-scope decision; allowed while suspended."""

    def pick(lines: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        removed = [x for x in lines if x["site_id"] == site.pk]
        if not removed:
            raise RuleViolation(
                f"{site.name} is not on the certificate.",
                code="certificate.site_not_on_certificate",
                params={"site_id": site.pk},
            )
        return removed, [x for x in lines if x["site_id"] != site.pk]

    return _remove_lines(
        actor=actor,
        certificate=certificate,
        decided_on=decided_on,
        reason=reason,
        pick=pick,
        action="site_remove",
        issue_reason=IssueReason.SITE_CHANGE,
    )


def certificate_holder_renamed(
    *, actor: User, certificate: Certificate, decided_on: dt.date
) -> Certificate:
    """Re-issue after the holder was renamed (organizations.services.organization_rename):
    a new issue (reason holder_renamed) with the new name, scope and sites unchanged."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    with transaction.atomic():
        cert = _lock(certificate)
        before = _state(cert)
        cert.status = CERTIFICATE.next_state(cert.status, "reissue")
        _check_decision_date(cert, decided_on)
        last = _last_issue(cert)
        old_name = last.holder.get("name", "")
        new_name = cert.organization.legal_name
        if old_name == new_name:
            raise RuleViolation(
                f"Issue {last.issue_number} already names the holder {new_name}.",
                code="certificate.nothing_changed",
            )
        return _write_reissue(
            cert,
            actor=actor,
            action="holder_renamed",
            decision_kind=DecisionKind.REISSUE,
            issue_reason=IssueReason.HOLDER_RENAMED,
            summary=f"holder renamed from {old_name} to {new_name}",
            rationale="",
            decided_on=decided_on,
            lines=last.scope_lines,
            programmes=last.programmes,
            before={**before, "holder": old_name},
            extra={"holder": new_name},
        )


def certificate_transfer(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Transfer a current certificate to another CB after that CB's transfer review.

    The new CB's decision maker decides. A new certificate under the new CB takes a new
    number, issue 1 (reason transfer) with the old scope and the old expiry, and keeps the
    certification cycle (its initial decision date). The old certificate ends withdrawn with
    the reason "transferred", under the same decision; both are linked (DOMAIN.md section 4).
    One audit event names both numbers.
    """
    new_cb = assessment.cb
    require_cb_role(actor, new_cb, "decision_maker")
    with transaction.atomic():
        old = _lock(certificate)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        before = _state(old)
        if old.cb_id == a.cb_id:
            raise RuleViolation(
                f"{old.number} is already certified by {old.cb.code}.",
                code="certificate.transfer_same_cb",
            )
        if old.status != "current":
            raise RuleViolation(
                f"{old.number} is {old.status}; only a current certificate can be transferred.",
                code="certificate.transfer_not_current",
                params={"state": old.status},
            )
        withdrawn = CERTIFICATE.next_state(old.status, "withdraw")
        _check_decision_date(old, decided_on)
        last = _last_issue(old)
        problems = followup_assessment_problems(
            certificate=old,
            assessment=a,
            kind=AssessmentKind.TRANSFER_REVIEW,
            cb_id=new_cb.pk,
            decided_by=actor,
            decided_on=decided_on,
        )
        category_codes = {line["category"] for line in last.scope_lines}
        categories = {c.code: c for c in ProcessCategory.objects.filter(code__in=category_codes)}
        problems += acceptance_problems(
            cb_id=new_cb.pk,
            programme_ids=_programme_ids(last),
            scope_lines=[ScopeLine(category=categories[code]) for code in sorted(category_codes)],
            on=decided_on,
            code_prefix="decision",
        )
        _raise_first(problems)

        rules = scheme_rules(old.scheme)
        number, serial = allocate_number(rules=rules, cb=new_cb, on=decided_on)
        decision = Decision.objects.create(
            cb=new_cb,
            kind=DecisionKind.GRANT,
            assessment=a,
            decided_by=actor,
            decided_on=decided_on,
            rationale=rationale,
        )
        new = Certificate.objects.create(
            number=number,
            number_year=decided_on.year,
            number_serial=serial,
            cb=new_cb,
            scheme=old.scheme,
            organization=old.organization,
            application=old.application,
            status="draft",
            status_since=decided_on,
            first_issued_on=decided_on,
            initial_decision_on=old.initial_decision_on,
            expires_on=old.expires_on,
            transferred_from=old,
        )
        decision.certificate = new
        decision.save(update_fields=["certificate"])
        new.status = CERTIFICATE.next_state("draft", "grant")
        issue = _new_issue(
            new,
            on=decided_on,
            reason=IssueReason.TRANSFER,
            summary=f"transferred from {old.number} ({old.cb.code})",
            decision=decision,
            scope_lines=last.scope_lines,
            programmes=last.programmes,
            valid_from=decided_on,
        )
        new.save(update_fields=["status", "current_issue_number"])
        _status_record(
            new,
            before="draft",
            on=decided_on,
            reason_category=StatusReason.GRANTED,
            reason=f"transferred from {old.number}",
            decision=decision,
        )
        old.status = withdrawn
        old.status_since = decided_on
        old.save(update_fields=["status", "status_since"])
        _status_record(
            old,
            before=before["status"],
            on=decided_on,
            reason_category=StatusReason.TRANSFERRED,
            reason=f"transferred to {new_cb.code} as {new.number}",
            decision=decision,
        )
        _close_assessment(a)
        audit_record(
            actor=actor,
            action="certificate.transfer",
            obj=new,
            before={"transferred_from": before},
            after={
                **_state(new),
                "cb": new_cb.code,
                "transferred_from": old.number,
                "old_status": old.status,
                "decision": decision.pk,
                "assessment": a.pk,
                "decided_on": decided_on,
                "issue_id": issue.pk,
            },
            reason=rationale,
        )
    return new


__all__ = [
    "NewScopeLine",
    "certificate_cancel",
    "certificate_expire",
    "certificate_extend_scope",
    "certificate_grant",
    "certificate_holder_renamed",
    "certificate_maintain",
    "certificate_reduce_scope",
    "certificate_refuse",
    "certificate_reissue",
    "certificate_renew",
    "certificate_restore",
    "certificate_site_add",
    "certificate_site_remove",
    "certificate_suspend",
    "certificate_transfer",
    "certificate_withdraw",
    "site_snapshot",
]
