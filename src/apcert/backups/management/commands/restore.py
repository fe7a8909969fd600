"""``apcert restore FILE``: restore a backup, refuse a rollback, prove the result."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apcert.backups.engines import database_kind
from apcert.backups.errors import CHECKS_FAILED_EXIT, BackupRefused
from apcert.backups.progress import copy_progress
from apcert.backups.services import backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup written by `apcert backup` into the database apcert is set up on, "
        "then run `audit verify`, `reindex --check` and `visits-check`. Refuses a damaged "
        "file, a non-empty database (without --force) and a backup older than the "
        "published audit chain head (a rollback; without --accept-rollback). Exit codes: "
        f"1 refused, 3 rollback refused, {CHECKS_FAILED_EXIT} restored but a check failed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the backup file")
        parser.add_argument(
            "--force", action="store_true", help="write over a database that holds records"
        )
        parser.add_argument(
            "--accept-rollback",
            action="store_true",
            help="restore a backup older than the published head, losing the events since",
        )
        parser.add_argument(
            "--published-head",
            metavar="URL_OR_FILE",
            help="also compare with this head: a register's /register/audit-head.json or a file",
        )
        parser.add_argument(
            "--restore-keys",
            action="store_true",
            help="write the backup's signing keys into APCERT_KEY_DIR (existing files are kept)",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        out = None if options["quiet"] else sys.stderr
        unit = "table" if database_kind() == "postgresql" else "page"
        try:
            with copy_progress(out, desc="restore", unit=unit) as progress:
                result = backup_restore(
                    source=Path(options["file"]),
                    force=options["force"],
                    accept_rollback=options["accept_rollback"],
                    published_head=options["published_head"],
                    restore_keys=options["restore_keys"],
                    progress=progress,
                    say=lambda line: self.stderr.write(f"restore: {line}"),
                )
        except BackupRefused as error:
            raise CommandError(f"restore: {error}", returncode=error.exit_code) from None
        manifest = result.manifest
        self.stdout.write(
            f"restore: restored the {manifest.database} backup taken at {manifest.taken_at} "
            f"(apcert {manifest.apcert_version}), audit chain head #{manifest.head_seq}"
        )
        if result.keys_restored:
            self.stdout.write(f"restore: {result.keys_restored} signing key file(s) restored")
        for check in result.checks:
            self.stdout.write(f"check {check.name}: {'ok' if check.ok else 'FAILED'}")
            for line in check.said.splitlines()[:20]:
                self.stdout.write(f"    {line}")
        if not result.ok:
            failed = ", ".join(c.name for c in result.checks if not c.ok)
            raise CommandError(
                f"restore: the database was restored but {failed} failed (see above)",
                returncode=CHECKS_FAILED_EXIT,
            )
        self.stdout.write("restore: every check passed")
