"""``apcert export-openapi [--api NAME] [--output PATH] [--check]``: write the APIs' OpenAPI
files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.api.openapi import COMMITTED_PATHS, openapi_text


class Command(BaseCommand):
    help = (
        "Write the OpenAPI 3.1 documents of the public register API (/api/public/) and of "
        "the API for integrators (/api/v1/) to docs/openapi-public.json and "
        "docs/openapi-integrations.json, the copies committed with the code; --check only "
        "compares."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--api",
            choices=[*COMMITTED_PATHS, "all"],
            default="all",
            help="which document (default: all)",
        )
        parser.add_argument(
            "--output", type=Path, help="where to write (with one --api only; default: docs/)"
        )
        parser.add_argument(
            "--check", action="store_true", help="Fail if a file differs; write nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names = list(COMMITTED_PATHS) if options["api"] == "all" else [options["api"]]
        if options["output"] is not None and len(names) != 1:
            raise CommandError("--output needs one --api (public or integrations).")
        stale = []
        for name in names:
            path: Path = options["output"] or COMMITTED_PATHS[name]
            text = openapi_text(name)
            if options["check"]:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    stale.append(str(path))
                else:
                    self.stdout.write(f"{path} is up to date.")
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote {path}.")
        if stale:
            raise CommandError(f"{', '.join(stale)} out of date: run `apcert export-openapi`.")
