"""Public answers are cacheable by a CDN, correctly.

Each kind of public answer carries an ETag and a Cache-Control whose freshness never runs
past the next midnight UTC (when a status that follows from dates changes without a write);
a conditional GET that still matches is answered 304 with no body, from the validator
alone (one indexed read, nothing rendered); the same request gets a 200 with another tag
once the day changes or a write changes the register. Answers for one person (a receipt, the
verify page) are kept by no cache.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from unittest import mock
from urllib.parse import quote

import pytest
import time_machine
from django.db import connection
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apcert.api import ratelimit
from apcert.api.fastpath import PublicApiLayer
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_suspend
from apcert.core.http_cache import (
    Validator,
    cache_control,
    is_not_modified,
    seconds_to_midnight,
    set_validator,
)
from apcert.credentials.services import signing_key_generate
from tests.factories import World
from tests.wsgi_support import Recorder, wsgi_call

pytestmark = pytest.mark.django_db

UTC = dt.UTC
#: The certificate (granted in March 2026) is current all through these days.
NOON = dt.datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
LATE = dt.datetime(2026, 7, 1, 23, 59, 30, tzinfo=UTC)
NEXT_MORNING = dt.datetime(2026, 7, 2, 0, 0, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    ratelimit.reset()
    yield
    ratelimit.reset()


def at(moment: dt.datetime) -> Any:
    return time_machine.travel(moment, tick=False)


def number_path(cert: Certificate) -> str:
    return quote(cert.number, safe="")


@dataclass(frozen=True)
class Kind:
    url: Callable[[Certificate], str]
    fresh: int = 60


KINDS: dict[str, Kind] = {
    "certificate page": Kind(lambda c: f"/certificates/{quote(c.number)}"),
    "certificate PDF": Kind(lambda c: f"/certificates/{quote(c.number)}/issues/1.pdf"),
    "search page": Kind(lambda c: "/?q=" + quote(c.number)),
    "body page": Kind(lambda c: f"/bodies/{c.cb.code}"),
    "organization page": Kind(lambda c: f"/organizations/{c.organization_id}"),
    "export CSV": Kind(lambda c: "/register/export.csv"),
    "feed (Atom)": Kind(lambda c: "/register/feed.atom"),
    "API certificate (Django)": Kind(lambda c: f"/api/public/certificates/{number_path(c)}"),
    "API search": Kind(lambda c: "/api/public/search?q=" + quote(c.number)),
    "status list": Kind(lambda c: f"/bodies/{c.cb.code}/status/suspension"),
    "DID document": Kind(lambda c: f"/cbs/{c.cb.code}/did.json", fresh=300),
}


def body_of(response: HttpResponseBase) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return bytes(response.content)  # type: ignore[attr-defined]


def max_age(response: HttpResponseBase) -> int:
    """How long a shared cache keeps the answer (a browser asks again each time)."""
    found = re.search(r"s-maxage=(\d+)", response["Cache-Control"])
    assert found, response["Cache-Control"]
    return int(found.group(1))


def assert_fresh_until_midnight_at_most(response: HttpResponseBase, now: dt.datetime) -> None:
    assert response["Cache-Control"].startswith("public, max-age=0, s-maxage=")
    assert "stale-while-revalidate" not in response["Cache-Control"]
    left = seconds_to_midnight(now)
    assert max_age(response) <= left
    assert max_age(response) > 0


def test_each_public_answer_is_revalidated_cheaply_and_changes_with_the_day_and_writes(
    world: World, client: Client, key_dir: Any
) -> None:
    # One certificate, read as every kind of public answer (one world: they are slow to make)
    cert = world.granted()
    urls = {kind: spec.url(cert) for kind, spec in KINDS.items()}
    tags: dict[str, str] = {}
    with at(NOON):
        signing_key_generate(actor=world.secretariat, cb=world.team.cb)
        for kind, url in urls.items():
            spec = KINDS[kind]
            # Given the answer fetched once
            first = client.get(url)
            assert first.status_code == 200, (kind, body_of(first)[:300])
            body_of(first)
            tags[kind] = etag = first["ETag"]
            assert etag.startswith('W/"'), kind
            assert max_age(first) == spec.fresh, kind
            assert_fresh_until_midnight_at_most(first, NOON)
            assert not first.cookies and "Cookie" not in first.get("Vary", ""), kind
            # When it is asked again with its tag: 304, no body, one indexed read (the
            # register's latest change), nothing rendered
            with CaptureQueriesContext(connection) as queries:
                again = client.get(url, headers={"If-None-Match": etag})
            assert again.status_code == 304, kind
            assert body_of(again) == b"", kind
            assert len(queries) == 1, (kind, [q["sql"] for q in queries])
            assert again["ETag"] == etag, kind
            assert again["Cache-Control"] == first["Cache-Control"], kind
            # and by its date alone
            dated = client.get(url, headers={"If-Modified-Since": first["Last-Modified"]})
            assert dated.status_code == 304, kind
    # Late in the day a cache keeps it only until midnight
    with at(LATE):
        for kind, url in urls.items():
            late = client.get(url)
            assert late.status_code == 200, kind
            body_of(late)
            assert late["ETag"] == tags[kind], kind  # the same day, no write: the same tag
            assert_fresh_until_midnight_at_most(late, LATE)
            assert max_age(late) <= 30, kind
            last_modified = late["Last-Modified"]
    # After midnight the same question is answered afresh, by tag or by date
    with at(NEXT_MORNING):
        for kind, url in urls.items():
            morning = client.get(url, headers={"If-None-Match": tags[kind]})
            assert morning.status_code == 200, kind
            body_of(morning)
            assert morning["ETag"] != tags[kind], kind
            tags[kind] = morning["ETag"]
            by_date = client.get(url, headers={"If-Modified-Since": last_modified})
            assert by_date.status_code == 200, kind
            body_of(by_date)
        # and after a write, too
        certificate_suspend(
            actor=world.team.decision_maker, certificate=cert, reason_category="complaint",
            reason="Under review", decided_on=NEXT_MORNING.date(),
        )  # fmt: skip
        for kind, url in urls.items():
            written = client.get(url, headers={"If-None-Match": tags[kind]})
            assert written.status_code == 200, kind
            body_of(written)
            assert written["ETag"] != tags[kind], kind


def test_a_304_draws_no_pdf_and_renders_no_page(world: World, client: Client) -> None:
    cert = world.granted()
    pdf = f"/certificates/{quote(cert.number)}/issues/1.pdf"
    page = f"/certificates/{quote(cert.number)}"
    with at(NOON):
        pdf_tag = client.get(pdf)["ETag"]
        page_tag = client.get(page)["ETag"]
        with (
            mock.patch("apcert.register.views.public_issue_pdf", side_effect=AssertionError),
            mock.patch("apcert.register.views.render", side_effect=AssertionError),
        ):
            assert client.get(pdf, headers={"If-None-Match": pdf_tag}).status_code == 304
            assert client.head(pdf, headers={"If-None-Match": pdf_tag}).status_code == 304
            assert client.get(page, headers={"If-None-Match": page_tag}).status_code == 304


def test_the_api_fast_path_answers_304_itself_and_changes_with_the_day_and_writes(
    world: World,
) -> None:
    cert = world.granted()
    django = Recorder()
    layer = PublicApiLayer(django)
    url = f"/api/public/certificates/{number_path(cert)}"
    with at(NOON):
        first = wsgi_call(layer, url)
        assert first.status == 200
        etag = first.headers["ETag"]
        assert etag.startswith('"')  # strong: the bytes as stored
        assert first.headers["Cache-Control"] == "public, max-age=0, s-maxage=60"
        again = wsgi_call(layer, url, headers={"If-None-Match": etag})
        assert (again.status, again.body, again.headers["ETag"]) == (304, b"", etag)
        assert "Content-Type" not in again.headers
        # a weak copy of the tag matches too (weak comparison), another tag does not
        weak = wsgi_call(layer, url, headers={"If-None-Match": f'"x", W/{etag}'})
        assert weak.status == 304
        assert wsgi_call(layer, url, headers={"If-None-Match": '"x"'}).status == 200
        assert django.calls == []
    with at(LATE):
        late = wsgi_call(layer, url)
        assert late.headers["Cache-Control"] == "public, max-age=0, s-maxage=30"
    with at(NEXT_MORNING):
        assert wsgi_call(layer, url, headers={"If-None-Match": etag}).status == 200
        etag = wsgi_call(layer, url).headers["ETag"]
        certificate_suspend(
            actor=world.team.decision_maker, certificate=cert, reason_category="complaint",
            reason="Under review", decided_on=NEXT_MORNING.date(),
        )  # fmt: skip
        written = wsgi_call(layer, url, headers={"If-None-Match": etag})
        assert written.status == 200
        assert written.json()["status"] == "suspended"
        assert django.calls == []


def test_a_signed_in_user_sees_the_same_public_page_which_does_not_vary_on_the_cookie(
    world: World, client: Client
) -> None:
    cert = world.granted()
    url = f"/certificates/{quote(cert.number)}"
    with at(NOON):
        anonymous = client.get(url)
        client.force_login(world.org_user)
        signed_in = client.get(url)
    assert signed_in.status_code == 200
    assert signed_in.content == anonymous.content
    assert signed_in["ETag"] == anonymous["ETag"]
    assert "Cookie" not in signed_in.get("Vary", "")
    assert not signed_in.cookies


def test_answers_for_one_person_are_kept_by_no_cache(world: World, client: Client) -> None:
    cert = world.granted()
    with at(NOON):
        receipt = client.get(f"/api/public/certificates/{number_path(cert)}/receipt")
        verify = client.get("/verify", {"number": cert.number})
    assert receipt["Cache-Control"] == "no-store"
    assert not receipt.has_header("ETag")
    assert verify["Cache-Control"] == "private, no-store"
    assert not verify.has_header("ETag")


def test_a_not_found_page_is_kept_briefly_without_a_validator(client: Client) -> None:
    with at(NOON):
        missing = client.get("/organizations/999999")
    assert missing.status_code == 404
    assert missing["Cache-Control"] == "public, max-age=0, s-maxage=60"
    assert not missing.has_header("ETag")


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (dt.datetime(2026, 7, 1, 12, tzinfo=UTC), "public, max-age=0, s-maxage=60"),
        (dt.datetime(2026, 7, 1, 23, 58, 40, tzinfo=UTC), "public, max-age=0, s-maxage=60"),
        (dt.datetime(2026, 7, 1, 23, 59, 50, tzinfo=UTC), "public, max-age=0, s-maxage=10"),
        (dt.datetime(2026, 7, 1, 23, 59, 59, 500_000, tzinfo=UTC), "public, no-cache"),
    ],
)
def test_freshness_never_runs_past_midnight_utc(now: dt.datetime, expected: str) -> None:
    assert cache_control(now) == expected


def test_validators_print_as_http_says() -> None:
    assert Validator("abc").etag == 'W/"abc"'
    assert Validator("abc", strong=True).etag == '"abc"'


def test_a_change_within_a_second_is_not_hidden_by_if_modified_since(rf: Any) -> None:
    # Given a change at 12:00:00.4: a copy dated 12:00:00 may predate it, one dated
    # 12:00:01 holds it
    changed = dt.datetime(2026, 7, 1, 12, 0, 0, 400_000, tzinfo=UTC)
    validator = Validator("abc", last_modified=changed)

    def asked_since(moment: str) -> bool:
        return is_not_modified(rf.get("/", headers={"If-Modified-Since": moment}), validator)

    assert not asked_since("Wed, 01 Jul 2026 12:00:00 GMT")
    assert asked_since("Wed, 01 Jul 2026 12:00:01 GMT")
    # and the answer is dated so that it will be found recent enough, once that second is past
    response = HttpResponse()
    with at(dt.datetime(2026, 7, 1, 12, 0, 5, tzinfo=UTC)):
        set_validator(response, validator, "public, max-age=60")
    assert response["Last-Modified"] == "Wed, 01 Jul 2026 12:00:01 GMT"
    with at(dt.datetime(2026, 7, 1, 12, 0, 0, 600_000, tzinfo=UTC)):
        set_validator(response, validator, "public, max-age=60")
    assert response["Last-Modified"] == "Wed, 01 Jul 2026 12:00:00 GMT"
