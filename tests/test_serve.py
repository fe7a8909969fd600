"""`apcert serve` runs a real WSGI server (granian) that answers, static files included."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest


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
            proc.kill()
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
