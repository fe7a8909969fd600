"""The demo loader's writer process ends with the process that started it: a load killed
outright leaves no writer behind holding its connection, waiting for jobs that never come."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

PARENT = """
import os, sys, time, django
django.setup()
from apcert.demo.bulk import Writer
writer = Writer(parallel=True)
print(writer.process.pid, flush=True)
time.sleep(600)
"""


def _ended(pid: int) -> bool:
    """Whether ``pid`` is gone or a zombie (nobody may reap an orphan here)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in {"Z", "X"}


@pytest.mark.own_sqlite
@pytest.mark.skipif(not Path("/proc").is_dir() or sys.platform != "linux", reason="Linux /proc")
def test_the_writer_ends_when_the_loading_process_is_killed(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "apcert.settings",
        "APCERT_VAR_DIR": str(tmp_path),
    }
    env.pop("DATABASE_URL", None)
    parent = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", PARENT], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        writer = int(parent.stdout.readline())
        assert not _ended(writer)
        # When the loading process is killed outright (no cleanup of its own runs)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        # Then the writer stops within a few seconds
        deadline = time.monotonic() + 15
        while not _ended(writer) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ended(writer), f"writer {writer} still running after its parent was killed"
    finally:
        if parent.poll() is None:
            parent.kill()
