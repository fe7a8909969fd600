"""Feeds of status changes: Atom and JSON Feed 1.1, newest first, public
fields only (never the free-text reason), filterable by CB, country, category and holder;
a filter that cannot be used is a plain 400."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apcert.certificates.choices import PUBLIC_STATUSES, CertificateStatus
from apcert.certificates.models import Certificate, CertificateStatusChange
from apcert.certificates.services import (
    NewScopeLine,
    certificate_extend_scope,
    certificate_restore,
    certificate_suspend,
)
from apcert.organizations.services import organization_create, site_create
from tests.factories import World, make_user
from tests.flows_support import reported, visit

pytestmark = pytest.mark.django_db

GRANTED_ON = dt.date(2026, 3, 24)  # World.granted(): assessment ends DAY0 + 31, +40 days
SUSPENDED_ON = dt.date(2026, 6, 1)
RESTORED_ON = dt.date(2026, 7, 1)
SECRET = "secret complaint text from a competitor"
RESTORE_NOTE = "complaint closed after the visit of 30 June"
JSON_URL = "/register/feed.json"
ATOM_URL = "/register/feed.atom"
ATOM = "{http://www.w3.org/2005/Atom}"


@dataclasses.dataclass
class Changes:
    world: World  # CB and holder in DE
    french: World  # another CB, a holder in FR
    german_cert: Certificate  # EPL; granted, suspended, restored
    french_cert: Certificate  # PWB; granted the same day, after


def _holder_elsewhere(country: str, name: str, city: str) -> World:
    world = World.build()
    user = make_user("holder")
    org = organization_create(actor=user, legal_name=name, country=country)
    site = site_create(actor=user, organization=org, name="Works", city=city, country=country)
    return dataclasses.replace(world, org=org, org_user=user, site=site, site2=site)


@pytest.fixture
def changes(world: World) -> Changes:
    german = world.granted(category="EPL")
    french = _holder_elsewhere("FR", "Lyon Circuits SA", "Lyon")
    french_cert = french.granted(category="PWB")
    dm = world.team.decision_maker
    german = certificate_suspend(
        actor=dm, certificate=german, reason_category="complaint", reason=SECRET,
        decided_on=SUSPENDED_ON,
    )  # fmt: skip
    german = certificate_restore(
        actor=dm, certificate=german, reason=RESTORE_NOTE, decided_on=RESTORED_ON
    )
    return Changes(world, french, german, french_cert)


def _json(client: Client, query: str = "") -> dict[str, Any]:
    response = client.get(JSON_URL + query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/feed+json; charset=utf-8"
    body: dict[str, Any] = json.loads(response.content)
    return body


def _atom(client: Client, query: str = "") -> ET.Element:
    response = client.get(ATOM_URL + query)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    return ET.fromstring(response.content)  # noqa: S314 (our own answer, in a test)


def _titles(body: dict[str, Any]) -> list[str]:
    return [item["title"] for item in body["items"]]


def _expected(c: Changes) -> list[str]:
    german, french = c.german_cert.number, c.french_cert.number
    return [
        f"{german}: suspended to current",
        f"{german}: current to suspended",
        # both granted on the same day: the later change first
        f"{french}: draft to current",
        f"{german}: draft to current",
    ]


# --- JSON Feed --------------------------------------------------------------------------


def test_json_feed_lists_the_changes_newest_first_with_public_fields(
    changes: Changes, client: Client
) -> None:
    body = _json(client)
    assert body["version"] == "https://jsonfeed.org/version/1.1"
    assert body["title"] == "IECQ AP register: status changes"
    assert body["home_page_url"] == "http://testserver/"
    assert body["feed_url"] == "http://testserver/register/feed.json"
    assert _titles(body) == _expected(changes)
    code = changes.world.team.cb.code
    number = f"IECQ-A {code} 26.0001"
    link = f"http://testserver/certificates/IECQ-A%20{code}%2026.0001"
    restored = CertificateStatusChange.objects.get(
        certificate=changes.german_cert, to_status="current", from_status="suspended"
    )
    holder = changes.world.org.legal_name
    assert body["items"][0] == {
        "id": f"{link}#status-change-{restored.pk}",
        "url": link,
        "title": f"{number}: suspended to current",
        "content_text": (
            f"Certificate {number} of {holder}, issued by Cert Body {code} ({code}), changed "
            "from suspended to current on 2026-07-01. Reason: cause of suspension resolved."
        ),
        "date_published": "2026-07-01T00:00:00Z",
        "authors": [{"name": f"Cert Body {code}"}],
        "tags": ["current", "resolved"],
        "_apcert": {
            "certificate": number,
            "holder_name": holder,
            "cb": {"code": code, "name": f"Cert Body {code}"},
            "from_status": "suspended",
            "to_status": "current",
            "effective_on": "2026-07-01",
            "reason_category": "resolved",
            "reason_category_label": "cause of suspension resolved",
            "transferred_from": None,
            "transferred_to": None,
            "recorded": True,
        },
    }
    assert body["items"][1]["_apcert"]["reason_category_label"] == "complaint"
    assert body["items"][2]["_apcert"]["holder_name"] == "Lyon Circuits SA"


def test_no_free_text_reason_nor_private_record_in_either_feed(
    changes: Changes, client: Client
) -> None:
    team = changes.world.team
    private = [
        SECRET,
        RESTORE_NOTE,
        "records incomplete",  # the findings' description
        changes.world.org.registration_number,
        *(u.full_name for u in (team.manager, team.lead, team.assessor, team.decision_maker)),
    ]
    for url in (JSON_URL, ATOM_URL):
        text = client.get(url).content.decode("utf-8")
        assert [word for word in private if word in text] == [], url
        assert changes.german_cert.number in text


def test_a_draft_certificate_has_no_entry(changes: Changes, client: Client) -> None:
    # given a status change recorded for a certificate that is still a draft (made directly)
    world = changes.world
    draft = Certificate.objects.create(
        number=f"IECQ-A {world.team.cb.code} 26.0999",
        number_year=2026,
        number_serial=999,
        cb=world.team.cb,
        scheme=world.scheme,
        organization=world.org,
        application=world.accepted_application(),
        status="draft",
        status_since=dt.date(2026, 8, 1),
        first_issued_on=dt.date(2026, 8, 1),
        initial_decision_on=dt.date(2026, 8, 1),
        expires_on=dt.date(2029, 7, 31),
    )
    CertificateStatusChange.objects.create(
        certificate=draft,
        from_status="draft",
        to_status="current",
        effective_on=dt.date(2026, 8, 1),
        reason_category="granted",
    )
    # then neither feed shows it
    assert _titles(_json(client)) == _expected(changes)
    assert draft.number not in client.get(ATOM_URL).content.decode("utf-8")


# --- Atom -------------------------------------------------------------------------------


def test_atom_parses_as_xml_with_the_same_entries(changes: Changes, client: Client) -> None:
    feed = _atom(client)
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}title") == "IECQ AP register: status changes"
    assert feed.findtext(f"{ATOM}id") == "http://testserver/register/feed.atom"
    assert feed.findtext(f"{ATOM}updated") == "2026-07-01T00:00:00+00:00"
    self_link = feed.find(f"{ATOM}link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "http://testserver/register/feed.atom"
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == _expected(changes)
    # the same entries, with the same ids and links, as the JSON Feed
    items = _json(client)["items"]
    assert [e.findtext(f"{ATOM}id") for e in entries] == [i["id"] for i in items]
    first = entries[0]
    link = first.find(f"{ATOM}link")
    assert link is not None
    assert link.get("href") == items[0]["url"]
    assert first.findtext(f"{ATOM}updated") == "2026-07-01T00:00:00+00:00"
    assert first.findtext(f"{ATOM}published") == "2026-07-01T00:00:00+00:00"
    assert first.findtext(f"{ATOM}summary") == items[0]["content_text"]
    assert first.findtext(f"{ATOM}author/{ATOM}name") == items[0]["authors"][0]["name"]
    assert [c.get("term") for c in first.findall(f"{ATOM}category")] == ["current", "resolved"]


def test_atom_escapes_what_the_holder_wrote(world: World, client: Client) -> None:
    # given a holder whose name holds characters that mean something in XML and HTML
    holder = _holder_elsewhere("FR", "Lyon <Circuits> & Fils", "Lyon")
    holder.granted(category="PWB")
    # then the Atom feed still parses, and reads the name as it was written
    entry = _atom(client).find(f"{ATOM}entry")
    assert entry is not None
    summary = entry.findtext(f"{ATOM}summary")
    assert summary is not None
    assert "of Lyon &lt;Circuits&gt; &amp; Fils," in summary  # HTML, as type="html" says


# --- filters ----------------------------------------------------------------------------


def _filtered(c: Changes) -> list[tuple[str, list[str]]]:
    german = _expected(c)[:2] + _expected(c)[3:]
    french = [_expected(c)[2]]
    return [
        (f"?cb={c.world.team.cb.code}", german),
        (f"?cb={c.french.team.cb.code.lower()}", french),
        ("?country=FR", french),
        ("?country=de", german),
        ("?country=IT", []),
        ("?category=PWB", french),
        ("?category=epl", german),
        ("?category=PWB.PLT", []),  # a sub-category is another category
        (f"?holder={c.world.org.pk}", german),
        (f"?holder={c.french.org.pk}", french),
        (f"?cb={c.world.team.cb.code}&category=PWB", []),
        (f"?country=FR&category=PWB&holder={c.french.org.pk}", french),
        ("?limit=2", _expected(c)[:2]),
    ]


def test_each_filter_selects_its_changes_in_both_formats(changes: Changes, client: Client) -> None:
    for query, expected in _filtered(changes):
        assert _titles(_json(client, query)) == expected, query
        entries = _atom(client, query).findall(f"{ATOM}entry")
        assert [e.findtext(f"{ATOM}title") for e in entries] == expected, query


def test_the_filters_show_in_the_title(changes: Changes, client: Client) -> None:
    code = changes.french.team.cb.code
    body = _json(client, f"?cb={code.lower()}&country=fr&category=pwb")
    assert body["title"] == (
        f"IECQ AP register: status changes (CB {code}, holders in FR, category PWB)"
    )


def test_the_category_is_one_of_the_latest_issue(changes: Changes, client: Client) -> None:
    # given the French certificate's scope extended to electroplating (issue 2)
    french, cert = changes.french, changes.french_cert
    a = visit(french, cert, "scope_extension")
    certificate_extend_scope(
        actor=french.team.decision_maker,
        certificate=cert,
        assessment=a,
        new_scope_lines=[
            NewScopeLine(
                category="EPL", site=french.site, wording="Tin plating of terminations",
                standards=("ISO 9001:2015",),
            )
        ],
        decided_on=reported(a),
    )  # fmt: skip
    # then its changes (a scope extension is no change of status) are now among EPL's
    assert _titles(_json(client, "?category=EPL")) == _expected(changes)
    assert _titles(_json(client, "?category=PWB")) == [_expected(changes)[2]]


def test_the_default_limit_is_100_and_the_most_500(changes: Changes, client: Client) -> None:
    # given 600 more changes (written directly: the feed only reads them)
    cert = changes.french_cert
    CertificateStatusChange.objects.bulk_create(
        CertificateStatusChange(
            certificate=cert,
            from_status="current",
            to_status="current",
            effective_on=dt.date(2025, 1, 1) + dt.timedelta(days=n),
            reason_category="other",
        )
        for n in range(600)
    )
    assert len(_json(client)["items"]) == 100
    assert len(_json(client, "?limit=500")["items"]) == 500
    assert len(_atom(client, "?limit=500").findall(f"{ATOM}entry")) == 500


def test_queries_do_not_grow_with_the_entries(changes: Changes, client: Client) -> None:
    def queries(query: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(JSON_URL + query).status_code == 200
        return len(captured)

    # the register's latest change (the feed's cache validator), the changes, the
    # certificates whose status the calendar changed since the sweep last ran (none here),
    # then the holders' names and their transfer links; one more to check each filter's value
    assert queries("?limit=1") == 5
    assert queries("") == 5
    org = changes.world.org.pk
    code = changes.world.team.cb.code
    assert queries(f"?cb={code}&category=EPL&country=DE&holder={org}") == 5 + 3


# --- refusals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?cb=NOPE", "cb: there is no certification body 'NOPE'."),
        ("?country=Germany", "country: a two-letter ISO 3166-1 code such as DE, not 'Germany'."),
        ("?country=D1", "country: a two-letter ISO 3166-1 code such as DE, not 'D1'."),
        ("?category=XYZ.9", "category: there is no process category 'XYZ.9'."),
        ("?holder=abc", "holder: a whole number, not 'abc'."),
        ("?holder=-3", "holder: a whole number, not '-3'."),
        ("?holder=0", "holder: at least 1, not 0."),
        ("?holder=999999", "holder: no holder 999999 in the public register."),
        ("?limit=0", "limit: from 1 to 500, not 0."),
        ("?limit=501", "limit: from 1 to 500, not 501."),
        ("?limit=ten", "limit: a whole number, not 'ten'."),
        ("?limit=%D9%A3", "limit: a whole number, not '\u0663'."),  # an Arabic-Indic 3
        ("?holder=" + "9" * 18, f"holder: no holder {'9' * 18} in the public register."),
        ("?holder=" + "9" * 5000, f"holder: at most 18 digits, not '{'9' * 40}...'."),
        ("?cb=" + "X" * 5000, f"cb: there is no certification body '{'X' * 40}...'."),
        ("?countyr=DE", "countyr: not a parameter of this feed (it takes cb, country, "
         "category, holder, limit)."),
    ],
)  # fmt: skip
def test_a_filter_that_cannot_be_used_is_a_plain_400(
    changes: Changes, client: Client, query: str, message: str
) -> None:
    for url in (JSON_URL, ATOM_URL):
        response = client.get(url + query)
        assert response.status_code == 400, url
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert response.content.decode("utf-8") == message


def test_a_nul_character_is_refused_before_any_query(changes: Changes, client: Client) -> None:
    # (PostgreSQL refuses a NUL in a text parameter: the project's middleware answers first)
    for url in (JSON_URL, ATOM_URL):
        response = client.get(url + "?cb=T%00X")
        assert response.status_code == 400, url
        assert response["Content-Type"] == "text/plain; charset=utf-8"


def test_a_holder_with_only_a_draft_is_not_in_the_register(world: World, client: Client) -> None:
    # given an organization whose only certificate is still a draft
    Certificate.objects.create(
        number=f"IECQ-A {world.team.cb.code} 26.0999",
        number_year=2026,
        number_serial=999,
        cb=world.team.cb,
        scheme=world.scheme,
        organization=world.org,
        application=world.accepted_application(),
        status="draft",
        status_since=GRANTED_ON,
        first_issued_on=GRANTED_ON,
        initial_decision_on=GRANTED_ON,
        expires_on=dt.date(2029, 3, 23),
    )
    # then the feed answers as for an organization that does not exist
    response = client.get(f"{JSON_URL}?holder={world.org.pk}")
    assert response.status_code == 400
    assert response.content.decode("utf-8") == (
        f"holder: no holder {world.org.pk} in the public register."
    )


def test_only_get_and_head(changes: Changes, client: Client) -> None:
    assert client.post(JSON_URL).status_code == 405
    assert client.head(ATOM_URL).status_code == 200


def test_public_statuses_are_every_status_but_draft() -> None:
    # the feed selects public certificates as "not a draft" (a faster plan on SQLite): it
    # must be the same as the register's PUBLIC_STATUSES
    assert set(PUBLIC_STATUSES) == set(CertificateStatus.values) - {"draft"}
