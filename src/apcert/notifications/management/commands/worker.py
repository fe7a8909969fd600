"""``apcert worker``: the app's own background worker.

It queues the daily sweep (once per date, whatever the number of restarts or workers) and,
at every check, the notification dispatch, keeps the published audit chain head in its
file, and runs the apps' upkeep (:mod:`apcert.core.upkeep`) in a thread of its own; and
it runs the django-tasks database worker that executes them and any other queued task. It
records a heartbeat in the database every 30 seconds
(:mod:`apcert.notifications.worker_state`), which ``/healthz`` and ``/metrics`` read. It lives
with the notifications, the highest of the domain apps, because it starts the jobs of both
them and the certification cycle below.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections, connection
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME
from django_tasks_db.management.commands.db_worker import Worker

from apcert.audit.published import audit_head_publish, head_file_path
from apcert.core.upkeep import run_upkeep
from apcert.cycle.tasks import sweep_schedule
from apcert.notifications.tasks import dispatch_notifications
from apcert.notifications.worker_state import BEAT_SECONDS, worker_heartbeat_record


class Command(BaseCommand):
    help = "Queue the daily sweep and run the background task worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check-every",
            type=float,
            default=300.0,
            help="seconds between checks for a new day to sweep (default: 300)",
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=1.0,
            help="seconds the task worker waits when the queue is empty (default: 1)",
        )

    def _publish_head(self) -> None:
        # The head kept outside the database follows the chain, so that a restore of an
        # older backup is seen as a rollback (apcert.audit.published).
        try:
            head, written = audit_head_publish()
        except Exception as exc:  # keep scheduling; the next check retries
            self.stderr.write(f"could not publish the audit chain head: {exc}")
            return
        if not written:
            self.stderr.write(
                f"the audit chain head {head} is behind or beside the one published in "
                f"{head_file_path()}: has the database been rolled back? Left as it is."
            )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()

        def scheduler() -> None:
            while not stop.is_set():
                try:
                    today = timezone.localdate()
                    if sweep_schedule(as_of=today):
                        self.stdout.write(f"queued the sweep of {today.isoformat()}")
                    # Idempotent: each check sends what became due since the last one
                    # (status changes within minutes, horizons once a day).
                    dispatch_notifications.enqueue(today.isoformat())
                except Exception as exc:  # keep scheduling; the next check retries
                    self.stderr.write(f"could not queue the sweep: {exc}")
                finally:
                    self._publish_head()  # whether or not the sweep could be queued
                    close_old_connections()
                stop.wait(options["check_every"])
            connection.close()

        worker_id = get_random_string(32)
        started_at = timezone.now()

        def heartbeat() -> None:
            while not stop.is_set():
                try:
                    worker_heartbeat_record(
                        worker_id=worker_id,
                        hostname=socket.gethostname()[:255],
                        pid=os.getpid(),
                        started_at=started_at,
                        now=timezone.now(),
                    )
                except Exception as exc:  # the database may be back at the next beat
                    self.stderr.write(f"could not record the heartbeat: {exc}")
                finally:
                    close_old_connections()
                stop.wait(BEAT_SECONDS)
            connection.close()

        def upkeep() -> None:
            # Apart from the scheduler: an index made without blocking writes waits for the
            # transactions under way to end, and the sweep must not wait with it.
            while not stop.is_set():
                try:
                    for name, exc in run_upkeep():
                        self.stderr.write(f"upkeep {name} failed: {exc}")
                finally:
                    close_old_connections()
                stop.wait(options["check_every"])
            connection.close()

        thread = threading.Thread(target=scheduler, name="apcert-sweep-scheduler", daemon=True)
        thread.start()
        threading.Thread(target=heartbeat, name="apcert-heartbeat", daemon=True).start()
        threading.Thread(target=upkeep, name="apcert-upkeep", daemon=True).start()
        worker = Worker(
            queue_names=[DEFAULT_TASK_QUEUE_NAME],
            interval=options["interval"],
            batch=False,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=True,
            max_tasks=None,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        try:
            worker.run()
        finally:
            stop.set()
