"""Reads for notifications: who is told, and which events are due on a given day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import QuerySet

from apcert.accounts.models import User
from apcert.assessments.choices import FindingGrade, FindingStatus
from apcert.assessments.models import Finding
from apcert.bodies.choices import CBRole
from apcert.certificates.choices import PUBLIC_STATUSES, CertificateStatus
from apcert.certificates.models import Certificate, CertificateStatusChange
from apcert.notifications.models import NotificationSent

if TYPE_CHECKING:
    from apcert.cycle.programme import PlannedVisit

DEFAULT_HORIZON_DAYS: tuple[int, ...] = (90, 30, 7)

# The CB roles that answer for a client's certificate; assessors and decision makers are
# told through the scheme manager, not directly.
CB_RECIPIENT_ROLES = (CBRole.SCHEME_MANAGER, CBRole.ADMIN)

# Certificates that still have a future: an expiry or a visit ahead is worth a reminder.
LIVE_STATUSES = (CertificateStatus.CURRENT, CertificateStatus.SUSPENDED)


def notification_horizons() -> tuple[int, ...]:
    """The reminder horizons in days before a due date, largest first.

    From ``settings.NOTIFICATION_HORIZON_DAYS`` when set, else (90, 30, 7).
    """
    raw = getattr(settings, "NOTIFICATION_HORIZON_DAYS", DEFAULT_HORIZON_DAYS)
    horizons = sorted({int(d) for d in raw}, reverse=True)
    if not horizons or horizons[-1] < 0:
        raise ValueError("NOTIFICATION_HORIZON_DAYS must be a non-empty list of days >= 0")
    return tuple(horizons)


def horizon_reached(days_left: int, horizons: Sequence[int]) -> int | None:
    """The smallest horizon that ``days_left`` has reached, or None if none yet.

    Only that one is due: a run that starts late (7 days before) sends the 7-day reminder,
    not the 90-, 30- and 7-day ones at once.
    """
    reached = [h for h in horizons if 0 <= days_left <= h]
    return min(reached) if reached else None


def notification_recipients(*, organization_id: int, cb_id: int) -> list[str]:
    """E-mail addresses of the holder's people and the CB's scheme managers and admins.

    Active accounts only, empty addresses skipped, each address once (compared without
    case), sorted so that every dispatcher claims rows in the same order.
    """
    holder = User.objects.filter(
        is_active=True, organization_roles__organization_id=organization_id
    )
    cb = User.objects.filter(
        is_active=True,
        cb_roles__cb_id=cb_id,
        cb_roles__active=True,
        cb_roles__role__in=CB_RECIPIENT_ROLES,
    )
    seen: dict[str, str] = {}
    for qs in (holder, cb):
        for email in qs.exclude(email="").order_by("pk").values_list("email", flat=True):
            address = email.strip()
            if address:
                seen.setdefault(address.lower(), address)
    return sorted(seen.values(), key=str.lower)


def keys_already_notified(kind: str, keys: Iterable[str]) -> set[str]:
    """Which of these event keys already have a notification row (sent or not)."""
    wanted = list(keys)
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            NotificationSent.objects.filter(kind=kind, subject_key__in=chunk).values_list(
                "subject_key", flat=True
            )
        )
    return found


def status_changes_until(as_of: dt.date) -> QuerySet[CertificateStatusChange]:
    """Every public status change in effect by ``as_of`` (a grant is draft -> current)."""
    return (
        CertificateStatusChange.objects.filter(
            effective_on__lte=as_of, to_status__in=PUBLIC_STATUSES
        )
        .select_related("certificate__organization", "certificate__cb")
        .order_by("effective_on", "id")
    )


def certificates_expiring(as_of: dt.date, within_days: int) -> QuerySet[Certificate]:
    """Live certificates whose validity ends between ``as_of`` and ``within_days`` later."""
    return (
        Certificate.objects.filter(
            status__in=LIVE_STATUSES,
            expires_on__gte=as_of,
            expires_on__lte=as_of + dt.timedelta(days=within_days),
        )
        .select_related("organization", "cb")
        .order_by("expires_on", "id")
    )


def findings_late(as_of: dt.date) -> QuerySet[Finding]:
    """Nonconformities (major or minor) still open or answered after their due date."""
    return (
        Finding.objects.filter(
            grade__in=(FindingGrade.MAJOR, FindingGrade.MINOR),
            status__in=(FindingStatus.OPEN, FindingStatus.ANSWERED),
            due_date__lt=as_of,
        )
        .select_related(
            "assessment__cb",
            "assessment__certificate__organization",
            "assessment__application__organization",
        )
        .order_by("due_date", "id")
    )


def live_certificates() -> QuerySet[Certificate]:
    return Certificate.objects.filter(status__in=LIVE_STATUSES).select_related("organization", "cb")


def visits_pending(certificate: Certificate) -> list[PlannedVisit] | None:
    """The certificate's planned visits not yet done, or None while the audit programme
    (``apcert.cycle.programme.visits_for``) is not available."""
    try:
        from apcert.cycle.programme import visits_for
    except ImportError:
        return None
    return [v for v in visits_for(certificate) if v.done_by_assessment_id is None]
