"""Notification e-mails: an outbox that a dispatcher scans.

No other service calls into this module: :func:`notifications_dispatch` looks at the
committed state of the database on a given day and works out what is due.

1. a certificate's status changed (a grant counts: draft -> current);
2. a live certificate's expiry is within one of the horizons (default 90, 30, 7 days,
   ``settings.NOTIFICATION_HORIZON_DAYS``);
3. a major or minor nonconformity is still open or answered after its due date;
4. a surveillance or re-assessment visit of the audit programme is due within a horizon.

Each goes to the holder's people and the CB's active scheme managers and administrators,
one e-mail per person (addresses are not disclosed to each other).

Sent after commit, never twice. For each event, the rows of :class:`NotificationSent`
(one per recipient, unique on kind + subject key + recipient) are inserted in their own
transaction, which commits *before* any mail is sent; then this dispatcher sends only the
rows it inserted itself. A second dispatcher running at the same time waits on the unique
index, finds the rows already there and sends nothing. Once any row exists for an event,
the event is done: someone who joins the organization later is not sent old news.

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
from collections.abc import Iterator
from dataclasses import dataclass

from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apcert.notifications import messages
from apcert.notifications.choices import NotificationKind
from apcert.notifications.lifecycle import DELIVERY, FAILED, PENDING
from apcert.notifications.models import NotificationSent
from apcert.notifications.selectors import (
    certificates_expiring,
    findings_late,
    horizon_reached,
    keys_already_notified,
    live_certificates,
    notification_horizons,
    notification_recipients,
    status_changes_until,
    visits_pending,
)

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


@dataclass
class DispatchReport:
    sent: int = 0
    failed: int = 0
    retried: int = 0
    events: int = 0
    surveillance_checked: bool = True


def _status_change_notices(as_of: dt.date) -> Iterator[Notice]:
    changes = list(status_changes_until(as_of))
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


def _finding_notices(as_of: dt.date) -> Iterator[Notice]:
    for finding in findings_late(as_of):
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


def notifications_dispatch(
    *, as_of: dt.date, connection: BaseEmailBackend | None = None
) -> DispatchReport:
    """Send every notification due on ``as_of`` that was not sent before; retry failures."""
    connection = connection or get_connection()
    horizons = notification_horizons()
    report = DispatchReport()
    _retry_failed(connection, report)
    recipients_of: dict[tuple[int, int], list[str]] = {}
    sources = (
        _status_change_notices(as_of),
        _expiry_notices(as_of, horizons),
        _finding_notices(as_of),
        _surveillance_notices(as_of, horizons, report),
    )
    for source in sources:
        for notice in source:
            pair = (notice.organization_id, notice.cb_id)
            if pair not in recipients_of:
                recipients_of[pair] = notification_recipients(
                    organization_id=notice.organization_id, cb_id=notice.cb_id
                )
            rows = _claim(notice, recipients_of[pair])
            if rows:
                report.events += 1
            for row in rows:
                if _send(row, connection):
                    report.sent += 1
                else:
                    report.failed += 1
    return report
