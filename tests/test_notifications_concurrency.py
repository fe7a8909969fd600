"""Dispatchers running at the same moment never send the same notification twice."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from typing import Any

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.db import connection, connections

from apcert.notifications.models import Message, NotificationSent, NotificationsStart
from apcert.notifications.services import (
    DispatchReport,
    notification_preferences_set,
    notifications_dispatch,
)
from tests.factories import World

pytestmark = pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="needs concurrent connections with row locks (PostgreSQL)",
)

DISPATCHERS = 4


class SlowRecordingBackend(BaseEmailBackend):
    """Records every message it is given; slow, so that dispatchers overlap."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lock = threading.Lock()
        self.delivered: list[tuple[str, str]] = []

    def send_messages(self, email_messages: Any) -> int:
        time.sleep(0.02)
        with self.lock:
            for m in email_messages:
                self.delivered.append((m.subject, m.to[0]))
        return len(email_messages)


def _run_concurrently(as_of: Any, backend: BaseEmailBackend) -> list[DispatchReport]:
    barrier = threading.Barrier(DISPATCHERS)
    reports: list[DispatchReport] = []
    errors: list[BaseException] = []

    def dispatch() -> None:
        try:
            barrier.wait(timeout=10)
            reports.append(notifications_dispatch(as_of=as_of, connection=backend))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=dispatch) for _ in range(DISPATCHERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    return reports


def test_concurrent_dispatchers_send_each_notification_once(
    live_world: World, settings: Any
) -> None:
    world = live_world
    # The grants lie months before the finding's due date: widen the window of what is still
    # news so that one dispatch day has all four events due.
    settings.NOTIFICATION_RECENT_DAYS = 365
    world.org_user.email = "quality@plating.example"
    world.org_user.save(update_fields=["email"])
    world.team.manager.email = "manager@cb.example"
    world.team.manager.save(update_fields=["email"])
    # The certificate notices and reminders only: the steps' own mails are tested elsewhere.
    for user in (world.org_user, world.team.manager):
        notification_preferences_set(actor=user, mail={"applications": False, "assessments": False})
    # Notifications were on before this world's history began (its steps are taken on the
    # days they are dated, with the clock moved there).
    NotificationsStart.objects.update_or_create(
        id=1,
        defaults={
            "started_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            "started_on": dt.date(2020, 1, 1),
            "finding_floor": 0,
        },
    )
    certs = [world.granted() for _ in range(3)]
    app = world.accepted_application()
    finding = world.assessment(app, findings=("major",)).findings.get()
    as_of = max(finding.due_date + dt.timedelta(days=1), *(c.initial_decision_on for c in certs))
    backend = SlowRecordingBackend()

    # When four dispatchers run at once
    reports = _run_concurrently(as_of, backend)

    # Then every (event, person) went exactly once: 3 grants + 1 late finding, 2 people each
    rows = NotificationSent.objects.all()
    assert rows.count() == 8
    assert set(rows.values_list("status", flat=True)) == {"sent"}
    assert len(backend.delivered) == 8
    assert max(Counter(backend.delivered).values()) == 1
    assert sum(r.sent for r in reports) == 8

    # And when every row has failed, four retrying dispatchers resend each row once
    rows.update(status="failed", last_error="relay down")
    backend2 = SlowRecordingBackend()
    reports = _run_concurrently(as_of, backend2)
    assert len(backend2.delivered) == 8
    assert max(Counter(backend2.delivered).values()) == 1
    assert sum(r.retried for r in reports) == 8
    assert set(NotificationSent.objects.values_list("status", flat=True)) == {"sent"}
    assert connection.vendor == "postgresql"


def test_concurrent_dispatchers_mail_each_workflow_message_once(live_world: World) -> None:
    world = live_world
    for user in (world.org_user, world.team.manager, world.team.lead, world.team.assessor):
        user.email = f"{user.username}@example.test"
        user.save(update_fields=["email"])
    # Three applications taken to an in-progress assessment with a finding: submitted (the
    # manager), accepted, planned (the team and the holder), a finding (the holder)
    for _ in range(3):
        app = world.accepted_application()
        a = world.assessment(app, findings=("major",), report=False)
    expected = sorted(
        (m.subject, m.user.email) for m in Message.objects.select_related("user").filter(mail="due")
    )
    assert len(expected) == 3 * (1 + 1 + 3 + 1)
    backend = SlowRecordingBackend()

    # On the day the findings were raised (they are news then)
    reports = _run_concurrently(a.start_date, backend)

    assert sorted(backend.delivered) == expected
    assert sum(r.messages for r in reports) == len(expected)
    assert set(Message.objects.values_list("mail", flat=True)) == {"outbox"}
    assert NotificationSent.objects.filter(kind="message", status="sent").count() == len(expected)
