"""`apcert serve` runs a real WSGI server (granian) that answers, static files included."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Every test here serves apcert from a var directory of its own, on SQLite.
pytestmark = pytest.mark.own_sqlite


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environ["APCERT_VAR_DIR"] = str(tmp / "var")
    return environ


def _apcert(tmp: Path, *args: str) -> None:
    subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        cwd=tmp,
        env=_env(tmp),
        check=True,
        capture_output=True,
        timeout=180,
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    _apcert(tmp_path, "migrate", "--noinput", "-v0")
    _apcert(tmp_path, "collectstatic", "--noinput", "-v0")
    port = _free_port()
    # The server's output goes to a file: a pipe nobody reads can fill and stall it.
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "apcert", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, killed whole if need be
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/admin/login/", timeout=2):  # noqa: S310
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    out = (tmp_path / "serve.log").read_text(errors="replace")
                    pytest.fail(f"server did not start: {out}")
                time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            # A graceful stop; on a loaded machine it can take a while, then it is killed.
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            # the server's whole group: none of its workers is left behind
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        log.close()


def test_served_admin_login_and_static_files(server: str) -> None:
    with urllib.request.urlopen(server + "/admin/login/", timeout=5) as resp:  # noqa: S310
        assert resp.status == 200
        body = resp.read().decode()
    assert "apcert" in body
    with urllib.request.urlopen(server + "/static/admin/css/base.css", timeout=5) as css:  # noqa: S310
        assert css.status == 200
        assert b"body" in css.read()


def test_root_is_the_public_register_search_with_its_stylesheet(server: str) -> None:
    with urllib.request.urlopen(server + "/", timeout=5) as resp:  # noqa: S310
        assert (resp.status, resp.url) == (200, server + "/")
        body = resp.read().decode()
    assert '<form id="search" method="get" action="/"' in body
    assert '<link rel="stylesheet" href="/static/register/register.css">' in body
    with urllib.request.urlopen(server + "/static/register/register.css", timeout=5) as css:  # noqa: S310
        assert css.status == 200
        assert b":focus-visible" in css.read()


# --- serve --with-worker: the server and the worker under one command -----------------------


def _stat(pid: int) -> tuple[int, str, int] | None:
    """(parent pid, state, start time) of a process from /proc, None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rpartition(")")[2].split()
    return int(fields[1]), fields[0], int(fields[19])


def _descendants(root: int) -> dict[int, int]:
    """Every process below ``root``: pid -> start time (which tells a reused pid apart)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(stat[0], []).append(int(entry.name))
    found: dict[int, int] = {}
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if (stat := _stat(child)) is not None:
                found[child] = stat[2]
                todo.append(child)
    return found


def _running(processes: dict[int, int]) -> list[int]:
    """Those of ``processes`` still running (a zombie has ended; a reused pid is another)."""
    alive = []
    for pid, started in processes.items():
        stat = _stat(pid)
        if stat is not None and stat[1] != "Z" and stat[2] == started:
            alive.append(pid)
    return alive


def _parent(pid: int) -> int | None:
    stat = _stat(pid)
    return stat[0] if stat else None


def _cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A var directory with the schema and the static files, copied for each test."""
    tmp = tmp_path_factory.mktemp("migrated")
    _apcert(tmp, "migrate", "--noinput", "-v0")
    _apcert(tmp, "collectstatic", "--noinput", "-v0")
    return tmp / "var"


def _serve_with_worker(migrated: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    shutil.copytree(migrated, tmp / "var")
    port = _free_port()
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "apcert", "serve", "--port", str(port), "--with-worker",
         "--worker-log", str(tmp / "var" / "worker.log")],
        cwd=tmp,
        env=_env(tmp),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a process group of its own, as a terminal gives it
    )  # fmt: skip
    log.close()
    base = f"http://127.0.0.1:{port}"
    worker_log = tmp / "var" / "worker.log"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/admin/login/", timeout=2):  # noqa: S310
                pass
            # the worker has started when it has queued today's sweep
            if "queued the sweep of" in worker_log.read_text(errors="replace"):
                return proc, base
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = (tmp / "serve.log").read_text(errors="replace")
            pytest.fail(f"server and worker did not start: {out}")
        time.sleep(0.3)


def _wait_gone(processes: dict[int, int]) -> list[int]:
    deadline = time.monotonic() + 40
    while (alive := _running(processes)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return alive


def _end(proc: subprocess.Popen[bytes], below: dict[int, int]) -> None:
    """Whatever a failed test left running, killed."""
    if proc.poll() is None:
        proc.kill()
    for pid in _running(below):
        os.kill(pid, signal.SIGKILL)
    proc.wait()


needs_proc = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


@needs_proc
@pytest.mark.parametrize(
    ("stop", "exit_code"),
    [
        (lambda proc: proc.send_signal(signal.SIGTERM), 0),
        # Ctrl+C: the terminal signals the foreground process group
        (lambda proc: os.killpg(proc.pid, signal.SIGINT), 0),
        # killed outright: the kernel stops the two children (parent-death signal)
        (lambda proc: proc.kill(), -signal.SIGKILL),
    ],
    ids=["sigterm", "ctrl-c", "sigkill"],
)
def test_serve_with_worker_stops_both_and_leaves_no_process(
    migrated: Path, tmp_path: Path, stop: Any, exit_code: int
) -> None:
    # given the server and the worker running under one serve command
    proc, base = _serve_with_worker(migrated, tmp_path)
    below = _descendants(proc.pid)
    try:
        commands = [_cmdline(pid) for pid in below]
        assert sum(1 for c in commands if c[-3:] == ["-m", "apcert", "worker"]) == 1
        assert sum(1 for c in commands if c[-1] == "apcert.served:application") >= 1
        with urllib.request.urlopen(base + "/", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200
        # when it is stopped
        stop(proc)
        assert proc.wait(timeout=40) == exit_code
        # then neither the server (with its own workers) nor the worker is left
        assert _wait_gone(below) == []
    finally:
        _end(proc, below)


def _serve_alone(migrated: Path, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    shutil.copytree(migrated, tmp / "var")
    port = _free_port()
    log = (tmp / "serve.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "apcert", "serve", "--port", str(port)],
        cwd=tmp,
        env=_env(tmp),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(base + "/admin/login/", timeout=2):  # noqa: S310
                return proc, base
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            out = (tmp / "serve.log").read_text(errors="replace")
            pytest.fail(f"server did not start: {out}")
        time.sleep(0.3)


@needs_proc
@pytest.mark.parametrize(
    "stop",
    [
        lambda proc: proc.send_signal(signal.SIGTERM),
        lambda proc: os.killpg(proc.pid, signal.SIGINT),
        # killed outright: granian's workers die with it (parent-death signal)
        lambda proc: proc.kill(),
    ],
    ids=["sigterm", "ctrl-c", "sigkill"],
)
def test_serve_leaves_no_worker_process_however_it_is_stopped(
    migrated: Path, tmp_path: Path, stop: Any
) -> None:
    # given the server alone: granian in the command's place, with its worker process
    proc, base = _serve_alone(migrated, tmp_path)
    below = _descendants(proc.pid)
    try:
        assert _cmdline(proc.pid)[-1] == "apcert.served:application"
        assert len(below) >= 1  # granian's worker
        with urllib.request.urlopen(base + "/", timeout=5) as resp:  # noqa: S310
            assert resp.status == 200
        # when it is stopped
        stop(proc)
        proc.wait(timeout=40)
        # then no worker of it is left
        assert _wait_gone(below) == []
    finally:
        _end(proc, below)


@needs_proc
def test_serve_with_worker_leaves_nothing_when_the_server_is_killed_outright(
    migrated: Path, tmp_path: Path
) -> None:
    # given the server and the worker running under one serve command
    proc, _base = _serve_with_worker(migrated, tmp_path)
    below = _descendants(proc.pid)
    try:
        (server,) = [
            pid
            for pid in below
            if _cmdline(pid)[-1] == "apcert.served:application" and _parent(pid) == proc.pid
        ]
        granian_workers = _descendants(server)
        assert granian_workers
        # when granian's main process is killed outright
        os.kill(server, signal.SIGKILL)
        # then its workers die with it, the worker is stopped, and the command fails
        assert proc.wait(timeout=40) == 128 + signal.SIGKILL
        assert _wait_gone(below) == []
        out = (tmp_path / "serve.log").read_text()
        assert "the server stopped (exit code -9); stopping the rest" in out
    finally:
        _end(proc, below)


@needs_proc
def test_serve_with_worker_stops_the_server_when_the_worker_ends(
    migrated: Path, tmp_path: Path
) -> None:
    # given the server and the worker running under one serve command
    proc, _base = _serve_with_worker(migrated, tmp_path)
    below = _descendants(proc.pid)
    try:
        (worker,) = [pid for pid in below if _cmdline(pid)[-1:] == ["worker"]]
        # when the worker is killed
        os.kill(worker, signal.SIGKILL)
        # then the server is stopped too, and the command says why and fails
        assert proc.wait(timeout=40) == 128 + signal.SIGKILL
        assert _wait_gone(below) == []
        out = (tmp_path / "serve.log").read_text()
        assert "the worker stopped (exit code -9); stopping the rest" in out
    finally:
        _end(proc, below)


def test_make_demo_names_its_address_to_every_command_and_sweeps_before_serving() -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    environ = {k: v for k, v in os.environ.items() if k not in ("APCERT_SITE_URL", "MAKEFLAGS")}
    printed = subprocess.run(  # noqa: S603 - make, printing the recipe only (-n)
        [make, "-n", "demo", "HOST=127.0.0.1", "PORT=8101"],
        cwd=Path(__file__).resolve().parents[1],
        env=environ,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    commands = [line for line in printed.splitlines() if "/bin/apcert " in line]
    steps = [line.partition("/bin/apcert ")[2].split()[0] for line in commands]
    assert steps == [
        "migrate", "load-reference", "demo-data", "keys-generate", "sweep", "collectstatic",
        "demo-accounts", "serve",
    ]  # fmt: skip
    for line in commands[:-1]:
        assert line.startswith('APCERT_SITE_URL="http://127.0.0.1:8101" '), line
    # the server replaces the shell, so that make's SIGTERM reaches it
    assert commands[-1].startswith('exec env APCERT_SITE_URL="http://127.0.0.1:8101" ')
    assert commands[-1].endswith(
        "serve --host 127.0.0.1 --port 8101 --with-worker "
        '--worker-log "${APCERT_VAR_DIR:-var}/worker.log"'
    )


@needs_proc
@pytest.mark.slow
def test_make_demo_serves_at_its_port_and_a_sigterm_to_make_leaves_no_process(
    tmp_path: Path,
) -> None:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # given `make demo` on a free port, with a small data set in a directory of its own
    port = _free_port()
    environ = _env(tmp_path)
    environ.pop("APCERT_SITE_URL", None)
    environ.pop("MAKEFLAGS", None)
    log = (tmp_path / "make.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603
        # with the environment these tests run in, taken as installed (-o: not remade)
        [make, "-o", f"{sys.prefix}/.runtime", "demo", f"VENV={sys.prefix}", f"PORT={port}",
         "DEMO_CERTIFICATES=5"],
        cwd=Path(__file__).resolve().parents[1],
        env=environ,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    log.close()
    below: dict[int, int] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 300
        while not (tmp_path / "var" / "worker.log").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail((tmp_path / "make.log").read_text(errors="replace"))
            time.sleep(0.5)
        while True:
            try:
                with urllib.request.urlopen(base + "/bodies/", timeout=5) as resp:  # noqa: S310
                    assert resp.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail((tmp_path / "make.log").read_text(errors="replace"))
                time.sleep(0.5)
        # then the keys and DIDs name the port it serves on
        with urllib.request.urlopen(base + "/.well-known/did.json", timeout=5) as resp:  # noqa: S310
            assert json.load(resp)["id"] == f"did:web:127.0.0.1%3A{port}"
        below = _descendants(proc.pid)
        names = [_cmdline(pid) for pid in below]
        assert sum(1 for c in names if c[-3:] == ["-m", "apcert", "worker"]) == 1
        # when make is sent SIGTERM
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        # then neither the server nor the worker is left
        assert _wait_gone(below) == []
    finally:
        _end(proc, below)


# --- running it: health, metrics and logs of a real server with its worker --------------------


@needs_proc
@pytest.mark.slow
def test_served_health_metrics_and_logs_across_server_processes(
    migrated: Path, tmp_path: Path
) -> None:
    # Given the server with two worker processes and the background worker, metrics open to
    # this machine and JSON logs
    shutil.copytree(migrated, tmp_path / "var")
    port = _free_port()
    environ = _env(tmp_path) | {"APCERT_METRICS_ALLOW": "127.0.0.1", "APCERT_LOG_FORMAT": "json"}
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "apcert", "serve", "--port", str(port), "--workers", "2",
             "--with-worker"],
            cwd=tmp_path, env=environ, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    below: dict[int, int] = {}
    ids: list[str] = []

    def healthz() -> dict[str, Any]:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as resp:  # noqa: S310
            ids.append(resp.headers["X-Request-ID"])
            return dict(json.loads(resp.read()))

    scraped: list[str] = []

    def healthz_counted() -> float:
        with urllib.request.urlopen(base + "/metrics", timeout=5) as resp:  # noqa: S310
            scraped.append(resp.read().decode())
        found = re.search(
            r'^apcert_http_requests_total\{route="healthz",status="2xx"\} (\S+)$',
            scraped[-1],
            re.M,
        )
        return float(found[1]) if found else 0.0

    try:
        # When the worker has recorded its first heartbeat
        deadline = time.monotonic() + 90
        while True:
            try:
                if healthz()["worker"] == "ok":
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"not started: {log_path.read_text(errors='replace')}")
            time.sleep(0.3)
        below = _descendants(proc.pid)
        time.sleep(0.5)  # the last request's count is written once its answer is closed
        before = healthz_counted()
        for _ in range(8):
            body = healthz()
        # Then /healthz says the worker beats
        assert body["database"] == "ok" and body["worker"] == "ok"
        assert 0 <= body["worker_beat_age_seconds"] <= 35
        # and the image's health check passes against it
        dockerfile = Path(__file__).resolve().parent.parent / "deploy" / "Dockerfile"
        steps = re.sub(r"\\\n", " ", dockerfile.read_text())
        found = re.search(r"^HEALTHCHECK .* CMD (\[.*\])$", steps, re.M)
        assert found is not None
        check = json.loads(found[1])
        code = check[2].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0  # noqa: S603
        # and /metrics adds up the /healthz requests of both server processes (eight, and the
        # health check's)
        deadline = time.monotonic() + 10
        while (after := healthz_counted()) != before + 9 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert after == before + 9
        assert re.search(r"^apcert_worker_heartbeat_age_seconds \d", scraped[-1], re.M)
        # (each server process that answered wrote its counts in the directory serve set up;
        # that a scrape adds them up is tests/test_operations.py's)
        assert list((tmp_path / "var" / "metrics").glob("counter_*.db"))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=40)
        finally:
            _end(proc, below)
    # and each request's access line, in JSON, carries the id its answer was sent with
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line[:1] == "{"]
    access = {r["request_id"]: r for r in lines if r["logger"] == "apcert.access"}
    assert ids and all(access[i]["route"] == "healthz" for i in ids)
