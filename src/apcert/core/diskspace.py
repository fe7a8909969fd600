"""Free space on the disks apcert writes to, for ``/healthz`` and ``/metrics``."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings


def free_bytes(path: Path) -> int:
    """The bytes an unprivileged process may still write on the file system of ``path``, or
    of its nearest existing parent when it does not exist yet (a directory made at first
    use). One ``statvfs`` call: no file is read."""
    for candidate in (path, *path.parents):
        try:
            stats = os.statvfs(candidate)
        except (FileNotFoundError, NotADirectoryError):
            continue
        return stats.f_bavail * stats.f_frsize
    return 0


def watched_free_bytes() -> dict[str, int]:
    """Free bytes of the app's own directory (``var``: the SQLite database, the kept PDFs)
    and of the evidence files' (``evidence``), often the same disk."""
    return {"var": free_bytes(settings.VAR_DIR), "evidence": free_bytes(settings.EVIDENCE_DIR)}
