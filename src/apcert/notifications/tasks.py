"""Background task wrapper for the notification dispatcher (scheduling lives elsewhere)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone
from django_tasks import task

from apcert.notifications.services import notifications_dispatch


@task()
def dispatch_notifications(as_of: str | None = None) -> dict[str, Any]:
    """Dispatch the notifications due on ``as_of`` (ISO date; today when omitted).

    Arguments and result are JSON-friendly, as a task queue stores them.
    """
    day = dt.date.fromisoformat(as_of) if as_of else timezone.localdate()
    report = notifications_dispatch(as_of=day)
    return {
        "as_of": day.isoformat(),
        "sent": report.sent,
        "failed": report.failed,
        "retried": report.retried,
        "events": report.events,
        "messages": report.messages,
    }
