"""A SQLite database backed up (while written), restored whole, and an older backup refused."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process_support import start_script

pytestmark = [pytest.mark.own_sqlite, pytest.mark.slow]

WRITER = """
import django
django.setup()
from django.db import transaction
from apcert.audit.services import audit_record
print("writing", flush=True)
for n in range(400):
    with transaction.atomic():
        audit_record(actor=None, action="test.write", object_type="t", object_id=n)
"""


def _apcert(var: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "APCERT_"))}
    env["APCERT_VAR_DIR"] = str(var)
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "apcert", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _dump(var: Path) -> list[str]:
    with sqlite3.connect(var / "apcert.sqlite3") as db:
        return list(db.iterdump())


def _head_seq(backup_output: str) -> int:
    return int(re.search(r"audit chain head #(\d+)", backup_output).group(1))  # type: ignore[union-attr]


def test_sqlite_round_trip_consistent_under_writes_and_rollback_refused(tmp_path: Path) -> None:
    live, other = tmp_path / "live", tmp_path / "other"
    assert _apcert(live, "migrate", "--noinput", "-v0").returncode == 0
    assert _apcert(live, "load-reference").returncode == 0

    # a backup restored into an empty database gives the same database, and the checks pass
    first = tmp_path / "first.apcert-backup"
    taken = _apcert(live, "backup", str(first), "--quiet")
    assert taken.returncode == 0, taken.stderr
    assert "signing keys" in taken.stdout and "NOT in it" in taken.stdout
    restored = _apcert(other, "restore", str(first), "--quiet")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "restore: every check passed" in restored.stdout
    assert _dump(other) == _dump(live)

    # a backup taken while the app writes holds one moment: its head is its chain's end
    writer = start_script(WRITER, live)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
    second = tmp_path / "second.apcert-backup"
    taken_later = _apcert(live, "backup", str(second), "--quiet")
    assert writer.wait(timeout=120) == 0
    assert taken_later.returncode == 0, taken_later.stderr
    forward = _apcert(other, "restore", str(second), "--force", "--quiet")
    assert forward.returncode == 0, forward.stdout + forward.stderr
    assert "check audit verify: ok" in forward.stdout

    # the first backup again: older than the heads seen, so a rollback, refused
    lost = _head_seq(taken_later.stdout) - _head_seq(taken.stdout)
    assert lost > 0
    published = json.loads((live / "audit-head.json").read_text())
    before = _dump(other)
    refused = _apcert(
        other, "restore", str(first), "--force", "--quiet",
        "--published-head", str(live / "audit-head.json"),
    )  # fmt: skip
    assert refused.returncode == 3, refused.stderr
    assert "this backup is older than the published head" in refused.stderr
    assert f"knowing {lost} events are lost" in refused.stderr
    assert _dump(other) == before

    # accepted with the flag: restored, and the head kept beside the database follows it
    accepted = _apcert(other, "restore", str(first), "--force", "--accept-rollback", "--quiet")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "ROLLBACK ACCEPTED" in accepted.stderr
    assert json.loads((other / "audit-head.json").read_text())["seq"] == _head_seq(taken.stdout)
    assert published["seq"] == _head_seq(taken_later.stdout)
