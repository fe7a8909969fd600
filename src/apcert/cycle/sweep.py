"""The time-driven sweep (issue 3, point 3): what the calendar alone decides.

For a date ``as_of`` it
(a) expires current and suspended certificates whose validity ended before ``as_of``;
(b) suspends current certificates with a surveillance not done by the end of its window
    (reason ``missed_surveillance``, effective the day after the window);
(c) withdraws certificates suspended longer than ``max_suspension_months`` (reason
    ``suspension_exceeded``, effective when the maximum ran out), or, where the scheme's
    rule is to reduce the scope instead, reports them for a decision: which scope lines go
    is the CB's call, not the calendar's;
(d) flags major and minor nonconformities still open or answered after their due date.

Each action runs in its own transaction: the row is locked with ``select_for_update`` and
the rule checked again on the locked row, so a second run, or a run in another process at
the same time, finds nothing left to do. For one certificate the due events are applied in
date order, so a run that catches up on a long gap records the history as it happened.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db import transaction

from apcert.assessments.choices import FindingGrade, FindingStatus
from apcert.assessments.models import Finding
from apcert.certificates.choices import CertificateStatus, StatusReason
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_expire
from apcert.certificates.services._common import _lock
from apcert.core.dates import add_months
from apcert.cycle.models import FindingLateFlag
from apcert.cycle.programme import SURVEILLANCE, rules_of, visits_for
from apcert.cycle.selectors import certificates_with_programme
from apcert.cycle.services import certificate_change_by_rule, finding_flag_late
from apcert.schemes.choices import SuspensionEndAction

RULE_EXPIRY = "cycle.validity_ended"
RULE_MISSED_SURVEILLANCE = "cycle.missed_surveillance"
RULE_SUSPENSION_EXCEEDED = "cycle.suspension_exceeded"
RULE_FINDING_LATE = "cycle.finding_late"

_LATE_GRADES = (FindingGrade.MAJOR, FindingGrade.MINOR)
_LATE_STATUSES = (FindingStatus.OPEN, FindingStatus.ANSWERED)


@dataclass
class SweepReport:
    as_of: dt.date
    expired: list[str] = field(default_factory=list)
    suspended: list[str] = field(default_factory=list)
    withdrawn: list[str] = field(default_factory=list)
    findings_flagged: list[int] = field(default_factory=list)
    needs_decision: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.expired or self.suspended or self.withdrawn or self.findings_flagged)

    def as_dict(self) -> dict[str, object]:
        return {
            "as_of": self.as_of.isoformat(),
            "expired": self.expired,
            "suspended": self.suspended,
            "withdrawn": self.withdrawn,
            "findings_flagged": self.findings_flagged,
            "needs_decision": self.needs_decision,
        }

    def lines(self) -> list[str]:
        out = [f"sweep as of {self.as_of.isoformat()}"]
        for label, items in (
            ("expired", self.expired),
            ("suspended (missed surveillance)", self.suspended),
            ("withdrawn (suspension exceeded)", self.withdrawn),
            ("findings flagged late", [str(i) for i in self.findings_flagged]),
            ("needs a decision", self.needs_decision),
        ):
            out.append(f"  {label}: {len(items)}" + (f" ({', '.join(items)})" if items else ""))
        return out


@dataclass(frozen=True)
class _Event:
    effective_on: dt.date
    action: str  # "expire", "suspend", "withdraw" or "reduce_scope"
    rule: str
    reason: str


def _due_events(cert: Certificate, as_of: dt.date) -> list[_Event]:
    """Every rule-driven change that ``as_of`` makes due for ``cert`` in its present state."""
    events: list[_Event] = []
    if cert.status not in (CertificateStatus.CURRENT, CertificateStatus.SUSPENDED):
        return events
    rules = rules_of(cert)
    if cert.expires_on < as_of:
        events.append(
            _Event(
                cert.expires_on + dt.timedelta(days=1),
                "expire",
                RULE_EXPIRY,
                f"rule {RULE_EXPIRY}: valid until {cert.expires_on.isoformat()}, not renewed",
            )
        )
    if cert.status == CertificateStatus.CURRENT:
        for visit in visits_for(cert):
            # A miss counts once, and only while the certificate has been current since: a
            # restoration after the window (a decision that the cause is resolved) settles it.
            if (
                visit.kind == SURVEILLANCE
                and not visit.done
                and visit.window_end < as_of
                and visit.window_end >= cert.status_since
            ):
                events.append(
                    _Event(
                        visit.window_end + dt.timedelta(days=1),
                        "suspend",
                        RULE_MISSED_SURVEILLANCE,
                        f"rule {RULE_MISSED_SURVEILLANCE}: {visit.label} due "
                        f"{visit.due_date.isoformat()}, window ended "
                        f"{visit.window_end.isoformat()}",
                    )
                )
                break
    else:
        limit = add_months(cert.status_since, rules.max_suspension_months)
        if limit < as_of:
            action = (
                "reduce_scope"
                if rules.suspension_end_action == SuspensionEndAction.REDUCE_SCOPE
                else "withdraw"
            )
            events.append(
                _Event(
                    limit,
                    action,
                    RULE_SUSPENSION_EXCEEDED,
                    f"rule {RULE_SUSPENSION_EXCEEDED}: suspended since "
                    f"{cert.status_since.isoformat()}, longer than the scheme's "
                    f"{rules.max_suspension_months} months (until {limit.isoformat()})",
                )
            )
    return sorted(events, key=lambda e: e.effective_on)


def _apply_next(cert: Certificate, as_of: dt.date, report: SweepReport) -> bool:
    """Lock, re-check, apply the earliest due change. False when nothing is left to do."""
    with transaction.atomic():
        locked = _lock(cert)
        events = _due_events(locked, as_of)
        for pending in (e for e in events if e.action == "reduce_scope"):
            # Which scope lines go is the CB's decision (certificate_reduce_scope), not the sweep's.
            report.needs_decision.append(f"{locked.number}: {pending.reason}")
        event = next((e for e in events if e.action != "reduce_scope"), None)
        if event is None:
            return False
        if event.action == "expire":
            certificate_expire(certificate=locked, as_of=as_of)
            report.expired.append(locked.number)
        elif event.action == "suspend":
            certificate_change_by_rule(
                certificate=locked,
                action="suspend",
                reason_category=StatusReason.MISSED_SURVEILLANCE,
                effective_on=event.effective_on,
                rule=event.rule,
                reason=event.reason,
            )
            report.suspended.append(locked.number)
        else:
            certificate_change_by_rule(
                certificate=locked,
                action="withdraw",
                reason_category=StatusReason.SUSPENSION_EXCEEDED,
                effective_on=event.effective_on,
                rule=event.rule,
                reason=event.reason,
            )
            report.withdrawn.append(locked.number)
    return True


def _flag_findings(as_of: dt.date, report: SweepReport) -> None:
    candidates = Finding.objects.filter(
        grade__in=_LATE_GRADES,
        status__in=_LATE_STATUSES,
        due_date__lt=as_of,
        late_flag__isnull=True,
    ).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            finding = Finding.objects.select_for_update().get(pk=pk)
            if (
                finding.status not in _LATE_STATUSES
                or finding.due_date >= as_of
                or FindingLateFlag.objects.filter(finding=finding).exists()
            ):
                continue
            finding_flag_late(finding=finding, as_of=as_of, rule=RULE_FINDING_LATE)
            report.findings_flagged.append(finding.pk)


def cycle_sweep(*, as_of: dt.date) -> SweepReport:
    """Apply every rule that the date ``as_of`` makes due. Idempotent; safe to run from
    several processes at once."""
    report = SweepReport(as_of=as_of)
    candidates = [
        cert
        for cert in certificates_with_programme()
        if _due_events(cert, as_of)  # read without locks; each action re-checks after locking
    ]
    for cert in candidates:
        # A certificate may owe several changes (suspended, then withdrawn); apply them in
        # date order, each in its own transaction. Each changes the status, so this ends.
        while _apply_next(cert, as_of, report):
            pass
    _flag_findings(as_of, report)
    return report
