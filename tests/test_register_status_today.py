"""Every public read tells the status of the day, whether or not the sweep has run.

A status that follows from dates alone (validity ended, a surveillance window missed, the
maximum suspension reached) holds from that date on the certificate page, the search (hits,
filters, counts, sorts), the API (by number, in front of Django too, search, history,
as-of), the exports, the feeds, the organization pages and the CB directory, with the
change marked as not yet recorded. Once the sweep has recorded it, every answer is the same
apart from those marks, and the feed shows the change once.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from io import StringIO
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apcert.api import ratelimit
from apcert.api.fastpath import PublicApiLayer
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_start,
)
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_renew
from apcert.cycle.sweep import cycle_sweep
from apcert.register import exports
from apcert.register.search import SearchQuery, search
from tests.factories import World, on_day
from tests.wsgi_support import Recorder, wsgi_call

pytestmark = pytest.mark.django_db

D = dt.date
NOT_RECORDED = "The register's daily check has not yet recorded this change."

# Granted 2026-03-24, valid until 2029-03-23 (AP defaults); the first surveillance is due
# 2027-03-24, its window closing 2027-05-23; a suspension lasts at most 6 months.


@dataclass(frozen=True)
class Case:
    """A certificate the calendar changes on ``day``, and another that stays current."""

    day: dt.date
    status: str
    since: dt.date
    reason: str
    reason_words: str
    #: Surveillance visits (report dates) carried out on the certificate that changes.
    visits: tuple[dt.date, ...]
    #: Status changes the calendar made by ``day`` (the feed shows each).
    changes: tuple[tuple[str, str], ...]


CASES = {
    "expired": Case(
        day=D(2029, 3, 24),
        status="expired",
        since=D(2029, 3, 24),
        reason="validity_ended",
        reason_words="Expired on 24 March 2029 (validity ended).",
        visits=(D(2027, 3, 20), D(2028, 3, 20)),
        changes=(("current", "expired"),),
    ),
    "suspended": Case(
        day=D(2027, 5, 24),
        status="suspended",
        since=D(2027, 5, 24),
        reason="missed_surveillance",
        reason_words="Suspended on 24 May 2027 (surveillance not carried out in time).",
        visits=(),
        changes=(("current", "suspended"),),
    ),
    "withdrawn": Case(
        day=D(2027, 11, 24),
        status="withdrawn",
        since=D(2027, 11, 24),
        reason="suspension_exceeded",
        reason_words="Withdrawn on 24 November 2027 (suspended longer than allowed).",
        visits=(),
        changes=(("current", "suspended"), ("suspended", "withdrawn")),
    ),
}


def _visit(world: World, cert: Certificate, kind: str, report_on: dt.date) -> Any:
    t = world.team
    a = assessment_plan(
        actor=t.manager,
        kind=kind,
        certificate=cert,
        start_date=report_on - dt.timedelta(days=4),
        end_date=report_on - dt.timedelta(days=3),
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )
    with on_day(a.start_date):
        assessment_start(actor=t.lead, assessment=a)
    with on_day(report_on):
        return assessment_issue_report(actor=t.lead, assessment=a, issued_on=report_on)


def _current_on(world: World, day: dt.date) -> Certificate:
    """A certificate of the same holder and CB that is still current on ``day``."""
    cert = world.granted()
    _visit(world, cert, "surveillance", D(2027, 3, 20))
    if day > D(2028, 3, 1):
        _visit(world, cert, "surveillance", D(2028, 3, 20))
        renewal = _visit(world, cert, "reassessment", D(2029, 1, 15))
        with on_day(D(2029, 2, 1)):
            certificate_renew(
                actor=world.team.decision_maker,
                certificate=cert,
                assessment=renewal,
                decided_on=D(2029, 2, 1),
            )
    return Certificate.objects.get(pk=cert.pk)


@pytest.fixture(autouse=True)
def _fresh_counts() -> Iterator[None]:
    ratelimit.reset()
    yield
    ratelimit.reset()


def _on(day: dt.date) -> Any:
    return time_machine.travel(dt.datetime(day.year, day.month, day.day, 10, 0), tick=False)


def _api(client: Client, path: str) -> Any:
    response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def _cert_path(number: str, tail: str = "") -> str:
    return f"/api/public/certificates/{quote(number, safe='')}{tail}"


def _status_counts(facets: Any) -> dict[str, int]:
    return {c.value: c.count for c in facets["status"]}


def _read_everything(client: Client, world: World, stale: Certificate) -> dict[str, Any]:
    """Every public answer about the register, as plain data."""
    number = stale.number
    out: dict[str, Any] = {}
    page = client.get(f"/certificates/{quote(number, safe='')}")
    assert page.status_code == 200
    out["page"] = html.unescape(page.content.decode())
    out["document"] = _api(client, _cert_path(number))
    django = Recorder()
    fast = wsgi_call(PublicApiLayer(django), _cert_path(number))
    # (whether the layer left the request to Django, and what it answered itself)
    out["fast"] = (bool(django.calls), None if django.calls else fast.json())
    out["history"] = _api(client, _cert_path(number, "/history"))["status_changes"]
    out["as_of"] = _api(client, _cert_path(number, "/as-of?date=" + stale_day(out)))
    everything = search(SearchQuery())
    out["search_counts"] = _status_counts(everything.facets)
    out["search_hit"] = next(h for h in everything.hits if h.number == number)
    out["by_status"] = {
        status: [h.number for h in search(SearchQuery(status=status)).hits]
        for status in ("current", "suspended", "withdrawn", "expired")
    }
    worded = search(SearchQuery(text=world.org.legal_name))
    out["worded_counts"] = _status_counts(worded.facets)
    out["changed_order"] = [h.number for h in search(SearchQuery(sort="changed")).hits]
    out["api_search"] = _api(client, "/api/public/search?status=" + out["document"]["status"])
    csv_text = "".join(exports.FORMATS["csv"].chunks())
    out["csv"] = {row["number"]: row for row in csv.DictReader(io.StringIO(csv_text))}
    out["jsonl"] = {
        d["number"]: d
        for d in map(json.loads, "".join(exports.FORMATS["jsonl"].chunks()).splitlines())
    }
    command = StringIO()
    call_command("export", format="jsonl", stdout=command)
    out["command"] = {d["number"]: d for d in map(json.loads, command.getvalue().splitlines())}
    feed = _api(client, "/register/feed.json")
    out["feed"] = [
        item["_apcert"] for item in feed["items"] if item["_apcert"]["certificate"] == number
    ]
    out["organization"] = _api(client, f"/api/public/organizations/{world.org.pk}")
    organization_page = client.get(f"/organizations/{world.org.pk}").content.decode()
    out["organization_page"] = html.unescape(organization_page)
    out["body"] = _api(client, f"/api/public/bodies/{world.team.cb.code}")
    out["bodies_page"] = client.get("/bodies/").content.decode()
    return out


def stale_day(out: dict[str, Any]) -> str:
    return str(out["document"]["status_since"])


@pytest.mark.parametrize("name", list(CASES))
def test_a_status_from_dates_alone_holds_on_every_public_answer_before_and_after_the_sweep(
    world: World, client: Client, name: str
) -> None:
    case = CASES[name]
    # given a certificate the calendar changes on the case's day, and one still current
    stale = world.granted()
    for report_on in case.visits:
        _visit(world, stale, "surveillance", report_on)
    current = _current_on(world, case.day)
    with _on(case.day):
        # when everything is read on that day, the sweep never run
        before = _read_everything(client, world, stale)
    stored = Certificate.objects.get(pk=stale.pk)
    assert stored.status == "current"  # nothing recorded the change

    # then the page says the status of the day, and that it is not recorded yet
    assert f"Status: {case.status.capitalize()}" in before["page"]
    assert f"{case.reason_words} {NOT_RECORDED}" in before["page"]
    # the API by number, and in front of Django (left to Django, which tells the truth)
    document = before["document"]
    assert (document["status"], document["status_since"]) == (case.status, case.since.isoformat())
    assert document["status_reason_category"] == case.reason
    assert document["status_recorded"] is False
    assert before["fast"] == (True, None)
    # the history ends with the changes the calendar made, not yet recorded
    history = [(c["from_status"], c["to_status"], c["recorded"]) for c in before["history"]]
    assert history[0][1:] == ("current", True)
    assert history[1:] == [(a, b, False) for a, b in case.changes]
    assert before["as_of"]["status"] == case.status
    assert before["as_of"]["current"] is False
    assert before["as_of"]["status_recorded"] is False
    # the search: hits, filters and counts
    hit = before["search_hit"]
    assert (hit.status, hit.status_since, hit.status_recorded) == (case.status, case.since, False)
    assert before["by_status"] == {
        "current": [current.number],
        "suspended": [stale.number] if case.status == "suspended" else [],
        "withdrawn": [stale.number] if case.status == "withdrawn" else [],
        "expired": [stale.number] if case.status == "expired" else [],
    }
    assert before["search_counts"] == {"current": 1, case.status: 1}
    assert before["worded_counts"] == {"current": 1, case.status: 1}
    # sorted by the latest change, the change of the day comes first
    assert before["changed_order"] == [stale.number, current.number]
    api_hits = before["api_search"]["hits"]
    assert [(h["number"], h["status"], h["status_recorded"]) for h in api_hits] == [
        (stale.number, case.status, False)
    ]
    assert [(c["value"], c["count"]) for c in before["api_search"]["facets"]["status"]] == [
        (case.status, 1)
    ]
    # the exports, including the command
    row = before["csv"][stale.number]
    assert (row["status"], row["status_since"]) == (case.status, case.since.isoformat())
    assert (row["status_reason_category"], row["status_recorded"]) == (case.reason, "false")
    assert before["jsonl"][stale.number] == document
    assert before["command"][stale.number] == document
    # the feed shows each change on its day, marked
    assert [
        (e["from_status"], e["to_status"], e["effective_on"], e["recorded"])
        for e in before["feed"][: len(case.changes)]
    ] == [
        (a, b, day, False)
        for (a, b), day in reversed(list(zip(case.changes, _change_days(case), strict=True)))
    ]
    # the holder's and the CB's pages count it as it is today
    statuses = {c["number"]: c["status"] for c in before["organization"]["certificates"]}
    assert statuses == {stale.number: case.status, current.number: "current"}
    assert before["body"]["current_certificates"] == 1
    assert [c["number"] for c in before["body"]["certificates"]] == [current.number]
    assert "not yet recorded by the register's daily check" in before["organization_page"]

    # when the sweep records the changes
    report = cycle_sweep(as_of=case.day)
    assert [*report.expired, *report.suspended, *report.withdrawn] == [stale.number] * len(
        case.changes
    )
    with _on(case.day):
        after = _read_everything(client, world, stale)
    # then every answer is the same but for the marks
    _same_page(before["page"], after["page"], case)
    assert after["document"] == {**before["document"], "status_recorded": True}
    assert after["fast"] == (False, after["document"])
    assert [{**c, "recorded": True} for c in before["history"]] == after["history"]
    assert after["as_of"] == {**before["as_of"], "status_recorded": True}
    assert after["search_hit"] == _recorded(before["search_hit"])
    for key in ("by_status", "search_counts", "worded_counts", "changed_order"):
        assert after[key] == before[key], key
    assert after["api_search"]["facets"] == before["api_search"]["facets"]
    assert after["api_search"]["hits"] == [
        {**h, "status_recorded": True} for h in before["api_search"]["hits"]
    ]
    assert after["csv"][stale.number] == {**row, "status_recorded": "true"}
    assert after["jsonl"][stale.number] == after["document"]
    assert after["command"][stale.number] == after["document"]
    # the feed shows each change once, recorded
    assert after["feed"] == [{**e, "recorded": True} for e in before["feed"]]
    assert after["organization"] == _all_recorded(before["organization"])
    assert after["body"] == before["body"]
    assert after["bodies_page"] == before["bodies_page"]
    assert "not yet recorded" not in after["organization_page"]
    assert "not yet recorded" not in after["page"]


def _change_days(case: Case) -> list[str]:
    if len(case.changes) == 2:
        return [D(2027, 5, 24).isoformat(), case.since.isoformat()]
    return [case.since.isoformat()]


def _same_page(before: str, after: str, case: Case) -> None:
    marks = (
        f'<p id="status-not-recorded" class="flag">{case.reason_words} {NOT_RECORDED}</p>',
        ' <span class="flag">not yet recorded by the register\'s daily check</span>',
    )
    for mark in marks:
        before = before.replace(mark, "")
    assert before == after


def _recorded(hit: Any) -> Any:
    import dataclasses

    return dataclasses.replace(hit, status_recorded=True)


def _all_recorded(organization: dict[str, Any]) -> dict[str, Any]:
    return {
        **organization,
        "certificates": [{**c, "status_recorded": True} for c in organization["certificates"]],
    }


def test_the_search_reads_the_stale_set_in_a_constant_number_of_queries(
    world: World, client: Client
) -> None:
    # given one certificate the calendar has suspended, then three
    def queries(path: str) -> int:
        with _on(D(2027, 5, 24)):
            # What is kept for a minute or more (the names of filter values, the word
            # index's bands) is read by the request before, whenever it last ran out
            assert client.get(path).status_code == 200
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(path).status_code == 200
        return len(ctx.captured_queries)

    world.granted()
    paths = ["/", "/?status=suspended", "/?status=current&sort=changed", "/?q=plating"]
    one = {path: queries(path) for path in paths}
    for _ in range(2):
        world.granted()
    # then each search page asks as many queries with three as with one
    assert {path: queries(path) for path in paths} == one
    with _on(D(2027, 5, 24)):
        assert search(SearchQuery(status="suspended")).total == 3
        assert search(SearchQuery(status="current")).total == 0
