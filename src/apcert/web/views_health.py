"""``/healthz``: whether the app can answer, for a load balancer or a monitor.

Public and cheap: no account, no session, no cookie, two indexed reads at most; it says
nothing private (no certificate, no person, not what the sweep changed). HTTP 503 when the
database cannot be reached; otherwise 200, also while the daily sweep is late, with
``"sweep": "late"``: every read still tells the status today (the status follows from the
dates whatever the sweep did), so a late sweep is a reason to alert an operator, not to take
the app out of service. Its figures are what a monitor alerts on.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_safe

from apcert.cycle.selectors import sweep_health


@login_not_required
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    try:
        health = sweep_health(today=today)
    except DatabaseError:
        return _answer(
            {
                "status": "unavailable",
                "database": "unreachable",
                "sweep": "unknown",
                "today": today.isoformat(),
            },
            status=503,
        )
    sweep = "late" if health.late else "ok"
    return _answer(
        {
            "status": sweep,
            "database": "ok",
            "sweep": sweep,
            "today": today.isoformat(),
            # The latest date whose sweep finished, and when it finished (null: never).
            "sweep_last_as_of": health.last_as_of.isoformat() if health.last_as_of else None,
            "sweep_last_finished": (
                health.last_finished_at.isoformat() if health.last_finished_at else None
            ),
            "sweep_lag_days": health.lag_days,
        }
    )


def _answer(body: dict[str, object], *, status: int = 200) -> HttpResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response
