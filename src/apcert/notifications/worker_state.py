"""What the background worker has to do, and whether it is alive: read by ``/healthz`` and
``/metrics`` on any server.

The heartbeat: the worker records that it is alive, every server reads when a worker last
did.
``apcert worker`` runs apart from the servers, often on another machine, and shares only the
database with them; so it writes its beat there (:class:`WorkerHeartbeat`), from a thread of
its own, every :data:`BEAT_SECONDS`. The beat says the worker's process is alive, not that
the task it runs is quick: a long task (the sweep of a large register) does not silence it,
and a queue that does not drain shows in ``/metrics`` as its depth.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Count, Max
from django_tasks import DEFAULT_TASK_QUEUE_NAME, TaskResultStatus
from django_tasks_db.models import DBTaskResult

from apcert.notifications.choices import DeliveryStatus, MailState
from apcert.notifications.models import Message, NotificationSent, WorkerHeartbeat

#: How often a running worker records its beat.
BEAT_SECONDS = 30.0
#: A worker silent this long is gone: its row is deleted by the next beat of any worker.
FORGET_AFTER = dt.timedelta(days=1)


def worker_heartbeat_record(
    *, worker_id: str, hostname: str, pid: int, started_at: dt.datetime, now: dt.datetime
) -> None:
    """Record that the worker ``worker_id`` is alive at ``now`` (one row a worker, updated),
    and forget the workers silent since :data:`FORGET_AFTER`. Not audited: it records the
    running of the app, not a change to the scheme's records."""
    updated = WorkerHeartbeat.objects.filter(worker_id=worker_id).update(beat_at=now)
    if not updated:
        WorkerHeartbeat.objects.create(
            worker_id=worker_id, hostname=hostname, pid=pid, started_at=started_at, beat_at=now
        )
    WorkerHeartbeat.objects.filter(beat_at__lt=now - FORGET_AFTER).delete()


def worker_last_beat() -> dt.datetime | None:
    """When any worker last recorded its beat (``None``: none ever did, or none for a day).
    One read along the index of the beats."""
    return WorkerHeartbeat.objects.aggregate(last=Max("beat_at"))["last"]


def task_queue_depth() -> dict[tuple[str, str], int]:
    """How many tasks wait in each queue (``ready``) and how many run (``running``), by
    (queue, state). One grouped count over the queue's index of statuses."""
    states = {TaskResultStatus.READY: "ready", TaskResultStatus.RUNNING: "running"}
    rows = (
        DBTaskResult.objects.filter(status__in=list(states))
        .order_by()
        .values_list("queue_name", "status")
        .annotate(n=Count("id"))
    )
    depth = {(queue, state): 0 for queue in (DEFAULT_TASK_QUEUE_NAME,) for state in states.values()}
    for queue, status, n in rows:
        depth[(queue, states[status])] = n
    return depth


def delivery_backlog() -> dict[str, int]:
    """What is still to be delivered: e-mails of the outbox claimed but not marked sent
    (``pending``) or waiting to be retried (``failed``), and in-app messages the dispatch
    has not handled yet (``due``). Each counted along an index of its state."""
    backlog = {"pending": 0, "failed": 0}
    rows = (
        NotificationSent.objects.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED])
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    for status, n in rows:
        backlog[str(status)] = n
    backlog["due"] = Message.objects.filter(mail=MailState.DUE).count()
    return backlog
