"""The limits per client address on the public pages that cost the most: each kind counts
apart, per address, refuses with 429 and Retry-After in its page's own form, in front of
Django (through the WSGI application, as a server runs it), and a refused request does
nothing else. The caps on costly work per process (exports sent, PDFs drawn) answer 503."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.core.signals import request_finished
from django.db import close_old_connections
from django.test import Client, override_settings

from apcert import env
from apcert.api.fastpath import PublicApiLayer
from apcert.certificates.models import Certificate
from apcert.register import limits
from apcert.wsgi import application
from tests.factories import World
from tests.wsgi_support import Answer, Recorder, wsgi_call

NONE = {kind: (0, 0) for kind in ("search", "as-of", "pdf", "export", "verify", "receipt")}


def _only(kind: str, limit: int = 2, window: int = 60) -> dict[str, tuple[int, int]]:
    return {**NONE, kind: (limit, window)}


@pytest.fixture
def certificate(world: World) -> Certificate:
    return world.granted()


def _pdf_path(certificate: Certificate) -> str:
    return f"/certificates/{quote(certificate.number)}/issues/1.pdf"


def _refused(answer: Answer, what: str) -> str:
    assert answer.status == 429
    assert int(answer.headers["Retry-After"]) >= 1
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.body.decode()
    assert f"Too many {what} from one address" in body
    return body


def _get(path: str, query: str = "", **kwargs: Any) -> Answer:
    return wsgi_call(application, path, query=query, **kwargs)


def test_the_search_page_counts_every_search_and_says_when_to_come_back(
    reference: None,
) -> None:
    with override_settings(PAGE_RATE_LIMITS=_only("search", 2, 60)):
        assert _get("/").status == 200
        assert _get("/", "q=circuits").status == 200
        answer = _get("/", "q=boards")
        body = _refused(answer, "searches")
        assert answer.headers["Content-Type"].startswith("text/html")
        # the headers Django would add, the policy among them (nothing inline in the page)
        assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "style=" not in body and "<script" not in body
        assert "answers 2 every 60 seconds" in body
        # another address has its own bucket; other pages are not counted
        assert _get("/", "q=boards", remote="10.0.0.7").status == 200
        assert _get("/bodies/").status == 200


def test_the_bucket_refills_at_the_rate(reference: None) -> None:
    clock = [1_000 * 10**9]
    with override_settings(PAGE_RATE_LIMITS=_only("search", 1, 10)):
        limiter = limits._limiter("search")
        assert limiter is not None
        limiter._clock = lambda: clock[0]
        assert _get("/").status == 200
        answer = _get("/")
        assert answer.status == 429
        assert answer.headers["Retry-After"] == "10"
        clock[0] += 10 * 10**9
        assert _get("/").status == 200


def test_a_certificate_counts_only_when_asked_for_a_past_day(certificate: Certificate) -> None:
    page = f"/certificates/{quote(certificate.number)}"
    with override_settings(PAGE_RATE_LIMITS=_only("as-of", 1, 60)):
        for _ in range(3):
            assert _get(page).status == 200
        assert _get(page, "on=2026-01-05").status == 200
        _refused(_get(page, "on=2026-01-06"), "certificates asked for a past day")
        assert _get(page).status == 200


def test_pdfs_are_refused_as_plain_text_without_being_drawn(certificate: Certificate) -> None:
    with override_settings(PAGE_RATE_LIMITS=_only("pdf", 1, 60)):
        first = _get(_pdf_path(certificate))
        assert first.status == 200
        assert first.headers["Content-Type"] == "application/pdf"
        answer = _get(_pdf_path(certificate))
        _refused(answer, "certificate PDFs")
        assert answer.headers["Content-Type"].startswith("text/plain")
        assert not answer.body.startswith(b"%PDF")


def test_exports_count_downloads_not_head_requests(certificate: Certificate) -> None:
    with override_settings(PAGE_RATE_LIMITS=_only("export", 2, 600)):
        for _ in range(3):
            assert _get("/register/export.csv", method="HEAD").status == 200
        assert certificate.number in _get("/register/export.csv").body.decode()
        assert _get("/register/export.jsonl").status == 200
        body = _refused(_get("/register/export.csv"), "exports of the register")
        assert "answers 2 every 10 minutes" in body
        assert certificate.number not in body


def test_verify_counts_documents_sent_not_checks_by_number(certificate: Certificate) -> None:
    with override_settings(PAGE_RATE_LIMITS=_only("verify", 1, 60)):
        for _ in range(3):
            assert _get("/verify", "number=" + quote(certificate.number)).status == 200
        assert _get("/verify", method="POST").status != 429
        _refused(_get("/verify", method="POST"), "documents checked")
        assert _get("/verify").status == 200


def test_receipts_are_refused_in_the_form_asked_for(certificate: Certificate) -> None:
    query = "number=" + quote(certificate.number)
    json_accept = {"Accept": "application/json"}
    with override_settings(PAGE_RATE_LIMITS=_only("receipt", 1, 60)):
        _get("/verify/receipt", query, headers=json_accept)
        answer = _get("/verify/receipt", query, headers=json_accept)
        assert answer.status == 429
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert json.loads(answer.body)["code"] == "rate_limited"
        page = _get("/verify/receipt", query, headers={"Accept": "text/html,*/*;q=0.8"})
        _refused(page, "verification receipts")
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.headers["Vary"] == "Accept"


def test_behind_a_trusted_proxy_each_client_counts_apart(reference: None) -> None:
    with override_settings(
        PAGE_RATE_LIMITS=_only("search", 1, 60), TRUSTED_PROXY_HEADER="X-Real-IP"
    ):
        assert _get("/", headers={"X-Real-IP": "203.0.113.5"}).status == 200
        assert _get("/", headers={"X-Real-IP": "203.0.113.6"}).status == 200
        assert _get("/", headers={"X-Real-IP": "203.0.113.5"}).status == 429


def test_a_refused_request_never_reaches_the_application(reference: None) -> None:
    django = Recorder()
    layer = PublicApiLayer(django)
    with override_settings(PAGE_RATE_LIMITS=_only("pdf", 1, 60)):
        pdf = "/certificates/IECQ-A%20XX%2026.0001/issues/1.pdf"
        wsgi_call(layer, pdf)
        assert wsgi_call(layer, pdf).status == 429
        assert wsgi_call(layer, pdf, method="HEAD").status == 299  # HEAD is not counted
    assert len(django.calls) == 2


def test_a_limit_of_zero_is_no_limit(reference: None) -> None:
    with override_settings(PAGE_RATE_LIMITS=NONE):
        assert all(_get("/").status == 200 for _ in range(5))


def test_the_defaults_count_every_kind(reference: None) -> None:
    assert set(env.PAGE_RATE_LIMITS) == set(NONE)
    assert all(limit >= 1 and window >= 1 for limit, window in env.PAGE_RATE_LIMITS.values())


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("20/60", (20, 60)), (" 5 / 600 ", (5, 600)), ("0", (0, 0)), ("", (7, 8))],
)
def test_a_limit_is_read_as_requests_per_seconds(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: tuple[int, int]
) -> None:
    monkeypatch.setenv("APCERT_RATE_LIMIT_PDF", raw)
    assert env._rate("APCERT_RATE_LIMIT_PDF", (7, 8)) == expected


@pytest.mark.parametrize("raw", ["20", "20/0", "0/60", "a/b", "20/60/2", "-1/60"])
def test_a_limit_that_is_not_requests_per_seconds_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("APCERT_RATE_LIMIT_PDF", raw)
    with pytest.raises(env.ConfigurationError, match="APCERT_RATE_LIMIT_PDF must be"):
        env._rate("APCERT_RATE_LIMIT_PDF", (7, 8))


def test_one_export_at_a_time_the_next_is_told_to_come_back(
    certificate: Certificate, client: Client
) -> None:
    with override_settings(PAGE_RATE_LIMITS=NONE, EXPORTS_AT_ONCE=1):
        sending = client.get("/register/export.csv")
        assert sending.status_code == 200
        busy = client.get("/register/export.jsonl", REMOTE_ADDR="10.0.0.9")
        assert busy.status_code == 503
        assert busy["Retry-After"] == str(limits.EXPORT_RETRY_SECONDS)
        assert "already sending 1 export" in busy.content.decode()
        assert client.head("/register/export.csv").status_code == 200  # takes no slot
        assert certificate.number in b"".join(sending.streaming_content).decode()
        # all sent: the slot is free again
        after = client.get("/register/export.jsonl")
        assert after.status_code == 200
        # The client went away before the first chunk. (As Django's test client does when
        # it closes an answer itself, the connection is kept: the test's transaction is
        # still open, and a real server would start the next request on a new one.)
        request_finished.disconnect(close_old_connections)
        try:
            after.close()
        finally:
            request_finished.connect(close_old_connections)
        assert client.get("/register/export.csv").status_code == 200


def test_a_slot_is_given_back_once_however_the_answer_ends() -> None:
    slots = limits._Slots(1)
    assert slots.take()
    held = limits._HeldWhileSent(iter(["a", "b"]), slots)
    assert list(held) == ["a", "b"]
    held.close()
    assert slots.taken == 0
    assert slots.take()

    def failing() -> Any:
        yield "a"
        raise OSError("disk gone")

    held = limits._HeldWhileSent(failing(), slots)
    assert next(held) == "a"
    with pytest.raises(OSError):
        next(held)
    held.close()
    assert slots.taken == 0


def test_no_cap_on_exports_when_set_to_zero(certificate: Certificate, client: Client) -> None:
    with override_settings(PAGE_RATE_LIMITS=NONE, EXPORTS_AT_ONCE=0):
        responses = [client.get("/register/export.csv") for _ in range(3)]
        assert [r.status_code for r in responses] == [200, 200, 200]


def test_a_pdf_to_draw_waits_for_a_drawing_slot_a_kept_one_does_not(
    certificate: Certificate, client: Client
) -> None:
    from apcert.documents import pdf_store

    with override_settings(PAGE_RATE_LIMITS=NONE, PDF_DRAWS_AT_ONCE=1):
        assert pdf_store._take_drawing_slot()  # another request is drawing
        try:
            busy = client.get(_pdf_path(certificate))
            assert busy.status_code == 503
            assert busy["Retry-After"] == str(limits.PDF_RETRY_SECONDS)
            assert "drawing as many certificate PDFs" in busy.content.decode()
        finally:
            pdf_store._give_back_drawing_slot()
        drawn = client.get(_pdf_path(certificate))
        assert drawn.status_code == 200
        assert pdf_store._take_drawing_slot()
        try:
            kept = client.get(_pdf_path(certificate))  # the kept file: nothing to draw
            assert kept.status_code == 200
            assert kept.content == drawn.content
        finally:
            pdf_store._give_back_drawing_slot()
    with override_settings(PAGE_RATE_LIMITS=NONE, PDF_DRAWS_AT_ONCE=0):
        assert pdf_store._take_drawing_slot() and pdf_store._take_drawing_slot()
        pdf_store._give_back_drawing_slot()
        pdf_store._give_back_drawing_slot()
