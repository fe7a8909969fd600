"""The end-of-run check finds the processes a test run left behind, and stops them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from apcert.testing import leftovers

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux's /proc")


def _detached_sleeper(marker: str) -> subprocess.Popen[bytes]:
    name, value = marker.split("=", 1)
    # A session of its own, as a daemonised server would have: no longer in our group.
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"],
        env={**os.environ, name: value},
        start_new_session=True,
    )


def test_a_process_left_running_is_found_named_and_stopped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    marker = f"APCERT_TEST_RUN_PROBE={uuid.uuid4().hex}"
    sleeper = _detached_sleeper(marker)
    try:
        found = leftovers.find(marker)
        assert [leftover.pid for leftover in found] == [sleeper.pid]
        assert "time.sleep(60)" in found[0].command

        assert leftovers.main(["leftovers", marker]) == 1
        assert sleeper.wait(timeout=10) is not None
        out = capsys.readouterr().out
        assert f"{sleeper.pid}:" in out and "still running" in out
        assert leftovers.find(marker) == []
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_process_with_another_value_is_not_a_leftover_of_this_run() -> None:
    other = _detached_sleeper(f"APCERT_TEST_RUN_PROBE={uuid.uuid4().hex}")
    try:
        assert leftovers.find(f"APCERT_TEST_RUN_PROBE={uuid.uuid4().hex}") == []
        assert leftovers.main(["leftovers", f"APCERT_TEST_RUN_PROBE={uuid.uuid4().hex}"]) == 0
    finally:
        other.kill()
        other.wait()


def test_a_process_that_ignores_sigterm_is_killed_after_the_grace_period() -> None:
    marker = f"APCERT_TEST_RUN_PROBE={uuid.uuid4().hex}"
    name, value = marker.split("=", 1)
    stubborn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        env={**os.environ, name: value},
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert stubborn.stdout is not None and stubborn.stdout.readline() == b"ready\n"
        started = time.monotonic()
        leftovers.stop(leftovers.find(marker), grace=0.5)
        assert stubborn.wait(timeout=10) == -9
        assert time.monotonic() - started < 5
    finally:
        stubborn.kill()
        stubborn.wait()


def test_a_malformed_call_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert leftovers.main(["leftovers"]) == 2
    assert leftovers.main(["leftovers", "no-equals-sign"]) == 2
    assert "usage" in capsys.readouterr().err
