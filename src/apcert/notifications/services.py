"""Notification e-mails (an outbox that a dispatcher scans), the in-app messages' e-mails,
the e-mail preferences and the reading of messages.

No other service calls into this module: :func:`notifications_dispatch` looks at the
committed state of the database on a given day and works out what is due.

1. a certificate's status changed (a grant counts: draft -> current);
2. a live certificate's expiry is within one of the horizons (default 90, 30, 7 days,
   ``settings.NOTIFICATION_HORIZON_DAYS``);
3. a major or minor nonconformity is still open or answered after its due date;
4. a surveillance or re-assessment visit of the audit programme is due within a horizon;
5. an in-app message (``workflow``: a workflow step written in the transaction of the change)
   has not been mailed yet.

Notices 1 to 4 go to the holder's people and the CB's active scheme managers and
administrators, a message to its addressee; one e-mail per person (addresses are not
disclosed to each other), and none to a person who turned that group of e-mails off
(:func:`notification_preferences_set`; in-app messages are kept either way).

Nothing about the past. Notifications start at a moment recorded once
(:class:`NotificationsStart`: by the migration that brought the messages, else by the first
dispatch). A status change recorded before it, a message written before it and a
nonconformity recorded before it that was already late then are never mailed: the first run
on a database with years of history is silent about that history. And whatever was
recorded, an event dated more than ``settings.NOTIFICATION_RECENT_DAYS`` (default 30) before
the dispatch day (the status change's effective date, the due date of a late finding, a
decision's date) is not mailed as news.

Sent after commit, never twice. For each event, the rows of :class:`NotificationSent`
(one per recipient, unique on kind + subject key + recipient) are inserted in their own
transaction, which commits *before* any mail is sent; then this dispatcher sends only the
rows it inserted itself. A second dispatcher running at the same time waits on the unique
index, finds the rows already there and sends nothing. Once any row exists for an event,
the event is done: someone who joins the organization later is not sent old news. A message
is claimed the same way: a conditional UPDATE moves it from ``due`` to ``outbox`` (one
dispatcher wins) in the transaction that inserts its row.

A send that raises marks its row ``failed`` with the error; the next dispatch claims failed
rows back (a conditional UPDATE, so only one dispatcher wins each) and retries them. A row
left ``pending`` (the process died between claim and send) is deliberately not retried:
the mail may already have left, and a duplicate is what this design exists to prevent.
Call the dispatcher outside any transaction (the command and the task do): the claims must
really commit before the mails go.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F, Max, Min
from django.utils import timezone

from apcert.assessments.models import Finding
from apcert.core.errors import INVALID_CHOICE, PermissionDenied, ValidationFailed
from apcert.notifications import messages
from apcert.notifications.choices import (
    NOTICE_GROUP,
    MailSkipped,
    MessageGroup,
    NotificationKind,
)
from apcert.notifications.errors import MESSAGE_NOT_OWN, PREFERENCE_GROUP_UNKNOWN
from apcert.notifications.lifecycle import (
    DELIVERY,
    DUE,
    FAILED,
    MESSAGE_MAIL,
    PENDING,
)
from apcert.notifications.models import (
    Message,
    NotificationPreference,
    NotificationSent,
    NotificationsStart,
)
from apcert.notifications.selectors import (
    certificates_expiring,
    findings_late,
    horizon_reached,
    keys_already_notified,
    live_certificates,
    mail_turned_off_for,
    notification_horizons,
    notification_preferences,
    notification_recent_days,
    notification_recipients,
    notifications_start,
    status_changes_until,
    visits_pending,
)

if TYPE_CHECKING:
    from apcert.accounts.models import User

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    """One event worth telling people about, with its text."""

    kind: str
    subject_key: str
    subject: str
    body: str
    organization_id: int
    cb_id: int

    @property
    def group(self) -> str:
        return NOTICE_GROUP[self.kind]


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    events: int = 0
    #: In-app messages handed to the outbox (their mails count in sent and failed).
    messages: int = 0
    surveillance_checked: bool = True


@dataclass(frozen=True)
class NewsWindow:
    """What may still be mailed as news: recorded since notifications started, and dated
    no earlier than ``since``."""

    start: NotificationsStart
    since: dt.date


def notifications_start_record() -> NotificationsStart:
    """When notifications started; recorded (by the first dispatch) when missing.

    Normally the migration that brought the in-app messages has recorded it already. The
    start is the first e-mail of the outbox when there is one (an earlier dispatcher already
    told what came after it), else now."""
    start = notifications_start()
    if start is not None:
        return start
    first = NotificationSent.objects.aggregate(first=Min("created_at"))["first"]
    started = first or timezone.now()
    floor = Finding.objects.aggregate(top=Max("id"))["top"] or 0
    start, _ = NotificationsStart.objects.get_or_create(
        id=1,
        defaults={
            "started_at": started,
            "started_on": timezone.localdate(started),
            "finding_floor": floor,
        },
    )
    return start


def _status_change_notices(as_of: dt.date, window: NewsWindow) -> Iterator[Notice]:
    changes = list(
        status_changes_until(
            as_of, recorded_since=window.start.started_at, effective_since=window.since
        )
    )
    keys = {c.pk: f"status_change:{c.pk}" for c in changes}
    done = keys_already_notified(NotificationKind.STATUS_CHANGE, keys.values())
    for change in changes:
        if keys[change.pk] in done:
            continue
        subject, body = messages.status_change_message(change)
        cert = change.certificate
        yield Notice(
            NotificationKind.STATUS_CHANGE,
            keys[change.pk],
            subject,
            body,
            cert.organization_id,
            cert.cb_id,
        )


def _expiry_notices(as_of: dt.date, horizons: tuple[int, ...]) -> Iterator[Notice]:
    for cert in certificates_expiring(as_of, max(horizons)):
        horizon = horizon_reached((cert.expires_on - as_of).days, horizons)
        if horizon is None:
            continue
        # The expiry date is part of the key: a renewed certificate gets its reminders
        # again for its new expiry.
        key = f"expiry:cert {cert.pk}:until {cert.expires_on}:horizon {horizon}"
        subject, body = messages.expiry_message(cert, as_of=as_of)
        yield Notice(NotificationKind.EXPIRY, key, subject, body, cert.organization_id, cert.cb_id)


def _finding_notices(as_of: dt.date, window: NewsWindow) -> Iterator[Notice]:
    for finding in findings_late(as_of, due_since=window.since, start=window.start):
        a = finding.assessment
        subject_org = a.certificate or a.application
        if subject_org is None:  # pragma: no cover - a check constraint forbids it
            continue
        subject, body = messages.finding_late_message(finding, as_of=as_of)
        yield Notice(
            NotificationKind.FINDING_LATE,
            f"finding_late:{finding.pk}",
            subject,
            body,
            subject_org.organization_id,
            a.cb_id,
        )


def _surveillance_notices(
    as_of: dt.date, horizons: tuple[int, ...], report: DispatchReport
) -> Iterator[Notice]:
    for cert in live_certificates():
        visits = visits_pending(cert)
        if visits is None:
            logger.warning("audit programme not available: surveillance reminders skipped")
            report.surveillance_checked = False
            return
        for visit in visits:
            horizon = horizon_reached((visit.due_date - as_of).days, horizons)
            if horizon is None:
                continue
            key = (
                f"surveillance:cert {cert.pk}:visit {visit.kind} {visit.sequence}"
                f":due {visit.due_date}:horizon {horizon}"
            )
            subject, body = messages.visit_due_message(cert, visit, as_of=as_of)
            yield Notice(
                NotificationKind.SURVEILLANCE,
                key,
                subject,
                body,
                cert.organization_id,
                cert.cb_id,
            )


def _claim(notice: Notice, recipients: list[str]) -> list[NotificationSent]:
    """Insert and commit the event's rows; return those this call inserted."""
    claimed: list[NotificationSent] = []
    with transaction.atomic():
        if NotificationSent.objects.filter(
            kind=notice.kind, subject_key=notice.subject_key
        ).exists():
            return []
        for recipient in recipients:
            row, created = NotificationSent.objects.get_or_create(
                kind=notice.kind,
                subject_key=notice.subject_key,
                recipient=recipient,
                defaults={"subject": notice.subject, "body": notice.body, "status": PENDING},
            )
            if created:
                claimed.append(row)
    return claimed


def _send(row: NotificationSent, connection: BaseEmailBackend) -> bool:
    """Send one claimed (pending) row and record the outcome. True when it went."""
    message = EmailMessage(
        subject=row.subject, body=row.body, to=[row.recipient], connection=connection
    )
    try:
        message.send(fail_silently=False)
    except Exception as exc:  # any backend error: record it, retry on a later dispatch
        logger.warning("notification %s to %s failed: %s", row.subject_key, row.recipient, exc)
        NotificationSent.objects.filter(pk=row.pk, status=PENDING).update(
            status=DELIVERY.next_state(PENDING, "fail"),
            attempts=F("attempts") + 1,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        return False
    NotificationSent.objects.filter(pk=row.pk, status=PENDING).update(
        status=DELIVERY.next_state(PENDING, "deliver"),
        attempts=F("attempts") + 1,
        last_error="",
        sent_at=timezone.now(),
    )
    return True


def _retry_failed(connection: BaseEmailBackend, report: DispatchReport) -> None:
    for pk in list(NotificationSent.objects.filter(status=FAILED).values_list("pk", flat=True)):
        # Conditional update: of two dispatchers, only one moves the row back to pending.
        won = NotificationSent.objects.filter(pk=pk, status=FAILED).update(
            status=DELIVERY.next_state(FAILED, "retry")
        )
        if not won:
            continue
        report.retried += 1
        if _send(NotificationSent.objects.get(pk=pk), connection):
            report.sent += 1
        else:
            report.failed += 1


def _skip(message_ids: list[int], reason: str) -> None:
    if message_ids:
        Message.objects.filter(pk__in=message_ids, mail=DUE).update(
            mail=MESSAGE_MAIL.next_state(DUE, "skip"), mail_skipped=reason
        )


def _claim_message(message: Message, address: str) -> NotificationSent | None:
    """Move the message to the outbox and insert its row, committed together; the row when
    this call inserted it (none when another dispatcher won, or when the same address already
    has this event's mail through another of its messages)."""
    with transaction.atomic():
        won = Message.objects.filter(pk=message.pk, mail=DUE).update(
            mail=MESSAGE_MAIL.next_state(DUE, "claim")
        )
        if not won:
            return None
        key = f"message:event {message.audit_seq}"
        sent = NotificationSent.objects.filter(kind=NotificationKind.MESSAGE, subject_key=key)
        if sent.filter(recipient__iexact=address).exists():
            return None  # two accounts, one address (compared without case): one mail
        subject, body = messages.message_mail(message.subject, message.body)
        row, created = NotificationSent.objects.get_or_create(
            kind=NotificationKind.MESSAGE,
            subject_key=key,
            recipient=address,
            defaults={"subject": subject, "body": body, "status": PENDING},
        )
    return row if created else None


def _message_mails(
    window: NewsWindow, connection: BaseEmailBackend, report: DispatchReport
) -> None:
    # History, not news: written before notifications started, or about an old event.
    due = Message.objects.filter(mail=DUE)
    _skip(
        list(due.filter(created_at__lt=window.start.started_at).values_list("pk", flat=True)),
        MailSkipped.BEFORE_START,
    )
    _skip(
        list(due.filter(event_on__lt=window.since).values_list("pk", flat=True)),
        MailSkipped.OLD_NEWS,
    )
    while batch := list(
        Message.objects.filter(mail=DUE).select_related("user").order_by("id")[:500]
    ):
        off = mail_turned_off_for(m.user_id for m in batch)
        skipped: dict[str, list[int]] = defaultdict(list)
        for message in batch:
            user = message.user
            address = user.email.strip() if user.is_active else ""
            if not address:
                skipped[MailSkipped.NO_ADDRESS].append(message.pk)
            elif (message.user_id, message.group) in off:
                skipped[MailSkipped.PREFERENCE].append(message.pk)
            elif (row := _claim_message(message, address)) is not None:
                report.messages += 1
                if _send(row, connection):
                    report.sent += 1
                else:
                    report.failed += 1
        for reason, ids in skipped.items():
            _skip(ids, reason)


def notifications_dispatch(
    *, as_of: dt.date, connection: BaseEmailBackend | None = None
) -> DispatchReport:
    """Send every notification due on ``as_of`` that was not sent before, and the e-mails
    of the in-app messages not mailed yet; retry failures. Nothing about the past: see the
    module's docstring."""
    connection = connection or get_connection()
    horizons = notification_horizons()
    window = NewsWindow(
        start=notifications_start_record(),
        since=as_of - dt.timedelta(days=notification_recent_days()),
    )
    report = DispatchReport()
    _retry_failed(connection, report)
    recipients_of: dict[tuple[int, int, str], list[str]] = {}
    sources = (
        _status_change_notices(as_of, window),
        _expiry_notices(as_of, horizons),
        _finding_notices(as_of, window),
        _surveillance_notices(as_of, horizons, report),
    )
    for source in sources:
        for notice in source:
            key = (notice.organization_id, notice.cb_id, notice.group)
            if key not in recipients_of:
                recipients_of[key] = notification_recipients(
                    organization_id=notice.organization_id, cb_id=notice.cb_id, group=notice.group
                )
            rows = _claim(notice, recipients_of[key])
            if rows:
                report.events += 1
            for row in rows:
                if _send(row, connection):
                    report.sent += 1
                else:
                    report.failed += 1
    _message_mails(window, connection, report)
    return report


# --- preferences and reading -----------------------------------------------------------------


def notification_preferences_set(*, actor: User, mail: Mapping[str, bool]) -> dict[str, bool]:
    """The actor chooses which groups of e-mails they get (``{"reminders": False}``); groups
    not named keep their choice. In-app messages are kept whatever the choice. A person sets
    only their own preferences; they are not a regulated change, so no audit event."""
    unknown = sorted(set(mail) - set(MessageGroup.values))
    if unknown:
        raise ValidationFailed(
            f"Unknown group of e-mails: {', '.join(unknown)}. The groups are "
            f"{', '.join(MessageGroup.values)}.",
            code=PREFERENCE_GROUP_UNKNOWN,
            field="mail",
            params={"groups": unknown},
        )
    for group, on in mail.items():
        if not isinstance(on, bool):
            raise ValidationFailed(
                f"Say on (true) or off (false) for {group}.", code=INVALID_CHOICE, field=group
            )
    with transaction.atomic():
        for group, on in sorted(mail.items()):
            NotificationPreference.objects.update_or_create(
                user=actor, group=group, defaults={"mail": on}
            )
    return notification_preferences(actor)


def message_mark_read(*, actor: User, message: Message) -> Message:
    """Mark one of the actor's own messages read (again: no change)."""
    if message.user_id != actor.pk:
        raise PermissionDenied("This message is addressed to someone else.", code=MESSAGE_NOT_OWN)
    if message.read_at is None:
        now = timezone.now()
        if Message.objects.filter(pk=message.pk, read_at__isnull=True).update(read_at=now):
            message.read_at = now
        else:  # marked by another request meanwhile
            message.refresh_from_db(fields=["read_at"])
    return message


def messages_mark_all_read(*, actor: User) -> int:
    """Mark every unread message of the actor read; how many were unread."""
    return Message.objects.filter(user=actor, read_at__isnull=True).update(read_at=timezone.now())
