"""The demo loader's writer process ends with the process that started it: a load killed
outright leaves no writer behind holding its connection, waiting for jobs that never come."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.process_support import NEEDS_PROC, ended, start_script

PARENT = """
import os, sys, time, django
django.setup()
from apcert.demo.bulk import Writer
writer = Writer(parallel=True)
print(writer.process.pid, flush=True)
time.sleep(600)
"""


@pytest.mark.own_sqlite
@pytest.mark.skipif(NEEDS_PROC[0], reason=NEEDS_PROC[1])
def test_the_writer_ends_when_the_loading_process_is_killed(tmp_path: Path) -> None:
    parent = start_script(PARENT, tmp_path)
    try:
        assert parent.stdout is not None
        writer = int(parent.stdout.readline())
        assert not ended(writer)
        # When the loading process is killed outright (no cleanup of its own runs)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        # Then the writer stops within a few seconds
        deadline = time.monotonic() + 15
        while not ended(writer) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert ended(writer), f"writer {writer} still running after its parent was killed"
    finally:
        if parent.poll() is None:
            parent.kill()
