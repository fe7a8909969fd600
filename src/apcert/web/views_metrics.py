"""``/metrics``: the app's figures in Prometheus's text format, for operators only.

Not public: answered only to a client address in ``APCERT_METRICS_ALLOW`` or to a request
with ``Authorization: Bearer <APCERT_METRICS_TOKEN>``; anyone else gets the site's 404, as
for an address that does not exist. Behind a reverse proxy on the same host every request
comes from the proxy's address: block ``/metrics`` at the proxy (the examples in ``deploy/``
do) rather than allow that address.

Two kinds of figures (see :mod:`apcert.core.metrics`): the requests, counted by every server
process and added up across them; and the state of the app, read from the database and the
disk at each scrape, so that whichever process answers says the same: the task queue's
depth, the sweep's lag, the worker's heartbeat, the e-mail backlog and free disk space.
When the database cannot be reached, ``apcert_database_up`` is 0 and its figures are left
out.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from apcert.core.diskspace import watched_free_bytes
from apcert.core.metrics import request_exposition
from apcert.cycle.selectors import sweep_health
from apcert.notifications.worker_state import (
    delivery_backlog,
    task_queue_depth,
    worker_last_beat,
)
from apcert.web.access import client_address


@login_not_required
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_read_metrics(request):
        raise Http404
    registry = CollectorRegistry()
    registry.register(AppState())
    body = request_exposition(settings.METRICS_DIR) + generate_latest(registry)
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


def may_read_metrics(request: HttpRequest) -> bool:
    """The bearer token, when one is set, from anywhere; else an allowed client address."""
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode()
        ):
            return True
    allowed = settings.METRICS_ALLOW
    address = client_address(request) if allowed else None
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in allowed)


class AppState(Collector):
    """The state of the app, read at each scrape (a handful of indexed counts)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        free = GaugeMetricFamily(
            "apcert_disk_free_bytes",
            "Bytes free on the disk of apcert's directory (var) and of the evidence files.",
            labels=["dir"],
        )
        for name, value in watched_free_bytes().items():
            free.add_metric([name], value)
        yield free
        now = timezone.now()
        try:
            health = sweep_health(today=timezone.localdate(now))
            last_beat = worker_last_beat()
            depth = task_queue_depth()
            backlog = delivery_backlog()
        except DatabaseError:
            yield GaugeMetricFamily(
                "apcert_database_up", "1 when the database answered this scrape.", value=0
            )
            return
        yield GaugeMetricFamily(
            "apcert_database_up", "1 when the database answered this scrape.", value=1
        )
        yield GaugeMetricFamily(
            "apcert_sweep_late",
            "1 when the daily sweep of some day up to today has not finished.",
            value=int(health.late),
        )
        if health.lag_days is not None:
            yield GaugeMetricFamily(
                "apcert_sweep_lag_days",
                "Days from the latest finished sweep to today (absent: none ever finished).",
                value=health.lag_days,
            )
        if last_beat is not None:
            yield GaugeMetricFamily(
                "apcert_worker_heartbeat_age_seconds",
                "Seconds since a background worker last recorded its heartbeat (absent: "
                "none in the last day).",
                value=max(0.0, (now - last_beat).total_seconds()),
            )
        queue = GaugeMetricFamily(
            "apcert_task_queue_depth",
            "Background tasks waiting (ready) or running, by queue.",
            labels=["queue", "state"],
        )
        for (name, state), n in sorted(depth.items()):
            queue.add_metric([name, state], n)
        yield queue
        pending = GaugeMetricFamily(
            "apcert_notification_backlog",
            "Notifications not yet delivered: e-mails claimed but not marked sent (pending), "
            "e-mails to retry (failed), in-app messages not yet handled by the dispatch (due).",
            labels=["state"],
        )
        for state, n in sorted(backlog.items()):
            pending.add_metric([state], n)
        yield pending
