"""``apcert import-template [--format csv|xlsx] -o FILE``: the import file's template."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from apcert.imports.reader import FORMATS
from apcert.imports.template import template


class Command(BaseCommand):
    help = (
        "Write the template of an import file: every column's header and one example row "
        "(as XLSX, a second sheet documents the columns). See docs/import.md."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=FORMATS, default="csv")
        parser.add_argument("-o", "--output", required=True, metavar="FILE")

    def handle(self, *args: Any, **options: Any) -> None:
        Path(options["output"]).write_bytes(template(options["format"]))
        self.stdout.write(f"import-template: {options['output']} written")
