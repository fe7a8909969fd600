"""``apcert visits-rebuild``: plan the open visits of every live certificate again."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from apcert.core.db import gather_statistics
from apcert.core.errors import DomainError
from apcert.core.progress import run_with_progress
from apcert.cycle.schedule import live_certificate_count, visit_schedule_rebuild


class Command(BaseCommand):
    help = (
        "Write the stored visit schedule (the open surveillance and re-assessment visits the "
        "dashboards read) again from every live certificate's programme, in one transaction "
        "(an interrupted run leaves the old schedule whole). The services keep it in step on "
        "their own; this is for repairs, after `visits-check` reports drift, and after "
        "restoring a backup."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            done = run_with_progress(
                None if options["quiet"] else sys.stderr,
                total=live_certificate_count(),
                desc="visit schedule",
                run=visit_schedule_rebuild,
            )
        except DomainError as error:
            raise CommandError(f"visits-rebuild: {error}") from None
        except DatabaseError as error:
            raise CommandError(
                f"visits-rebuild: the schedule could not be written ({error}); is the database "
                "migrated? Run `apcert migrate` first."
            ) from None
        gather_statistics(vacuum=True)
        self.stdout.write(f"visits-rebuild: the visits of {done} live certificates planned")
