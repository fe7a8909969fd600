"""Reads for notifications: who is told, which events are due on a given day, a person's
in-app messages and e-mail preferences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.assessments.choices import FindingGrade, FindingStatus
from apcert.assessments.models import Assessment, Finding
from apcert.bodies.choices import CBRole
from apcert.bodies.models import CBStaff
from apcert.certificates.choices import PUBLIC_STATUSES, CertificateStatus
from apcert.certificates.models import Certificate, CertificateStatusChange
from apcert.notifications.choices import MessageGroup, MessageTarget
from apcert.notifications.models import (
    Message,
    NotificationPreference,
    NotificationSent,
    NotificationsStart,
)
from apcert.organizations.models import OrganizationMember

if TYPE_CHECKING:
    from apcert.cycle.programme import PlannedVisit

DEFAULT_HORIZON_DAYS: tuple[int, ...] = (90, 30, 7)
DEFAULT_RECENT_DAYS = 30

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


def notification_recent_days() -> int:
    """How many days back an event may lie and still be mailed as news.

    From ``settings.NOTIFICATION_RECENT_DAYS`` when set, else 30. A status change, a
    nonconformity gone late or a workflow step dated earlier than that before the dispatch
    day is kept on record (and in-app) but not mailed: a change recorded late, or a dispatcher
    that was off for months, does not send history as news.
    """
    days = int(getattr(settings, "NOTIFICATION_RECENT_DAYS", DEFAULT_RECENT_DAYS))
    if days < 0:
        raise ValueError("NOTIFICATION_RECENT_DAYS must be zero or more")
    return days


def notifications_start() -> NotificationsStart | None:
    """When notifications were first enabled, or None before the first dispatch records it."""
    return NotificationsStart.objects.filter(id=1).first()


def mail_turned_off(group: str) -> Q:
    """The users who turned the e-mails of ``group`` off (a filter on users)."""
    return Q(
        Exists(NotificationPreference.objects.filter(user=OuterRef("pk"), group=group, mail=False))
    )


def notification_recipients(
    *, organization_id: int, cb_id: int, group: str | None = None
) -> list[str]:
    """E-mail addresses of the holder's people and the CB's scheme managers and admins.

    Active accounts only, empty addresses skipped, people who turned ``group``'s e-mails off
    left out, each address once (compared without case), sorted so that every dispatcher
    claims rows in the same order.
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
    if group is not None:
        holder = holder.exclude(mail_turned_off(group))
        cb = cb.exclude(mail_turned_off(group))
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


def status_changes_until(
    as_of: dt.date,
    *,
    recorded_since: dt.datetime | None = None,
    effective_since: dt.date | None = None,
) -> QuerySet[CertificateStatusChange]:
    """Every public status change in effect by ``as_of`` (a grant is draft -> current);
    only those recorded from ``recorded_since`` on and in effect from ``effective_since``
    on, when given."""
    changes = CertificateStatusChange.objects.filter(
        effective_on__lte=as_of, to_status__in=PUBLIC_STATUSES
    )
    if recorded_since is not None:
        changes = changes.filter(recorded_at__gte=recorded_since)
    if effective_since is not None:
        changes = changes.filter(effective_on__gte=effective_since)
    return changes.select_related("certificate__organization", "certificate__cb").order_by(
        "effective_on", "id"
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


def findings_late(
    as_of: dt.date,
    *,
    due_since: dt.date | None = None,
    start: NotificationsStart | None = None,
) -> QuerySet[Finding]:
    """Nonconformities (major or minor) still open or answered after their due date.

    With ``due_since``, only those due on or after it (late recently); with ``start``, not
    those recorded before notifications started that were already late then."""
    findings = Finding.objects.filter(
        grade__in=(FindingGrade.MAJOR, FindingGrade.MINOR),
        status__in=(FindingStatus.OPEN, FindingStatus.ANSWERED),
        due_date__lt=as_of,
    )
    if due_since is not None:
        findings = findings.filter(due_date__gte=due_since)
    if start is not None:
        findings = findings.exclude(pk__lte=start.finding_floor, due_date__lt=start.started_on)
    return findings.select_related(
        "assessment__cb",
        "assessment__certificate__organization",
        "assessment__application__organization",
    ).order_by("due_date", "id")


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


# --- in-app messages and preferences (for the screens) ---------------------------------------


def messages_for(user: User) -> QuerySet[Message]:
    """The person's in-app messages, newest first (slice or paginate it)."""
    return Message.objects.filter(user=user).order_by("-id")


def unread_messages(user: User, limit: int = 10) -> list[Message]:
    """The person's newest unread messages, at most ``limit``."""
    return list(messages_for(user).filter(read_at__isnull=True)[:limit])


def unread_count(user: User) -> int:
    return messages_for(user).filter(read_at__isnull=True).count()


def messages_listed(user: User) -> QuerySet[Message]:
    """The person's messages for a list: each with ``state`` ("unread" or "read") to filter on."""
    return messages_for(user).annotate(
        state=Case(
            When(read_at__isnull=True, then=Value("unread")),
            default=Value("read"),
            output_field=CharField(),
        )
    )


def message_of(user: User, message_id: int) -> Message | None:
    """One of the person's own messages, or None (someone else's is as good as missing)."""
    return messages_for(user).filter(pk=message_id).first()


@dataclass(frozen=True)
class TargetRecord:
    """Where the object a message is about belongs: its CB and organization (None when the
    object is gone), and for a finding the assessment it was recorded in."""

    cb_id: int | None
    organization_id: int | None
    assessment_id: int | None = None


@dataclass(frozen=True)
class Reader:
    """The CBs where a person holds an active role and the organizations they belong to."""

    cb_ids: frozenset[int]
    organization_ids: frozenset[int]
    secretariat: bool


def message_reader(user: User) -> Reader:
    """What a message's reader may open: two queries, whatever the number of messages."""
    cbs = CBStaff.objects.filter(user=user, active=True).values_list("cb_id", flat=True)
    orgs = OrganizationMember.objects.filter(user=user).values_list("organization_id", flat=True)
    return Reader(frozenset(cbs), frozenset(orgs), user.is_secretariat)


def message_target_records(
    targets: Iterable[tuple[str, int]],
) -> dict[tuple[str, int], TargetRecord]:
    """The CB and organization of each (object type, id), one query per object type; objects
    of an unknown type, or gone, are left out."""
    wanted: dict[str, set[int]] = {}
    for kind, pk in targets:
        wanted.setdefault(kind, set()).add(pk)
    found: dict[tuple[str, int], TargetRecord] = {}
    ids = wanted.get(MessageTarget.APPLICATION)
    if ids:
        for pk, cb_id, org_id in Application.objects.filter(pk__in=ids).values_list(
            "pk", "cb_id", "organization_id"
        ):
            found[(MessageTarget.APPLICATION, pk)] = TargetRecord(cb_id, org_id)
    ids = wanted.get(MessageTarget.CERTIFICATE)
    if ids:
        for pk, cb_id, org_id in Certificate.objects.filter(pk__in=ids).values_list(
            "pk", "cb_id", "organization_id"
        ):
            found[(MessageTarget.CERTIFICATE, pk)] = TargetRecord(cb_id, org_id)
    ids = wanted.get(MessageTarget.ASSESSMENT)
    if ids:
        for pk, cb_id, org_a, org_c in Assessment.objects.filter(pk__in=ids).values_list(
            "pk", "cb_id", "application__organization_id", "certificate__organization_id"
        ):
            found[(MessageTarget.ASSESSMENT, pk)] = TargetRecord(cb_id, org_c or org_a, pk)
    ids = wanted.get(MessageTarget.FINDING)
    if ids:
        for pk, a_id, cb_id, org_a, org_c in Finding.objects.filter(pk__in=ids).values_list(
            "pk",
            "assessment_id",
            "assessment__cb_id",
            "assessment__application__organization_id",
            "assessment__certificate__organization_id",
        ):
            found[(MessageTarget.FINDING, pk)] = TargetRecord(cb_id, org_c or org_a, a_id)
    return found


def message_target(message: Message) -> tuple[str, int]:
    """What the message is about, as (object type, id): ``("assessment", 12)``. The screens
    turn it into a link; the types are those of ``MessageTarget``."""
    return message.target_type, message.target_id


def notification_preferences(user: User) -> dict[str, bool]:
    """Whether the person gets each group's e-mails: every group, on unless turned off."""
    chosen = dict(NotificationPreference.objects.filter(user=user).values_list("group", "mail"))
    return {group: chosen.get(group, True) for group in MessageGroup.values}


def mail_turned_off_for(user_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(user id, group) for every group these people turned off, in one query per 500."""
    wanted = sorted(set(user_ids))
    off: set[tuple[int, str]] = set()
    for start in range(0, len(wanted), 500):
        off.update(
            NotificationPreference.objects.filter(
                user_id__in=wanted[start : start + 500], mail=False
            ).values_list("user_id", "group")
        )
    return off
