"""Helpers for the tests that start apcert in a process of its own on a SQLite file, kill it,
and check what it left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Skips a test where processes cannot be inspected through /proc.
NEEDS_PROC = (not Path("/proc").is_dir() or sys.platform != "linux", "Linux /proc")


def ended(pid: int) -> bool:
    """Whether ``pid`` is gone or a zombie (nobody may reap an orphan here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


def start_script(script: str, var_dir: Path) -> subprocess.Popen[str]:
    """Run ``script`` in this interpreter with Django set up on a SQLite database under
    ``var_dir``, whatever database the test run uses; its standard output piped."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "apcert.settings",
        "APCERT_VAR_DIR": str(var_dir),
    }
    env.pop("DATABASE_URL", None)
    return subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
