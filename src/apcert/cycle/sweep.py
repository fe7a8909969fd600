"""The time-driven sweep: it records what the calendar alone decides.

What is due comes from :mod:`apcert.certificates.timeline`, the same function every read of
a certificate's status asks, so a read is right before the sweep has run. For a date
``as_of`` the sweep
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
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone

from apcert.assessments.models import Finding
from apcert.assessments.selectors import findings_late_on
from apcert.bodies.permissions import require_cb_role
from apcert.certificates.choices import StatusReason
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_expire, certificate_lock
from apcert.certificates.timeline import (
    EXPIRE,
    SUSPEND,
    DatedChange,
    StatusFacts,
    status_on,
)
from apcert.cycle.models import FindingLateFlag, SweepRun
from apcert.cycle.programme import rules_of, surveillance_due_by, visits_for
from apcert.cycle.selectors import certificates_with_programme
from apcert.cycle.services import certificate_change_by_rule, finding_flag_late

if TYPE_CHECKING:
    from apcert.accounts.models import User

RULE_FINDING_LATE = "cycle.finding_late"


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


def facts_of(cert: Certificate) -> StatusFacts:
    """The certificate's date facts worked out afresh from its programme (not the stored
    copy that reads use), so that the sweep acts on what the programme says now."""
    rules = rules_of(cert)
    return StatusFacts(
        status=cert.status,
        status_since=cert.status_since,
        expires_on=cert.expires_on,
        surveillance_due_by=surveillance_due_by(visits_for(cert), cert.status_since),
        max_suspension_months=rules.max_suspension_months,
        suspension_end_action=rules.suspension_end_action,
    )


def _due_events(cert: Certificate, as_of: dt.date) -> list[DatedChange]:
    """Every rule-driven change that ``as_of`` makes due for ``cert`` in its present state:
    the unrecorded changes of :func:`apcert.certificates.timeline.status_on`, the function
    every read of the status uses too."""
    return list(status_on(facts_of(cert), as_of).unrecorded)


def _apply_next(cert: Certificate, as_of: dt.date, report: SweepReport) -> bool:
    """Lock, re-check, apply the earliest due change. False when nothing is left to do."""
    with transaction.atomic():
        locked = certificate_lock(cert)
        events = _due_events(locked, as_of)
        for pending in (e for e in events if e.to_status is None):
            # Which scope lines go is the CB's decision (a scope reduction), not the sweep's.
            report.needs_decision.append(f"{locked.number}: {pending.reason}")
        event = next((e for e in events if e.to_status is not None), None)
        if event is None:
            return False
        if event.action == EXPIRE:
            certificate_expire(certificate=locked, as_of=as_of)
            report.expired.append(locked.number)
        elif event.action == SUSPEND:
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
        findings_late_on(as_of), late_flag__isnull=True
    ).values_list("pk", flat=True)
    for pk in list(candidates):
        with transaction.atomic():
            finding = Finding.objects.select_for_update().filter(pk=pk)
            locked = finding.filter(findings_late_on(as_of)).first()
            if locked is None or FindingLateFlag.objects.filter(finding=locked).exists():
                continue
            finding_flag_late(finding=locked, as_of=as_of, rule=RULE_FINDING_LATE)
            report.findings_flagged.append(locked.pk)


def cycle_sweep(*, as_of: dt.date) -> SweepReport:
    """Apply every rule that the date ``as_of`` makes due. Idempotent; safe to run from
    several processes at once. Its work is found by the stored ``lapses_on`` (an indexed
    range, however large the register), then checked afresh on each locked row."""
    report = SweepReport(as_of=as_of)
    candidates = [
        cert
        for cert in certificates_with_programme().filter(lapses_on__lte=as_of)
        if _due_events(cert, as_of)  # read without locks; each action re-checks after locking
    ]
    for cert in candidates:
        # A certificate may owe several changes (suspended, then withdrawn); apply them in
        # date order, each in its own transaction. Each changes the status, so this ends.
        while _apply_next(cert, as_of, report):
            pass
    _flag_findings(as_of, report)
    return report


def certificate_sweep(*, actor: User, certificate: Certificate, as_of: dt.date) -> SweepReport:
    """Record now what the calendar has done to one certificate by ``as_of``, as the daily
    sweep would: each change dated when it happened, with the same checks on the locked
    row. For a decision maker of the certificate's CB who wants the record straight before
    deciding. Nothing to do is not an error: the report is then empty."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    report = SweepReport(as_of=as_of)
    while _apply_next(certificate, as_of, report):
        pass
    return report


def sweep_run(*, as_of: dt.date, source: str) -> SweepReport:
    """:func:`cycle_sweep` of ``as_of``, recorded as a :class:`SweepRun`: when it started,
    when it finished and what it did. A run that fails leaves its start without a finish,
    which the back office and ``/healthz`` read as a sweep not done."""
    _run_started(as_of, source)
    report = cycle_sweep(as_of=as_of)
    SweepRun.objects.filter(as_of=as_of).update(
        finished_at=timezone.now(), summary=report.as_dict()
    )
    return report


def _run_started(as_of: dt.date, source: str) -> None:
    started = {"started_at": timezone.now(), "finished_at": None, "source": source}
    if SweepRun.objects.filter(as_of=as_of).update(**started):
        return
    try:
        with transaction.atomic():
            SweepRun.objects.create(as_of=as_of, **started)
    except IntegrityError:  # the worker queued the same date meanwhile
        SweepRun.objects.filter(as_of=as_of).update(**started)
