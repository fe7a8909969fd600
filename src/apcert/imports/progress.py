"""The progress of an import run by the worker, for the screen that polls it.

The commit writes in one transaction, which no other connection sees until it ends, so the
progress is not kept in the database: the worker writes it to a small file under
``VAR_DIR/imports/`` (replaced whole, at most twice a second), and the page reads it."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings


def progress_path(batch_id: int) -> Path:
    return Path(settings.VAR_DIR) / "imports" / f"{batch_id}.json"


class ProgressFile:
    """``progress(phase, done, total)`` written to the batch's file."""

    def __init__(self, batch_id: int, interval: float = 0.5) -> None:
        self.path = progress_path(batch_id)
        self.interval = interval
        self.last = 0.0
        self.phase = ""

    def __call__(self, phase: str, done: int, total: int) -> None:
        now = time.monotonic()
        if phase == self.phase and now - self.last < self.interval and done != total:
            return
        self.phase, self.last = phase, now
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"phase": phase, "done": done, "total": total}))
        os.replace(temporary, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


def progress_read(batch_id: int) -> dict[str, Any] | None:
    """The last progress written for the batch, or None."""
    try:
        return dict(json.loads(progress_path(batch_id).read_text()))
    except (OSError, ValueError):
        return None
