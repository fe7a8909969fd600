"""The worker's task that sends the webhook outbox, and how it is queued.

A change queues the task after commit; the task sends what is due and queues itself again
for the next retry that falls due. The worker's upkeep queues it too when a row is due and
no run is queued (a queued run lost with its database row, a claim run out), so that a retry
never depends on a later change.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from apcert.webhooks.delivery import next_due_at, webhooks_deliver_due


def _queued_before(at: dt.datetime) -> bool:
    """Whether a run of the delivery task is already queued to start by ``at``."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult, get_date_max

    # A run queued for now is stored with the latest date as its start ("no start set").
    return DBTaskResult.objects.filter(
        Q(run_after=get_date_max()) | Q(run_after__lte=at),
        task_path=deliver_webhooks.module_path,
        status=TaskResultStatus.READY,
    ).exists()


def delivery_queue(at: dt.datetime | None = None) -> None:
    """Queue a run of the delivery task for ``at`` (now when None), unless one is queued to
    start by then."""
    backend = deliver_webhooks.get_backend()
    at = at or timezone.now()
    if type(backend).__module__.startswith("django_tasks_db") and _queued_before(at):
        return
    if at > timezone.now() and backend.supports_defer:
        deliver_webhooks.using(run_after=at).enqueue()
    elif at <= timezone.now():
        deliver_webhooks.enqueue()


def delivery_queue_if_due() -> None:
    """The worker's upkeep: queue a run if a row is due, or will be before the next check."""
    at = next_due_at()
    if at is not None:
        delivery_queue(max(at, timezone.now()))


@task()
def deliver_webhooks() -> dict[str, Any]:
    """Send the due webhook deliveries, then queue the next run for the next retry."""
    report = webhooks_deliver_due()
    at = next_due_at()
    if at is not None:
        # A claim held by a run that is still going ends later than now: not before it.
        delivery_queue(max(at, timezone.now() + dt.timedelta(seconds=1)))
    return {"delivered": report.delivered, "failed": report.failed}
