"""The fast path of ``GET /api/public/certificates/{number}`` (apcert.api.fastpath): the
document stored in the search index, sent without Django's middleware and ORM, the same JSON
as the ninja view; everything it does not answer goes on to Django."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
import weakref
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import time_machine
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.test import Client, override_settings

from apcert.api import fastpath, ratelimit
from apcert.api.fastpath import PublicApiLayer
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_suspend
from apcert.register.models import SearchEntry
from apcert.wsgi import application
from tests.factories import World
from tests.wsgi_support import Recorder, wsgi_call

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _within_the_maximum_suspension() -> Iterator[None]:
    # The register shows a suspension that has run to the scheme's maximum as a withdrawal,
    # whatever the sweep has recorded: these tests read certificates suspended in June 2026
    # on a day when the suspension still holds.
    with time_machine.travel(dt.datetime(2026, 7, 1, 10, 0), tick=False):
        yield


SUSPENDED_ON = dt.date(2026, 6, 1)


def path(number: str, tail: str = "") -> str:
    return f"/api/public/certificates/{quote(number, safe='')}{tail}"


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    ratelimit.reset()
    yield
    ratelimit.reset()


@pytest.fixture
def django() -> Recorder:
    return Recorder()


@pytest.fixture
def layer(django: Recorder) -> PublicApiLayer:
    """The layer in front of a stand-in for Django, to tell who answered."""
    return PublicApiLayer(django)


@pytest.fixture
def cert(world: World) -> Certificate:
    return world.granted()


def test_the_fast_path_answers_the_ninja_views_json_from_the_index(
    cert: Certificate, layer: PublicApiLayer, django: Recorder, client: Client
) -> None:
    # given a granted certificate, indexed in its grant's transaction
    # when it is asked for through the layer
    fast = wsgi_call(layer, path(cert.number))
    # then the layer answers alone, with the stored document as it is stored
    assert django.calls == []
    assert fast.status == 200
    assert fast.body == SearchEntry.objects.get(number=cert.number).document.encode()
    # which is the JSON the ninja view builds from the certificate itself
    ninja = client.get(path(cert.number))
    assert ninja.status_code == 200
    assert fast.json() == ninja.json()
    assert fast.json()["number"] == cert.number
    # with Django's headers (the length differs: the stored JSON is compact; the tag too:
    # the layer's is of the bytes it sends, Django's of the register's latest change)
    assert fast.headers["Content-Length"] == str(len(fast.body))
    differ = ("Content-Length", "ETag", "Last-Modified")
    assert {k: v for k, v in fast.headers.items() if k not in differ} == {
        k: v for k, v in ninja.headers.items() if k not in differ
    }


def test_the_served_application_has_the_fast_path_in_front(
    cert: Certificate, client: Client
) -> None:
    answer = wsgi_call(application, path(cert.number))
    assert answer.status == 200
    assert answer.json() == client.get(path(cert.number)).json()


def test_the_query_string_is_ignored(cert: Certificate, layer: PublicApiLayer) -> None:
    answer = wsgi_call(layer, path(cert.number), query="format=xml&x=%ZZ")
    assert (answer.status, answer.json()["number"]) == (200, cert.number)


def test_head_answers_the_headers_alone(
    cert: Certificate, layer: PublicApiLayer, django: Recorder, client: Client
) -> None:
    get = wsgi_call(layer, path(cert.number))
    head = wsgi_call(layer, path(cert.number), method="HEAD")
    assert (head.status, head.body) == (200, b"")
    assert head.headers == get.headers
    assert django.calls == []
    # and Django answers HEAD as GET too, for numbers the index does not hold
    assert client.head(path("IECQ-A ZZ 26.9999")).status_code == 404


def test_after_a_status_change_the_fast_path_shows_the_new_status(
    world: World, cert: Certificate, layer: PublicApiLayer, client: Client
) -> None:
    # given a certificate read once
    assert wsgi_call(layer, path(cert.number)).json()["status"] == "current"
    # when it is suspended
    certificate_suspend(
        actor=world.team.decision_maker, certificate=cert, reason_category="complaint",
        reason="A complaint under review", decided_on=SUSPENDED_ON,
    )  # fmt: skip
    # then the next read shows the suspension, as the ninja view does
    body = wsgi_call(layer, path(cert.number)).json()
    assert (body["status"], body["status_since"], body["status_reason_category"]) == (
        "suspended",
        "2026-06-01",
        "complaint",
    )
    assert body == client.get(path(cert.number)).json()
    assert "A complaint under review" not in str(body)


# --- what goes on to Django -----------------------------------------------------------------


def test_a_number_the_index_does_not_hold_goes_on_to_django_for_its_404_problem(
    reference: None,
) -> None:
    answer = wsgi_call(application, path("IECQ-A ZZ 26.9999"))
    assert answer.status == 404
    assert answer.json() == {
        "code": "certificate.not_found",
        "message": "There is no certificate 'IECQ-A ZZ 26.9999' in the public register.",
    }


def test_a_certificate_missing_from_the_index_is_answered_by_django(
    cert: Certificate, client: Client
) -> None:
    # given a certificate whose index entry is missing (e.g. before a reindex)
    expected = client.get(path(cert.number)).json()
    SearchEntry.objects.filter(number=cert.number).delete()
    # then the served application still answers it, from the certificate
    answer = wsgi_call(application, path(cert.number))
    assert (answer.status, answer.json()) == (200, expected)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])
def test_other_methods_go_on_to_django(
    cert: Certificate, layer: PublicApiLayer, django: Recorder, method: str
) -> None:
    assert wsgi_call(layer, path(cert.number), method=method).status == 299
    assert django.calls == [f"/api/public/certificates/{cert.number}"]


def test_a_post_is_refused_by_django_as_it_would_be_without_the_fast_path(
    cert: Certificate,
) -> None:
    answer = wsgi_call(application, path(cert.number), method="POST")
    assert (answer.status, answer.headers["Allow"]) == (405, "GET, HEAD")
    assert answer.json() == {
        "code": "method_not_allowed",
        "message": "POST is not answered here; the methods are GET, HEAD.",
    }


@pytest.mark.parametrize(
    "tail",
    ["/history", "/as-of", "/", "//"],
)
def test_longer_paths_go_on_to_django(
    cert: Certificate, layer: PublicApiLayer, django: Recorder, tail: str
) -> None:
    assert wsgi_call(layer, path(cert.number, tail)).status == 299
    assert len(django.calls) == 1


@pytest.mark.parametrize(
    "raw",
    [
        "/api/public/certificates/",  # no number
        "/api/public/certificates/%FF%FE",  # not UTF-8
        "/api/public/certificates/IECQ-A%2FXX",  # an encoded slash: two path segments
        "/api/public/certificates/IECQ-A%00",  # a NUL, which PostgreSQL would refuse
        "/api/public/certificates",
    ],
)
def test_paths_without_one_number_go_on_to_django(
    reference: None, layer: PublicApiLayer, django: Recorder, raw: str
) -> None:
    assert wsgi_call(layer, raw).status == 299
    assert len(django.calls) == 1


def test_a_host_django_would_refuse_goes_on_to_django(
    cert: Certificate, layer: PublicApiLayer, django: Recorder
) -> None:
    assert wsgi_call(layer, path(cert.number), host="evil.example").status == 299
    assert wsgi_call(application, path(cert.number), host="evil.example").status == 400


@override_settings(SECURE_SSL_REDIRECT=True)
def test_a_plain_http_request_django_would_redirect_to_https_is_left_to_django(
    cert: Certificate, layer: PublicApiLayer, django: Recorder
) -> None:
    assert wsgi_call(layer, path(cert.number)).status == 299


def test_an_error_goes_on_to_django_and_is_logged_without_the_address(
    cert: Certificate,
    client: Client,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(number: str) -> bytes | None:
        raise RuntimeError("the index is unreadable")

    monkeypatch.setattr(fastpath, "_stored_document", broken)
    answer = wsgi_call(application, path(cert.number), remote="203.0.113.51")
    assert (answer.status, answer.json()) == (200, client.get(path(cert.number)).json())
    warnings = [r for r in caplog.records if r.name == "apcert.api.fastpath"]
    assert [r.getMessage() for r in warnings] == [
        "certificate fast path failed; Django answers instead"
    ]
    assert "203.0.113.51" not in caplog.text


# --- the rate limit -------------------------------------------------------------------------


@override_settings(API_RATE_LIMIT=2, API_RATE_WINDOW=10)
def test_the_rate_limit_applies_to_the_fast_path(
    cert: Certificate, layer: PublicApiLayer, django: Recorder
) -> None:
    answers = [wsgi_call(layer, path(cert.number), remote="203.0.113.7") for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429]
    assert answers[2].headers["Retry-After"] == "5"
    assert answers[2].json()["code"] == "rate_limited"
    assert wsgi_call(layer, path(cert.number), remote="203.0.113.8").status == 200
    assert django.calls == []


# --- connections ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_real_connection_handling_an_obsolete_connection_is_replaced(
    live_world: World,
) -> None:
    # given committed data and Django's own connection handling (no test transaction)
    cert = live_world.granted()
    layer = PublicApiLayer(Recorder())
    assert wsgi_call(layer, path(cert.number), keep_connection=False).status == 200
    before = connection.connection
    # a connection kept for ever (CONN_MAX_AGE None) serves request after request
    assert connection.settings_dict["CONN_MAX_AGE"] is None
    for _ in range(3):
        assert wsgi_call(layer, path(cert.number), keep_connection=False).status == 200
    assert connection.connection is before
    # when the connection has outlived its CONN_MAX_AGE
    connection.close_at = time.monotonic() - 1
    answer = wsgi_call(layer, path(cert.number), keep_connection=False)
    # then Django's receivers closed it, and the query ran on a new one
    assert (answer.status, answer.json()["number"]) == (200, cert.number)
    if connection.vendor != "sqlite":  # an in-memory test database is never closed
        assert connection.connection is not before
        assert connection.close_at is None


@pytest.mark.django_db(transaction=True)
def test_a_database_error_goes_on_to_django_and_leaves_the_connection_usable(
    live_world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    cert = live_world.granted()
    expected = Client().get(path(cert.number)).json()
    broken = dataclasses.replace(
        fastpath._config(),
        select="SELECT no_such FROM nowhere",
        prepared=b"SELECT no_such FROM nowhere WHERE $1::text <> $2::text",
    )
    monkeypatch.setattr(fastpath, "_current", broken)
    monkeypatch.setattr(fastpath, "_prepared", weakref.WeakSet())  # prepared afresh
    answer = wsgi_call(application, path(cert.number), keep_connection=False)
    assert (answer.status, answer.json()) == (200, expected)
    assert "certificate fast path failed" in caplog.text
    monkeypatch.undo()
    assert wsgi_call(application, path(cert.number), keep_connection=False).json() == expected


# --- PostgreSQL: the prepared statement ---------------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the prepared statement is PostgreSQL's"
)


def _terminate(pid: int) -> None:
    """End a server process from another session, as a server restart or an idle timeout
    would, without the client noticing."""
    import psycopg

    params = connection.get_connection_params()
    conninfo = {
        k: v for k, v in params.items() if k in {"dbname", "user", "password", "host", "port"}
    }
    with psycopg.connect(**conninfo, autocommit=True) as other:
        ended = other.execute("SELECT pg_terminate_backend(%s, 5000)", [pid]).fetchone()
    assert ended == (True,)
    # With a timeout, pg_terminate_backend returns once the process has ended; the client's
    # socket learns of it at its next read.


def _statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_fast_path_answers_through_a_statement_prepared_once_a_connection(
    live_world: World,
) -> None:
    # given two certificates, and a connection that has not run the fast path yet
    cert, other = live_world.granted(), live_world.granted()
    layer = PublicApiLayer(Recorder())
    connection.close()
    # when both are asked for, twice
    answers = [wsgi_call(layer, path(c.number), keep_connection=False) for c in (cert, other) * 2]
    # then the layer answers each one itself, from one statement prepared on the connection
    assert [(a.status, a.json()["number"]) for a in answers] == [
        (200, c.number) for c in (cert, other) * 2
    ]
    assert layer.app.calls == []  # type: ignore[attr-defined]
    assert fastpath.STATEMENT.decode() in _statements()
    assert connection.connection in fastpath._prepared
    # and a number the index does not hold still goes on to Django
    assert wsgi_call(layer, path("IECQ-A ZZ 26.9999"), keep_connection=False).status == 299


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_between_requests_is_replaced_and_the_next_answers(
    live_world: World, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a certificate served once on a kept connection, inside the health check's 5 s
    cert = live_world.granted()
    expected = Client().get(path(cert.number)).json()
    assert wsgi_call(application, path(cert.number), keep_connection=False).status == 200
    dead = connection.connection
    # when that connection breaks between two requests without a word on its socket (a
    # network cut; a server that ends it says so, which the next test covers)
    monkeypatch.setattr(connections[DEFAULT_DB_ALIAS], "_server_spoke", lambda: False)
    _terminate(dead.info.backend_pid)
    # then the next request is still answered (Django answers it on a new connection,
    # the fast path's query having met the broken one)
    answer = wsgi_call(application, path(cert.number), keep_connection=False)
    assert (answer.status, answer.json()) == (200, expected)
    assert "certificate fast path failed" in caplog.text
    assert connection.connection is not dead
    # and the fast path serves the one after on the new connection, prepared afresh
    layer = PublicApiLayer(Recorder())
    answer = wsgi_call(layer, path(cert.number), keep_connection=False)
    assert (answer.status, answer.json()) == (200, expected)
    assert layer.app.calls == []  # type: ignore[attr-defined]
    assert connection.connection in fastpath._prepared


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_between_requests_is_replaced_before_the_query(
    live_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given a connection that served the fast path a moment ago (no health check due)
    cert = live_world.granted()
    layer = PublicApiLayer(Recorder())
    assert wsgi_call(layer, path(cert.number), keep_connection=False).status == 200
    dead = connection.connection
    connection._vouched_at = time.monotonic()  # type: ignore[attr-defined]
    # when the server ends it (it says so on the connection's socket, and closes it)
    _terminate(dead.info.backend_pid)
    time.sleep(0.2)
    # then the next request finds it ended before its query: a new connection is opened and
    # prepared, and the fast path answers it itself, nothing failed
    answer = wsgi_call(layer, path(cert.number), keep_connection=False)
    assert (answer.status, answer.json()["number"]) == (200, cert.number)
    assert layer.app.calls == []  # type: ignore[attr-defined]
    assert connection.connection is not dead
    assert "certificate fast path failed" not in caplog.text


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_found_by_a_due_health_check_is_replaced_before_the_query(
    live_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given a connection that served the fast path, and whose health check is due
    cert = live_world.granted()
    layer = PublicApiLayer(Recorder())
    assert wsgi_call(layer, path(cert.number), keep_connection=False).status == 200
    dead = connection.connection
    connection._vouched_at -= 60  # type: ignore[attr-defined]
    # when the server has ended it
    _terminate(dead.info.backend_pid)
    # then the check finds it dead, a new connection is opened and prepared, and the fast
    # path answers the very next request itself
    answer = wsgi_call(layer, path(cert.number), keep_connection=False)
    assert (answer.status, answer.json()["number"]) == (200, cert.number)
    assert layer.app.calls == []  # type: ignore[attr-defined]
    assert connection.connection is not dead
    assert "certificate fast path failed" not in caplog.text


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_connection_that_lost_the_statement_prepares_it_again(
    live_world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # given a connection that has prepared the statement
    cert = live_world.granted()
    expected = Client().get(path(cert.number)).json()
    layer = PublicApiLayer(Recorder())
    assert wsgi_call(layer, path(cert.number), keep_connection=False).status == 200
    kept = connection.connection
    # when the session loses it (DEALLOCATE ALL, DISCARD ALL, a pooler's reset)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    # then the next request goes on to Django, the connection having been checked
    assert wsgi_call(layer, path(cert.number), keep_connection=False).status == 299
    assert "certificate fast path failed" in caplog.text
    # and the one after is answered from the statement prepared again, on the same
    # connection (it was not broken)
    answer = wsgi_call(layer, path(cert.number), keep_connection=False)
    assert (answer.status, answer.json()) == (200, expected)
    assert connection.connection is kept
    assert fastpath.STATEMENT.decode() in _statements()


# --- the layer's own header list ------------------------------------------------------------


@override_settings(
    X_FRAME_OPTIONS="SAMEORIGIN",
    SECURE_REFERRER_POLICY=["no-referrer", " strict-origin"],
    SECURE_CROSS_ORIGIN_OPENER_POLICY=None,
    SECURE_CONTENT_TYPE_NOSNIFF=False,
)
def test_headers_follow_the_settings_as_djangos_middleware_does(
    cert: Certificate, layer: PublicApiLayer, client: Client
) -> None:
    fast = wsgi_call(layer, path(cert.number))
    ninja = client.get(path(cert.number))
    # (the validators differ: the layer's is of the bytes it sends)
    differ = ("Content-Length", "ETag", "Last-Modified")
    assert {k: v for k, v in fast.headers.items() if k not in differ} == {
        k: v for k, v in ninja.headers.items() if k not in differ
    }
    assert fast.headers["Referrer-Policy"] == "no-referrer, strict-origin"
