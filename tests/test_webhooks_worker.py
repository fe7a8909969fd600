"""Through the real worker (``apcert worker``, as deployed): a committed change's webhook is
sent by the worker, not the request; a worker killed (SIGKILL) while it sends loses nothing,
and the next worker sends the event, accepted once. PostgreSQL: the worker processes share
the test database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from apcert.webhooks.choices import DeliveryState
from apcert.webhooks.models import WebhookDelivery
from tests.factories import World
from tests.test_webhooks import subscribe, suspend
from tests.webhooks_support import Receiver, receiver

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="worker processes share the test database (PostgreSQL)",
)


def _database_url() -> str:
    s = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    host = f"{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}"
    return f"postgres://{s['USER']}{password}@{host}/{s['NAME']}"


def _worker(var: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "APCERT_VAR_DIR": str(var),
        "APCERT_WEBHOOK_LEASE_SECONDS": "2",
        "APCERT_WEBHOOK_TIMEOUT_SECONDS": "5",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "apcert", "worker", "--interval", "0.2", "--check-every", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(worker: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if worker.poll() is None:
        worker.send_signal(sig)
    try:
        worker.wait(20)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


def _wait_accepted(r: Receiver, n: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and len(r.accepted()) < n:
        time.sleep(0.1)


def test_the_worker_sends_and_a_worker_killed_mid_send_loses_nothing(
    live_world: World, tmp_path: Path
) -> None:
    world = live_world
    first = world.granted()
    second = world.granted()
    with receiver(script=["hold"]) as r:
        new = subscribe(world, url=r.url)
        suspend(world, first)
        worker = _worker(tmp_path)
        try:
            assert r.holding.wait(90), "the worker sends the first event"
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        finally:
            _stop(worker, signal.SIGKILL)
        r.release.set()
        [row] = WebhookDelivery.objects.filter(subscription=new.subscription)
        assert WebhookDelivery.objects.get(pk=row.pk).state == DeliveryState.PENDING
        suspend(world, second)  # meanwhile, another event
        worker = _worker(tmp_path)
        try:
            _wait_accepted(r, 2)
            # the worker's daily sweep may record more (a suspension past its maximum
            # ends in withdrawal): let it send those too
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and (
                WebhookDelivery.objects.filter(state=DeliveryState.PENDING).exists()
            ):
                time.sleep(0.2)
        finally:
            _stop(worker)
        accepted = r.accepted()
    outbox = list(WebhookDelivery.objects.filter(subscription=new.subscription).order_by("id"))
    assert len(outbox) >= 2
    assert all(x.state == DeliveryState.DELIVERED for x in outbox)
    # every event accepted exactly once, in order per certificate
    assert sorted(x.message_id for x in accepted) == sorted(x.message_id for x in outbox)
    for cert in (first, second):
        subject = f"certificate:{cert.number}"
        order = [x.message_id for x in outbox if x.subject == subject]
        assert [x.message_id for x in accepted if x.message_id in order] == order
    # the first event was sent twice (the killed worker's try had no answer), accepted once
    assert [x.message_id for x in r.received].count(row.message_id) == 2
