"""``apcert notify [--as-of DATE]``: send the notification e-mails due on a day."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apcert.notifications.services import notifications_dispatch


class Command(BaseCommand):
    help = (
        "Send the notification e-mails that are due (status changes, expiry and surveillance "
        "reminders, late findings, the workflow's in-app messages) and retry failed ones. Safe "
        "to run repeatedly and from several processes: nothing is sent twice, and nothing "
        "recorded before notifications started."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of",
            metavar="DATE",
            help="the day to act as of, YYYY-MM-DD (default: today)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        raw = options["as_of"]
        if raw:
            try:
                as_of = dt.date.fromisoformat(raw)
            except ValueError:
                raise CommandError(
                    f"--as-of {raw!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-03-31"
                ) from None
        else:
            as_of = timezone.localdate()
        report = notifications_dispatch(as_of=as_of)
        line = f"{report.sent} notification(s) sent as of {as_of.isoformat()}"
        if report.messages:
            line += f", {report.messages} of them for in-app messages"
        if report.retried:
            line += f", {report.retried} retried"
        if report.failed:
            line += f", {report.failed} failed (to be retried on the next run)"
        self.stdout.write(line)
        if not report.surveillance_checked:
            self.stderr.write(
                "surveillance reminders skipped: the audit programme is not available"
            )
