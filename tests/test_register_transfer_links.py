"""A certificate transferred to another CB names the other certificate, both ways, wherever
the register describes it: the API's certificate answer (from the stored document and from
Django alike), search hits, the JSON Lines and CSV exports, and both feeds."""

from __future__ import annotations

import csv
import importlib
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.apps import apps
from django.db import connection, transaction
from django.test import Client

from apcert.api import ratelimit
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_transfer
from apcert.register.index import index_certificate, index_check
from apcert.register.models import SearchEntry
from apcert.register.search import SearchQuery, search
from apcert.wsgi import application
from tests.factories import World, make_user
from tests.flows_support import DAYS, reported, visit
from tests.test_flows_transfer import ACCEPTED
from tests.wsgi_support import wsgi_call

pytestmark = pytest.mark.django_db

SITE = "https://register.example"
ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass
class Transfer:
    old: Certificate
    new: Certificate
    other: Certificate  # never transferred

    def link(self, cert: Certificate) -> dict[str, str]:
        return {"number": cert.number, "url": f"{SITE}/certificates/{quote(cert.number, safe='')}"}


@pytest.fixture
def transfer(world: World, settings: Any) -> Transfer:
    settings.SITE_URL = SITE
    other = world.granted(category="PWB")
    old = world.granted()
    new_team = World.make_cb(world.secretariat, f"N{make_user('cb').pk}", ACCEPTED)
    review = visit(world, old, "transfer_review", team=new_team)
    new = certificate_transfer(
        actor=new_team.decision_maker,
        certificate=old,
        assessment=review,
        decided_on=reported(review) + 5 * DAYS,
    )
    return Transfer(Certificate.objects.get(pk=old.pk), new, other)


def _links(t: Transfer) -> dict[str, dict[str, Any]]:
    """What each certificate must say about transfers, by number."""
    return {
        t.old.number: {"transferred_from": None, "transferred_to": t.link(t.new)},
        t.new.number: {"transferred_from": t.link(t.old), "transferred_to": None},
        t.other.number: {"transferred_from": None, "transferred_to": None},
    }


def _of(document: dict[str, Any]) -> dict[str, Any]:
    return {k: document[k] for k in ("transferred_from", "transferred_to")}


def test_the_certificate_answer_names_the_other_certificate_both_ways(
    transfer: Transfer, client: Client
) -> None:
    # (the old certificate's stored document was refreshed by the transfer itself)
    assert index_check() == []
    for number, links in _links(transfer).items():
        # from the stored document the fast path sends ...
        ratelimit.reset()
        fast = wsgi_call(application, f"/api/public/certificates/{quote(number, safe='')}")
        assert fast.status == 200
        assert _of(fast.json()) == links, number
        # ... and from Django's own view of the certificate: the same answer
        django = client.get(f"/api/public/certificates/{quote(number, safe='')}")
        assert django.json() == fast.json()
    ratelimit.reset()


def test_search_hits_name_the_other_certificate(transfer: Transfer, client: Client) -> None:
    links = _links(transfer)
    response = client.get("/api/public/search", {"per_page": "50"})
    assert response.status_code == 200
    hits = {hit["number"]: _of(hit) for hit in response.json()["hits"]}
    assert hits == links
    # the search page links them too
    for cert, other, words in [
        (transfer.old, transfer.new, "Transferred to"),
        (transfer.new, transfer.old, "Transferred from"),
    ]:
        html = client.get("/?" + urlencode({"q": cert.number})).content.decode()
        link = f'<a href="/certificates/{quote(other.number)}">{other.number}</a>'
        assert f"<dt>{words}</dt><dd>{link}</dd>" in html
    hit = next(h for h in search(SearchQuery()).hits if h.number == transfer.other.number)
    assert (hit.transferred_from, hit.transferred_to) == (None, None)


def _export(client: Client, name: str) -> str:
    response = client.get(f"/register/export.{name}")
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode()


def test_both_exports_name_the_other_certificate(transfer: Transfer, client: Client) -> None:
    links = _links(transfer)
    lines = [json.loads(line) for line in _export(client, "jsonl").splitlines()]
    assert {d["number"]: _of(d) for d in lines} == links
    # each line is still the API's answer, field for field
    for document in lines:
        api = client.get(f"/api/public/certificates/{quote(document['number'], safe='')}")
        assert api.json() == document
    rows = list(csv.DictReader(io.StringIO(_export(client, "csv"), newline="")))
    cells = {
        row["number"]: tuple(
            row[c]
            for c in (
                "transferred_from",
                "transferred_from_url",
                "transferred_to",
                "transferred_to_url",
            )
        )
        for row in rows
    }
    old, new = transfer.link(transfer.old), transfer.link(transfer.new)
    assert cells == {
        transfer.old.number: ("", "", new["number"], new["url"]),
        transfer.new.number: (old["number"], old["url"], "", ""),
        transfer.other.number: ("", "", "", ""),
    }


def test_both_feeds_name_the_other_certificate(transfer: Transfer, client: Client) -> None:
    old, new = transfer.old.number, transfer.new.number
    page = {n: f"http://testserver/certificates/{quote(n, safe='')}" for n in (old, new)}
    items = client.get("/register/feed.json").json()["items"]
    by_number: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_number.setdefault(item["_apcert"]["certificate"], []).append(item)
    # every change of each certificate carries its links (the old one's grant too)
    assert {
        number: [_of(item["_apcert"]) for item in entries] for number, entries in by_number.items()
    } == {
        new: [{"transferred_from": {"number": old, "url": page[old]}, "transferred_to": None}],
        old: [{"transferred_from": None, "transferred_to": {"number": new, "url": page[new]}}] * 2,
        transfer.other.number: [{"transferred_from": None, "transferred_to": None}],
    }
    assert by_number[old][0]["content_text"].endswith(
        f"Reason: transferred to another certification body. "
        f"It was transferred to certificate {new}."
    )
    assert by_number[new][0]["content_text"].endswith(f"It was transferred from certificate {old}.")

    atom = ET.fromstring(client.get("/register/feed.atom").content)  # noqa: S314 (our own)
    related = {}
    for entry in atom.findall(f"{ATOM}entry"):
        title = entry.findtext(f"{ATOM}title") or ""
        related[title] = [
            (link.get("title"), link.get("href"))
            for link in entry.findall(f"{ATOM}link")
            if link.get("rel") == "related"
        ]
    assert related == {
        f"{new}: draft to current": [(f"transferred from {old}", page[old])],
        f"{old}: current to withdrawn": [(f"transferred to {new}", page[new])],
        f"{old}: draft to current": [(f"transferred to {new}", page[new])],
        f"{transfer.other.number}: draft to current": [],
    }


def test_a_draft_successor_is_named_nowhere(transfer: Transfer, client: Client) -> None:
    # given a draft that names the new certificate as its predecessor (no service makes
    # one: a draft is never public, so no link may name it)
    new = transfer.new
    draft = Certificate.objects.create(
        number="IECQ-A DRAFTX 26.0777", number_year=2026, number_serial=777, cb=new.cb,
        scheme=new.scheme, organization=new.organization, application=new.application,
        status="draft", status_since=new.status_since, first_issued_on=new.first_issued_on,
        initial_decision_on=new.initial_decision_on, expires_on=new.expires_on,
        transferred_from=new,
    )  # fmt: skip
    Certificate.objects.filter(pk=new.pk).update(status="withdrawn")
    with transaction.atomic():
        index_certificate(new)
    # then the new certificate names no successor, in any output
    outputs = [
        client.get(f"/api/public/certificates/{quote(new.number, safe='')}").content.decode(),
        client.get(f"/certificates/{quote(new.number, safe='')}").content.decode(),
        client.get("/api/public/search").content.decode(),
        _export(client, "jsonl"),
        _export(client, "csv"),
        client.get("/register/feed.json").content.decode(),
        client.get("/register/feed.atom").content.decode(),
        client.get("/").content.decode(),
    ]
    assert [draft.number in text or quote(draft.number) in text for text in outputs] == [
        False
    ] * len(outputs)
    assert _of(client.get(f"/api/public/certificates/{quote(new.number, safe='')}").json()) == {
        "transferred_from": transfer.link(transfer.old),
        "transferred_to": None,
    }


# --- documents stored before the links --------------------------------------------------------


def test_the_migration_gives_documents_stored_before_it_their_links(
    transfer: Transfer,
) -> None:
    # given the index as it stood before: documents without the two keys
    for entry in SearchEntry.objects.all():
        document = json.loads(entry.document)
        del document["transferred_from"], document["transferred_to"]
        entry.document = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
        entry.save(update_fields=["document"])
    assert len(index_check()) == 3
    migration = importlib.import_module("apcert.register.migrations.0005_transfer_links")
    # when the migration runs
    # (its functions use only the editor's connection; SQLite's schema editor cannot be
    # opened inside the test's transaction)
    editor = SimpleNamespace(connection=connection)
    migration.add_links(apps, editor)
    # then the index holds what a fresh build writes; and a second run changes nothing
    assert index_check() == []
    migration.add_links(apps, editor)
    assert index_check() == []
    # backwards: the keys go again
    migration.remove_links(apps, editor)
    assert all(
        "transferred_to" not in json.loads(d)
        for d in SearchEntry.objects.values_list("document", flat=True)
    )


def test_a_new_site_address_shows_in_reindex_check(transfer: Transfer, settings: Any) -> None:
    # (the links carry the site's address: after changing it, `apcert reindex` is due)
    settings.SITE_URL = "https://elsewhere.example/register"
    # (the document and the CSV row the index keeps both carry the links)
    assert sorted(index_check()) == sorted(
        f"{cert.number}: {column} differs"
        for cert in (transfer.old, transfer.new)
        for column in ("document", "csv_row")
    )
