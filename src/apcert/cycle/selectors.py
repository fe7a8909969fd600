"""Reading the audit programme across certificates: visits due soon, visits overdue.

Both return plain lists of ``(certificate, visit)`` for current and suspended certificates,
ordered by due date, optionally limited to one CB or one organization. The queries are
bounded: one for the certificates (with scheme rules, CB and holder) and one each for their
issues and assessments, however many certificates there are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connections
from django.db.models import Count, Prefetch, QuerySet

from apcert.assessments.models import Assessment
from apcert.bodies.models import CertificationBody
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.cycle.models import ScheduledVisit, SweepRun
from apcert.cycle.programme import PlannedVisit, visits_for
from apcert.organizations.models import Organization

if TYPE_CHECKING:
    from apcert.accounts.models import User

LIVE_STATUSES = (CertificateStatus.CURRENT, CertificateStatus.SUSPENDED)
#: The order of every list of stored visits: by due date, then certificate number. The
#: visit's own copy of the number, so that the indexes of the schedule give the order.
VISIT_ORDER = ("due_date", "certificate_number", "kind", "sequence")


def certificates_with_programme(
    *,
    cb: CertificationBody | None = None,
    organization: Organization | None = None,
    statuses: tuple[str, ...] = LIVE_STATUSES,
) -> QuerySet[Certificate]:
    """Certificates with everything :func:`visits_for` reads already fetched."""
    qs = (
        Certificate.objects.filter(status__in=statuses)
        .select_related("cb", "organization", "scheme__rules")
        .prefetch_related(
            Prefetch("issues", queryset=CertificateIssue.objects.order_by("issue_number")),
            Prefetch(
                "assessments",
                queryset=Assessment.objects.filter(kind__in=("surveillance", "reassessment")),
            ),
        )
        .order_by("number")
    )
    if cb is not None:
        qs = qs.filter(cb=cb)
    if organization is not None:
        qs = qs.filter(organization=organization)
    return qs


def _open_visits(
    cb: CertificationBody | None, organization: Organization | None
) -> list[tuple[Certificate, PlannedVisit]]:
    return [
        (cert, visit)
        for cert in certificates_with_programme(cb=cb, organization=organization)
        for visit in visits_for(cert)
        if not visit.done
    ]


def visits_due(
    *,
    as_of: dt.date,
    days: int,
    cb: CertificationBody | None = None,
    organization: Organization | None = None,
) -> list[tuple[Certificate, PlannedVisit]]:
    """Visits not yet done whose due date falls within the next ``days`` days (from
    ``as_of`` inclusive), or whose due date has passed while their window is still open."""
    horizon = as_of + dt.timedelta(days=days)
    found = [
        (cert, v)
        for cert, v in _open_visits(cb, organization)
        if v.due_date <= horizon and v.window_end >= as_of
    ]
    return sorted(found, key=lambda pair: (pair[1].due_date, pair[0].number))


def visits_overdue(
    *,
    as_of: dt.date,
    cb: CertificationBody | None = None,
    organization: Organization | None = None,
) -> list[tuple[Certificate, PlannedVisit]]:
    """Visits not done whose tolerance window ended before ``as_of``."""
    found = [(cert, v) for cert, v in _open_visits(cb, organization) if v.window_end < as_of]
    return sorted(found, key=lambda pair: (pair[1].due_date, pair[0].number))


def visits_due_for_cb_staff(
    actor: User, *, first: dt.date, last: dt.date, roles: tuple[str, ...] = ()
) -> QuerySet[ScheduledVisit]:
    """The open visits (stored schedule) of the certificates of the CBs where ``actor`` is
    active staff (in one of ``roles``, if given; an administrator holds them all) that fall
    due from ``first`` to ``last`` (both included), by due date, with holder and CB. The
    Secretariat sees every CB's, unless ``roles`` asks for a role at a CB."""
    return visits_for_cb_staff(actor, roles=roles).filter(due_date__gte=first, due_date__lte=last)


def visits_for_cb_staff(actor: User, *, roles: tuple[str, ...] = ()) -> QuerySet[ScheduledVisit]:
    """As :func:`visits_due_for_cb_staff`, whatever their due date."""
    from apcert.bodies.choices import CBRole
    from apcert.bodies.selectors import staff_cb_ids
    from apcert.core.permissions import is_secretariat

    # The visit keeps its certificate's number: the certificate itself is not joined.
    qs = ScheduledVisit.objects.select_related("organization", "cb").order_by(*VISIT_ORDER)
    if is_secretariat(actor) and not roles:
        return qs
    if not actor.is_active:
        return qs.none()
    return qs.filter(cb_id__in=staff_cb_ids(actor, roles=(*roles, CBRole.ADMIN) if roles else ()))


# --- the health of the daily sweep ----------------------------------------------------------

#: How many days the last finished sweep may be behind today before it is late: the sweep
#: of yesterday is on time until today's runs.
SWEEP_LATE_AFTER_DAYS = 1


@dataclass(frozen=True)
class SweepHealth:
    """How far the daily sweep is behind ``today``. Reads tell the status today whatever it
    says; the status history, the status lists, the signed credentials and the notifications
    wait for the sweep."""

    today: dt.date
    #: The latest date (up to today) whose sweep finished, when it finished, by what; None
    #: when no sweep ever finished.
    last_as_of: dt.date | None
    last_finished_at: dt.datetime | None
    last_source: str

    @property
    def lag_days(self) -> int | None:
        return None if self.last_as_of is None else (self.today - self.last_as_of).days

    @property
    def late(self) -> bool:
        return self.lag_days is None or self.lag_days > SWEEP_LATE_AFTER_DAYS


def sweep_health(*, today: dt.date) -> SweepHealth:
    """One indexed read (the unique date of the runs, newest first), however many runs."""
    run = (
        SweepRun.objects.filter(as_of__lte=today, finished_at__isnull=False)
        .order_by("-as_of")
        .values("as_of", "finished_at", "source")
        .first()
    )
    if run is None:
        return SweepHealth(today, None, None, "")
    return SweepHealth(today, run["as_of"], run["finished_at"], run["source"])


#: A due date no visit has: the placeholder of the day in :func:`visits_due_per_day`.
_NO_DAY = dt.date(1, 1, 1)


def visits_due_per_day(
    visits: QuerySet[ScheduledVisit], *, first: dt.date, last: dt.date, per_day: int
) -> tuple[list[ScheduledVisit], dict[dt.date, int]]:
    """The first ``per_day`` of ``visits`` (not limited to dates: :func:`visits_for_cb_staff`)
    due on each date from ``first`` to ``last`` (by certificate number, as
    :func:`visits_due_for_cb_staff` orders them), and how many fall due on each date, for a
    calendar that lists a few a day and says how many more there are. Three queries,
    whatever the number of visits: the counts, grouped by day from the index of due dates
    alone; the keys of each day's first few, read in order along the same index with a
    LIMIT per day (one UNION ALL of a LIMIT query per day that has visits); then those rows
    by key, with the joins of ``visits`` (the holder and the CB)."""
    counts = dict(
        visits.filter(due_date__gte=first, due_date__lte=last)
        .order_by()
        .values_list("due_date")
        .annotate(n=Count("due_date"))
        .values_list("due_date", "n")
    )
    days = sorted(counts)
    if not days:
        return [], counts
    # Django's union() cannot put a LIMIT in its parts on SQLite: each part is wrapped in a
    # subquery here instead, which both databases take. The day's query is compiled once,
    # for a day no visit has, and that day's parameter replaced by each day's.
    sql, template = (
        visits.filter(due_date=_NO_DAY)
        .order_by(*VISIT_ORDER)
        .values_list("pk")[:per_day]
        .query.sql_with_params()
    )
    ops = connections[visits.db].ops
    placeholder = ops.adapt_datefield_value(_NO_DAY)  # as the query holds it
    parts: list[str] = []
    params: list[Any] = []
    for i, day in enumerate(days):
        parts.append(f"SELECT * FROM ({sql}) AS day_{i}")
        value = ops.adapt_datefield_value(day)
        params.extend(value if p == placeholder else p for p in template)
    with connections[visits.db].cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        keys = [pk for (pk,) in cursor.fetchall()]
    # By key alone: with the scope's conditions too, SQLite walks the CB's whole schedule
    # along its index to find them. The keys were read within the scope.
    by_key = ScheduledVisit.objects.filter(pk__in=keys).order_by()
    by_key.query.select_related = visits.query.select_related
    rows = sorted(by_key, key=lambda v: (v.due_date, v.certificate_number, v.kind, v.sequence))
    return rows, counts
