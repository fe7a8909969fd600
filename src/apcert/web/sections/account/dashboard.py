"""The dashboard on the back-office home page: what is due, what is overdue, and a plot of
certificates by status over the last 24 months.

What each person sees is decided by the selectors of :mod:`apcert.cycle.dashboard` from the
roles the home page already read; this module only shapes it for the template, including the
geometry of the server-rendered SVG plot (no JavaScript, no external asset).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from apcert.accounts.selectors import UserRoles
from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.cycle.dashboard import (
    MONTH_DAYS,
    WEEK_DAYS,
    DashboardScope,
    StatusMonth,
    certificates_expiring,
    dashboard_scope,
    dashboard_visits,
    expiries_counts,
    findings_counts,
    findings_due,
    findings_overdue,
    stale_statuses,
    status_history,
)
from apcert.cycle.selectors import sweep_health
from apcert.register.status_words import status_words
from apcert.web.status_today import with_status_today

#: How many rows each list on the dashboard shows; the counts cover them all.
SHOWN = 10

#: Colour and dash pattern per status: told apart by more than colour (WCAG 1.4.1).
SERIES_STYLE = {
    "current": ("#10602f", ""),
    "suspended": ("#a35200", "8 4"),
    "withdrawn": ("#a1161f", "2 3"),
    "cancelled": ("#4a5360", "10 3 2 3"),
    "expired": ("#0b4f8a", "4 4"),
}

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 52, 24, 12, 36


@dataclass(frozen=True)
class Series:
    status: str
    colour: str
    dash: str
    points: str
    last: int


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Plot:
    """The SVG plot and the figures it draws (the same figures go into a table)."""

    months: list[StatusMonth]
    statuses: tuple[str, ...]
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    top: int = TOP
    baseline: int = HEIGHT - BOTTOM

    @property
    def empty(self) -> bool:
        return all(m.total == 0 for m in self.months)

    @property
    def description(self) -> str:
        if not self.months:
            return ""
        first, last = self.months[0], self.months[-1]
        parts = ", ".join(f"{last.counts[s]} {s}" for s in self.statuses)
        return (
            f"Certificates by status at the end of each month from "
            f"{first.month:%B %Y} to {last.month:%B %Y}. Now: {parts}."
        )


def _nice_max(value: int) -> int:
    if value <= 4:
        return 4
    step = 1
    while step * 10 < value:
        step *= 10
    for factor in (1, 2, 2.5, 5, 10):
        top = int(step * factor)
        if top >= value and top % 4 == 0:
            return top
    return step * 10


def build_plot(months: list[StatusMonth]) -> Plot:
    statuses = PUBLIC_STATUSES
    top_value = _nice_max(max((max(m.counts.values()) for m in months), default=0))
    inner_w = WIDTH - LEFT - RIGHT
    inner_h = HEIGHT - TOP - BOTTOM
    step = inner_w / max(len(months) - 1, 1)

    def x(i: int) -> float:
        return round(LEFT + i * step, 1)

    def y(v: int) -> float:
        return round(TOP + inner_h - v * inner_h / top_value, 1)

    series = [
        Series(
            status,
            SERIES_STYLE[status][0],
            SERIES_STYLE[status][1],
            " ".join(f"{x(i)},{y(m.counts[status])}" for i, m in enumerate(months)),
            months[-1].counts[status] if months else 0,
        )
        for status in statuses
    ]
    x_ticks = [
        Tick(x(i), f"{m.month:%b %y}")
        for i, m in enumerate(months)
        if (len(months) - 1 - i) % 3 == 0
    ]
    y_ticks = [Tick(y(top_value * k // 4), f"{top_value * k // 4:,}") for k in range(5)]
    return Plot(months, statuses, series, x_ticks, y_ticks)


def _scope(roles: UserRoles) -> DashboardScope:
    return dashboard_scope(
        secretariat=roles.secretariat,
        cb_ids=[entry.cb.pk for entry in roles.cbs],
        organization_ids=[entry.organization.pk for entry in roles.organizations],
    )


def dashboard_context(roles: UserRoles, *, today: dt.date) -> dict[str, Any]:
    """Everything the dashboard shows to the holder of ``roles``, on ``today``."""
    scope = _scope(roles)
    if scope.empty:
        return {"dashboard": None}
    visits = dashboard_visits(scope=scope, as_of=today, limit=SHOWN)
    finding_counts = findings_counts(scope=scope, as_of=today)
    # What the calendar changed that the sweep has not recorded: counted as of its date.
    stale = stale_statuses(scope=scope, as_of=today)
    expiry_counts = expiries_counts(scope=scope, as_of=today, stale=stale)
    expiring = certificates_expiring(scope=scope, as_of=today, days=MONTH_DAYS, limit=SHOWN)
    # The rows' statuses today: the stale ones are known already, so this asks nothing more.
    known = {cert.pk: status for cert, status in stale}
    rows = [cert for cert, _ in visits.due_rows + visits.overdue_rows] + expiring
    with_status_today([cert for cert in rows if cert.pk not in known], today)
    for cert in rows:
        if cert.pk in known:
            cert.status_today = status_words(known[cert.pk])  # type: ignore[attr-defined]
    week_end = today + dt.timedelta(days=WEEK_DAYS)
    return {
        "dashboard": {
            "today": today,
            # The daily sweep's health, for those who act on it: the Secretariat and CB staff.
            "sweep": sweep_health(today=today) if roles.secretariat or roles.cbs else None,
            "unrecorded": len(stale),
            "week_end": week_end,
            "month_end": today + dt.timedelta(days=MONTH_DAYS),
            "everything": scope.everything,
            # Certificates of these CBs link to the CB section's page (and to planning the
            # visit); anyone else's to the public register.
            "staff_cb_ids": set(scope.cb_ids),
            "planner_cb_ids": {
                entry.cb.pk for entry in roles.cbs if {"scheme_manager", "admin"} & set(entry.roles)
            },
            "shown": SHOWN,
            "visits": visits,
            "findings": {
                **finding_counts,
                "due_rows": list(findings_due(scope=scope, as_of=today, days=MONTH_DAYS)[:SHOWN]),
                "overdue_rows": list(findings_overdue(scope=scope, as_of=today)[:SHOWN]),
            },
            "expiries": {**expiry_counts, "due_rows": expiring},
            "plot": build_plot(status_history(scope=scope, as_of=today, stale=stale)),
        }
    }
