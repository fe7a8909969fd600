"""``apcert serve``: serve apcert over WSGI with granian (not Django's runserver)."""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve apcert with the granian WSGI server."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)
        parser.add_argument("--threads", type=int, default=4, help="blocking threads a worker")

    def handle(self, *args: Any, **options: Any) -> None:
        granian = shutil.which("granian", path=os.path.dirname(sys.executable)) or shutil.which(
            "granian"
        )
        if granian is None:
            self.stderr.write("granian is not installed in this environment")
            sys.exit(1)
        argv = [
            granian,
            "--interface",
            "wsgi",
            "--host",
            options["host"],
            "--port",
            str(options["port"]),
            "--workers",
            str(options["workers"]),
            "--blocking-threads",
            str(options["threads"]),
            "--static-path-route",
            "/" + settings.STATIC_URL.strip("/"),
            "--static-path-mount",
            str(settings.STATIC_ROOT),
            "apcert.wsgi:application",
        ]
        self.stdout.write(
            f"apcert is served on http://{options['host']}:{options['port']}/ (Ctrl+C stops it)"
        )
        self.stdout.flush()
        os.execv(granian, argv)  # noqa: S606 - replaces this process with the server
