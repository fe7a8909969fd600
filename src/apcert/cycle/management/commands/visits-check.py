"""``apcert visits-check``: compare the stored visit schedule with a fresh plan."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from apcert.core.errors import DomainError
from apcert.cycle.schedule import visit_schedule_check

SHOWN = 50


class Command(BaseCommand):
    help = (
        "Plan every live certificate's open visits afresh and compare them with the stored "
        "schedule the dashboards read; list each difference and exit 1 when there is one "
        "(`apcert visits-rebuild` repairs it). Writes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--all", action="store_true", help=f"list every difference, not the first {SHOWN}"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            problems = visit_schedule_check()
        except DomainError as error:
            raise CommandError(f"visits-check: {error}") from None
        except DatabaseError as error:
            raise CommandError(
                f"visits-check: the schedule could not be read ({error}); is the database "
                "migrated? Run `apcert migrate` first."
            ) from None
        shown = problems if options["all"] else problems[:SHOWN]
        for problem in shown:
            self.stdout.write(problem)
        if problems:
            cut = len(shown) < len(problems)
            more = f" (first {SHOWN} of {len(problems)} shown)" if cut else ""
            raise CommandError(
                f"visits-check: the visit schedule is out of step{more}; run "
                "`apcert visits-rebuild` to repair it"
            )
        self.stdout.write("visits-check: the visit schedule is in step with the programmes")
