"""Helpers shared by the certificate services: locking, dates, issues and history rows."""

from __future__ import annotations

import datetime as dt
from typing import Any

from apcert.certificates.choices import CertificateStatus, StatusReason
from apcert.certificates.errors import (
    CERTIFICATE_ENDED_BY_CALENDAR,
    CERTIFICATE_NOT_CURRENT,
    CERTIFICATE_NOTHING_CHANGED,
    CERTIFICATE_VALIDITY_ENDED,
    DECISION_DATE_BEFORE_LAST_CHANGE,
)
from apcert.certificates.lifecycle import TERMINAL
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    Decision,
)
from apcert.certificates.selectors import (
    calendar_suspension,
    certificate_last_issue,
    decision_date_problems,
    status_facts,
)
from apcert.certificates.services.transition import (
    certificate_lock,
    certificate_state,
    certificate_transition,
)
from apcert.certificates.snapshots import (
    change_summary,
    holder_snapshot,
    issue_content,
    sites_of,
    standards_of,
)
from apcert.certificates.timeline import status_on
from apcert.core.dates import add_months, format_date
from apcert.core.errors import RuleViolation
from apcert.schemes.models import Programme
from apcert.schemes.selectors import scheme_rules

# The services of this package lock and describe a certificate as the transition service does.
_lock = certificate_lock
_state = certificate_state


def _raise_first(problems: list[RuleViolation]) -> None:
    if problems:
        first = problems[0]
        first.params["also"] = [p.code for p in problems[1:]]
        raise first


def _validity_end(start: dt.date, months: int) -> dt.date:
    # Valid through the day before the same date ``months`` later (three years = 36 months).
    return add_months(start, months) - dt.timedelta(days=1)


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
            code=CERTIFICATE_NOTHING_CHANGED,
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
    """A decision on a certificate is dated today or earlier, follows its last status
    change and its last issue, and falls within its validity: after expiry there is nothing
    left to decide on."""
    _raise_first(decision_date_problems(decided_on=decided_on))
    last_issue = cert.issues.order_by("-issue_number").values_list("issued_on", flat=True).first()
    latest = max(d for d in (cert.status_since, last_issue) if d is not None)
    if decided_on < latest:
        raise RuleViolation(
            f"The decision date {format_date(decided_on)} is before the certificate's last "
            f"change ({format_date(latest)}).",
            code=DECISION_DATE_BEFORE_LAST_CHANGE,
            field="decided_on",
        )
    if decided_on > cert.expires_on:
        raise RuleViolation(
            f"{cert.number} was valid until {format_date(cert.expires_on)}; a decision dated "
            f"{format_date(decided_on)} comes after its validity ended. Record its expiry.",
            code=CERTIFICATE_VALIDITY_ENDED,
        )
    _check_not_ended_by_calendar(cert, decided_on)


def _check_not_ended_by_calendar(cert: Certificate, decided_on: dt.date) -> None:
    """A certificate that the scheme's calendar has ended by the decision's date (withdrawn
    when its suspension ran to the maximum, perhaps after a missed surveillance window) has
    nothing left to decide on, whether or not the daily sweep has recorded it yet: the same
    function of its facts as every read says so."""
    if cert.lapses_on is None or cert.lapses_on > decided_on:
        return
    day = status_on(status_facts(cert, scheme_rules(cert.scheme)), decided_on)
    ended = next((c for c in day.unrecorded if c.to_status in TERMINAL), None)
    if ended is None:
        return
    raise RuleViolation(
        f"{cert.number} was {ended.to_status} on {format_date(ended.effective_on)} by the "
        f"scheme's rules ({StatusReason(ended.reason_category).label}), so there is nothing "
        f"left to decide on {format_date(decided_on)}. The holder may apply again.",
        code=CERTIFICATE_ENDED_BY_CALENDAR,
        params={"status": ended.to_status, "effective_on": ended.effective_on},
    )


def _record_calendar(cert: Certificate, day: dt.date) -> None:
    """Record the suspension that the calendar made before ``day``, dated as it happened,
    as the daily sweep would. A decision recorded later then follows it in the history, and
    the public history keeps the day the certificate was in fact suspended. ``cert`` is the
    row locked by the caller."""
    change = calendar_suspension(cert, day)
    if change is None:
        return
    certificate_transition(
        actor=None,
        certificate=cert,
        action="suspend",
        effective_on=change.effective_on,
        reason_category=change.reason_category,
        reason=change.reason,
        before=certificate_state(cert),
        after={
            "decision": None,
            "rule": change.rule,
            "reason_category": change.reason_category,
            "effective_on": change.effective_on,
        },
    )


def _programme_ids(issue: CertificateIssue) -> list[int]:
    codes = [p["code"] for p in issue.programmes]
    return list(Programme.objects.filter(code__in=codes).values_list("pk", flat=True))


def _last_issue(cert: Certificate) -> CertificateIssue:
    last = certificate_last_issue(cert)
    if last is None:  # pragma: no cover
        # Not a refusal: a certificate is created with its issue 1 in one transaction, and
        # the database refuses to delete an issue, so one without is a broken database.
        raise RuntimeError(f"certificate {cert.pk} has no issue")
    return last


def _require_current(cert: Certificate, what: str) -> None:
    if cert.status != CertificateStatus.CURRENT:
        raise RuleViolation(
            f"{cert.number} is {cert.status}; {what} only on a current certificate.",
            code=CERTIFICATE_NOT_CURRENT,
            params={"state": cert.status},
        )
