"""``apcert backup``: one file holding the database, checked and named when whole."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apcert.audit.published import head_file_path
from apcert.backups.engines import database_kind
from apcert.backups.errors import BackupRefused
from apcert.backups.progress import copy_progress
from apcert.backups.services import backup_take


@contextmanager
def _sigterm_stops() -> Iterator[None]:
    """A SIGTERM stops the backup as Ctrl-C does, so that it removes its partial file; one
    killed outright leaves it under a temporary name, never under the final one."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Command(BaseCommand):
    help = (
        "Write a backup of the database to one file: a tar archive with a manifest (apcert "
        "version, database kind, time, audit chain head, checksums) and the database "
        "(SQLite's online backup, or pg_dump's custom format). Signing keys only with "
        "--include-keys. Written under a temporary name, renamed when whole."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "file",
            nargs="?",
            help="where to write it (default: apcert-<database>-<UTC time>.apcert-backup here)",
        )
        parser.add_argument(
            "--include-keys",
            action="store_true",
            help="also put the private signing keys (APCERT_KEY_DIR) in the backup, unencrypted",
        )
        parser.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        kind = database_kind()
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        destination = Path(options["file"] or f"apcert-{kind}-{stamp}.apcert-backup").resolve()
        out = None if options["quiet"] else sys.stderr
        unit = "table" if kind == "postgresql" else "page"
        try:
            with _sigterm_stops(), copy_progress(out, desc="backup", unit=unit) as progress:
                result = backup_take(
                    destination=destination,
                    include_keys=options["include_keys"],
                    progress=progress,
                )
        except BackupRefused as error:
            raise CommandError(f"backup: {error}", returncode=error.exit_code) from None
        except OSError as error:
            raise CommandError(f"backup: {destination} could not be written ({error})") from None
        manifest = result.manifest
        size = result.path.stat().st_size
        self.stdout.write(
            f"backup: wrote {result.path} ({size} bytes): {manifest.database} database, "
            f"audit chain head #{manifest.head_seq} {manifest.head_hash}, taken at "
            f"{manifest.taken_at}"
        )
        keys = manifest.key_members
        if options["include_keys"]:
            self.stderr.write(
                f"WARNING: the backup holds {len(keys)} private signing key file(s) from "
                f"{settings.KEY_DIR}, unencrypted: anyone who reads it can sign as your CBs. "
                "Keep it encrypted and as secret as the keys themselves."
            )
        else:
            self.stdout.write(
                f"backup: the signing keys ({settings.KEY_DIR}) are NOT in it: back them up "
                "apart (or pass --include-keys)"
            )
        if result.head_file_problem is None:
            self.stdout.write(f"backup: audit chain head kept in {head_file_path()}")
        else:
            self.stderr.write(f"WARNING: {result.head_file_problem}")
