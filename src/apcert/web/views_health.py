"""``/healthz``: whether the app can answer, for a load balancer or a monitor.

Public and cheap: no account, no session, no cookie, two indexed reads and two ``statvfs``
calls; it says nothing private (no certificate, no person, not what the sweep changed, no
path, no host name).

The policy: HTTP 503 only when the database cannot be reached, for then no page can be
answered and a load balancer should send no request here. Everything else is an alert, not
an outage, answered 200 with ``"status": "alert"`` and what is wrong in ``alerts``:

- ``sweep``: the daily sweep is late. Every read still tells the status today (the status
  follows from the dates whatever the sweep did), so the register stays right.
- ``worker``: the background worker has not recorded its heartbeat for
  ``APCERT_WORKER_LATE_SECONDS`` (or never did). Pages are answered; what waits is the
  sweep's record and the e-mails.
- ``disk``: the free space of ``APCERT_VAR_DIR`` or of ``APCERT_EVIDENCE_DIR`` is under
  ``APCERT_DISK_LOW_MIB``. Reads go on; uploads and new PDFs may soon fail.

Taking the app out of service for any of these would turn a problem of the back office into
an outage of the public register. The figures are what a monitor alerts on.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from apcert.core.diskspace import watched_free_bytes
from apcert.cycle.selectors import sweep_health
from apcert.notifications.worker_state import worker_last_beat

MIB = 1024 * 1024


@login_not_required
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    today = timezone.localdate(now)
    disk = _disk()
    try:
        health = sweep_health(today=today)
        last_beat = worker_last_beat()
    except DatabaseError:
        return _answer(
            {
                "status": "unavailable",
                "alerts": ["database"],
                "database": "unreachable",
                "sweep": "unknown",
                "worker": "unknown",
                "today": today.isoformat(),
                **disk,
            },
            status=503,
        )
    sweep = "late" if health.late else "ok"
    beat_age = int((now - last_beat).total_seconds()) if last_beat is not None else None
    worker = "ok" if beat_age is not None and beat_age <= settings.WORKER_LATE_SECONDS else "late"
    alerts = [
        name
        for name, state in (("sweep", sweep), ("worker", worker), ("disk", disk["disk"]))
        if state != "ok"
    ]
    return _answer(
        {
            "status": "alert" if alerts else "ok",
            "alerts": alerts,
            "database": "ok",
            "sweep": sweep,
            "today": today.isoformat(),
            # The latest date whose sweep finished, and when it finished (null: never).
            "sweep_last_as_of": health.last_as_of.isoformat() if health.last_as_of else None,
            "sweep_last_finished": (
                health.last_finished_at.isoformat() if health.last_finished_at else None
            ),
            "sweep_lag_days": health.lag_days,
            "worker": worker,
            # When a worker last recorded its heartbeat, and how long ago (null: never).
            "worker_last_beat": last_beat.isoformat() if last_beat else None,
            "worker_beat_age_seconds": beat_age,
            **disk,
        }
    )


def _disk() -> dict[str, object]:
    free = {name: value // MIB for name, value in watched_free_bytes().items()}
    low = any(mib < settings.DISK_LOW_MIB for mib in free.values())
    return {"disk": "low" if low else "ok", "disk_free_mib": free}


def _answer(body: dict[str, object], *, status: int = 200) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response
