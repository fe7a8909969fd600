"""Reading what a back-office user has to watch: visits, corrective actions and expiries due
this week and this month, what is overdue, and certificates by status over time.

Every selector here takes a :class:`DashboardScope` and returns only what its holder may
see: the Secretariat sees everything; CB staff their CBs' clients; organization
users their own organizations. A person with roles in several places sees the union.

The queries are bounded, whatever the number of rows: the visits are read from the stored
schedule (:mod:`apcert.cycle.schedule`), one count and one query per list; findings and
expiries are one query per list (the expiries' more when many ending soon are not live)
plus one count each; the status plot is two aggregate queries over the status history.
The certificates whose stored status the calendar has changed without the sweep recording
it yet (:func:`stale_statuses`, one indexed range of ``lapses_on``, as small as the sweep
is late) correct the counts to the status today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from apcert.assessments.models import Finding
from apcert.assessments.selectors import AWAITED_GRADES, AWAITED_STATUSES, findings_late_on
from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import (
    Certificate,
    CertificateStatusChange,
    StatusCount,
    StatusTally,
)
from apcert.certificates.selectors import certificate_statuses_on
from apcert.certificates.timeline import StatusOnDay
from apcert.cycle.models import ScheduledVisit
from apcert.cycle.selectors import LIVE_STATUSES, VISIT_ORDER

WEEK_DAYS = 7
MONTH_DAYS = 30


@dataclass(frozen=True)
class DashboardScope:
    """What a person may see: everything (Secretariat), or some CBs and organizations."""

    everything: bool = False
    cb_ids: tuple[int, ...] = ()
    organization_ids: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.everything or self.cb_ids or self.organization_ids)

    def certificates(self, prefix: str = "") -> Q:
        """The condition on certificates (through ``prefix``, e.g. ``"certificate__"``)."""
        if self.everything:
            return Q()
        if self.empty:
            return Q(pk__in=[])
        return Q(**{f"{prefix}cb_id__in": self.cb_ids}) | Q(
            **{f"{prefix}organization_id__in": self.organization_ids}
        )

    def findings(self) -> Q:
        if self.everything:
            return Q()
        if self.empty:
            return Q(pk__in=[])
        return (
            Q(assessment__cb_id__in=self.cb_ids)
            | Q(assessment__application__organization_id__in=self.organization_ids)
            | Q(assessment__certificate__organization_id__in=self.organization_ids)
        )


def dashboard_scope(
    *, secretariat: bool, cb_ids: Iterable[int] = (), organization_ids: Iterable[int] = ()
) -> DashboardScope:
    """The scope of a person from their roles (:func:`apcert.accounts.selectors.user_roles`
    gives them: active CB roles only)."""
    if secretariat:
        return DashboardScope(everything=True)
    return DashboardScope(
        cb_ids=tuple(sorted(set(cb_ids))), organization_ids=tuple(sorted(set(organization_ids)))
    )


# --- visits ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitsDue:
    """Open visits of live certificates: how many are due within a week, within a month
    (their window still open) and overdue (their window closed), and the first rows of the
    month's and the overdue lists, by due date then certificate number."""

    week: int = 0
    month: int = 0
    overdue: int = 0
    due_rows: list[tuple[Certificate, ScheduledVisit]] = field(default_factory=list)
    overdue_rows: list[tuple[Certificate, ScheduledVisit]] = field(default_factory=list)

    @property
    def due_more(self) -> int:
        """Visits due this month beyond the rows read."""
        return max(self.month - len(self.due_rows), 0)

    @property
    def overdue_more(self) -> int:
        return max(self.overdue - len(self.overdue_rows), 0)


def dashboard_visits(*, scope: DashboardScope, as_of: dt.date, limit: int = 10) -> VisitsDue:
    """The same rules as :func:`apcert.cycle.selectors.visits_due` (a visit is due when its
    due date is within the horizon and its window is still open) and ``visits_overdue`` (its
    window closed before ``as_of``), read from the stored schedule
    (:class:`~apcert.cycle.models.ScheduledVisit`, kept in step by the services).

    Three queries whatever the number of certificates: one aggregate for the three counts
    (an overdue visit was due before ``as_of``, so all three lie within ``due_date`` up to
    the month's end), read from an index of the schedule alone (it holds the CB, the due
    date and the window's end), then the first ``limit`` rows of each list with their
    certificate, holder and CB, read in the list's order along the same index.
    """
    if scope.empty:
        return VisitsDue()
    week_end = as_of + dt.timedelta(days=WEEK_DAYS)
    visits = _visits_to_month_end(scope, as_of)
    # Counted on an indexed column rather than the key: PostgreSQL's indexes do not hold
    # the key, and reading it would fetch every row counted from the table.
    counts = visits.aggregate(
        week=Count("due_date", filter=Q(due_date__lte=week_end, window_end__gte=as_of)),
        month=Count("due_date", filter=Q(window_end__gte=as_of)),
        overdue=Count("due_date", filter=Q(window_end__lt=as_of)),
    )
    rows = visits.select_related("certificate__organization", "certificate__cb").order_by(
        *VISIT_ORDER
    )
    return VisitsDue(
        week=counts["week"] or 0,
        month=counts["month"] or 0,
        overdue=counts["overdue"] or 0,
        due_rows=[(v.certificate, v) for v in rows.filter(window_end__gte=as_of)[:limit]],
        overdue_rows=[(v.certificate, v) for v in rows.filter(window_end__lt=as_of)[:limit]],
    )


def _visits_to_month_end(scope: DashboardScope, as_of: dt.date) -> QuerySet[ScheduledVisit]:
    """The stored visits in ``scope`` due up to a month after ``as_of`` (the overdue ones
    included): the visit's own CB and holder (copies of its certificate's), no join."""
    month_end = as_of + dt.timedelta(days=MONTH_DAYS)
    return ScheduledVisit.objects.filter(scope.certificates(), due_date__lte=month_end)


# --- corrective actions ------------------------------------------------------------------------


def findings_awaiting_action(*, scope: DashboardScope) -> QuerySet[Finding]:
    """Nonconformities whose corrective action is still awaited, visible in ``scope``, by
    due date; each with its assessment, CB, holder and late flag fetched."""
    return (
        Finding.objects.filter(
            scope.findings(), grade__in=AWAITED_GRADES, status__in=AWAITED_STATUSES
        )
        .select_related(
            "assessment__cb",
            "assessment__application__organization",
            "assessment__certificate__organization",
            "late_flag",
        )
        .order_by("due_date", "pk")
    )


def findings_due(*, scope: DashboardScope, as_of: dt.date, days: int) -> QuerySet[Finding]:
    """Corrective actions due from ``as_of`` to ``days`` days later (inclusive)."""
    return findings_awaiting_action(scope=scope).filter(
        due_date__gte=as_of, due_date__lte=as_of + dt.timedelta(days=days)
    )


def findings_counts(*, scope: DashboardScope, as_of: dt.date) -> dict[str, int]:
    """How many corrective actions are due this week, this month, and overdue: one query."""
    week = as_of + dt.timedelta(days=WEEK_DAYS)
    month = as_of + dt.timedelta(days=MONTH_DAYS)
    return Finding.objects.filter(
        scope.findings(), grade__in=AWAITED_GRADES, status__in=AWAITED_STATUSES
    ).aggregate(
        week=Count("pk", filter=Q(due_date__gte=as_of, due_date__lte=week)),
        month=Count("pk", filter=Q(due_date__gte=as_of, due_date__lte=month)),
        overdue=Count("pk", filter=Q(due_date__lt=as_of)),
    )


def findings_overdue(*, scope: DashboardScope, as_of: dt.date) -> QuerySet[Finding]:
    """Corrective actions late on ``as_of``, whether the sweep has flagged them yet or not."""
    return findings_awaiting_action(scope=scope).filter(findings_late_on(as_of))


# --- statuses the sweep has not recorded yet ---------------------------------------------------


def stale_candidates(scope: DashboardScope, as_of: dt.date) -> QuerySet[Certificate]:
    """The certificates in ``scope`` whose ``lapses_on`` has come, in its order, read along
    its index. Only a live certificate has the date (the others have it cleared); their
    status is checked by the caller, not in the query: with it there, SQLite reads every
    live certificate of the status index and sorts them (170 ms at a million)."""
    return Certificate.objects.filter(scope.certificates(), lapses_on__lte=as_of).order_by(
        "lapses_on", "pk"
    )


def stale_statuses(
    *, scope: DashboardScope, as_of: dt.date
) -> list[tuple[Certificate, StatusOnDay]]:
    """The certificates in ``scope`` whose stored status no longer holds on ``as_of`` by dates
    alone (expired, suspended for a missed surveillance, withdrawn after the maximum
    suspension, or a decision due), each with its status that day. Read through the
    ``lapses_on`` index: as many rows as the sweep is behind, whatever the register's size;
    one more query for the scheme rules when there are any."""
    if scope.empty:
        return []
    stale = [cert for cert in stale_candidates(scope, as_of) if cert.status in LIVE_STATUSES]
    statuses = certificate_statuses_on(stale, as_of)
    return [(cert, statuses[cert.pk]) for cert in stale]


# --- certificate expiries ----------------------------------------------------------------------


def certificates_expiring(
    *, scope: DashboardScope, as_of: dt.date, days: int, limit: int
) -> list[Certificate]:
    """The first ``limit`` live certificates whose validity ends from ``as_of`` to ``days``
    days later, by end date then number, with CB and holder.

    Read in that order along the index of end dates, a few more rows than ``limit``: the
    status is checked here, not in the query, where it would make SQLite take the status
    index and sort every certificate expiring in the period. A certificate withdrawn or
    expired keeps its end date, but few of those end in the coming month."""
    certificates = (
        Certificate.objects.filter(
            scope.certificates(),
            expires_on__gte=as_of,
            expires_on__lte=as_of + dt.timedelta(days=days),
        )
        .select_related("cb", "organization")
        .order_by("expires_on", "number")
    )
    found: list[Certificate] = []
    chunk, start = 2 * limit, 0
    while len(found) < limit:
        rows = list(certificates[start : start + chunk])
        found += [cert for cert in rows if cert.status in LIVE_STATUSES]
        if len(rows) < chunk:
            break
        start += chunk
    return found[:limit]


def expiries_counts(
    *,
    scope: DashboardScope,
    as_of: dt.date,
    stale: Sequence[tuple[Certificate, StatusOnDay]] = (),
) -> dict[str, int]:
    """How many certificates live on ``as_of`` expire this week and this month: one query,
    less the ``stale`` ones (:func:`stale_statuses`) that the calendar has already ended."""
    week = as_of + dt.timedelta(days=WEEK_DAYS)
    month = as_of + dt.timedelta(days=MONTH_DAYS)
    counts = Certificate.objects.filter(
        # Both counts lie within the month: the index range stops there. Counted on an
        # indexed column, so that the index alone answers (PostgreSQL's hold no key).
        scope.certificates(),
        status__in=LIVE_STATUSES,
        expires_on__gte=as_of,
        expires_on__lte=month,
    ).aggregate(
        week=Count("expires_on", filter=Q(expires_on__lte=week)),
        month=Count("expires_on"),
    )
    for cert, status in stale:
        if status.status not in LIVE_STATUSES and as_of <= cert.expires_on <= month:
            counts["month"] -= 1
            if cert.expires_on <= week:
                counts["week"] -= 1
    return counts


# --- certificates by status over time ----------------------------------------------------------


@dataclass(frozen=True)
class StatusMonth:
    """The number of certificates in each public status at the end of one month (or on the
    day of reading, for the month in progress)."""

    month: dt.date
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


Counts = dict[str, int]


def _add(totals: Counts, net: Counts) -> None:
    for s in PUBLIC_STATUSES:
        totals[s] += net[s]


def _net(row: dict[str, Any]) -> Counts:
    return {s: row[f"in_{s}"] - row[f"out_{s}"] for s in PUBLIC_STATUSES}


def _by_pair(**more: Any) -> dict[str, Any]:
    """Counts of changes into and out of each public status (``Count`` or ``Sum`` of ``n``)."""
    value = more.pop("value", None)
    return {
        **{
            f"in_{s}": Sum("n", filter=Q(to_status=s), default=0)
            if value == "n"
            else Count("pk", filter=Q(to_status=s))
            for s in PUBLIC_STATUSES
        },
        **{
            f"out_{s}": Sum("n", filter=Q(from_status=s), default=0)
            if value == "n"
            else Count("pk", filter=Q(from_status=s))
            for s in PUBLIC_STATUSES
        },
    }


def _days_walked(
    changes: Iterable[dict[str, Any]],
    running: Counts,
    per_month: dict[dt.date, Counts],
    as_of: dt.date,
) -> None:
    """Walk changes grouped by day back from ``running``; those on or before ``as_of`` also
    count in their month."""
    for row in changes:
        net = _net(row)
        for s in PUBLIC_STATUSES:  # back to the start of the first month
            running[s] -= net[s]
        if row["effective_on"] > as_of:
            continue  # recorded, but after the day asked: in no month shown
        _add(
            per_month.setdefault(
                row["effective_on"].replace(day=1), dict.fromkeys(PUBLIC_STATUSES, 0)
            ),
            net,
        )


def _counted_on_read(
    scope: DashboardScope, first: dt.date, as_of: dt.date
) -> tuple[Counts, dict[dt.date, Counts]]:
    """Now and per month, counted from the certificates and changes in ``scope``."""
    now = dict(
        Certificate.objects.filter(scope.certificates(), status__in=PUBLIC_STATUSES)
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    running = {s: now.get(s, 0) for s in PUBLIC_STATUSES}
    per_month: dict[dt.date, Counts] = {}
    # Grouped by day, then added up by month here: at most one row a day of the window, and
    # no date function per change row (SQLite runs Django's month truncation in Python).
    _days_walked(
        CertificateStatusChange.objects.filter(
            scope.certificates("certificate__"), effective_on__gte=first
        )
        .values("effective_on")
        .annotate(**_by_pair())
        .order_by(),
        running,
        per_month,
        as_of,
    )
    return running, per_month


def _counted_from_tallies(
    scope: DashboardScope, first: dt.date, as_of: dt.date
) -> tuple[Counts, dict[dt.date, Counts]]:
    """Now and per month from the kept counts of the CBs in ``scope``; read as of a day
    before today, the month of ``as_of`` from the changes themselves, by day."""
    cbs = Q() if scope.everything else Q(cb_id__in=scope.cb_ids)
    now = dict(
        StatusCount.objects.filter(cbs, status__in=PUBLIC_STATUSES)
        .values_list("status")
        .annotate(total=Sum("n"))
        .order_by()
    )
    running = {s: now.get(s, 0) for s in PUBLIC_STATUSES}
    per_month: dict[dt.date, Counts] = {}
    this_month = as_of.replace(day=1)
    # No change takes effect after today (a decision is dated today or earlier, the sweep
    # records what is due by today): read as of today, the month's count is the month's
    # tally. Read as of an earlier day, the month of that day is read by day.
    by_day = as_of < timezone.localdate()
    tallies = StatusTally.objects.filter(cbs, month__gte=first)
    if by_day:
        tallies = tallies.exclude(month=this_month)
    for row in tallies.values("month").annotate(**_by_pair(value="n")).order_by():
        net = _net(row)
        for s in PUBLIC_STATUSES:
            running[s] -= net[s]
        if row["month"] <= this_month:
            _add(per_month.setdefault(row["month"], dict.fromkeys(PUBLIC_STATUSES, 0)), net)
    if not by_day:
        return running, per_month
    next_month = _month_start(as_of, -1)
    _days_walked(
        CertificateStatusChange.objects.filter(
            scope.certificates("certificate__"),
            effective_on__gte=this_month,
            effective_on__lt=next_month,
        )
        .values("effective_on")
        .annotate(**_by_pair())
        .order_by(),
        running,
        per_month,
        as_of,
    )
    return running, per_month


def status_history(
    *,
    scope: DashboardScope,
    as_of: dt.date,
    months: int = 24,
    stale: Sequence[tuple[Certificate, StatusOnDay]] = (),
) -> list[StatusMonth]:
    """Certificates by public status at the end of each of the last ``months`` months.

    From the certificates in each status now and the changes per month from the first month
    on: walking those changes back from now gives the count before the first month; walking
    them forward gives each month's end. For a CB (or the Secretariat) both are read from the
    counts the transition service keeps (:mod:`apcert.certificates.tallies`): a few hundred
    rows however large the register, and the changes of the month of ``as_of`` day by day,
    so that those after it count in no month shown. For an organization's users they are
    counted from its own certificates. A draft is never public and is not counted. The
    changes of the ``stale`` certificates (:func:`stale_statuses`) that the sweep has not
    recorded yet count from their dates, as if recorded.
    """
    first = _month_start(as_of, months - 1)
    if scope.organization_ids or scope.empty:
        running, per_month = _counted_on_read(scope, first, as_of)
    else:
        running, per_month = _counted_from_tallies(scope, first, as_of)
    for cert, status in stale:
        before = cert.status
        for change in status.unrecorded:
            if change.to_status is None:
                continue
            month = change.effective_on.replace(day=1)
            totals = (
                running
                if month < first
                else per_month.setdefault(month, dict.fromkeys(PUBLIC_STATUSES, 0))
            )
            totals[before] -= 1
            totals[change.to_status] += 1
            before = change.to_status
    history: list[StatusMonth] = []
    for back in range(months - 1, -1, -1):
        month = _month_start(as_of, back)
        for s, delta in per_month.get(month, {}).items():
            running[s] += delta
        history.append(StatusMonth(month, dict(running)))
    return history
