"""Reading what a back-office user has to watch: visits, corrective actions and expiries due
this week and this month, what is overdue, and certificates by status over time.

Every selector here takes a :class:`DashboardScope` and returns only what its holder may
see (issue 5): the Secretariat sees everything; CB staff their CBs' clients; organization
users their own organizations. A person with roles in several places sees the union.

The queries are bounded, whatever the number of rows: the visit lists count the live
certificates (up to a cap), then read them, the rules, their issues and assessments in four
queries (the same rules as :mod:`apcert.cycle.selectors`, leaner reads); findings and
expiries are one query per list plus one count each; the status plot is two aggregate
queries over the status history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth

from apcert.assessments.choices import FindingGrade, FindingStatus
from apcert.assessments.models import Assessment, Finding
from apcert.certificates.choices import PUBLIC_STATUSES
from apcert.certificates.models import Certificate, CertificateIssue, CertificateStatusChange
from apcert.cycle.programme import (
    REASSESSMENT,
    SURVEILLANCE,
    PlannedVisit,
    cycle_start,
    match_assessments,
    plan_visits,
    rules_of,
)
from apcert.cycle.selectors import LIVE_STATUSES
from apcert.schemes.models import SchemeRules

#: The grades and statuses of a finding whose corrective action is still awaited: the same
#: as the daily sweep's "late" rule (cycle.sweep), so "overdue" here is what it will flag.
AWAITED_GRADES = (FindingGrade.MAJOR, FindingGrade.MINOR)
AWAITED_STATUSES = (FindingStatus.OPEN, FindingStatus.ANSWERED)

WEEK_DAYS = 7
#: The most live certificates whose visit programmes one page computes. A visit's dates come
#: from the certificate's issues and assessments under the scheme's rules, worked out in
#: Python (cycle.programme); past this many (the Secretariat over a full register) the
#: dashboard says so instead of taking seconds per request (measured on 2 cores, SQLite: about
#: 0.25 ms a certificate, so about 1.2 s at the cap).
VISITS_CAP = 5_000
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
    """Open visits of live certificates: due within a week, within a month, overdue."""

    week: list[tuple[Certificate, PlannedVisit]] = field(default_factory=list)
    month: list[tuple[Certificate, PlannedVisit]] = field(default_factory=list)
    overdue: list[tuple[Certificate, PlannedVisit]] = field(default_factory=list)
    #: True when more live certificates are visible than :data:`VISITS_CAP`: the lists are
    #: then left empty rather than planned in one request.
    too_many: bool = False
    cap: int = 0


def _open_visits(live: QuerySet[Certificate]) -> Iterator[tuple[Certificate, PlannedVisit]]:
    """The visits not yet done of the ``live`` certificates, by the rules of
    :func:`apcert.cycle.programme.visits_for`.

    Four queries: the certificates, the schemes' rules, the issues and the assessments. Only
    the columns the programme reads are fetched (an issue's JSON snapshots are left in the
    database), and the rows are grouped here rather than by ``prefetch_related``, whose
    per-certificate overhead dominated with thousands of certificates.
    """
    certificates = list(
        live.select_related("organization", "cb")
        .only(
            "number",
            "status",
            "scheme_id",
            "initial_decision_on",
            "expires_on",
            "organization__legal_name",
            "organization__country",
            "cb__code",
        )
        .order_by("number")
    )
    if not certificates:
        return
    rules = {r.scheme_id: r for r in SchemeRules.objects.all()}
    ids = live.values("pk")
    issues: dict[int, list[CertificateIssue]] = {}
    for issue in (
        CertificateIssue.objects.filter(certificate_id__in=ids)
        .only("certificate_id", "issue_number", "reason", "valid_until")
        .order_by("certificate_id", "issue_number")
    ):
        issues.setdefault(issue.certificate_id, []).append(issue)
    assessments: dict[int, list[Assessment]] = {}
    for assessment in (
        Assessment.objects.filter(certificate_id__in=ids, kind__in=(SURVEILLANCE, REASSESSMENT))
        .only("certificate_id", "kind", "status", "report_issued_on")
        .order_by("pk")
    ):
        assert assessment.certificate_id is not None
        assessments.setdefault(assessment.certificate_id, []).append(assessment)
    for cert in certificates:
        scheme_rules = rules.get(cert.scheme_id) or rules_of(cert)  # rules_of: the error
        start = cycle_start(cert, issues.get(cert.pk, []))
        planned = plan_visits(start=start, expires_on=cert.expires_on, rules=scheme_rules)
        for visit in match_assessments(planned, assessments.get(cert.pk, []), start=start):
            if not visit.done:
                yield cert, visit


def dashboard_visits(*, scope: DashboardScope, as_of: dt.date) -> VisitsDue:
    """The same rules as :func:`apcert.cycle.selectors.visits_due` (a visit is due when its
    due date is within the horizon and its window is still open) and ``visits_overdue`` (its
    window closed before ``as_of``), computed in one pass over the visible live certificates,
    as long as there are at most :data:`VISITS_CAP` of them."""
    result = VisitsDue()
    if scope.empty:
        return result
    live = Certificate.objects.filter(scope.certificates(), status__in=LIVE_STATUSES)
    if live.order_by()[: VISITS_CAP + 1].count() > VISITS_CAP:
        return VisitsDue(too_many=True, cap=VISITS_CAP)
    week_end = as_of + dt.timedelta(days=WEEK_DAYS)
    month_end = as_of + dt.timedelta(days=MONTH_DAYS)
    for cert, visit in _open_visits(live):
        if visit.window_end < as_of:
            result.overdue.append((cert, visit))
        elif visit.due_date <= month_end:
            result.month.append((cert, visit))
            if visit.due_date <= week_end:
                result.week.append((cert, visit))
    for found in (result.week, result.month, result.overdue):
        found.sort(key=lambda pair: (pair[1].due_date, pair[0].number))
    return result


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
    """Corrective actions past their due date: flagged late by the sweep, or about to be."""
    return findings_awaiting_action(scope=scope).filter(due_date__lt=as_of)


# --- certificate expiries ----------------------------------------------------------------------


def certificates_expiring(
    *, scope: DashboardScope, as_of: dt.date, days: int
) -> QuerySet[Certificate]:
    """Live certificates whose validity ends from ``as_of`` to ``days`` days later."""
    return (
        Certificate.objects.filter(
            scope.certificates(),
            status__in=LIVE_STATUSES,
            expires_on__gte=as_of,
            expires_on__lte=as_of + dt.timedelta(days=days),
        )
        .select_related("cb", "organization")
        .order_by("expires_on", "number")
    )


def expiries_counts(*, scope: DashboardScope, as_of: dt.date) -> dict[str, int]:
    """How many live certificates expire this week and this month: one query."""
    week = as_of + dt.timedelta(days=WEEK_DAYS)
    month = as_of + dt.timedelta(days=MONTH_DAYS)
    return Certificate.objects.filter(
        scope.certificates(), status__in=LIVE_STATUSES, expires_on__gte=as_of
    ).aggregate(
        week=Count("pk", filter=Q(expires_on__lte=week)),
        month=Count("pk", filter=Q(expires_on__lte=month)),
    )


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


def status_history(*, scope: DashboardScope, as_of: dt.date, months: int = 24) -> list[StatusMonth]:
    """Certificates by public status at the end of each of the last ``months`` months.

    Counted in the database from the status history, in two aggregate queries whatever the
    number of certificates: the net count per status before the first month (changes into a
    status minus changes out of it), then the net change per status in each month. A draft is
    never public and is not counted.
    """
    first = _month_start(as_of, months - 1)
    changes = CertificateStatusChange.objects.filter(
        scope.certificates("certificate__"), effective_on__lte=as_of
    )
    baseline_row = changes.filter(effective_on__lt=first).aggregate(
        **{f"in_{s}": Count("pk", filter=Q(to_status=s)) for s in PUBLIC_STATUSES},
        **{f"out_{s}": Count("pk", filter=Q(from_status=s)) for s in PUBLIC_STATUSES},
    )
    running = {
        s: (baseline_row[f"in_{s}"] or 0) - (baseline_row[f"out_{s}"] or 0) for s in PUBLIC_STATUSES
    }
    per_month: dict[dt.date, dict[str, int]] = {}
    for row in (
        changes.filter(effective_on__gte=first)
        .annotate(month=TruncMonth("effective_on"))
        .values("month")
        .annotate(
            **{f"in_{s}": Count("pk", filter=Q(to_status=s)) for s in PUBLIC_STATUSES},
            **{f"out_{s}": Count("pk", filter=Q(from_status=s)) for s in PUBLIC_STATUSES},
        )
        .order_by("month")
    ):
        month = row["month"]
        if isinstance(month, dt.datetime):
            month = month.date()
        per_month[month] = {s: row[f"in_{s}"] - row[f"out_{s}"] for s in PUBLIC_STATUSES}
    history: list[StatusMonth] = []
    for back in range(months - 1, -1, -1):
        month = _month_start(as_of, back)
        for s, delta in per_month.get(month, {}).items():
            running[s] += delta
        history.append(StatusMonth(month, dict(running)))
    return history
