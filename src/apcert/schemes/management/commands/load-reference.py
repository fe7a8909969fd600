"""``apcert load-reference``: load the scheme reference data files (idempotent)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.core.errors import DomainError
from apcert.schemes.services import reference_load


class Command(BaseCommand):
    help = (
        "Load schemes, programmes, process categories, standards and rule parameters from the "
        "data files shipped with apcert (or --data-dir). Loading twice changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data-dir", type=Path, help="a folder with the four TOML files")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = reference_load(
                actor=None,
                system=True,
                data_dir=options["data_dir"],
                log=lambda line: (
                    self.stdout.write(f"  {line}") if options["verbosity"] > 1 else None
                ),
            )
        except DomainError as exc:
            raise CommandError(exc.message) from None
        if not report.changed:
            total = sum(report.unchanged.values())
            self.stdout.write(f"reference data up to date ({total} entries unchanged)")
            return
        parts = [f"{n} {k} created" for k, n in sorted(report.created.items())]
        parts += [f"{n} {k} updated" for k, n in sorted(report.updated.items())]
        self.stdout.write("reference data loaded: " + ", ".join(parts))
