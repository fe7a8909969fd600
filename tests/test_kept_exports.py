"""Whole-register exports kept on disk, built by a process of their own at a lower CPU
priority, sent again until the register, the day or the release changes.

The builder is a real process: it reads the test database through a connection of its own,
so the tests commit their data (``live_db``). On PostgreSQL it is told the test
database's URL; on SQLite (whose test database lives in this process's memory) it is
given a copy of the database in a file, made before each request that may build.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.db import connection
from django.http import StreamingHttpResponse
from django.test import Client

from apcert.register import export_builder, exports, kept_exports
from apcert.register.export_files import KeptExport, alive, is_kept
from tests.factories import World

NONE: dict[str, tuple[int, int]] = {}
#: A guard against a build that never ends, not a measure: builds take a second or two.
SETTLE_SECONDS = 120


class Shared:
    """The test database as a builder process sees it, and the directory of kept exports."""

    def __init__(self, tmp: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp = tmp
        self.directory = tmp / "exports"
        self._monkeypatch = monkeypatch
        self._copies = 0
        config = connection.settings_dict
        if connection.vendor == "postgresql":
            password = f":{quote(config['PASSWORD'], safe='')}" if config["PASSWORD"] else ""
            url = (
                f"postgres://{quote(config['USER'], safe='')}{password}@{config['HOST']}:"
                f"{config['PORT'] or 5432}/{config['NAME']}"
            )
            monkeypatch.setenv("DATABASE_URL", url)
        else:
            monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.delenv("DATABASE_REPLICA_URLS", raising=False)

    def publish(self) -> None:
        """Let the next builder see what the test has committed so far."""
        if connection.vendor == "postgresql":
            return
        self._copies += 1
        var = self.tmp / f"var-{self._copies}"
        var.mkdir()
        connection.ensure_connection()
        copy = sqlite3.connect(var / "apcert.sqlite3")
        try:
            connection.connection.backup(copy)
        finally:
            copy.close()
        self._monkeypatch.setenv("APCERT_VAR_DIR", str(var))

    def kept(self, export_format: str) -> list[Path]:
        return sorted(p for p in self.directory.glob(f"*.{export_format}") if is_kept(p))

    def parts(self) -> list[Path]:
        return sorted(self.directory.glob("*.part"))


def _settle() -> None:
    """Wait until every builder this process started has ended."""
    deadline = time.monotonic() + SETTLE_SECONDS
    while any(alive(pid) for pid in kept_exports.builders.pids()):
        assert time.monotonic() < deadline, "a builder did not end"
        time.sleep(0.05)


@pytest.fixture
def shared(
    live_db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Iterator[Shared]:
    settings.KEPT_EXPORTS_DIR = tmp_path / "exports"
    settings.PAGE_RATE_LIMITS = NONE
    settings.EXPORTS_AT_ONCE = 0
    yield Shared(tmp_path, monkeypatch)
    try:
        _settle()
    finally:
        for pid in kept_exports.builders.pids():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def certificate(live_world: World) -> Any:
    return live_world.granted()


def _get(shared: Shared, client: Client, export_format: str) -> StreamingHttpResponse:
    shared.publish()
    response = client.get(f"/register/export.{export_format}")
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    return response


def _body(response: StreamingHttpResponse) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[arg-type]


def _made_in_process(export_format: str) -> bytes:
    return "".join(exports.FORMATS[export_format].chunks()).encode("utf-8")


def _builds() -> int:
    return kept_exports.builders.started


def _builder_pid(shared: Shared) -> int:
    parts = shared.parts()
    assert len(parts) == 1, parts
    return int(parts[0].name.rsplit(".", 2)[1])


@pytest.mark.parametrize("export_format", ["csv", "jsonl"])
def test_the_kept_export_is_the_export_and_is_sent_again_without_a_build(
    shared: Shared, certificate: Any, client: Client, export_format: str
) -> None:
    expected = _made_in_process(export_format)
    assert certificate.number.encode() in expected
    builds = _builds()
    first = _body(_get(shared, client, export_format))
    assert first == expected
    _settle()
    [kept] = shared.kept(export_format)
    inode = kept.stat().st_ino
    # asked again: the same file, sent whole with its length, and no new build
    again = _get(shared, client, export_format)
    assert again["Content-Length"] == str(len(expected))
    assert _body(again) == expected
    assert _builds() == builds + 1
    assert [p.stat().st_ino for p in shared.kept(export_format)] == [inode]
    assert shared.parts() == []


def test_head_reads_nothing_and_starts_no_build(
    shared: Shared, certificate: Any, client: Client
) -> None:
    builds = _builds()
    response = client.head("/register/export.csv")
    assert response.status_code == 200
    assert _builds() == builds
    assert not shared.directory.exists() or list(shared.directory.iterdir()) == []


def test_a_change_of_the_register_gives_a_new_build_with_the_change(
    shared: Shared, live_world: World, certificate: Any, client: Client
) -> None:
    before = _body(_get(shared, client, "csv"))
    _settle()
    [old] = shared.kept("csv")
    builds = _builds()
    # a new certificate: an audit event, so a new register version
    newer = live_world.granted()
    assert newer.number.encode() not in before
    after = _body(_get(shared, client, "csv"))
    assert after == _made_in_process("csv")
    assert newer.number.encode() in after
    assert _builds() == builds + 1
    _settle()
    # the older export is removed once the newer is in place
    assert [p.name for p in shared.kept("csv")] != [old.name]
    assert len(shared.kept("csv")) == 1


def test_the_next_day_gives_a_new_build_with_the_statuses_of_that_day(
    shared: Shared, certificate: Any, client: Client
) -> None:
    # the day before the certificate's recorded status lapses, then that day: the same
    # records, another status
    lapses_on = type(certificate).objects.get(pk=certificate.pk).lapses_on
    assert lapses_on is not None
    days = (lapses_on - dt.timedelta(days=1), lapses_on)
    bodies = []
    for day in days:
        moment = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
        with time_machine.travel(moment, tick=False):
            builds = _builds()
            response = _get(shared, client, "csv")
            assert day.isoformat() in response["Content-Disposition"]
            body = _body(response)
            assert body == _made_in_process("csv")
            assert _builds() == builds + 1
            _settle()
            [kept] = shared.kept("csv")
            assert kept.name.startswith(f"register-{day.isoformat()}-")
            bodies.append(body)
    # the file of the earlier day was never sent on the later one: the status differs
    assert bodies[0] != bodies[1]
    assert certificate.number.encode() in bodies[1]


def test_a_builder_killed_midway_is_never_sent_and_the_next_request_builds_again(
    shared: Shared, certificate: Any, client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    expected = _made_in_process("jsonl")
    response = _get(shared, client, "jsonl")
    assert "Content-Length" not in response  # sent while it is built
    os.kill(_builder_pid(shared), signal.SIGKILL)
    with caplog.at_level(logging.ERROR, logger="apcert.register.kept_exports"):
        with pytest.raises(kept_exports.BuildFailed):
            _body(response)
    assert "ended before it was whole" in caplog.text
    _settle()
    assert shared.kept("jsonl") == []  # the half file never bears the kept name
    # the next request starts a new build, sends it whole, and the half file is gone
    assert _body(_get(shared, client, "jsonl")) == expected
    _settle()
    assert len(shared.kept("jsonl")) == 1
    assert shared.parts() == []


def test_two_requests_at_once_share_one_build(
    shared: Shared, certificate: Any, client: Client
) -> None:
    expected = _made_in_process("csv")
    builds = _builds()
    first = _get(shared, client, "csv")
    second = _get(shared, client, "csv")
    # both sent while it is built (a kept file goes with its length), from one build
    assert "Content-Length" not in first
    assert "Content-Length" not in second
    assert _body(second) == expected
    assert _body(first) == expected
    assert _builds() == builds + 1


def test_the_builder_runs_at_a_lower_priority_than_the_server(
    shared: Shared, certificate: Any, client: Client
) -> None:
    response = _get(shared, client, "csv")
    pid = _builder_pid(shared)
    server = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, server + export_builder.NICENESS)
    assert _body(response) == _made_in_process("csv")


_PARENT = """
import os, subprocess, sys, time
argv = [sys.executable, "-m", "apcert.register.export_builder"] + sys.argv[1:]
builder = subprocess.Popen(argv + ["--parent", str(os.getpid())])
print(builder.pid, flush=True)
time.sleep(600)
"""


def test_a_builder_ends_when_its_parent_dies(
    shared: Shared, certificate: Any, tmp_path: Path
) -> None:
    export = kept_exports.current(shared.directory, "csv", dt.date.today())
    shared.directory.mkdir()
    arguments = ["--format", "csv", "--on", export.day.isoformat(), "--tag", export.tag]
    arguments += ["--directory", str(shared.directory)]
    parent = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", _PARENT, *arguments], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    builder = int(parent.stdout.readline())
    try:
        _wait_for(lambda: bool(export.parts()) or not alive(builder))
        assert export.parts(), "the builder did not start writing"
        parent.kill()
        parent.wait()
        _wait_for(lambda: not alive(builder))
    finally:
        if alive(builder):
            os.kill(builder, signal.SIGKILL)
        parent.stdout.close()
    assert not export.kept.exists()


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + SETTLE_SECONDS
    while not condition():
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.02)


def test_a_second_builder_of_the_same_export_ends_at_once(shared: Shared) -> None:
    shared.directory.mkdir()
    export = KeptExport(shared.directory, "csv", dt.date(2026, 1, 2), "0" * 32)
    with export.lock.open("w") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        assert export_builder.build(export, os.getppid()) is False
    assert export.parts() == []
    assert not export.kept.exists()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--tag", "xyz"], "not a tag of 32 hexadecimal digits"),
        (["--on", "2026-13-01"], "is not a date"),
        (["--directory", "/nonexistent/dir"], "there is no directory"),
    ],
)
def test_the_builder_refuses_bad_arguments_by_name(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    given = {"--format": "csv", "--on": "2026-01-02", "--tag": "a" * 32}
    given |= {"--directory": str(tmp_path), "--parent": "1"}
    given[arguments[0]] = arguments[1]
    argv = [item for pair in given.items() for item in pair]
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "apcert.register.export_builder", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_a_directory_that_cannot_be_made_reads_the_export_in_the_request(
    shared: Shared,
    certificate: Any,
    client: Client,
    settings: Any,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A file where the directory should be: it cannot be made (as on a full or read-only
    # disk). The export is still answered whole, read in the request, and the cause logged.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.KEPT_EXPORTS_DIR = blocker / "exports"
    builds = _builds()
    with caplog.at_level(logging.WARNING, logger="apcert.register.views_data"):
        response = _get(shared, client, "csv")
        body = _body(response)
    assert body == _made_in_process("csv")
    assert certificate.number.encode() in body
    assert _builds() == builds
    assert "exports cannot be kept" in caplog.text
