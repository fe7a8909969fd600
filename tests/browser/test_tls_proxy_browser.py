"""Behind a TLS-terminating proxy, as the README's "Running behind HTTPS" deploys it: a person
signs in and saves a form in a real browser over HTTPS.

``apcert serve`` runs in production mode with exactly the documented environment, on a
SQLite database of its own, behind a proxy on 127.0.0.1 that ends TLS with a self-signed
certificate made here (tests/tls_proxy.py). Chromium is told to accept that certificate
and nothing else changes: the CSRF check must pass for a form posted from the public HTTPS
origin, the cookies must be ``Secure``, every page must carry HSTS and the
Content-Security-Policy, and plain HTTP to the server itself is sent to HTTPS.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.browser.conftest import LOOPBACK, RESULTS_DIR, TIMEOUT_MS
from tests.tls_proxy import TlsProxy

pytestmark = [pytest.mark.browser, pytest.mark.own_sqlite]

USERNAME = "secretariat"
PASSWORD = "x-Long-password-for-tls-1"
#: What the test sets of the environment; anything of the run's own is removed first.
SET_HERE = (
    "DATABASE_URL",
    "APCERT_ENV",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "APCERT_SITE_URL",
    "APCERT_BEHIND_TLS_PROXY",
    "APCERT_CSRF_TRUSTED_ORIGINS",
    "APCERT_SSL_REDIRECT",
    "APCERT_SECURE_COOKIES",
    "APCERT_HSTS_SECONDS",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _environment(tmp: Path, public_origin: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in SET_HERE}
    # The README's production environment, the public address being the proxy's.
    environ |= {
        "APCERT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "APCERT_SITE_URL": public_origin,
        "APCERT_BEHIND_TLS_PROXY": "1",
        "APCERT_VAR_DIR": str(tmp / "var"),
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    return environ


def _apcert(tmp: Path, environ: dict[str, str], *args: str) -> None:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        cwd=tmp,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"apcert {' '.join(args)}: {done.stdout}{done.stderr}"


@pytest.fixture
def served_behind_tls(tmp_path: Path) -> Iterator[tuple[TlsProxy, int]]:
    """The proxy (its ``url`` the public HTTPS origin) and the plain port of the server."""
    port = _free_port()
    with TlsProxy(port, tmp_path) as proxy:
        environ = _environment(tmp_path, proxy.url)
        _apcert(tmp_path, environ, "migrate", "--noinput", "-v0")
        _apcert(tmp_path, environ, "collectstatic", "--noinput", "-v0")
        _apcert(
            tmp_path,
            environ,
            "createsuperuser",
            "--noinput",
            "--username",
            USERNAME,
            "--email",
            "secretariat@example.org",
        )
        log = (tmp_path / "serve.log").open("wb")
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "apcert", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=environ,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/healthz", server, tmp_path / "serve.log")
            yield proxy, port
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
            log.close()


def _wait_for(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback
                return
        except (OSError, urllib.error.URLError):
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"apcert serve did not start: {log.read_text(errors='replace')}")
            time.sleep(0.2)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_a_person_signs_in_and_saves_a_form_through_the_tls_proxy(
    browser: Browser, served_behind_tls: tuple[TlsProxy, int]
) -> None:
    proxy, port = served_behind_tls
    origin = proxy.url
    context = browser.new_context(base_url=origin, locale="en-GB", ignore_https_errors=True)
    context.set_default_timeout(TIMEOUT_MS)
    elsewhere: list[str] = []

    def refuse(route: Route) -> None:
        elsewhere.append(route.request.url)
        route.abort()

    context.route(lambda url: not LOOPBACK.match(url), refuse)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        _sign_in_and_save(page, origin)
    except BaseException:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(RESULTS_DIR / "tls-proxy.png"), full_page=True)
        raise
    finally:
        cookies = context.cookies()
        context.close()
    assert not errors and not elsewhere, (errors, elsewhere)
    # The session and CSRF cookies the server set are sent over HTTPS only.
    by_name = {cookie["name"]: cookie for cookie in cookies}
    assert {"sessionid", "csrftoken"} <= set(by_name), sorted(by_name)
    assert all(by_name[name]["secure"] for name in ("sessionid", "csrftoken"))
    assert proxy.requests >= 5  # every page and form went through the proxy

    # The server itself, asked over plain HTTP, sends the browser to HTTPS (the health
    # check excepted, for a monitor on the same machine).
    opener = urllib.request.build_opener(_NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open(f"http://127.0.0.1:{port}/office/sign-in", timeout=5)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"].startswith("https://")


def _sign_in_and_save(page: Page, origin: str) -> None:
    response = page.goto("/office/sign-in")
    assert response is not None and response.status == 200
    assert page.url.startswith("https://")
    headers = response.headers
    assert headers["strict-transport-security"].startswith("max-age=31536000")
    assert "default-src 'self'" in headers["content-security-policy"]
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation() as signed_in:
        page.get_by_role("button", name="Sign in").click()
    assert signed_in.value is not None and signed_in.value.status == 200
    expect(page).to_have_url(re.compile(r"/office/$"))

    page.goto("/office/account/mail")
    boxes = page.get_by_role("checkbox")
    assert boxes.count() >= 2
    boxes.first.uncheck()
    with page.expect_navigation() as saved:
        page.get_by_role("button", name="Save").click()
    # Posted from the public HTTPS origin through the proxy: the CSRF check lets it through,
    # and the save is confirmed on the page it leads to.
    assert saved.value is not None and saved.value.status == 200, page.inner_text("body")[:500]
    assert saved.value.url == f"{origin}/office/account/mail"
    expect(page.get_by_text("Your mail preferences are saved.")).to_be_visible()
    expect(page.get_by_role("checkbox").first).not_to_be_checked()
    assert saved.value.headers["strict-transport-security"].startswith("max-age=31536000")
