"""Certificate PDFs drawn in a pool of processes of their own, niced: the same PDF as one
drawn in the server's process; a drawing process that dies or hangs gives a busy answer, and
the next drawing starts a new pool; no drawing process outlives its pool, nor a server killed
outright.

The pool reads the database the tests use: PostgreSQL, or SQLite in a file. The SQLite pass
keeps its test database in memory, where no other process sees it; there the same checks run
in a process of their own on a database file (``own_sqlite``)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
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
from django.test import Client

from apcert.documents import certificate_pdf, drawing, pdf_store
from apcert.documents.downloads import issue_credential
from apcert.documents.links import verification_url
from apcert.register import selectors
from apcert.register.models import KeptCertificatePdf
from tests import drawing_support
from tests.factories import World
from tests.process_support import NEEDS_PROC, ended, start_script

linux_only = pytest.mark.skipif(NEEDS_PROC[0], reason=NEEDS_PROC[1])


def pdf_url(number: str, issue: int) -> str:
    return f"/certificates/{quote(number)}/issues/{issue}.pdf"


def niceness(pid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, pid)


def wait_until_ended(pids: list[int], seconds: float = 20) -> list[int]:
    """Those of ``pids`` still running after up to ``seconds``."""
    deadline = time.monotonic() + seconds
    while any(not ended(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if not ended(pid)]


@pytest.fixture
def pool(settings: Any, live_db: None) -> Iterator[None]:
    """Drawing in a pool of one process, shut down after the test."""
    settings.PDF_DRAW_PROCESS = True
    settings.PDF_DRAWS_AT_ONCE = 1
    if not drawing.in_processes():
        pytest.skip("the test database is in memory: the own_sqlite test checks the pool")
    yield
    drawing.shutdown()


def inputs_of(number: str) -> tuple[int, dict[str, Any], bytes]:
    """An issue's id, the inputs of its PDF, and the PDF drawn in this process."""
    issue = selectors.public_issue(number, 1)
    assert issue is not None
    inputs = {
        "credential": issue_credential(issue),
        "verify_url": verification_url(number, 1),
        "mark": "",
    }
    return issue.pk, inputs, certificate_pdf.render_certificate_pdf(issue, **inputs)


@linux_only
def test_a_pdf_drawn_by_the_pool_is_the_one_drawn_here_by_a_niced_process(
    live_world: World, pool: None
) -> None:
    # Given an issue and the PDF this process draws of it
    issue_id, inputs, here = inputs_of(live_world.granted().number)
    # When the pool draws it
    drawn = drawing.draw(pdf_store.draw_issue, issue_id, inputs)
    # Then it is the same PDF, drawn by another process at a lower priority
    assert drawn.content == here
    assert drawn.pid != os.getpid() and drawn.pid in drawing.pids()
    assert niceness(drawn.pid) == min(19, niceness(0) + drawing.NICENESS)
    # and the pool stays for the next drawing
    assert drawing.draw(pdf_store.draw_issue, issue_id, inputs) == drawn


@linux_only
def test_the_register_serves_the_pdf_the_pool_drew_and_keeps_it(
    live_world: World, pool: None, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    cert = live_world.granted()
    _issue_id, _inputs, here = inputs_of(cert.number)

    # Given a server process that cannot draw a PDF itself
    def not_here(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("drawn in the server's process")

    monkeypatch.setattr(certificate_pdf, "render_certificate_pdf", not_here)
    # When its PDF is asked for, then the pool's PDF is served and kept
    response = client.get(pdf_url(cert.number, 1))
    assert response.status_code == 200 and response.content == here
    assert [bytes(c) for c in KeptCertificatePdf.objects.values_list("content", flat=True)] == [
        here
    ]
    assert drawing.pids()


@linux_only
def test_a_drawing_process_that_died_gives_busy_and_the_next_request_draws(
    live_world: World, pool: None, client: Client
) -> None:
    cert = live_world.granted()
    issue_id, inputs, here = inputs_of(cert.number)
    drawing.draw(pdf_store.draw_issue, issue_id, inputs)  # the pool started
    [dead] = drawing.pids()
    # Given the drawing process killed
    os.kill(dead, signal.SIGKILL)
    # When the PDF is asked for, then the answer is busy, and nothing is kept
    busy = client.get(pdf_url(cert.number, 1))
    assert busy.status_code == 503 and busy["Retry-After"]
    assert not KeptCertificatePdf.objects.exists()
    # and the next request is drawn by a new process
    again = client.get(pdf_url(cert.number, 1))
    assert again.status_code == 200 and again.content == here
    assert drawing.pids() and dead not in drawing.pids()
    assert KeptCertificatePdf.objects.count() == 1


def _stall_in_a_thread(marker: Path) -> tuple[threading.Thread, list[BaseException]]:
    raised: list[BaseException] = []

    def run() -> None:
        try:
            drawing.draw(drawing_support.stall, str(marker))
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the drawing never started"
    return thread, raised


@linux_only
def test_a_drawing_process_killed_mid_drawing_stops_that_drawing_only(
    live_world: World, pool: None, tmp_path: Path
) -> None:
    issue_id, inputs, here = inputs_of(live_world.granted().number)
    # Given a drawing in progress
    marker = tmp_path / "drawing"
    thread, raised = _stall_in_a_thread(marker)
    # When its process is killed
    os.kill(int(marker.read_text()), signal.SIGKILL)
    thread.join(60)
    # Then that drawing stopped, and the next is drawn by a new process
    assert [type(exc) for exc in raised] == [drawing.DrawingStopped]
    assert drawing.draw(pdf_store.draw_issue, issue_id, inputs).content == here


@linux_only
def test_a_drawing_that_hangs_stops_at_the_timeout_and_its_process_is_ended(
    live_world: World, pool: None, tmp_path: Path, settings: Any
) -> None:
    issue_id, inputs, here = inputs_of(live_world.granted().number)
    drawing.draw(pdf_store.draw_issue, issue_id, inputs)  # the pool started
    settings.PDF_DRAW_TIMEOUT = 5
    # Given a drawing that never ends
    marker = tmp_path / "drawing"
    thread, raised = _stall_in_a_thread(marker)
    thread.join(60)
    # Then it stopped at the timeout, its process ended, and the next is drawn anew
    assert [type(exc) for exc in raised] == [drawing.DrawingStopped]
    assert wait_until_ended([int(marker.read_text())]) == []
    settings.PDF_DRAW_TIMEOUT = 30
    assert drawing.draw(pdf_store.draw_issue, issue_id, inputs).content == here


@linux_only
def test_no_drawing_process_is_left_after_the_pool_shuts_down(
    live_world: World, pool: None
) -> None:
    issue_id, inputs, _here = inputs_of(live_world.granted().number)
    drawing.draw(pdf_store.draw_issue, issue_id, inputs)
    processes = drawing.pids()
    assert processes
    drawing.shutdown()
    assert wait_until_ended(processes) == []
    assert drawing.pids() == []


def test_in_memory_sqlite_and_transactions_draw_here(settings: Any, db: None) -> None:
    # Inside a transaction (as every test on the db fixture runs), another process would not
    # see what it has not committed
    settings.PDF_DRAW_PROCESS = True
    assert not drawing.in_processes()
    settings.PDF_DRAW_PROCESS = False
    assert not drawing.in_processes()


# --- SQLite in a file: the pool in a process of its own ---------------------------------------

SCRIPT = """
import json, os, signal, time, django
django.setup()
from django.conf import settings
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("load-reference", stdout=open(os.devnull, "w"))
from apcert.demo.generate import demo_data_generate
demo_data_generate(certificates=3, seed=5)
from apcert.documents import certificate_pdf, drawing, pdf_store
from apcert.documents.downloads import issue_credential
from apcert.documents.links import verification_url
from apcert.register.models import KeptCertificatePdf
from apcert.certificates.models import CertificateIssue
settings.PDF_DRAW_PROCESS = True
settings.PDF_DRAWS_AT_ONCE = 1
issue = CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme").first()
inputs = {"credential": issue_credential(issue), "verify_url": "https://x.example/v", "mark": ""}
here = certificate_pdf.render_certificate_pdf(issue, **inputs)
out = {"in_processes": drawing.in_processes()}
drawn = drawing.draw(pdf_store.draw_issue, issue.pk, inputs)
out["same"] = drawn.content == here
out["pid"] = drawn.pid
out["own_nice"] = os.getpriority(os.PRIO_PROCESS, 0)
out["nice"] = os.getpriority(os.PRIO_PROCESS, drawn.pid)
os.kill(drawn.pid, signal.SIGKILL)
try:
    pdf_store.kept_pdf(issue, inputs)
    out["after_kill"] = "drawn"
except pdf_store.DrawingBusy:
    out["after_kill"] = "busy"
out["kept_after_kill"] = KeptCertificatePdf.objects.count()
out["next"] = pdf_store.kept_pdf(issue, inputs) == here
out["kept"] = KeptCertificatePdf.objects.count()
out["pool"] = drawing.pids()
drawing.shutdown()
print(json.dumps(out), flush=True)
"""


@pytest.mark.own_sqlite
@linux_only
def test_the_pool_on_a_sqlite_file(tmp_path: Path) -> None:
    script = start_script(SCRIPT, tmp_path)
    try:
        assert script.stdout is not None
        out = json.loads(script.stdout.readline())
        assert script.wait(timeout=60) == 0
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert out["in_processes"] and out["same"]
    assert out["pid"] != script.pid
    assert out["nice"] == min(19, out["own_nice"] + drawing.NICENESS)
    assert (out["after_kill"], out["kept_after_kill"]) == ("busy", 0)
    assert out["next"] and out["kept"] == 1
    assert out["pool"] and out["pid"] not in out["pool"]
    assert wait_until_ended(out["pool"]) == []


# --- apcert serve stopped, or killed outright --------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(var: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
    environ.pop("APCERT_PDF_DRAW_PROCESS", None)  # serve's own default: on
    environ["APCERT_VAR_DIR"] = str(var)
    return environ


def _apcert(var: Path, *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        cwd=var.parent,
        env=_env(var),
        check=True,
        capture_output=True,
        timeout=300,
    )


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(int(stat[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.fixture(scope="module")
def served_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A var directory with a few demo certificates (copied for each test), and the number of
    one of them."""
    var = tmp_path_factory.mktemp("served") / "var"
    _apcert(var, "migrate", "--noinput", "-v0")
    _apcert(var, "load-reference")
    _apcert(var, "demo-data", "--certificates", "3", "--seed", "5")
    (var / "static").mkdir()  # served from, though no page here needs a file
    with sqlite3.connect(var / "apcert.sqlite3") as db:
        [(number,)] = db.execute(
            "SELECT number FROM certificates_certificate WHERE status != 'draft' LIMIT 1"
        ).fetchall()
    return var, str(number)


@pytest.mark.own_sqlite
@linux_only
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_a_server_stopped_or_killed_leaves_no_drawing_process(
    served_data: tuple[Path, str], tmp_path: Path, stop: signal.Signals
) -> None:
    shutil.copytree(served_data[0], tmp_path / "var")
    port = _free_port()
    log_file = tmp_path / "serve.log"
    log = log_file.open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "apcert", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_env(tmp_path / "var"),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, killed whole if need be
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get_or_none(base + "/healthz") is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(log_file.read_text(errors="replace"))
            time.sleep(0.2)
        # Given a server that has drawn a PDF in its drawing processes
        assert _get(base + pdf_url(served_data[1], 1)) == 200
        below = _descendants(proc.pid)
        server_nice = niceness(proc.pid)
        drawers = [
            pid
            for pid in below
            if _niceness_or_none(pid) == min(19, server_nice + drawing.NICENESS)
        ]
        assert drawers, "no niced drawing process under the server"
        # When the server is stopped, or killed outright
        proc.send_signal(stop)
        proc.wait(timeout=60)
        # Then no drawing process is left, nor any other the server started
        assert wait_until_ended(drawers) == [], "a drawing process outlived its server"
        assert wait_until_ended(below) == [], "a process outlived its server"
        if stop == signal.SIGTERM:
            # and a stop asked for was a graceful one: the drawing processes did not hold
            # the server's worker until it was killed
            assert proc.returncode == 0
            assert "refused to gracefully stop" not in log_file.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # whatever else of its group is left


def _get_or_none(url: str) -> int | None:
    try:
        return _get(url)
    except OSError:
        return None


def _niceness_or_none(pid: int) -> int | None:
    try:
        return niceness(pid)
    except ProcessLookupError:  # ended meanwhile
        return None
