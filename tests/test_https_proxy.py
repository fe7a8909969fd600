"""apcert behind a TLS-terminating reverse proxy, and the Content-Security-Policy of its pages.

The settings the environment gives (apcert.env, wired in apcert.settings), refused with a
clear message when a value is wrong; ``apcert check --deploy`` with the production
environment the README documents; the headers and cookies of each kind of answer through
the proxy; the CSRF check of a form posted through it; plain HTTP in development; and no
inline script, style or event handler left in the templates and the HTML the code writes.
"""

from __future__ import annotations

import importlib
import os
import re
import runpy
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

import apcert
from apcert import env
from apcert import settings as shipped
from apcert.api import ratelimit
from apcert.api.fastpath import PublicApiLayer
from apcert.certificates.models import Certificate
from tests.factories import World, make_user
from tests.wsgi_support import Recorder, wsgi_call

PUBLIC_HOST = "apcert.example.org"
PUBLIC_ORIGIN = "https://apcert.example.org"
#: What the TLS proxy adds to every request it passes on.
THROUGH_PROXY = {"X-Forwarded-Proto": "https"}
SIGN_IN = "/office/sign-in"
PASSWORD = "x-Long-password-1"  # tests.factories.make_user
YEAR = 365 * 24 * 60 * 60

#: Every variable these tests set, cleared first so that the machine's own cannot leak in.
VARIABLES = (
    "DATABASE_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "APCERT_ENV",
    "APCERT_TEST_DATABASE_NAME",
    "APCERT_SITE_URL",
    "APCERT_BEHIND_TLS_PROXY",
    "APCERT_SSL_REDIRECT",
    "APCERT_SECURE_COOKIES",
    "APCERT_HSTS_SECONDS",
    "APCERT_HSTS_INCLUDE_SUBDOMAINS",
    "APCERT_HSTS_PRELOAD",
    "APCERT_CSRF_TRUSTED_ORIGINS",
)

#: The settings of HTTPS and of the policy, as apcert.settings makes them from the environment.
HTTPS_SETTINGS = (
    "SECURE_PROXY_SSL_HEADER",
    "SECURE_SSL_REDIRECT",
    "SECURE_REDIRECT_EXEMPT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "CSRF_TRUSTED_ORIGINS",
    "CONTENT_SECURITY_POLICY",
)


def production_environment(var_dir: Path) -> dict[str, str]:
    """The production environment of the README's "Running behind HTTPS", with a fresh
    secret key."""
    return {
        "APCERT_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": PUBLIC_HOST,
        "APCERT_SITE_URL": PUBLIC_ORIGIN,
        "APCERT_BEHIND_TLS_PROXY": "1",
        "APCERT_VAR_DIR": str(var_dir),
    }


def _fresh_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> Any:
    for key in VARIABLES:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("APCERT_VAR_DIR", str(tmp_path / "var"))
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    return importlib.reload(env)


@pytest.fixture(autouse=True)
def _restore_env_module(monkeypatch: pytest.MonkeyPatch) -> Any:
    yield
    monkeypatch.undo()
    importlib.reload(env)


def refusal(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> str:
    """The message apcert.env refuses this environment with. (Reading the module again makes
    its ConfigurationError class anew: it is known by name.)"""
    with pytest.raises(RuntimeError) as refused:
        _fresh_env(monkeypatch, tmp_path, **values)
    assert type(refused.value).__name__ == "ConfigurationError"
    assert type(refused.value).__module__ == "apcert.env"
    return str(refused.value)


@pytest.fixture(autouse=True)
def _fresh_counts() -> Any:
    ratelimit.reset()
    yield
    ratelimit.reset()


def settings_from(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **values: str) -> dict:
    """The HTTPS settings apcert.settings makes from this environment (the module run
    afresh over apcert.env read again)."""
    _fresh_env(monkeypatch, tmp_path, **values)
    made = runpy.run_path(str(Path(shipped.__file__)))
    return {name: made[name] for name in HTTPS_SETTINGS}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any) -> dict:
    """The production environment's HTTPS settings in force for the test (the host the
    proxy passes on among the allowed ones)."""
    values = settings_from(monkeypatch, tmp_path, **production_environment(tmp_path / "var"))
    for name, value in values.items():
        setattr(settings, name, value)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, PUBLIC_HOST]
    return values


# --- the settings the environment gives ----------------------------------------------------


def test_development_stays_plain_http_by_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = settings_from(monkeypatch, tmp_path)
    assert made["SECURE_PROXY_SSL_HEADER"] is None
    assert made["SECURE_SSL_REDIRECT"] is False
    assert made["SECURE_HSTS_SECONDS"] == 0
    assert (made["SESSION_COOKIE_SECURE"], made["CSRF_COOKIE_SECURE"]) == (False, False)
    assert made["CSRF_TRUSTED_ORIGINS"] == []


def test_the_documented_production_environment_turns_https_on(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = settings_from(monkeypatch, tmp_path, **production_environment(tmp_path / "var"))
    assert made["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert made["SECURE_SSL_REDIRECT"] is True
    # (a monitor and a scraper ask the server itself, over plain HTTP)
    assert made["SECURE_REDIRECT_EXEMPT"] == [r"^healthz$", r"^metrics$"]
    assert (
        made["SECURE_HSTS_SECONDS"],
        made["SECURE_HSTS_INCLUDE_SUBDOMAINS"],
        made["SECURE_HSTS_PRELOAD"],
    ) == (YEAR, True, False)
    assert (made["SESSION_COOKIE_SECURE"], made["CSRF_COOKIE_SECURE"]) == (True, True)
    # the public origin is the site's address unless given
    assert made["CSRF_TRUSTED_ORIGINS"] == [PUBLIC_ORIGIN]


def test_each_default_gives_way_to_its_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made = settings_from(
        monkeypatch,
        tmp_path,
        **production_environment(tmp_path / "var"),
        APCERT_SSL_REDIRECT="off",
        APCERT_SECURE_COOKIES="no",
        APCERT_HSTS_SECONDS="600",
        APCERT_HSTS_INCLUDE_SUBDOMAINS="false",
        APCERT_CSRF_TRUSTED_ORIGINS="https://a.example.org, https://b.example.org:8443",
    )
    assert made["SECURE_SSL_REDIRECT"] is False
    assert (made["SESSION_COOKIE_SECURE"], made["CSRF_COOKIE_SECURE"]) == (False, False)
    assert (made["SECURE_HSTS_SECONDS"], made["SECURE_HSTS_INCLUDE_SUBDOMAINS"]) == (600, False)
    assert made["CSRF_TRUSTED_ORIGINS"] == ["https://a.example.org", "https://b.example.org:8443"]
    # and in development, the proxy alone brings the redirect to HTTPS
    made = settings_from(monkeypatch, tmp_path, APCERT_BEHIND_TLS_PROXY="yes")
    assert made["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert (made["SECURE_SSL_REDIRECT"], made["SESSION_COOKIE_SECURE"]) == (True, False)


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("https://Apcert.Example.ORG/", ["https://apcert.example.org"]),
        ("https://apcert.example.org:443", ["https://apcert.example.org"]),
        (
            "https://203.0.113.5:8443,https://[2001:DB8::1]",
            ["https://203.0.113.5:8443", "https://[2001:db8::1]"],
        ),
    ],
)
def test_trusted_origins_are_written_as_browsers_send_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, raw: str, origins: list[str]
) -> None:
    e = _fresh_env(monkeypatch, tmp_path, APCERT_CSRF_TRUSTED_ORIGINS=raw)
    written = e.CSRF_TRUSTED_ORIGINS
    assert written == origins


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("http://apcert.example.org", "must begin with https://"),
        ("apcert.example.org", "must begin with https://"),
        ("https://apcert.example.org/office", "with nothing after them"),
        ("https://apcert.example.org?a=1", "with nothing after them"),
        ("https://user@apcert.example.org", "with nothing after them"),
        ("https://apcert.example.org:99999", "port must be a number from 1 to 65535"),
        ("https://apcert.example.org:https", "port must be a number from 1 to 65535"),
        ("https://", "it names no valid host"),
        ("https://apcert_example.org", "it names no valid host"),
        ("https://[2001:db8::1", "it names no valid host"),
    ],
)
def test_a_trusted_origin_that_is_not_https_host_port_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, raw: str, says: str
) -> None:
    message = refusal(
        monkeypatch, tmp_path, APCERT_CSRF_TRUSTED_ORIGINS=f"https://ok.example.org,{raw}"
    )
    assert message.startswith(f"APCERT_CSRF_TRUSTED_ORIGINS: {raw!r} is not an origin such as")
    assert says in message


@pytest.mark.parametrize(
    "name",
    [
        "APCERT_BEHIND_TLS_PROXY",
        "APCERT_SSL_REDIRECT",
        "APCERT_SECURE_COOKIES",
        "APCERT_HSTS_INCLUDE_SUBDOMAINS",
        "APCERT_HSTS_PRELOAD",
    ],
)
def test_a_switch_that_is_neither_on_nor_off_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str
) -> None:
    assert refusal(monkeypatch, tmp_path, **{name: "enabled"}) == (
        f"{name} must be 1, true, yes or on, or 0, false, no or off, not 'enabled'."
    )


def test_hsts_seconds_must_be_a_whole_number(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert refusal(monkeypatch, tmp_path, APCERT_HSTS_SECONDS="1y") == (
        "APCERT_HSTS_SECONDS must be a whole number, not '1y'."
    )
    assert refusal(monkeypatch, tmp_path, APCERT_HSTS_SECONDS="-1") == (
        "APCERT_HSTS_SECONDS must be zero or more, not -1."
    )


def test_preload_needs_a_year_of_hsts_over_the_subdomains(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    short = refusal(monkeypatch, tmp_path, APCERT_HSTS_PRELOAD="1", APCERT_HSTS_SECONDS="600")
    assert short.startswith("APCERT_HSTS_PRELOAD needs APCERT_HSTS_SECONDS of at least 31536000")
    assert short.endswith("(now 600 seconds, subdomains on).")
    narrow = refusal(
        monkeypatch,
        tmp_path,
        APCERT_ENV="production",
        APCERT_HSTS_PRELOAD="1",
        APCERT_HSTS_INCLUDE_SUBDOMAINS="0",
    )
    assert narrow.endswith(f"(now {YEAR} seconds, subdomains off).")
    e = _fresh_env(monkeypatch, tmp_path, APCERT_ENV="production", APCERT_HSTS_PRELOAD="on")
    assert (e.HSTS_SECONDS, e.HSTS_INCLUDE_SUBDOMAINS, e.HSTS_PRELOAD) == (YEAR, True, True)


# --- apcert check --deploy -------------------------------------------------------------------


def _apcert(*args: str, cwd: Path, environment: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in VARIABLES}
    environ.update(environment)
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "apcert", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.own_sqlite
def test_check_deploy_finds_nothing_with_the_documented_production_environment(
    tmp_path: Path,
) -> None:
    production = production_environment(tmp_path / "var")
    result = _apcert(
        "check", "--deploy", "--fail-level", "WARNING", cwd=tmp_path, environment=production
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr + result.stdout

    # and it does read them: without the proxy, nothing brings plain HTTP over to HTTPS
    del production["APCERT_BEHIND_TLS_PROXY"]
    result = _apcert(
        "check", "--deploy", "--fail-level", "WARNING", cwd=tmp_path, environment=production
    )
    assert result.returncode == 1
    assert "(security.W008)" in result.stderr
    assert "(security.W004)" not in result.stderr


@pytest.mark.own_sqlite
def test_a_wrong_value_stops_apcert_with_its_message_and_no_traceback(tmp_path: Path) -> None:
    environment = {
        **production_environment(tmp_path / "var"),
        "APCERT_CSRF_TRUSTED_ORIGINS": "http://apcert.example.org",
    }
    result = _apcert("check", cwd=tmp_path, environment=environment)
    assert result.returncode == 1
    assert result.stderr.startswith(
        "apcert: APCERT_CSRF_TRUSTED_ORIGINS: 'http://apcert.example.org' is not an origin"
    )
    assert "Traceback" not in result.stderr


# --- headers and cookies through the proxy ---------------------------------------------------


def policy(response: Any) -> dict[str, str]:
    """The Content-Security-Policy header as {directive: sources}."""
    header = response.headers["Content-Security-Policy"]
    return dict(part.strip().partition(" ")[::2] for part in header.split(";"))


#: What every HTML page's policy holds: nothing inline, nothing from elsewhere.
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
HSTS = f"max-age={YEAR}; includeSubDomains"


def html(response: Any) -> str:
    assert response["Content-Type"].startswith("text/html"), response["Content-Type"]
    return str(response.content.decode())


def form_token(response: Any) -> str:
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html(response))
    assert found is not None, "no CSRF token on the form"
    return found.group(1)


@pytest.mark.django_db
def test_every_kind_of_answer_through_the_proxy_has_the_policy_hsts_and_secure_cookies(
    production: dict, world: World
) -> None:
    certificate: Certificate = world.granted()
    person = make_user("proxied")
    client = Client(enforce_csrf_checks=True)

    # a public page: the policy and HSTS, and no cookie
    search = client.get("/", headers=THROUGH_PROXY)
    assert search.status_code == 200
    html(search)
    assert policy(search) == POLICY
    assert search.headers["Strict-Transport-Security"] == HSTS
    assert search.cookies == {}
    page = client.get(f"/certificates/{quote(certificate.number)}", headers=THROUGH_PROXY)
    assert (page.status_code, policy(page)) == (200, POLICY)
    assert certificate.number in html(page)

    # the sign-in page: its CSRF cookie is sent over HTTPS only
    sign_in = client.get(SIGN_IN, headers=THROUGH_PROXY)
    assert (sign_in.status_code, policy(sign_in)) == (200, POLICY)
    assert sign_in.headers["Strict-Transport-Security"] == HSTS
    assert sign_in.cookies["csrftoken"]["secure"] is True
    assert sign_in.cookies["csrftoken"]["httponly"] is True

    # signing in through the proxy: the session cookie too
    signed_in = client.post(
        SIGN_IN,
        {
            "username": person.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": form_token(sign_in),
        },
        headers={**THROUGH_PROXY, "Origin": PUBLIC_ORIGIN},
    )
    assert (signed_in.status_code, signed_in["Location"]) == (302, "/office/")
    assert signed_in.cookies["sessionid"]["secure"] is True

    # a back-office page
    home = client.get("/office/", headers=THROUGH_PROXY)
    assert home.status_code == 200
    assert "Signed in as" in html(home)
    assert policy(home) == POLICY
    assert home.headers["Strict-Transport-Security"] == HSTS

    # an error page
    missing = client.get("/no-such-page", headers=THROUGH_PROXY)
    assert missing.status_code == 404
    html(missing)
    assert policy(missing) == POLICY

    # an API answer, from Django: HSTS, and JSON
    api = client.get(f"/api/public/certificates/{quote(certificate.number)}", headers=THROUGH_PROXY)
    assert api.status_code == 200
    assert api["Content-Type"].startswith("application/json")
    assert api.json()["number"] == certificate.number
    assert api.headers["Strict-Transport-Security"] == HSTS


@pytest.mark.django_db
def test_plain_http_is_sent_to_https_but_the_health_check_answers(production: dict) -> None:
    client = Client()
    plain = client.get("/bodies/")
    assert (plain.status_code, plain["Location"]) == (301, "https://testserver/bodies/")
    assert "Strict-Transport-Security" not in plain.headers
    health = client.get("/healthz")
    assert health.status_code == 200
    assert health.json()["database"] == "ok"
    assert client.get("/healthz", headers=THROUGH_PROXY).status_code == 200


@pytest.mark.django_db
def test_the_api_fast_path_answers_through_the_proxy_with_djangos_headers(
    production: dict, world: World
) -> None:
    certificate = world.granted()
    django = Recorder()
    layer = PublicApiLayer(django)
    address = f"/api/public/certificates/{quote(certificate.number, safe='')}"

    # through the proxy the layer answers alone, with HSTS and the headers Django would send
    fast = wsgi_call(layer, address, headers=THROUGH_PROXY)
    assert (fast.status, django.calls) == (200, [])
    assert fast.headers["Strict-Transport-Security"] == HSTS
    ninja = Client().get(address, headers=THROUGH_PROXY)
    assert fast.json() == ninja.json()
    # (the validators differ: the layer's is of the bytes it sends)
    differ = ("Content-Length", "ETag", "Last-Modified")
    assert {k: v for k, v in fast.headers.items() if k not in differ} == {
        k: v for k, v in ninja.headers.items() if k not in differ
    }
    # over plain HTTP, Django sends it to HTTPS
    assert wsgi_call(layer, address).status == 299
    assert django.calls == [f"/api/public/certificates/{certificate.number}"]


# --- the CSRF check through the proxy --------------------------------------------------------


def _post_sign_in(client: Client, origin: str, host: str = "testserver") -> Any:
    person = make_user("poster")
    form = client.get(SIGN_IN, headers=THROUGH_PROXY, HTTP_HOST=host)
    assert form.status_code == 200
    return client.post(
        SIGN_IN,
        {
            "username": person.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": form_token(form),
        },
        headers={**THROUGH_PROXY, "Origin": origin},
        HTTP_HOST=host,
    )


@pytest.mark.django_db
def test_a_form_from_the_public_origin_passes_csrf_behind_the_proxy(production: dict) -> None:
    # the proxy hands apcert another Host than the browser's: the origin is a trusted one
    answer = _post_sign_in(Client(enforce_csrf_checks=True), PUBLIC_ORIGIN)
    assert (answer.status_code, answer["Location"]) == (302, "/office/")


@pytest.mark.django_db
def test_a_form_from_another_origin_is_refused_behind_the_proxy(production: dict) -> None:
    client = Client(enforce_csrf_checks=True)
    answer = _post_sign_in(client, "https://elsewhere.example")
    assert answer.status_code == 403
    assert "The form has expired" in html(answer)
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
@pytest.mark.parametrize(("behind_proxy", "status"), [(True, 302), (False, 403)])
def test_the_proxy_setting_is_what_lets_a_form_posted_over_https_through(
    production: dict, settings: Any, behind_proxy: bool, status: int
) -> None:
    # given a proxy that passes the browser's Host on, and no trusted origin named
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.SECURE_SSL_REDIRECT = False
    if not behind_proxy:
        settings.SECURE_PROXY_SSL_HEADER = None
    # the form's https:// origin matches the request only when apcert knows it came over HTTPS
    answer = _post_sign_in(Client(enforce_csrf_checks=True), PUBLIC_ORIGIN, host=PUBLIC_HOST)
    assert answer.status_code == status


# --- development: plain HTTP -----------------------------------------------------------------


@pytest.mark.django_db
def test_in_development_plain_http_serves_pages_and_posts_forms() -> None:
    client = Client(enforce_csrf_checks=True)
    person = make_user("local")
    form = client.get(SIGN_IN)
    assert form.status_code == 200
    assert policy(form) == POLICY
    assert "Strict-Transport-Security" not in form.headers
    assert form.cookies["csrftoken"]["secure"] == ""
    answer = client.post(
        SIGN_IN,
        {
            "username": person.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": form_token(form),
        },
        headers={"Origin": "http://testserver"},
    )
    assert (answer.status_code, answer["Location"]) == (302, "/office/")
    assert answer.cookies["sessionid"]["secure"] == ""
    assert client.get("/office/").status_code == 200


# --- nothing inline for the policy to refuse -------------------------------------------------

SOURCE = Path(apcert.__file__).resolve().parent

#: What the policy refuses to run or apply, as it would be written in HTML.
INLINE = {
    "an inline <script>": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "a <style> element": re.compile(r"<style\b", re.IGNORECASE),
    "a style or event handler attribute": re.compile(
        r"<[a-z][^<>]*\s(?:style|on[a-z]+)\s*=", re.IGNORECASE
    ),
    "a javascript: address": re.compile(r"javascript:", re.IGNORECASE),
}


def inline_code(text: str) -> list[str]:
    return [what for what, pattern in INLINE.items() if pattern.search(text)]


def test_the_inline_finder_finds_each_kind() -> None:
    assert inline_code("<script>alert(1)</script>") == ["an inline <script>"]
    assert inline_code('<script src="/static/a.js" defer></script>') == []
    assert inline_code("<style>p{}</style>") == ["a <style> element"]
    assert inline_code('<pre style="margin: 0">') == ["a style or event handler attribute"]
    assert inline_code('<button type="button" onclick="go()">') == [
        "a style or event handler attribute"
    ]
    assert inline_code('<a href="javascript:void(0)">') == ["a javascript: address"]
    assert inline_code('<p class="on-time">{{ style }}</p>') == []


def test_no_template_or_python_module_writes_inline_script_style_or_handler() -> None:
    files = [p for p in SOURCE.rglob("templates/**/*") if p.is_file()]
    files += [p for p in SOURCE.rglob("*.py") if "migrations" not in p.parts]
    assert len(files) > 100
    found = {
        str(p.relative_to(SOURCE)): kinds
        for p in files
        if (kinds := inline_code(p.read_text(encoding="utf-8")))
    }
    assert found == {}
