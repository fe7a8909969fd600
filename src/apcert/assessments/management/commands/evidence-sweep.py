"""``apcert evidence-sweep``: remove what is left over in the evidence directory."""

from __future__ import annotations

import importlib
import time
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.assessments.evidence.storage import evidence_root, keys_stored_whole, leftovers
from apcert.assessments.models import EvidenceChunk, EvidenceFile

#: The migration that copied the files kept under EVIDENCE_DIR into the database: --move
#: copies one restored since in exactly the same way.
_MOVE = "apcert.assessments.migrations.0009_evidence_into_database"


class Command(BaseCommand):
    help = (
        "List, and with --delete remove, the files under APCERT_EVIDENCE_DIR that nothing "
        "needs: uploads a process died while receiving (tmp/*.part); files kept there before "
        "evidence moved to the database, once their content is whole in the database; and such "
        "files that no evidence record names. Only files older than --hours are considered, "
        "so that uploads in progress are never touched. A file kept there whose record's "
        "content is not whole in the database is never removed: it is named, and --move "
        "copies it in, when its record has no content there and it is what its record says "
        "(size and SHA-256)."
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
        parser.add_argument(
            "--move",
            action="store_true",
            help="first copy into the database the files kept under the directory whose "
            "record has no content there yet",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        hours = options["hours"]
        if hours < 1:
            raise CommandError("evidence-sweep: --hours must be at least 1 (uploads in progress)")
        try:
            root = evidence_root()
        except ImproperlyConfigured as exc:
            raise CommandError(f"evidence-sweep: {exc}") from None
        if options["move"]:
            copied, left_out = importlib.import_module(_MOVE).move_files(
                EvidenceFile,
                EvidenceChunk,
                root=root,
                using="default",
                warn=lambda message: self.stdout.write(f"not moved: {message}"),
            )
            self.stdout.write(
                f"evidence-sweep: {copied} file(s) copied into the database, {left_out} left out"
            )
        known = set(EvidenceFile.objects.values_list("storage_key", flat=True))
        moved = keys_stored_whole()
        found, not_moved = leftovers(
            root=root, known_keys=known, moved_keys=moved, older_than=time.time() - hours * 3600
        )
        for item in found:
            action = "removed" if options["delete"] else "would remove"
            if options["delete"]:
                item.path.unlink(missing_ok=True)
            self.stdout.write(f"{action}: {item.kind} {item.path} ({item.size} bytes)")
        for path in not_moved:
            self.stdout.write(
                f"kept: {path} may be an evidence record's only copy (its content is not "
                "whole in the database); --move copies it in if the record has no content there"
            )
        total = sum(item.size for item in found)
        verb = "removed" if options["delete"] else "found (run with --delete to remove them)"
        self.stdout.write(f"evidence-sweep: {len(found)} leftover file(s), {total} bytes, {verb}")
