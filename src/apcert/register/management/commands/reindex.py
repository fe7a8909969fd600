"""``apcert reindex``: build the public register's search index again, or check it."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate
from apcert.core.db import gather_statistics
from apcert.core.progress import run_with_progress
from apcert.register.index import index_check, index_rebuild


class Command(BaseCommand):
    help = (
        "Build the search index of the public register again from the certificates, in one "
        "transaction (an interrupted run leaves the old index whole). With --check, compare "
        "the index with a fresh build and list the differences instead."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check", action="store_true", help="only compare; exit 1 when out of step"
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"]:
            problems = index_check()
            for problem in problems[:50]:
                self.stdout.write(problem)
            if problems:
                more = f" (first 50 of {len(problems)} shown)" if len(problems) > 50 else ""
                raise CommandError(f"reindex: the search index is out of step{more}")
            self.stdout.write("reindex: the search index is in step with the certificates")
            return
        done = run_with_progress(
            None if options["quiet"] else sys.stderr,
            total=Certificate.objects.exclude(status=CertificateStatus.DRAFT).count(),
            desc="search index",
            run=index_rebuild,
        )
        gather_statistics(vacuum=True)
        self.stdout.write(f"reindex: {done} certificates indexed")
