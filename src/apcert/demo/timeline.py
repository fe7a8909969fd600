"""The life of one demo certificate, planned as plain data (no ORM).

A certificate is granted, watched by yearly surveillance, perhaps suspended and restored,
re-issued, renewed at the end of each cycle, or it ends withdrawn, cancelled or expired.
Every status change goes through ``certificates.lifecycle.CERTIFICATE``, so a plan can only
hold transitions the services would allow. Nothing happens after the reference date.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field, replace

from apcert.certificates.choices import CertificateStatus
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.core import dates
from apcert.demo import words
from apcert.demo.dice import Dice

CURRENT, SUSPENDED = CertificateStatus.CURRENT, CertificateStatus.SUSPENDED

DAY = dt.timedelta(days=1)

#: Steps that change the status (each has a status-history row).
STATUS_ACTIONS = ("suspend", "restore", "withdraw", "cancel", "expire")


@dataclass(frozen=True)
class Odds:
    """Chances per year of a certificate's life (per cycle for ``renew``)."""

    missed_surveillance: float = 0.015
    suspend: float = 0.015
    cancel: float = 0.022
    withdraw: float = 0.008
    reissue: float = 0.05
    renew: float = 0.82
    restore: float = 0.6  # of suspensions; the rest end withdrawn (mostly) or cancelled


NO_INCIDENTS = Odds(
    missed_surveillance=0.0, suspend=0.0, cancel=0.0, withdraw=0.0, reissue=0.0, renew=1.0
)


@dataclass(frozen=True)
class Step:
    action: str  # surveillance, reissue, renew or one of STATUS_ACTIONS
    on: dt.date
    reason_category: str = ""
    reason: str = ""
    issue_reason: str = ""  # for reissue: scope_extension or scope_reduction
    expires_on: dt.date | None = None  # the expiry after a renewal
    days: int = 0  # for surveillance: the visit's last day, counted from its first


@dataclass
class Timeline:
    granted_on: dt.date
    expires_on: dt.date
    status: str = CURRENT
    status_since: dt.date | None = None
    steps: list[Step] = field(default_factory=list)


# The same few thousand (day, months) pairs come back for every certificate.
add_months = functools.lru_cache(maxsize=1 << 16)(dates.add_months)


class _Stop(Exception):
    """The next step would fall after the reference date."""


def validity_end(start: dt.date, months: int) -> dt.date:
    # As certificates.services: valid through the day before the same date ``months`` later.
    return add_months(start, months) - DAY


class _Walk:
    def __init__(
        self,
        rng: Dice,
        *,
        granted_on: dt.date,
        reference_date: dt.date,
        validity_months: int,
        surveillance_months: int,
        surveillance_window_days: int,
        max_suspension_days: int,
        lines: int,
    ) -> None:
        self.rng = rng
        self.ref = reference_date
        self.months = validity_months
        self.surveillance_months = surveillance_months
        self.window = dt.timedelta(days=surveillance_window_days + 1)
        self.max_suspension_days = max_suspension_days
        self.lines = lines
        self.t = Timeline(
            granted_on=granted_on,
            expires_on=validity_end(granted_on, validity_months),
            status_since=granted_on,
        )
        self.last = granted_on
        #: The last day of the cycle's latest surveillance visit: the next one falls due at
        #: most an interval after it, as the programme counts (None at a cycle's start).
        self.anchor: dt.date | None = None

    def add(self, action: str, on: dt.date, **extra: object) -> None:
        if on > self.ref:
            raise _Stop
        assert on > self.last, (action, on, self.last)
        if action in STATUS_ACTIONS:
            self.t.status = CERTIFICATE.next_state(self.t.status, action)
            self.t.status_since = on
        elif action in ("reissue", "renew"):
            CERTIFICATE.next_state(self.t.status, action)  # refuses what services refuse
        self.t.steps.append(Step(action, on, **extra))  # type: ignore[arg-type]
        self.last = on

    def between(self, low: dt.date, high: dt.date) -> dt.date | None:
        low = max(low, self.last + DAY)
        if high < low:
            return None
        return low + dt.timedelta(days=self.rng.below((high - low).days + 1))

    def reason(self, category: str) -> str:
        return self.rng.pick(words.STATUS_REASONS[category])

    def suspension(self, on: dt.date, category: str, odds: Odds) -> bool:
        """Suspend, then restore, withdraw or cancel within the limit. True if it ended."""
        self.add("suspend", on, reason_category=category, reason=self.reason(category))
        delay = self.rng.between(14, self.max_suspension_days)
        end = on + dt.timedelta(days=delay)
        if end > self.t.expires_on:  # validity ends first: the suspended certificate expires
            self.expire()
            return True
        u = self.rng.random()
        if u < odds.restore:
            self.add("restore", end, reason_category="resolved", reason=self.reason("resolved"))
            return False
        if category != "holder_request" and u < odds.restore + (1 - odds.restore) * 0.8:
            late = delay >= self.max_suspension_days - 10
            cat = "suspension_exceeded" if late else category
            self.add("withdraw", end, reason_category=cat, reason=self.reason(cat))
        else:
            self.add("cancel", end, reason_category="holder_request", reason=self.cancel_reason())
        return True

    def cancel_reason(self) -> str:
        return self.rng.pick(words.CANCEL_REASONS)

    def expire(self) -> None:
        self.add(
            "expire",
            self.t.expires_on + DAY,
            reason_category="validity_ended",
            reason="validity period ended",
        )

    def reissue(self, on: dt.date) -> None:
        # A re-issue changes the scope: a line added, or one removed while others remain.
        if self.rng.random() < 0.7 or self.lines < 2:
            kind = "scope_extension"
            self.lines += 1
        else:
            kind = "scope_reduction"
            self.lines -= 1
        self.add("reissue", on, issue_reason=kind)

    def year(self, start: dt.date, end: dt.date, first: bool, odds: Odds) -> bool:
        """One year of a cycle: surveillance (except the first), at most one incident.
        True if the certificate ended."""
        rng = self.rng
        if not first:
            # Due at the programme's date, or an interval after the last visit if sooner.
            due = start
            if self.anchor is not None:
                due = min(start, add_months(self.anchor, self.surveillance_months))
            # ``window``: from the due date to the day the calendar suspends a certificate
            # whose visit has not been reported. A visit is held early enough for its report
            # (up to 8 days after it starts) to be in the window.
            window = self.window
            latest = min(dt.timedelta(days=20), window - _LATE)
            on = None
            if rng.random() >= odds.missed_surveillance:
                on = self.between(due - dt.timedelta(days=40), due + latest)
                if on is None:
                    # An earlier suspension ran into the usual weeks: the visit comes after
                    # the restoration, if that leaves time in the window.
                    on = self.between(due - dt.timedelta(days=40), due + window - _LATE)
                if on is not None:
                    days = rng.below(2)
                    self.add("surveillance", on, days=days)
                    self.anchor = on + dt.timedelta(days=days)
            if on is None:
                # No visit reported in the window: suspended the day after it, as the
                # calendar has it and the daily sweep records it (at once, for a certificate
                # restored after that day), so that the history and the register's calendar
                # agree; not yet when that day is after the reference date. The programme
                # counts the next visit from this one's due date.
                self.anchor = due
                day = max(due + window, self.last + DAY)
                if self.suspension(day, "missed_surveillance", odds):
                    return True
        u = rng.random()
        limits = (odds.suspend, odds.cancel, odds.withdraw, odds.reissue)
        if u >= sum(limits):
            return False
        on = self.between(start + dt.timedelta(days=20), end - dt.timedelta(days=100))
        if on is None:
            return False
        if u < odds.suspend:
            category = rng.pick(words.SUSPEND_CATEGORIES)
            return self.suspension(on, category, odds)
        u -= odds.suspend
        if u < odds.cancel:
            self.add("cancel", on, reason_category="holder_request", reason=self.cancel_reason())
            return True
        u -= odds.cancel
        if u < odds.withdraw:
            category = rng.pick(words.WITHDRAW_DIRECT)
            self.add("withdraw", on, reason_category=category, reason=self.reason(category))
            return True
        self.reissue(on)
        return False

    def run(self, odds: Odds) -> Timeline:
        cycle_start = self.t.granted_on
        try:
            while True:
                for k in range(3):
                    start = add_months(cycle_start, self.surveillance_months * k)
                    end = min(
                        add_months(cycle_start, self.surveillance_months * (k + 1)) - DAY,
                        self.t.expires_on,
                    )
                    if self.year(start, end, k == 0, odds):
                        return self.t
                old = self.t.expires_on
                if self.rng.random() < odds.renew:
                    on = self.between(old - dt.timedelta(days=75), old - dt.timedelta(days=10))
                    if on is None and self.last < old:
                        on = self.last + DAY
                    if on is not None and self.t.status == CURRENT:
                        new = validity_end(old + DAY, self.months)
                        self.add("renew", on, expires_on=new)
                        self.t.expires_on = new
                        cycle_start = old + DAY
                        self.anchor = None
                        continue
                self.expire()
                return self.t
        except _Stop:
            return self.t


#: How long before its window closes a surveillance visit is held at the latest: its report
#: (issued up to 8 days after the visit starts) must be in the window.
_LATE = dt.timedelta(days=10)


def plan_timeline(
    rng: Dice,
    *,
    granted_on: dt.date,
    reference_date: dt.date,
    validity_months: int,
    surveillance_months: int,
    surveillance_window_days: int,
    max_suspension_months: int,
    lines: int,
    odds: Odds,
) -> Timeline:
    # Keep a suspension within the scheme's limit whatever the months: 30 days per month
    # is never more than the calendar allows.
    max_days = max(20, 30 * max_suspension_months)
    return _Walk(
        rng,
        granted_on=granted_on,
        reference_date=reference_date,
        validity_months=validity_months,
        surveillance_months=surveillance_months,
        surveillance_window_days=surveillance_window_days,
        max_suspension_days=max_days,
        lines=lines,
    ).run(odds)


#: Fates the generator makes sure of, with the odds that make them likely and the test
#: that a plan meets them. A small data set still shows every public status.
FORCED_ODDS: dict[str, Odds] = {
    "expired": replace(NO_INCIDENTS, renew=0.0),
    "suspended": replace(
        NO_INCIDENTS, suspend=0.5, missed_surveillance=0.5, restore=0.0, renew=1.0
    ),
    "withdrawn": replace(NO_INCIDENTS, withdraw=0.6),
    "cancelled": replace(NO_INCIDENTS, cancel=0.6),
    "renewed": NO_INCIDENTS,
    "reissued": replace(NO_INCIDENTS, reissue=0.9),
}


def meets(fate: str, t: Timeline) -> bool:
    if fate == "renewed":
        return t.status == CURRENT and any(s.action == "renew" for s in t.steps)
    if fate == "reissued":
        return any(s.action == "reissue" for s in t.steps)
    if fate == "suspended":
        return t.status == SUSPENDED
    return t.status == fate
