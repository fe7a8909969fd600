"""The public API's rate limit per client address: the bucket arithmetic, which address a
request counts under, the settings, and the 429 answer of the WSGI layer in front of Django."""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from apcert import env
from apcert.api import ratelimit
from apcert.api.fastpath import PublicApiLayer
from apcert.api.ratelimit import RateLimiter, address_key, client_key
from apcert.wsgi import application
from tests.wsgi_support import Recorder, wsgi_call

S = 1_000_000_000  # nanoseconds


class Clock:
    def __init__(self) -> None:
        self.now = 1_000 * S

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * S)


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    ratelimit.reset()
    yield
    ratelimit.reset()


# --- the buckets ----------------------------------------------------------------------------


def test_a_full_bucket_lets_the_limit_through_then_refills_one_request_at_a_time() -> None:
    clock = Clock()
    limiter = RateLimiter(3, 60, clock=clock)
    # a client may ask the limit at once
    assert [limiter.hit("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    # the next waits for one request's worth to refill: 60 s / 3
    assert limiter.hit("a") == 20.0
    clock.advance(19.5)
    assert limiter.hit("a") == 0.5
    clock.advance(0.5)
    assert limiter.hit("a") == 0.0
    assert limiter.hit("a") == 20.0


def test_a_refused_request_is_not_counted() -> None:
    clock = Clock()
    limiter = RateLimiter(1, 10, clock=clock)
    assert limiter.hit("a") == 0.0
    for _ in range(50):
        assert limiter.hit("a") == 10.0
    clock.advance(10)
    assert limiter.hit("a") == 0.0


def test_exactly_the_limit_passes_at_one_instant_whatever_the_ratio() -> None:
    # 60 s / 7 is no exact binary fraction: the arithmetic is in whole numbers
    for limit, window in ((7, 60), (300, 60), (1_000, 1), (3, 0.1)):
        limiter = RateLimiter(limit, window, clock=Clock())
        allowed = sum(1 for _ in range(limit + 5) if limiter.hit("a") == 0.0)
        assert allowed == limit, (limit, window)


def test_addresses_have_separate_buckets() -> None:
    limiter = RateLimiter(1, 60, clock=Clock())
    assert limiter.hit("a") == 0.0
    assert limiter.hit("b") == 0.0
    assert limiter.hit("a") == 60.0
    assert limiter.hit("b") == 60.0


def test_an_address_is_forgotten_once_its_bucket_is_full_again() -> None:
    clock = Clock()
    limiter = RateLimiter(2, 60, clock=clock)
    limiter.hit("a")
    limiter.hit("b")
    limiter.hit("b")
    assert len(limiter) == 2
    clock.advance(30)  # a's bucket is full again; b's is half full
    limiter.hit("c")
    assert len(limiter) == 2  # a is gone; b and c remain
    clock.advance(60)
    limiter.hit("d")
    assert len(limiter) == 1


def test_beyond_the_most_addresses_the_least_recently_seen_is_forgotten() -> None:
    limiter = RateLimiter(1, 60, max_keys=2, clock=Clock())
    limiter.hit("a")
    limiter.hit("b")
    limiter.hit("a")  # refused, but seen: b is now the least recently seen
    limiter.hit("c")
    assert len(limiter) == 2
    assert limiter.hit("a") == 60.0  # still remembered
    assert limiter.hit("b") == 0.0  # forgotten, so a full bucket again


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (-1, 60), (10, 0)])
def test_a_limiter_needs_a_limit_and_a_window(limit: int, window: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(limit, window)


def test_threads_never_pass_more_than_the_limit() -> None:
    # a clock that stands still: no refill, so exactly the limit may pass in all
    limiter = RateLimiter(1_000, 60, clock=lambda: 5 * S)
    passed: list[int] = []
    start = threading.Barrier(8)

    def client() -> None:
        start.wait()
        passed.append(sum(1 for _ in range(500) if limiter.hit("shared") == 0.0))

    threads = [threading.Thread(target=client) for _ in range(8)]
    # switch threads as often as the interpreter can, so that a missing lock shows
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert sum(passed) == 1_000


# --- which address a request counts under ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # same /64: same subscriber
        ("[2001:db8::1]", "2001:db8::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::1%eth0", "fe80::/64"),
        ("", None),
        ("unknown", None),
        ("203.0.113.7:5000", None),
    ],
)
def test_address_keys(text: str, key: str | None) -> None:
    assert address_key(text) == key


def test_the_connection_address_counts_unless_a_proxy_header_is_trusted() -> None:
    environ = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.7"}
    assert client_key(environ) == "10.0.0.2"
    # the last address is the one the trusted proxy added; earlier ones came from the client
    assert client_key(environ, "X-Forwarded-For") == "203.0.113.7"
    assert client_key(
        {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "203.0.113.9"}, "X-Real-IP"
    ) == ("203.0.113.9")
    # a header without a usable address counts as the proxy's own address
    assert client_key({"REMOTE_ADDR": "10.0.0.2", "HTTP_X_REAL_IP": "junk"}, "X-Real-IP") == (
        "10.0.0.2"
    )
    assert client_key({"REMOTE_ADDR": "10.0.0.2"}, "X-Real-IP") == "10.0.0.2"
    assert client_key({}) == ratelimit.UNKNOWN


# --- the settings ---------------------------------------------------------------------------


@pytest.fixture
def reload_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[object]:
    monkeypatch.setenv("APCERT_VAR_DIR", str(tmp_path / "var"))
    for name in ("APCERT_API_RATE_LIMIT", "APCERT_API_RATE_WINDOW", "APCERT_TRUSTED_PROXY_HEADER"):
        monkeypatch.delenv(name, raising=False)

    def load(**values: str) -> object:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return importlib.reload(env)

    yield load
    monkeypatch.undo()
    importlib.reload(env)


def test_settings_default_to_300_a_minute_and_no_proxy(reload_env) -> None:  # type: ignore[no-untyped-def]
    e = reload_env()
    assert (e.API_RATE_LIMIT, e.API_RATE_WINDOW, e.TRUSTED_PROXY_HEADER) == (300, 60, "")


def test_settings_come_from_the_environment(reload_env) -> None:  # type: ignore[no-untyped-def]
    e = reload_env(
        APCERT_API_RATE_LIMIT="0",
        APCERT_API_RATE_WINDOW=" 10 ",
        APCERT_TRUSTED_PROXY_HEADER="X-Forwarded-For",
    )
    assert (e.API_RATE_LIMIT, e.API_RATE_WINDOW, e.TRUSTED_PROXY_HEADER) == (
        0,
        10,
        "X-Forwarded-For",
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "APCERT_API_RATE_LIMIT",
            "lots",
            "APCERT_API_RATE_LIMIT must be a whole number, not 'lots'.",
        ),
        ("APCERT_API_RATE_WINDOW", "-5", "APCERT_API_RATE_WINDOW must be zero or more, not -5."),
        (
            "APCERT_TRUSTED_PROXY_HEADER",
            "X-Forwarded-For: 1.2.3.4",
            "APCERT_TRUSTED_PROXY_HEADER must be an HTTP header name such as X-Forwarded-For, "
            "not 'X-Forwarded-For: 1.2.3.4'.",
        ),
    ],
)
def test_bad_settings_stop_the_start(reload_env, name: str, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    # (a reload defines the module's classes anew, so the error is matched by name)
    with pytest.raises(RuntimeError) as raised:
        reload_env(**{name: value})
    assert type(raised.value).__name__ == "ConfigurationError"
    assert str(raised.value) == message


# --- the answer -----------------------------------------------------------------------------

OPENAPI = "/api/public/openapi.json"  # an answer that needs no database


@override_settings(API_RATE_LIMIT=2, API_RATE_WINDOW=60)
def test_beyond_the_limit_the_api_answers_429_problem_json_with_retry_after() -> None:
    # given a limit of 2 a minute
    # when one address asks three times
    answers = [wsgi_call(application, OPENAPI, remote="203.0.113.7") for _ in range(3)]
    # then the third is refused, with the seconds until one request has refilled
    assert [a.status for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.headers["Retry-After"] == "30"
    assert refused.headers["Cache-Control"] == "no-store"  # a refusal is never kept
    assert refused.headers["Content-Type"] == "application/json; charset=utf-8"
    assert refused.headers["Content-Length"] == str(len(refused.body))
    assert refused.json() == {
        "code": "rate_limited",
        "message": "Too many requests from one address: the public API answers 2 every 60 "
        "seconds. Try again in 30 seconds.",
    }
    # and another address is still answered
    assert wsgi_call(application, OPENAPI, remote="203.0.113.8").status == 200


@override_settings(API_RATE_LIMIT=1, API_RATE_WINDOW=60)
def test_the_limit_covers_every_path_under_the_public_api_and_no_other() -> None:
    django = Recorder()
    layer = PublicApiLayer(django)
    for path in ("/api/public/search", "/api/public/bodies", "/api/public/docs"):
        ratelimit.reset()
        first = wsgi_call(layer, path, method="POST")
        second = wsgi_call(layer, path, method="POST")
        assert (first.status, second.status) == (299, 429), path
    # other pages are never counted
    for _ in range(3):
        assert wsgi_call(layer, "/register/").status == 299
        assert wsgi_call(layer, "/api/publicity").status == 299
    assert len(django.calls) == 3 + 6


@override_settings(API_RATE_LIMIT=1, API_RATE_WINDOW=60)
def test_a_head_request_is_refused_without_a_body() -> None:
    layer = PublicApiLayer(Recorder())
    wsgi_call(layer, OPENAPI, method="HEAD")
    refused = wsgi_call(layer, OPENAPI, method="HEAD")
    assert (refused.status, refused.body) == (429, b"")
    assert refused.headers["Retry-After"] == "60"


@pytest.mark.parametrize("setting", [{"API_RATE_LIMIT": 0}, {"API_RATE_WINDOW": 0}])
def test_zero_turns_the_limit_off(setting: dict[str, int]) -> None:
    layer = PublicApiLayer(Recorder())
    with override_settings(**setting):
        statuses = {wsgi_call(layer, OPENAPI).status for _ in range(400)}
    assert statuses == {299}


@override_settings(API_RATE_LIMIT=1, API_RATE_WINDOW=60, TRUSTED_PROXY_HEADER="X-Forwarded-For")
def test_behind_a_trusted_proxy_each_client_has_its_own_bucket() -> None:
    layer = PublicApiLayer(Recorder())
    proxy = "10.0.0.2"

    def ask(chain: str) -> int:
        return wsgi_call(layer, OPENAPI, remote=proxy, headers={"X-Forwarded-For": chain}).status

    assert ask("203.0.113.7") == 299
    assert ask("203.0.113.8") == 299
    assert ask("203.0.113.7") == 429
    # a client that writes its own X-Forwarded-For still counts as the address the proxy saw
    assert ask("198.51.100.99, 203.0.113.7") == 429


@override_settings(API_RATE_LIMIT=1, API_RATE_WINDOW=60)
def test_a_changed_limit_starts_afresh() -> None:
    layer = PublicApiLayer(Recorder())
    assert [wsgi_call(layer, OPENAPI).status for _ in range(2)] == [299, 429]
    with override_settings(API_RATE_LIMIT=2):
        assert [wsgi_call(layer, OPENAPI).status for _ in range(3)] == [299, 299, 429]


@override_settings(API_RATE_LIMIT=1, API_RATE_WINDOW=60)
def test_no_address_is_ever_logged(db: None, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for path in (OPENAPI, "/api/public/certificates/IECQ-A%20ZZ%2026.0001"):
        ratelimit.reset()
        for _ in range(2):
            wsgi_call(application, path, remote="203.0.113.77")
    assert "203.0.113.77" not in caplog.text
    assert all("203.0.113.77" not in str(r.__dict__) for r in caplog.records)
