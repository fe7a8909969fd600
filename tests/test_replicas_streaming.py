"""The public register on a real PostgreSQL primary with a streaming replica.

The test starts a PostgreSQL primary of its own (initdb, on a free port, under a temporary
directory) and a streaming replica of it (pg_basebackup -R), migrates and fills the primary
with demo data, and serves apcert with ``DATABASE_REPLICA_URLS`` naming the replica. It shows:
public reads are served by the replica (a change made on the primary while the replica's
replay is paused is not seen), a browser that has just written reads the primary, a replica
lagging past the bound is skipped, and the status shown is today's throughout. Both servers
are stopped in the end, whatever happened.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.cookiejar
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

# It reaches no database of the test run (it starts servers of its own), so it runs once, in
# the SQLite pass: the PostgreSQL pass leaves such tests to it.
pytestmark = [pytest.mark.postgres_only, pytest.mark.slow]


def _pg_bin() -> Path | None:
    """The directory of PostgreSQL's server programs (15 or later), if installed."""
    found = shutil.which("pg_basebackup")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for directory in candidates:
        if all((directory / name).exists() for name in ("initdb", "pg_ctl", "pg_basebackup")):
            return directory
    return None


PG_BIN = _pg_bin()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """The primary and its replica, run by an account PostgreSQL accepts (not root)."""

    def __init__(self, base: Path, bin_dir: Path) -> None:
        self.base = base
        self.bin = bin_dir
        self.primary_port = _free_port()
        self.replica_port = _free_port()
        self.started: list[Path] = []
        # PostgreSQL refuses to run as root: root runs it as the postgres account.
        self.prefix: list[str] = []
        if os.geteuid() == 0:
            account = pwd.getpwnam("postgres")
            os.chown(base, account.pw_uid, account.pw_gid)
            self.prefix = ["runuser", "-u", "postgres", "--"]

    def run(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 - PostgreSQL's own programs
            [*self.prefix, *args], check=True, capture_output=True, timeout=60
        )

    def start(self, data: Path, port: int) -> None:
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.base}"
            " -c fsync=off -c full_page_writes=off"
        )
        self.run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                 str(self.base / f"{data.name}.log"), "-w", "start")  # fmt: skip
        self.started.append(data)

    def up(self) -> None:
        primary, replica = self.base / "primary", self.base / "replica"
        self.run(str(self.bin / "initdb"), "-D", str(primary), "-U", "postgres",
                 "--auth=trust", "-N", "-E", "UTF8", "--locale=C")  # fmt: skip
        self.start(primary, self.primary_port)
        self.run(str(self.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p",
                 str(self.primary_port), "-U", "postgres", "-D", str(replica), "-R",
                 "-X", "stream", "-c", "fast")  # fmt: skip
        self.start(replica, self.replica_port)

    def stop(self, *only: Path) -> None:
        for data in list(reversed(self.started)):
            if only and data not in only:
                continue
            with contextlib.suppress(subprocess.SubprocessError):
                self.run(str(self.bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
            self.started.remove(data)

    def replayed_then_paused(self) -> None:
        """Commit a transaction on the primary, wait for the replica to replay it, pause."""
        self.sql(self.primary_port, "SELECT txid_current()")
        [(lsn,)] = self.sql(self.primary_port, "SELECT pg_current_wal_insert_lsn()")
        deadline = time.monotonic() + 10
        while not self.sql(
            self.replica_port, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", str(lsn)
        )[0][0]:
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.05)
        self.sql(self.replica_port, "SELECT pg_wal_replay_pause()")

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/postgres"

    def sql(self, port: int, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.url(port), autocommit=True) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if PG_BIN is None:
        pytest.skip("PostgreSQL's server programs (initdb, pg_ctl, pg_basebackup) are absent")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root, and there is no postgres account to run PostgreSQL")
    base = Path(tempfile.mkdtemp(prefix="apcert-replica-"))
    cluster = Cluster(base, PG_BIN)
    try:
        cluster.up()
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


class Browser:
    """A client with its own cookies, as one browser."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=20) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def post(self, path: str, fields: dict[str, str]) -> int:
        token = next(c.value for c in self.jar if c.name == "csrftoken")
        request = urllib.request.Request(  # noqa: S310 - our own server
            self.base + path,
            data=urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": token}).encode(),
            headers={"Referer": self.base + path},
        )
        try:
            with self.opener.open(request, timeout=20) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return error.code


def _apcert(env: dict[str, str], cwd: Path, *args: str) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture
def served(cluster: Cluster, tmp_path: Path) -> Iterator[tuple[Cluster, str, Path]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "APCERT_"))}
    env.update(
        APCERT_VAR_DIR=str(tmp_path / "var"),
        DATABASE_URL=cluster.url(cluster.primary_port),
        DATABASE_REPLICA_URLS=cluster.url(cluster.replica_port),
        APCERT_REPLICA_MAX_LAG_SECONDS=str(MAX_LAG),
        # Checked on every request, so that the test need not wait for the next check.
        APCERT_REPLICA_CHECK_SECONDS="0",
        APCERT_RATE_LIMIT_SEARCH="0",
    )
    # One process migrates the primary, fills it and makes an account (each process of its
    # own would start Django again). The demo data is dated three and a half years back: the
    # certificates granted then have expired by date since, and no job has recorded it.
    as_of = dt.date.today() - dt.timedelta(days=3 * 365 + 180)
    _apcert(env, tmp_path, "shell", "-c", SETUP.format(as_of=as_of.isoformat(), password=PASSWORD))
    (tmp_path / "var" / "static").mkdir(parents=True)  # (no static file is asked for)
    port = _free_port()
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("server did not start: " + log_path.read_text(errors="replace"))
                time.sleep(0.2)
        yield cluster, base, log_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


MAX_LAG = 6


def _shows_status_today(body: str) -> bool:
    """Whether the certificate page gives the status the calendar has given the certificate
    by today (withdrawn or expired), not the one recorded (current), marked as not yet
    recorded by the daily check."""
    status = re.search(r"<h2 id=\"status-heading\">Status: (\w+)</h2>", body)
    return (
        status is not None
        and status[1] in {"Withdrawn", "Expired", "Suspended"}
        and 'id="status-not-recorded"' in body
    )


SETUP = """
from django.core.management import call_command
from apcert.accounts.models import User
call_command("migrate", interactive=False, verbosity=0)
call_command("demo-data", certificates=12, as_of="{as_of}", quiet=True)
User.objects.create_user(username="replica-tester", password="{password}")
"""
PASSWORD = "replica-test-password-7"


def test_public_reads_from_the_replica_writers_read_the_primary_lag_is_bounded(
    served: tuple[Cluster, str, Path],
) -> None:
    cluster, base, log_path = served
    primary, replica = cluster.primary_port, cluster.replica_port
    # Given a certificate recorded current whose validity ended by date (no job ran)
    [(number, recorded)] = cluster.sql(
        primary,
        "SELECT number, status FROM certificates_certificate"
        " WHERE status = 'current' AND expires_on < CURRENT_DATE ORDER BY number LIMIT 1",
    )
    assert recorded == "current"
    page = "/certificates/" + urllib.parse.quote(number)
    api = "/api/public/certificates/" + urllib.parse.quote(number)
    renamed = number + "R"
    reader, writer = Browser(base), Browser(base)
    status, body = reader.get(page)
    assert status == 200 and number in body

    # When the replica stops replaying (right after a transaction it has replayed, which its
    # lag is counted from) and the primary renumbers the certificate
    cluster.replayed_then_paused()
    cluster.sql(
        primary,
        "UPDATE certificates_certificate SET number = %s WHERE number = %s",
        renamed,
        number,
    )
    cluster.sql(
        primary, "UPDATE register_searchentry SET number = %s WHERE number = %s", renamed, number
    )
    paused_at = time.monotonic()
    assert cluster.sql(replica, "SELECT count(*) FROM certificates_certificate WHERE number = %s",
                       number) == [(1,)]  # fmt: skip

    # Then the public pages and API, read from the replica within the lag bound, still show
    # the old number (the primary no longer has it), with the status of today
    status, body = reader.get(page)
    assert status == 200, body
    assert _shows_status_today(body)
    assert reader.get(api)[0] == 200
    assert reader.get("/certificates/" + urllib.parse.quote(renamed))[0] == 404
    # (a streamed export reads while it is sent, from the same replica)
    status, export = reader.get("/register/export.csv")
    assert status == 200 and number in export and renamed not in export
    assert cluster.sql(replica, "SELECT count(*) FROM pg_stat_activity WHERE backend_type ="
                       " 'client backend' AND datname = 'postgres'")[0][0] >= 2  # fmt: skip

    # When a browser writes (signing in records the session) it reads the primary after
    writer.get("/office/sign-in")
    assert (
        writer.post("/office/sign-in", {"username": "replica-tester", "password": PASSWORD}) == 200
    )
    assert any(c.name == "apcert_wrote" for c in writer.jar)
    status, body = writer.get("/certificates/" + urllib.parse.quote(renamed))
    assert status == 200 and renamed in body and _shows_status_today(body)
    assert writer.get(page)[0] == 404
    assert writer.get("/api/public/certificates/" + urllib.parse.quote(renamed))[0] == 200
    # ... while another browser still reads the replica
    assert reader.get(page)[0] == 200
    assert time.monotonic() - paused_at < MAX_LAG, "the steps above took longer than the bound"

    # When the replica falls further behind than the bound, every read goes to the primary
    time.sleep(max(0.0, MAX_LAG + 0.5 - (time.monotonic() - paused_at)))
    assert reader.get(page)[0] == 404
    status, body = reader.get("/certificates/" + urllib.parse.quote(renamed))
    assert status == 200 and _shows_status_today(body)
    assert reader.get("/api/public/certificates/" + urllib.parse.quote(renamed))[0] == 200
    assert "replica1 is not used for reads" in log_path.read_text(errors="replace")

    # And once it replays again and has caught up, it serves the register again
    cluster.sql(replica, "SELECT pg_wal_replay_resume()")
    deadline = time.monotonic() + 10
    while cluster.sql(replica, "SELECT count(*) FROM certificates_certificate WHERE number = %s",
                      renamed) != [(1,)]:  # fmt: skip
        assert time.monotonic() < deadline, "the replica did not catch up"
        time.sleep(0.1)
    assert reader.get("/certificates/" + urllib.parse.quote(renamed))[0] == 200
    assert "replica1 is used for reads again" in log_path.read_text(errors="replace")

    # And when the replica's server goes down, the register is answered from the primary
    cluster.stop(cluster.base / "replica")
    status, body = reader.get("/certificates/" + urllib.parse.quote(renamed))
    assert status == 200 and _shows_status_today(body)
    assert reader.get("/api/public/certificates/" + urllib.parse.quote(renamed))[0] == 200
    assert "replica1 is not used for reads until it recovers: it does not answer" in (
        log_path.read_text(errors="replace")
    )
