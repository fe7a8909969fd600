"""``apcert export-openapi [--output PATH] [--check]``: write the public API's OpenAPI file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.api.openapi import COMMITTED_PATH, public_openapi_text


class Command(BaseCommand):
    help = (
        "Write the OpenAPI 3.1 document of the public register API (/api/public/) to "
        "docs/openapi-public.json, the copy committed with the code; --check only compares."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, default=COMMITTED_PATH)
        parser.add_argument(
            "--check", action="store_true", help="Fail if the file differs; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["output"]
        text = public_openapi_text()
        if options["check"]:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                raise CommandError(f"{path} is out of date: run `apcert export-openapi`.")
            self.stdout.write(f"{path} is up to date.")
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        self.stdout.write(f"Wrote {path}.")
