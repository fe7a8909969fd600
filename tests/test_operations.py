"""Running apcert: what ``/healthz`` alerts on (the worker's heartbeat, free disk), who may
read ``/metrics`` and what it says, and each request's id, access log line and log format."""

from __future__ import annotations

import datetime as dt
import importlib
import io
import ipaddress
import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.db import DatabaseError
from django.test import Client, override_settings
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from apcert import env
from apcert.api import ratelimit
from apcert.core import metrics as request_metrics
from apcert.core.observe import JsonFormatter, RequestIdFilter
from apcert.cycle.models import SweepRun
from apcert.notifications.choices import DeliveryStatus, NotificationKind
from apcert.notifications.models import NotificationSent, WorkerHeartbeat
from apcert.notifications.worker_state import worker_heartbeat_record
from apcert.web import views_health, views_metrics
from apcert.wsgi import application
from tests.factories import World
from tests.wsgi_support import wsgi_call

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2027, 3, 10, 12, 0, tzinfo=dt.UTC)
MIB = 1024 * 1024
SECOND = dt.timedelta(seconds=1)
LOCALHOST = (ipaddress.ip_network("127.0.0.1/32"),)


@pytest.fixture
def swept_today() -> None:
    SweepRun.objects.create(as_of=NOW.date(), finished_at=NOW - dt.timedelta(hours=11))


@pytest.fixture
def disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """5000 MiB free beside the database, 2000 MiB beside the evidence files."""

    def free() -> dict[str, int]:
        return {"var": 5000 * MIB, "evidence": 2000 * MIB}

    monkeypatch.setattr(views_health, "watched_free_bytes", free)
    monkeypatch.setattr(views_metrics, "watched_free_bytes", free)


def beat(at: dt.datetime, worker: str = "w1") -> None:
    worker_heartbeat_record(worker_id=worker, hostname="h", pid=7, started_at=NOW, now=at)


def healthz(client: Client, at: dt.datetime) -> tuple[int, dict[str, object]]:
    with time_machine.travel(at, tick=False):
        response = client.get("/healthz")
    return response.status_code, json.loads(response.content)


# --- /healthz ---------------------------------------------------------------------------------


def test_healthz_is_ok_then_alerts_on_a_silent_worker_and_a_low_disk(
    client: Client, swept_today: None, disk: None
) -> None:
    # Given the sweep of today done and a worker that beat 10 s ago
    beat(NOW - 10 * SECOND)
    # Then all is well
    assert healthz(client, NOW) == (
        200,
        {
            "status": "ok",
            "alerts": [],
            "database": "ok",
            "sweep": "ok",
            "today": "2027-03-10",
            "sweep_last_as_of": "2027-03-10",
            "sweep_last_finished": "2027-03-10T01:00:00+00:00",
            "sweep_lag_days": 0,
            "worker": "ok",
            "worker_last_beat": "2027-03-10T11:59:50+00:00",
            "worker_beat_age_seconds": 10,
            "disk": "ok",
            "disk_free_mib": {"var": 5000, "evidence": 2000},
        },
    )
    # When the worker stays silent: still ok at the threshold (180 s), late past it
    status, body = healthz(client, NOW + 170 * SECOND)
    assert (status, body["status"], body["worker"], body["worker_beat_age_seconds"]) == (
        200,
        "ok",
        "ok",
        180,
    )
    status, body = healthz(client, NOW + 171 * SECOND)
    assert (status, body["status"], body["alerts"], body["worker"]) == (
        200,
        "alert",
        ["worker"],
        "late",
    )
    assert body["worker_beat_age_seconds"] == 181
    # A beat again, and it is well again
    beat(NOW + 200 * SECOND)
    assert healthz(client, NOW + 201 * SECOND)[1]["alerts"] == []
    # When the evidence disk has less free than the threshold: an alert, not an outage
    with override_settings(DISK_LOW_MIB=3000):
        status, body = healthz(client, NOW + 201 * SECOND)
    assert (status, body["status"], body["alerts"], body["disk"]) == (200, "alert", ["disk"], "low")


def test_healthz_counts_a_worker_that_never_beat_as_late(
    client: Client, swept_today: None, disk: None
) -> None:
    status, body = healthz(client, NOW)
    assert (status, body["alerts"], body["worker"]) == (200, ["worker"], "late")
    assert (body["worker_last_beat"], body["worker_beat_age_seconds"]) == (None, None)


def test_healthz_is_503_only_when_the_database_cannot_be_reached(
    client: Client, disk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> None:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(views_health, "worker_last_beat", unreachable)
    assert healthz(client, NOW) == (
        503,
        {
            "status": "unavailable",
            "alerts": ["database"],
            "database": "unreachable",
            "sweep": "unknown",
            "worker": "unknown",
            "today": "2027-03-10",
            "disk": "ok",
            "disk_free_mib": {"var": 5000, "evidence": 2000},
        },
    )


def test_the_real_disk_is_measured(client: Client) -> None:
    body = json.loads(client.get("/healthz").content)
    free = body["disk_free_mib"]
    assert set(free) == {"var", "evidence"} and all(v > 0 for v in free.values())


def test_a_worker_keeps_one_row_and_workers_silent_for_a_day_are_forgotten() -> None:
    beat(NOW, "w1")
    beat(NOW + 30 * SECOND, "w1")
    assert list(WorkerHeartbeat.objects.values_list("worker_id", "beat_at")) == [
        ("w1", NOW + 30 * SECOND)
    ]
    beat(NOW + dt.timedelta(days=1, minutes=1), "w2")
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["w2"]


# --- /metrics ---------------------------------------------------------------------------------


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_are_not_public_by_default(client: Client) -> None:
    response = client.get("/metrics")
    assert response.status_code == 404
    assert b"apcert_" not in response.content


@pytest.mark.parametrize(
    ("allow", "remote", "status"),
    [
        (LOCALHOST, "127.0.0.1", 200),
        (LOCALHOST, "192.0.2.1", 404),
        ((ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("::1/128")), "10.9.8.7", 200),
        ((ipaddress.ip_network("::1/128"),), "::1", 200),
    ],
)
def test_metrics_answer_the_allowed_addresses_only(
    client: Client, allow: tuple[object, ...], remote: str, status: int
) -> None:
    with override_settings(METRICS_ALLOW=allow):
        assert client.get("/metrics", REMOTE_ADDR=remote).status_code == status


def test_metrics_answer_the_bearer_token_from_anywhere(client: Client) -> None:
    token = "t0k3n-" + "x" * 30
    with override_settings(METRICS_TOKEN=token, METRICS_ALLOW=LOCALHOST):
        far = {"REMOTE_ADDR": "192.0.2.1"}
        right = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {token}", **far)
        assert right.status_code == 200
        for wrong in (f"Bearer {token}x", f"Basic {token}", token, "Bearer "):
            assert client.get("/metrics", HTTP_AUTHORIZATION=wrong, **far).status_code == 404


@override_settings(METRICS_ALLOW=LOCALHOST, METRICS_DIR="")
def test_metrics_tell_the_queue_the_sweep_the_worker_and_the_backlog(
    client: Client, swept_today: None, disk: None
) -> None:
    # Given a task waiting, a worker that beat 42 s ago and an e-mail to retry
    DBTaskResult.objects.create(
        args_kwargs={"args": [], "kwargs": {}},
        task_path="apcert.notifications.tasks.dispatch_notifications",
        backend_name="default",
        run_after=NOW,
    )
    beat(NOW - 42 * SECOND)
    NotificationSent.objects.create(
        kind=NotificationKind.EXPIRY,
        subject_key="expiry:x",
        recipient="a@example.org",
        subject="s",
        body="b",
        status=DeliveryStatus.FAILED,
    )
    with time_machine.travel(NOW, tick=False):
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    found = samples(response.content.decode())
    assert {key: value for key, value in found.items() if not key[0].startswith("apcert_http")} == {
        ("apcert_disk_free_bytes", (("dir", "var"),)): 5000 * MIB,
        ("apcert_disk_free_bytes", (("dir", "evidence"),)): 2000 * MIB,
        ("apcert_database_up", ()): 1,
        ("apcert_sweep_late", ()): 0,
        ("apcert_sweep_lag_days", ()): 0,
        ("apcert_worker_heartbeat_age_seconds", ()): 42,
        ("apcert_task_queue_depth", (("queue", "default"), ("state", "ready"))): 1,
        ("apcert_task_queue_depth", (("queue", "default"), ("state", "running"))): 0,
        ("apcert_notification_backlog", (("state", "due"),)): 0,
        ("apcert_notification_backlog", (("state", "failed"),)): 1,
        ("apcert_notification_backlog", (("state", "pending"),)): 0,
    }


@override_settings(METRICS_ALLOW=LOCALHOST)
def test_metrics_without_a_database_say_so(
    client: Client, disk: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(*, today: dt.date) -> None:
        raise DatabaseError("connection refused")

    monkeypatch.setattr(views_metrics, "sweep_health", unreachable)
    found = samples(client.get("/metrics").content.decode())
    assert found[("apcert_database_up", ())] == 0
    assert ("apcert_task_queue_depth", (("queue", "default"), ("state", "ready"))) not in found


@pytest.fixture
def fresh_rate_limits() -> Iterator[None]:
    ratelimit.reset()
    yield
    ratelimit.reset()


@override_settings(METRICS_ALLOW=LOCALHOST, METRICS_DIR="")
def test_requests_are_counted_by_route_and_status_class_through_the_fast_path_too(
    world: World, fresh_rate_limits: None
) -> None:
    def counted() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = wsgi_call(application, "/metrics", remote="127.0.0.1").body.decode()
        return samples(text)

    def requests(route: str, status: str) -> tuple[float, float]:
        key = ("apcert_http_requests_total", (("route", route), ("status", status)))
        return before.get(key, 0.0), after.get(key, 0.0)

    cert = world.granted()
    before = counted()
    # Given requests answered by Django, by the public API's fast path, and by no view
    assert wsgi_call(application, "/healthz").status == 200
    assert wsgi_call(application, "/certificates/" + quote(cert.number, safe="")).status == 200
    number = quote(cert.number, safe="")
    fast = wsgi_call(application, f"/api/public/certificates/{number}")
    assert fast.status == 200
    assert wsgi_call(application, "/no/such/page/12345").status == 404
    after = counted()
    # Then each is counted once under its route's name, never its path
    for route, status in [
        ("healthz", "2xx"),
        ("register:certificate", "2xx"),
        ("public-api:certificate_detail", "2xx"),
        ("unresolved", "4xx"),
    ]:
        was, now = requests(route, status)
        assert now == was + 1, route
    assert not any(cert.number in str(key) or "12345" in str(key) for key in after)
    # and timed
    key = (
        "apcert_http_request_duration_seconds_count",
        (("route", "public-api:certificate_detail"), ("status", "2xx")),
    )
    assert after[key] == before.get(key, 0) + 1


def test_server_processes_counts_are_added_up(tmp_path: Path) -> None:
    # Given two processes that each count a request in the shared directory, as granian's
    # workers do under `apcert serve`
    script = (
        "from apcert.core import metrics\n"
        "metrics.request_served(route='healthz', status_class='2xx', seconds=0.01)\n"
    )
    for _ in range(2):
        subprocess.run(  # noqa: S603 - our own interpreter
            [sys.executable, "-c", script],
            env={"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
            check=True,
            timeout=60,
        )
    # Then a scrape in a third process reads both
    found = samples(request_metrics.request_exposition(str(tmp_path)).decode())
    assert found[("apcert_http_requests_total", (("route", "healthz"), ("status", "2xx")))] == 2


# --- request ids and logs ---------------------------------------------------------------------


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the console handler would write with APCERT_LOG_FORMAT=json."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def test_each_answer_has_its_own_request_id_on_every_log_line_of_the_request(
    json_log: io.StringIO,
) -> None:
    first = wsgi_call(application, "/no/such/page")
    second = wsgi_call(application, "/healthz")
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids) and ids[0] != ids[1]
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    # Django's own warning of the 404 and the access line carry the first request's id
    assert [(r["logger"], r["level"], r["request_id"]) for r in lines] == [
        ("django.request", "WARNING", ids[0]),
        ("apcert.access", "INFO", ids[0]),
        ("apcert.access", "INFO", ids[1]),
    ]
    access = lines[1]
    assert set(access) == {
        "time",
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "route",
        "status",
        "duration_ms",
    }
    assert (access["method"], access["route"], access["status"]) == ("GET", "unresolved", 404)
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert access["message"] == f"GET unresolved 404 {access['duration_ms']:.1f} ms"
    assert lines[2]["route"] == "healthz" and lines[2]["status"] == 200
    # and a record written outside any request has none
    logging.getLogger("apcert.test").warning("between requests")
    assert json.loads(json_log.getvalue().splitlines()[-1])["request_id"] == "-"


def test_the_proxys_request_id_is_kept_only_behind_the_tls_proxy() -> None:
    sent = {"X-Request-ID": "edge-4f2a:17"}
    direct = wsgi_call(application, "/healthz", headers=sent)
    assert direct.headers["X-Request-ID"] != "edge-4f2a:17"
    with override_settings(REQUEST_ID_FROM_PROXY=True):
        answer = wsgi_call(application, "/healthz", headers=sent)
        assert answer.headers["X-Request-ID"] == "edge-4f2a:17"
        # one that could break a log line or is too long is replaced
        for bad in ("two words", "x" * 129, "a\u00e9b"):
            given = wsgi_call(application, "/healthz", headers={"X-Request-ID": bad})
            assert re.fullmatch(r"[0-9a-f]{32}", given.headers["X-Request-ID"])


def test_the_text_format_shows_the_request_id() -> None:
    text = logging.Formatter(settings.LOGGING["formatters"]["text"]["format"])
    record = logging.LogRecord("apcert.x", logging.WARNING, __file__, 1, "hello", None, None)
    RequestIdFilter().filter(record)
    assert text.format(record).endswith(" WARNING apcert.x [-] hello")


def test_access_log_can_be_turned_off(json_log: io.StringIO) -> None:
    with override_settings(ACCESS_LOG=False):
        wsgi_call(application, "/healthz")
    assert "apcert.access" not in json_log.getvalue()


# --- the settings -----------------------------------------------------------------------------


@pytest.fixture
def reload_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.undo()
    importlib.reload(env)


def test_operations_settings_defaults(reload_env: pytest.MonkeyPatch) -> None:
    for name in ("APCERT_METRICS_ALLOW", "APCERT_METRICS_TOKEN", "APCERT_LOG_FORMAT"):
        reload_env.delenv(name, raising=False)
    fresh = importlib.reload(env)
    assert (fresh.METRICS_ALLOW, fresh.METRICS_TOKEN, fresh.LOG_FORMAT, fresh.ACCESS_LOG) == (
        (),
        "",
        "text",
        True,
    )
    assert (fresh.WORKER_LATE_SECONDS, fresh.DISK_LOW_MIB) == (180, 1024)
    reload_env.setenv("APCERT_METRICS_ALLOW", " 127.0.0.1, ::1 ,10.0.0.0/8")
    reload_env.setenv("APCERT_LOG_FORMAT", "JSON")
    fresh = importlib.reload(env)
    assert [str(n) for n in fresh.METRICS_ALLOW] == ["127.0.0.1/32", "::1/128", "10.0.0.0/8"]
    assert fresh.LOG_FORMAT == "json"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("APCERT_METRICS_ALLOW", "127.0.0.1,localhost", "APCERT_METRICS_ALLOW: 'localhost' is not"),
        ("APCERT_METRICS_TOKEN", "short", "APCERT_METRICS_TOKEN must be at least 24"),
        ("APCERT_LOG_FORMAT", "xml", "APCERT_LOG_FORMAT must be text or json, not 'xml'"),
        ("APCERT_WORKER_LATE_SECONDS", "0", "APCERT_WORKER_LATE_SECONDS must be 1 or more"),
        ("APCERT_ACCESS_LOG", "maybe", "APCERT_ACCESS_LOG must be 1, true"),
    ],
)
def test_operations_settings_refuse_what_they_cannot_use(
    reload_env: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    reload_env.setenv(name, value)
    # (a reload makes the class anew: it is matched as the RuntimeError it is)
    with pytest.raises(RuntimeError, match=re.escape(message)):
        importlib.reload(env)
