"""The sweep as a background task (django-tasks), and the daily scheduling of it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django_tasks import task

from apcert.cycle.models import SweepRun
from apcert.cycle.sweep import sweep_run


@task()
def run_sweep(as_of_iso: str | None = None) -> dict[str, Any]:
    """Run the sweep for ``as_of_iso`` (today when not given) and record its outcome."""
    as_of = dt.date.fromisoformat(as_of_iso) if as_of_iso else timezone.localdate()
    return sweep_run(as_of=as_of, source=SweepRun.Source.WORKER).as_dict()


def sweep_schedule(*, as_of: dt.date) -> bool:
    """Enqueue the sweep of ``as_of`` unless it has been already: the unique ``SweepRun``
    row and the queued task are written in one transaction, so a restarted or second worker
    never queues the same day twice. True when this call queued it."""
    if SweepRun.objects.filter(as_of=as_of).exists():
        return False
    try:
        with transaction.atomic():
            SweepRun.objects.create(as_of=as_of)
            run_sweep.enqueue(as_of.isoformat())
    except IntegrityError:  # another worker queued it between the check and the insert
        return False
    return True
