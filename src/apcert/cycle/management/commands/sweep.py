"""``apcert sweep [--as-of YYYY-MM-DD]``: apply the time-driven rules once (for cron), and
record the run (started, finished, what it did) as the worker's runs are recorded."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apcert.cycle.models import SweepRun
from apcert.cycle.sweep import sweep_run


def parse_date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(
            f"--as-of '{value}' is not a date; write it as YYYY-MM-DD, e.g. 2027-03-11."
        ) from None


class Command(BaseCommand):
    help = (
        "Expire, suspend for missed surveillance, withdraw after the maximum suspension, and "
        "flag late nonconformities, as of a date (today by default). Safe to repeat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--as-of", dest="as_of", help="the date to sweep for (YYYY-MM-DD)")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = parse_date(options["as_of"]) if options["as_of"] else timezone.localdate()
        report = sweep_run(as_of=as_of, source=SweepRun.Source.COMMAND)
        for line in report.lines():
            self.stdout.write(line)
