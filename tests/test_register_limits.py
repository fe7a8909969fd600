"""The limits per client address on the public pages that cost the most: each kind counts
apart, per address, refuses with 429 and Retry-After in its page's own form, and a refused
request does nothing else."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client, override_settings

from apcert import env
from apcert.certificates.models import Certificate
from apcert.register import limits
from tests.factories import World

NONE = {kind: (0, 0) for kind in ("search", "as-of", "pdf", "export", "verify", "receipt")}


def _only(kind: str, limit: int = 2, window: int = 60) -> dict[str, tuple[int, int]]:
    return {**NONE, kind: (limit, window)}


@pytest.fixture
def certificate(world: World) -> Certificate:
    return world.granted()


def _pdf_path(certificate: Certificate) -> str:
    return f"/certificates/{quote(certificate.number)}/issues/1.pdf"


def _refused(response: Any, what: str) -> str:
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert f"Too many {what} from one address" in body
    return body


def test_the_search_page_counts_every_search_and_says_when_to_come_back(
    reference: None, client: Client
) -> None:
    with override_settings(PAGE_RATE_LIMITS=_only("search", 2, 60)):
        assert client.get("/").status_code == 200
        assert client.get("/?q=circuits").status_code == 200
        response = client.get("/?q=boards")
        body = _refused(response, "searches")
        assert response["Content-Type"].startswith("text/html")
        assert "answers 2 every 60 seconds" in body
        # another address has its own bucket; other pages are not counted
        assert client.get("/?q=boards", REMOTE_ADDR="10.0.0.7").status_code == 200
        assert client.get("/bodies/").status_code == 200


def test_the_bucket_refills_at_the_rate(reference: None, client: Client) -> None:
    clock = [1_000 * 10**9]
    with override_settings(PAGE_RATE_LIMITS=_only("search", 1, 10)):
        limiter = limits._limiter("search")
        assert limiter is not None
        limiter._clock = lambda: clock[0]
        assert client.get("/").status_code == 200
        response = client.get("/")
        assert response.status_code == 429
        assert response["Retry-After"] == "10"
        clock[0] += 10 * 10**9
        assert client.get("/").status_code == 200


def test_a_certificate_counts_only_when_asked_for_a_past_day(
    certificate: Certificate, client: Client
) -> None:
    page = f"/certificates/{quote(certificate.number)}"
    with override_settings(PAGE_RATE_LIMITS=_only("as-of", 1, 60)):
        for _ in range(3):
            assert client.get(page).status_code == 200
        assert client.get(page + "?on=2026-01-05").status_code == 200
        _refused(client.get(page + "?on=2026-01-06"), "certificates asked for a past day")
        assert client.get(page).status_code == 200


def test_pdfs_are_refused_as_plain_text_without_being_drawn(
    certificate: Certificate, client: Client
) -> None:
    with override_settings(PAGE_RATE_LIMITS=_only("pdf", 1, 60)):
        first = client.get(_pdf_path(certificate))
        assert first.status_code == 200
        assert first["Content-Type"] == "application/pdf"
        response = client.get(_pdf_path(certificate))
        _refused(response, "certificate PDFs")
        assert response["Content-Type"].startswith("text/plain")
        assert not response.content.startswith(b"%PDF")


def test_exports_count_downloads_not_head_requests(
    certificate: Certificate, client: Client
) -> None:
    with override_settings(PAGE_RATE_LIMITS=_only("export", 2, 600)):
        for _ in range(3):
            assert client.head("/register/export.csv").status_code == 200
        assert certificate.number in b"".join(client.get("/register/export.csv")).decode()
        assert client.get("/register/export.jsonl").status_code == 200
        response = client.get("/register/export.csv")
        body = _refused(response, "exports of the register")
        assert "answers 2 every 10 minutes" in body
        assert certificate.number not in body


def test_verify_counts_documents_sent_not_checks_by_number(
    certificate: Certificate, client: Client
) -> None:
    with override_settings(PAGE_RATE_LIMITS=_only("verify", 1, 60)):
        for _ in range(3):
            assert client.get("/verify", {"number": certificate.number}).status_code == 200
        sent = client.post("/verify", {"document": '{"not": "a credential"}'})
        assert sent.status_code != 429
        _refused(client.post("/verify", {"document": "{}"}), "documents checked")
        assert client.get("/verify").status_code == 200


def test_receipts_are_refused_in_the_form_asked_for(
    certificate: Certificate, client: Client
) -> None:
    path = "/verify/receipt?number=" + quote(certificate.number)
    with override_settings(PAGE_RATE_LIMITS=_only("receipt", 1, 60)):
        client.get(path, HTTP_ACCEPT="application/json")
        response = client.get(path, HTTP_ACCEPT="application/json")
        assert response.status_code == 429
        assert response["Content-Type"] == "application/problem+json"
        assert json.loads(response.content)["code"] == "rate_limited"
        page = client.get(path, HTTP_ACCEPT="text/html")
        _refused(page, "verification receipts")
        assert page["Content-Type"].startswith("text/html")
        assert "Accept" in page["Vary"]


def test_behind_a_trusted_proxy_each_client_counts_apart(reference: None, client: Client) -> None:
    with override_settings(
        PAGE_RATE_LIMITS=_only("search", 1, 60), TRUSTED_PROXY_HEADER="X-Real-IP"
    ):
        assert client.get("/", HTTP_X_REAL_IP="203.0.113.5").status_code == 200
        assert client.get("/", HTTP_X_REAL_IP="203.0.113.6").status_code == 200
        assert client.get("/", HTTP_X_REAL_IP="203.0.113.5").status_code == 429


def test_a_limit_of_zero_is_no_limit(reference: None, client: Client) -> None:
    with override_settings(PAGE_RATE_LIMITS=NONE):
        assert all(client.get("/").status_code == 200 for _ in range(5))


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
        after.close()  # the client went away before the first chunk
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
