"""What the calendar alone does to a certificate: one function of its facts and a date.

Three rules of the scheme change a certificate's status with no decision, on a date fixed in
advance:

- its validity ends: expired from the day after its last valid day;
- a surveillance is not carried out by the end of its tolerance window: suspended from the
  day after the window;
- a suspension lasts the scheme's maximum: withdrawn on the day the maximum runs out (or, where
  the scheme's rule is to reduce the scope instead, a decision is due from that day and the
  certificate stays suspended until the CB takes it).

The daily sweep records these changes; until it has, every read still tells the truth for
its day, because the sweep and the reads ask the same function, :func:`status_on`, with the
same facts. Nothing here touches the database: the facts are a few columns of the
certificate row and its scheme's rule figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from apcert.certificates.choices import CertificateStatus, StatusReason
from apcert.core.dates import add_months

RULE_EXPIRY = "cycle.validity_ended"
RULE_MISSED_SURVEILLANCE = "cycle.missed_surveillance"
RULE_SUSPENSION_EXCEEDED = "cycle.suspension_exceeded"

#: The statuses that the calendar can still change.
LIVE = (CertificateStatus.CURRENT, CertificateStatus.SUSPENDED)

EXPIRE, SUSPEND, WITHDRAW, DECISION_DUE = "expire", "suspend", "withdraw", "decision_due"


@dataclass(frozen=True)
class StatusFacts:
    """What the date-driven rules read of one certificate."""

    status: str
    status_since: dt.date
    #: The last valid day.
    expires_on: dt.date
    #: The last day of the tolerance window of the earliest surveillance not yet carried out
    #: that can still suspend the certificate (None when none is open).
    surveillance_due_by: dt.date | None
    max_suspension_months: int
    #: ``withdraw`` or ``reduce_scope``: what the scheme does when a suspension runs out.
    suspension_end_action: str = "withdraw"


@dataclass(frozen=True)
class DatedChange:
    """One change that a date makes due. ``to_status`` is None for a decision that falls due
    without changing the status (a scope reduction after the maximum suspension)."""

    effective_on: dt.date
    action: str
    to_status: str | None
    reason_category: str
    rule: str
    reason: str


@dataclass(frozen=True)
class StatusOnDay:
    """A certificate's status on one day, and the date-driven changes that make it so but
    that nobody has recorded yet (``unrecorded``: empty when the stored status is the truth)."""

    day: dt.date
    status: str
    since: dt.date
    reason_category: str | None
    unrecorded: tuple[DatedChange, ...]
    #: Changes that fall due after ``day``, in order (what a reader may be warned of).
    upcoming: tuple[DatedChange, ...] = ()

    @property
    def recorded(self) -> bool:
        return not self.unrecorded

    @property
    def decision_due(self) -> DatedChange | None:
        return next((c for c in self.unrecorded if c.to_status is None), None)


def suspension_limit(since: dt.date, max_months: int) -> dt.date:
    """The day a suspension that began on ``since`` has lasted the scheme's maximum: from
    this day it can no longer be restored."""
    return add_months(since, max_months)


def dated_changes(facts: StatusFacts) -> list[DatedChange]:
    """Every change the calendar will make, in order, if nobody decides anything: at most a
    suspension, then a withdrawal or an expiry. Empty for a certificate that is not current
    or suspended."""
    changes: list[DatedChange] = []
    status, since = facts.status, facts.status_since
    if status not in LIVE:
        return changes
    expiry = facts.expires_on + dt.timedelta(days=1)
    expire = DatedChange(
        expiry,
        EXPIRE,
        CertificateStatus.EXPIRED,
        StatusReason.VALIDITY_ENDED,
        RULE_EXPIRY,
        f"rule {RULE_EXPIRY}: valid until {facts.expires_on.isoformat()}, not renewed",
    )
    if status == CertificateStatus.CURRENT:
        due_by = facts.surveillance_due_by
        # A window that closed before the certificate became current again (a restoration
        # decided after it) is settled by that decision.
        if due_by is None or due_by < since or due_by + dt.timedelta(days=1) >= expiry:
            return [expire]
        since = due_by + dt.timedelta(days=1)
        changes.append(
            DatedChange(
                since,
                SUSPEND,
                CertificateStatus.SUSPENDED,
                StatusReason.MISSED_SURVEILLANCE,
                RULE_MISSED_SURVEILLANCE,
                f"rule {RULE_MISSED_SURVEILLANCE}: surveillance window ended "
                f"{due_by.isoformat()} without a visit",
            )
        )
    limit = suspension_limit(since, facts.max_suspension_months)
    if limit < expiry:
        reason = (
            f"rule {RULE_SUSPENSION_EXCEEDED}: suspended since {since.isoformat()}, the "
            f"scheme's maximum of {facts.max_suspension_months} months ran out on "
            f"{limit.isoformat()}"
        )
        if facts.suspension_end_action == "reduce_scope":
            changes.append(
                DatedChange(
                    limit,
                    DECISION_DUE,
                    None,
                    StatusReason.SUSPENSION_EXCEEDED,
                    RULE_SUSPENSION_EXCEEDED,
                    reason,
                )
            )
        else:
            changes.append(
                DatedChange(
                    limit,
                    WITHDRAW,
                    CertificateStatus.WITHDRAWN,
                    StatusReason.SUSPENSION_EXCEEDED,
                    RULE_SUSPENSION_EXCEEDED,
                    reason,
                )
            )
            return changes
    changes.append(expire)
    return changes


def lapses_on(facts: StatusFacts) -> dt.date | None:
    """The first day on which the stored status stops being the truth by dates alone (None
    when the calendar will never change it)."""
    changes = dated_changes(facts)
    return changes[0].effective_on if changes else None


def status_on(facts: StatusFacts, day: dt.date) -> StatusOnDay:
    """The certificate's status on ``day``: the stored status, moved on by every dated change
    whose effective day is on or before ``day``. Reads use it with today; the sweep uses it
    to know what to record."""
    status, since, reason = facts.status, facts.status_since, None
    due: list[DatedChange] = []
    upcoming: list[DatedChange] = []
    for change in dated_changes(facts):
        if change.effective_on > day:
            upcoming.append(change)
            continue
        due.append(change)
        if change.to_status is not None:
            status, since, reason = change.to_status, change.effective_on, change.reason_category
    return StatusOnDay(day, status, since, reason, tuple(due), tuple(upcoming))
