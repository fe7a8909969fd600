"""A worker killed (SIGKILL) while it sends a webhook loses nothing: its claim runs out and
the delivery is sent again, and accepted once. Needs a database that a second process
shares (PostgreSQL); on SQLite the same path is taken in process by
test_webhooks.test_a_delivery_claimed_by_a_worker_that_died_is_sent_after_its_lease."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone

from apcert.webhooks.choices import DeliveryState
from apcert.webhooks.delivery import webhooks_deliver_due
from apcert.webhooks.models import WebhookAttempt, WebhookDelivery
from tests.factories import World
from tests.test_webhooks import subscribe, suspend
from tests.webhooks_support import receiver

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="a second process shares the test database (PostgreSQL)",
)

WORKER = """
import os, sys
os.environ["DJANGO_SETTINGS_MODULE"] = "apcert.settings"
import django
django.setup()
from django.db import connections
connections["default"].settings_dict["NAME"] = sys.argv[1]
from apcert.webhooks.delivery import webhooks_deliver_due
webhooks_deliver_due(budget_seconds=60)
"""


def test_a_worker_killed_mid_delivery_loses_nothing(live_world: World, settings: Any) -> None:
    world = live_world
    cert = world.granted()
    with receiver(script=["hold"]) as r:
        new = subscribe(world, url=r.url)
        suspend(world, cert)
        [row] = WebhookDelivery.objects.filter(subscription=new.subscription)
        worker = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
            [sys.executable, "-c", WORKER, connection.settings_dict["NAME"]],
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            assert r.holding.wait(60), "the worker sends the delivery"
        finally:
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(10)
        assert worker.returncode == -signal.SIGKILL
        held = WebhookDelivery.objects.get(pk=row.pk)
        assert held.state == DeliveryState.PENDING
        assert held.claimed_until is not None  # claimed by the dead worker
        assert not WebhookAttempt.objects.filter(delivery=row).exists()
        # while the claim holds, nobody else sends it
        assert webhooks_deliver_due(budget_seconds=5).delivered == 0
        later = timezone.now() + dt.timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS + 1)
        with time_machine.travel(later, tick=True):
            assert webhooks_deliver_due(budget_seconds=5).delivered == 1
            assert webhooks_deliver_due(budget_seconds=5).delivered == 0
        accepted = r.accepted()
    assert [x.message_id for x in accepted] == [row.message_id]
    assert [x.message_id for x in r.received] == [row.message_id, row.message_id]
    assert WebhookDelivery.objects.get(pk=row.pk).state == DeliveryState.DELIVERED
