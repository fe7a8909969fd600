"""``apcert evidence-sweep``: remove what a crash left in the evidence directory."""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.assessments.evidence.storage import evidence_root, leftovers
from apcert.assessments.models import EvidenceFile


class Command(BaseCommand):
    help = (
        "List, and with --delete remove, the files under APCERT_EVIDENCE_DIR that nothing "
        "needs: uploads a process died while receiving (tmp/*.part) and stored files that no "
        "evidence record names (a crash between storing a file and committing its record "
        "leaves one). Only files older than --hours are considered, so that uploads and "
        "transactions in progress are never touched. Evidence that a record names is never "
        "removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--hours",
            type=float,
            default=24.0,
            help="only files last written more than this many hours ago (default 24)",
        )
        parser.add_argument(
            "--delete", action="store_true", help="remove them (without it: only list them)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["hours"]
        if hours < 1:
            raise CommandError("evidence-sweep: --hours must be at least 1 (uploads in progress)")
        try:
            root = evidence_root()
        except ImproperlyConfigured as exc:
            raise CommandError(f"evidence-sweep: {exc}") from None
        known = set(EvidenceFile.objects.values_list("storage_key", flat=True))
        found = leftovers(root=root, known_keys=known, older_than=time.time() - hours * 3600)
        for item in found:
            action = "removed" if options["delete"] else "would remove"
            if options["delete"]:
                item.path.unlink(missing_ok=True)
            self.stdout.write(f"{action}: {item.kind} {item.path} ({item.size} bytes)")
        total = sum(item.size for item in found)
        verb = "removed" if options["delete"] else "found (run with --delete to remove them)"
        self.stdout.write(f"evidence-sweep: {len(found)} leftover file(s), {total} bytes, {verb}")
