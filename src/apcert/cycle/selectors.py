"""Reading the audit programme across certificates: visits due soon, visits overdue.

Both return plain lists of ``(certificate, visit)`` for current and suspended certificates,
ordered by due date, optionally limited to one CB or one organization. The queries are
bounded: one for the certificates (with scheme rules, CB and holder) and one each for their
issues and assessments, however many certificates there are.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet

from apcert.assessments.models import Assessment
from apcert.bodies.models import CertificationBody
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.cycle.programme import PlannedVisit, visits_for
from apcert.organizations.models import Organization

LIVE_STATUSES = (CertificateStatus.CURRENT, CertificateStatus.SUSPENDED)


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
