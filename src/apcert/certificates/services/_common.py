"""Helpers shared by the certificate services: locking, dates, issues and history rows."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from apcert.assessments.lifecycle import ASSESSMENT
from apcert.assessments.models import Assessment
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateStatusChange,
    Decision,
)
from apcert.certificates.selectors import (
    certificate_last_issue,
)
from apcert.certificates.snapshots import (
    change_summary,
    holder_snapshot,
    issue_content,
    sites_of,
    standards_of,
)
from apcert.core.dates import add_months
from apcert.core.errors import RuleViolation
from apcert.credentials.services import credential_for_issue
from apcert.cycle.schedule import visit_schedule_refresh
from apcert.register.index import index_certificate
from apcert.schemes.models import Programme
from apcert.statuslists.selectors import status_entries
from apcert.statuslists.services import status_lists_apply

if TYPE_CHECKING:
    pass


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
    decision: Decision | None,
    scope_lines: list[dict[str, Any]],
    programmes: list[dict[str, str]],
    valid_from: dt.date | None = None,
) -> CertificateIssue:
    """The next issue, its "what changed" read from the difference between its snapshot
    and the issue before it: a re-issue announces only what it changed, and one that
    changes nothing is refused."""
    content: dict[str, Any] = {
        "holder": holder_snapshot(cert.organization),
        "sites": sites_of(scope_lines),
        "programmes": programmes,
        "scope_lines": scope_lines,
        "standards": standards_of(scope_lines),
        "valid_from": valid_from or cert.initial_decision_on,
        "valid_until": cert.expires_on,
    }
    previous = certificate_last_issue(cert)
    summary = change_summary(None if previous is None else issue_content(previous), content)
    if not summary:
        raise RuleViolation(
            f"Issue {cert.current_issue_number} of {cert.number} already says all this; "
            "a new issue must change something.",
            code="certificate.nothing_changed",
        )
    cert.current_issue_number += 1
    return CertificateIssue.objects.create(
        certificate=cert,
        issue_number=cert.current_issue_number,
        issued_on=on,
        reason=reason,
        change_summary=summary,
        decision=decision,
        **content,
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


def _keep_derived(cert: Certificate) -> None:
    """Bring what is derived from the certificate into step with it, inside the service's
    transaction: the register's search index, the schedule of its open visits (the back
    office's dashboards), the CB's status lists (issue 6: the suspension and revocation
    bits), and the signed credential of its latest issue, made once the CB has a signing
    key. A draft has only its (empty) index entry."""
    index_certificate(cert)
    visit_schedule_refresh([cert.pk])
    if cert.status == "draft":
        return
    entry = status_lists_apply(cert)
    issue = certificate_last_issue(cert)
    if issue is not None and entry is not None:
        credential_for_issue(issue, status_entries=status_entries(cert, entry))
