"""A write with an ``Idempotency-Key`` whose server process is killed outright (SIGKILL)
while the request is in flight: nothing of it is left, and the retry with the same key after
a restart carries the change out exactly once, answering as a fresh request does.

Deterministic without any hook in the server: the test holds SQLite's write lock, so the
request, which must write, cannot finish; it is still unanswered when the server is killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.test_docs_integrations import _apcert, _env, _free_port
from tests.test_serve import _descendants, _wait_gone

pytestmark = [
    pytest.mark.own_sqlite,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc"),
]

_CB_SETUP = """
from apcert.accounts.models import User
from apcert.bodies.models import CertificationBody
from apcert.bodies.services import cb_staff_add
from apcert.demo import words
cb = CertificationBody.objects.get(code=words.CERTIFICATION_BODIES[0].code)
decider = User.objects.get(username=cb.code.lower() + "-decider1")
cb_staff_add(actor=User.objects.get(username="secretariat"), cb=cb, user=decider, role="admin")
print(cb.code, decider.username)
"""


def _serve(var: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    log = (var.parent / "serve.log").open("ab")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", "serve", "--port", str(port)],
        cwd=var.parent,
        env=_env(var),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5):  # noqa: S310
                return proc, base
        except (OSError, urllib.error.HTTPError):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail((var.parent / "serve.log").read_text(errors="replace"))
            time.sleep(0.2)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """The server and every process below it (its workers, whatever their process group),
    killed outright at once; returns once none of them runs, so that no worker can go on
    with a request after it."""
    below = _descendants(proc.pid)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in below:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _wait_gone(below) == []


def _lower(headers: Any) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _request(
    base: str, path: str, secret: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, str], Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(  # noqa: S310 - 127.0.0.1
        base + "/api/v1/" + path,
        data=data,
        method="GET" if body is None else "POST",
        headers={
            "Authorization": f"Bearer {secret}",
            "Content-Type": "application/json",
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
            return response.status, _lower(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _lower(exc.headers), json.loads(exc.read())


@pytest.fixture
def var(tmp_path: Path) -> Iterator[Path]:
    var = tmp_path / "var"
    _apcert(var, "migrate", "--noinput", "-v0")
    _apcert(var, "load-reference")
    _apcert(var, "demo-data", "--certificates", "20", "--seed", "3", "--quiet")
    _apcert(var, "demo-accounts")
    (var / "static").mkdir(exist_ok=True)
    yield var


def _suspensions(db: Path, certificate_id: int) -> int:
    with sqlite3.connect(db) as connection:
        (count,) = connection.execute(
            "SELECT count(*) FROM audit_auditevent WHERE action = 'certificate.suspend' "
            "AND object_id = ?",
            (str(certificate_id),),
        ).fetchone()
    return int(count)


def test_a_write_killed_in_flight_is_written_once_by_its_retry(var: Path) -> None:
    cb_code, decider = _apcert(var, "shell", "-c", _CB_SETUP).splitlines()[-1].split()
    secret = _apcert(
        var, "api-token-issue", "--by", decider, "--for", f"cb:{cb_code}", "--scope", "write"
    ).strip()
    db = var / "apcert.sqlite3"
    proc, base = _serve(var)
    try:
        # A current certificate of the CB, and its ETag (the token's use is noted now, so
        # the write below writes nothing before its own transaction)
        status, _, page = _request(base, "certificates?limit=100", secret)
        assert status == 200
        current = next(c for c in page["items"] if c["status"] == "current")
        number = quote(current["number"])
        path = f"certificates/{number}/suspend"
        status, headers, read = _request(base, f"certificates/{number}", secret)
        assert status == 200 and "etag" in headers, (status, headers, read)
        etag = headers["etag"]
        body = {"reason_category": "complaint", "reason": "A complaint under review"}
        # (the demo's history may hold earlier suspensions of it)
        suspended_before = _suspensions(db, current["id"])
        send = {"If-Match": etag, "Idempotency-Key": "crash-suspend-1"}
        answers: list[Any] = []
        # The database's write lock, held by the test: the request cannot commit
        holder = sqlite3.connect(db, timeout=30, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:

            def sends() -> None:
                try:
                    answers.append(_request(base, path, secret, body, **send))
                except OSError as exc:  # (RemoteDisconnected, ConnectionResetError ...)
                    answers.append(type(exc).__name__)

            sender = threading.Thread(target=sends, daemon=True)
            sender.start()
            sender.join(timeout=3)
            assert sender.is_alive() and answers == []  # in flight, waiting on the lock
            _kill(proc)
            sender.join(timeout=30)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        # The client saw the connection drop, not an answer
        assert not sender.is_alive()
        assert answers in (["RemoteDisconnected"], ["ConnectionResetError"]), answers
        assert _suspensions(db, current["id"]) == suspended_before
        # Restarted, the same request with the same key: carried out now, once
        proc, base = _serve(var)
        status, headers, first = _request(base, path, secret, body, **send)
        assert status == 200, first
        assert first["status"] == "suspended"
        assert "idempotent-replayed" not in headers
        assert headers["etag"] == first["etag"] != etag
        status, headers, again = _request(base, path, secret, body, **send)
        assert (status, again, headers.get("idempotent-replayed")) == (200, first, "true")
        assert _suspensions(db, current["id"]) == suspended_before + 1
    finally:
        _kill(proc)
