"""``apcert audit verify``: walk the hash chain and name the first event that fails."""

from __future__ import annotations

from concurrent.futures.process import BrokenProcessPool
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from apcert.audit.models import AuditEvent
from apcert.audit.selectors import audit_chain_verify


class Command(BaseCommand):
    help = "Audit trail tools. 'verify' recomputes the hash chain and reports the first bad event."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="verify the hash chain of the audit trail")
        verify.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] != "verify":  # pragma: no cover - argparse enforces this
            raise CommandError("unknown subcommand")
        total = AuditEvent.objects.count()
        show = not options["quiet"] and total > 10_000
        with tqdm(total=total, unit="event", disable=not show, file=self.stderr) as bar:

            def advance(n: int) -> None:
                bar.update(n)

            try:
                report = audit_chain_verify(progress=advance)
            except BrokenProcessPool:
                raise CommandError(
                    "audit verify: a process checking the hashes stopped (out of memory?)"
                ) from None
        if not report.ok:
            raise CommandError(
                f"audit chain BROKEN at event #{report.first_bad_seq}: {report.problem} "
                f"({report.checked} events verified before it)"
            )
        self.stdout.write(f"audit chain OK: {report.checked} events verified")
