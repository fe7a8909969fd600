"""The back office's lists people work from: search, filters (date ranges included), sorts,
the assessments' "On my team" and "Awaiting my decision", and the CSV and XLSX exports of
what a list shows.

Each export holds the rows the page would list, with the same search, filters and sort,
from the same selector (another tenant's rows never); CSV cells a spreadsheet would run as
formulas are neutralised, and XLSX text is text. Every list page and every export runs as
many queries with 30 rows as with 3.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponseBase
from django.test import Client
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.applications.services import application_submit
from apcert.assessments.models import Assessment
from apcert.assessments.services import assessment_plan, finding_record
from apcert.bodies.services import cb_create
from apcert.certificates.services import certificate_publication_approve, certificate_refuse
from apcert.organizations.services import organization_create, site_create
from apcert.schemes.services import scheme_publication_review_set
from apcert.web import exports
from tests.factories import DAY0, World

pytestmark = pytest.mark.django_db

CB = "/office/cb"
MALICIOUS = '=HYPERLINK("http://evil.example/","Click")'


@pytest.fixture(autouse=True)
def _today(time_machine: Any) -> None:
    time_machine.move_to(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def other(world: World) -> World:
    return World.build()


def text(response: HttpResponseBase) -> str:
    body = response.content.decode()  # type: ignore[attr-defined]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def body(response: HttpResponseBase) -> bytes:
    """The bytes of a response, streamed or not."""
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return bytes(response.content)  # type: ignore[attr-defined]


def csv_rows(response: HttpResponseBase) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(body(response).decode("utf-8-sig"))))


def xlsx_rows(response: HttpResponseBase) -> list[list[Any]]:
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(body(response))).active
    assert sheet is not None
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def submitted(world: World, **kwargs: Any) -> Application:
    return application_submit(actor=world.org_user, application=world.draft_application(**kwargs))


def planned(world: World, *, start: dt.date = DAY0 + dt.timedelta(days=60)) -> Assessment:
    t = world.team
    return assessment_plan(
        actor=t.manager,
        kind="initial",
        application=world.accepted_application(),
        start_date=start,
        end_date=start + dt.timedelta(days=1),
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )


# --- search, filters, sorts ---------------------------------------------------------------------


def test_cb_applications_are_searched_by_organization_or_number_and_filtered_by_date(
    client: Client, world: World
) -> None:
    first = submitted(world)
    second_org = organization_create(
        actor=world.org_user, legal_name="Laminates Nord GmbH", country="DK"
    )
    site = site_create(
        actor=world.org_user, organization=second_org, name="Plant", city="Aarhus", country="DK"
    )
    world.org, world.site = second_org, site
    second = submitted(world)
    login(client, world.team.manager)

    page = text(client.get(f"{CB}/applications/", {"q": "laminates"}))
    assert f"Application {second.pk}" in page and f"Application {first.pk}" not in page
    page = text(client.get(f"{CB}/applications/", {"q": str(first.pk)}))
    assert f"Application {first.pk}" in page and f"Application {second.pk}" not in page
    page = text(client.get(f"{CB}/applications/", {"country": "dk"}))
    assert "1 found" in page

    # Both were submitted today (1 June 2026): a range that ends before finds none, and
    # either way of typing a date is taken.
    assert "0 found" in text(client.get(f"{CB}/applications/", {"submitted_to": "2026-05-31"}))
    page = text(client.get(f"{CB}/applications/", {"submitted_from": "1 June 2026"}))
    assert "2 found" in page


def test_a_typed_date_that_is_not_one_is_ignored_and_said_so(client: Client, world: World) -> None:
    submitted(world)
    login(client, world.team.manager)
    response = client.get(f"{CB}/applications/", {"submitted_from": "31/02/2026"})
    assert response.status_code == 200
    page = text(response)
    assert "1 found" in page
    assert "Enter the date as 2026-12-07 or 7 December 2026. It is ignored." in page
    assert 'value="31/02/2026"' in response.content.decode()


def test_assessments_are_found_by_assessor_name_once_each(client: Client, world: World) -> None:
    mine = [planned(world) for _ in range(2)]
    login(client, world.team.manager)
    # The lead and the member both match "Lead" or "Assessor" by name; each assessment once.
    page = text(client.get(f"{CB}/assessments/", {"q": world.team.lead.full_name}))
    assert "2 found" in page
    for a in mine:
        assert page.count(f"Initial assessment {a.pk} ") == 1
    assert "0 found" in text(client.get(f"{CB}/assessments/", {"q": "Nobody Of That Name"}))


def test_assessments_filter_by_first_day_and_sort_by_it(client: Client, world: World) -> None:
    early = planned(world, start=dt.date(2026, 7, 1))
    late = planned(world, start=dt.date(2026, 9, 1))
    login(client, world.team.manager)
    page = text(
        client.get(f"{CB}/assessments/", {"start_from": "2026-08-01", "start_to": "2026-09-30"})
    )
    assert f"assessment {late.pk} " in page and f"assessment {early.pk} " not in page
    page = text(client.get(f"{CB}/assessments/", {"sort": "start"}))
    assert page.index(f"assessment {early.pk} ") < page.index(f"assessment {late.pk} ")
    page = text(client.get(f"{CB}/assessments/", {"sort": "-start"}))
    assert page.index(f"assessment {late.pk} ") < page.index(f"assessment {early.pk} ")


def test_a_descending_sort_turns_a_descending_tie_break_round_too(
    client: Client, world: World
) -> None:
    """The org's applications sort by status then newest first; "-status" reverses both."""
    apps = [world.draft_application() for _ in range(2)]
    login(client, world.org_user)
    url = f"/office/org/{world.org.pk}/applications/"
    ascending = text(client.get(url, {"sort": "status"}))
    descending = text(client.get(url, {"sort": "-status"}))
    first, second = (f"Application {a.pk} " for a in apps)
    assert ascending.index(second) < ascending.index(first)
    assert descending.index(first) < descending.index(second)


def test_cb_certificates_are_searched_by_holder_and_filtered_by_expiry(
    client: Client, world: World, other: World
) -> None:
    cert = world.granted()
    theirs = other.granted()
    login(client, world.team.manager)
    page = text(client.get(f"{CB}/certificates/", {"q": world.org.legal_name}))
    assert cert.number in page and theirs.number not in page
    after = (cert.expires_on + dt.timedelta(days=1)).isoformat()
    assert "0 found" in text(client.get(f"{CB}/certificates/", {"expires_from": after}))
    assert "1 found" in text(
        client.get(f"{CB}/certificates/", {"expires_to": cert.expires_on.isoformat()})
    )


# --- "On my team" and "Awaiting my decision" ----------------------------------------------------


def test_an_assessor_sees_the_assessments_they_are_on_first(client: Client, world: World) -> None:
    t = world.team
    on_team = planned(world)
    not_on_team = assessment_plan(
        actor=t.manager,
        kind="initial",
        application=world.accepted_application(),
        start_date=DAY0 + dt.timedelta(days=90),
        end_date=DAY0 + dt.timedelta(days=91),
        team=[(t.lead, "lead"), (t.decision_maker2, "member")],
    )
    login(client, t.assessor)
    response = client.get(f"{CB}/assessments/")
    page = text(response)
    assert 'aria-current="page">On my team<' in response.content.decode()
    assert f"assessment {on_team.pk} " in page and f"assessment {not_on_team.pk} " not in page
    page = text(client.get(f"{CB}/assessments/", {"show": "all"}))
    assert f"assessment {on_team.pk} " in page and f"assessment {not_on_team.pk} " in page

    # The scheme manager sees all by default, and is offered no tab of their own.
    response = login(Client(), t.manager).get(f"{CB}/assessments/")
    assert "On my team" not in response.content.decode()
    assert f"assessment {not_on_team.pk} " in text(response)


def test_a_decision_maker_sees_what_awaits_their_decision(client: Client, world: World) -> None:
    t = world.team
    awaiting = world.assessment(world.accepted_application())
    # decision_maker2 was on this team: it awaits the other decision maker only.
    theirs = world.assessment(
        world.accepted_application(), team=[(t.lead, "lead"), (t.decision_maker2, "member")]
    )
    refused_app = world.accepted_application()
    refused = world.assessment(refused_app)
    certificate_refuse(
        actor=t.decision_maker,
        application=refused_app,
        assessment=refused,
        rationale="Scope not covered",
        decided_on=refused.report_issued_on,
    )
    not_reported = world.assessment(world.accepted_application(), report=False)
    granted = world.granted()

    login(client, t.decision_maker)
    response = client.get(f"{CB}/assessments/", {"show": "decide"})
    page = text(response)
    assert "2 found" in page
    assert f"assessment {awaiting.pk} " in page and f"assessment {theirs.pk} " in page
    for a in (refused, not_reported):
        assert f"assessment {a.pk} " not in page
    assert f"/assessments/{awaiting.pk}/decision" in response.content.decode()

    page = text(login(Client(), t.decision_maker2).get(f"{CB}/assessments/", {"show": "decide"}))
    assert "1 found" in page and f"assessment {awaiting.pk} " in page
    assert granted.number  # its assessment was decided (and closed): in neither list


def test_a_tab_not_offered_falls_back_to_the_default(client: Client, world: World) -> None:
    planned(world)
    login(client, world.team.manager)
    page = text(client.get(f"{CB}/assessments/", {"show": "decide"}))
    assert "1 found" in page  # the scheme manager decides nothing: the whole list


# --- exports -----------------------------------------------------------------------------------


def test_the_export_holds_what_the_list_shows_and_no_other_tenant(
    client: Client, world: World, other: World
) -> None:
    apps = [submitted(world) for _ in range(3)]
    submitted(other)
    world.draft_application()  # a draft: filtered out below
    login(client, world.team.manager)
    query = {"status": "submitted", "sort": "-submitted"}
    page = client.get(f"{CB}/applications/", query)
    assert "3 found" in text(page)
    assert "export=csv" in page.content.decode() and "Download XLSX" in text(page)

    rows = csv_rows(client.get(f"{CB}/applications/", {**query, "export": "csv"}))
    assert rows[0][:3] == ["Application", "Organization", "Country"]
    assert [int(r[0]) for r in rows[1:]] == sorted((a.pk for a in apps), reverse=True)
    assert {r[6] for r in rows[1:]} == {"submitted"}

    sheet = xlsx_rows(client.get(f"{CB}/applications/", {**query, "export": "xlsx"}))
    assert sheet[0] == [*(c.header for c in exports_columns("applications"))]
    assert [r[0] for r in sheet[1:]] == [int(r[0]) for r in rows[1:]]
    assert all(isinstance(r[8], dt.datetime) for r in sheet[1:])


def exports_columns(name: str) -> tuple[Any, ...]:
    from apcert.web.sections.cb.views import lists

    return {"applications": lists.APPLICATION_COLUMNS}[name]


def test_a_malicious_organization_name_is_neutralised_in_csv_and_text_in_xlsx(
    client: Client, world: World
) -> None:
    evil = organization_create(actor=world.org_user, legal_name=MALICIOUS, country="DE")
    for name in ("+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "=1+1"):
        organization_create(actor=world.org_user, legal_name=name, country="DE")
    login(client, world.secretariat)

    rows = csv_rows(client.get("/office/org/", {"export": "csv", "sort": "name"}))
    names = {r[0] for r in rows[1:]}
    assert "'" + MALICIOUS in names
    assert {"'+cmd|' /C calc'!A0", "'-2+3", "'@SUM(A1:A2)", "'=1+1"} <= names
    assert not any(n.startswith(("=", "+", "-", "@", "\t", "\r")) for n in names)

    response = client.get("/office/org/", {"export": "xlsx", "q": evil.legal_name})
    sheet = load_workbook(io.BytesIO(body(response))).active
    assert sheet is not None
    cell = sheet["A2"]
    assert cell.value == MALICIOUS and cell.data_type == "s"  # text, not a formula
    assert cell.quotePrefix  # and kept text when someone edits it

    response = client.get("/office/org/", {"export": "xlsx", "sort": "name"})
    sheet = load_workbook(io.BytesIO(body(response))).active
    assert sheet is not None
    cells = {row[0].value: row[0] for row in sheet.iter_rows(min_row=2)}
    for name in (MALICIOUS, "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "=1+1"):
        assert cells[name].data_type == "s" and cells[name].quotePrefix, name
    assert not cells[world.org.legal_name].quotePrefix


def test_an_export_past_the_cap_says_so(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(4):
        site_create(
            actor=world.org_user,
            organization=world.org,
            name=f"Plant {_}",
            city="Ulm",
            country="DE",
        )
    monkeypatch.setattr(exports, "EXPORT_CAP", 3)
    monkeypatch.setattr(exports, "CHUNK", 2)  # the cap across chunks
    login(client, world.org_user)
    url = f"/office/org/{world.org.pk}/"
    rows = csv_rows(client.get(url, {"export": "csv"}))
    assert len(rows) == 1 + 3 + 1
    assert rows[-1] == [exports.capped_note(3)]
    sheet = xlsx_rows(client.get(url, {"export": "xlsx"}))
    assert len(sheet) == 1 + 3 + 1 and sheet[-1][0] == exports.capped_note(3)

    # Exactly the cap (6 sites, CHUNK 3): no note.
    monkeypatch.setattr(exports, "EXPORT_CAP", 6)
    monkeypatch.setattr(exports, "CHUNK", 3)
    rows = csv_rows(client.get(url, {"export": "csv"}))
    assert len(rows) == 1 + 6 and rows[-1][0] != exports.capped_note(6)


def test_an_unknown_export_format_is_the_page(client: Client, world: World) -> None:
    login(client, world.org_user)
    response = client.get(f"/office/org/{world.org.pk}/findings/", {"export": "pdf"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")


def test_certificate_exports_say_the_status_today(client: Client, world: World) -> None:
    cert = world.granted()
    login(client, world.org_user)
    rows = csv_rows(client.get(f"/office/org/{world.org.pk}/certificates/", {"export": "csv"}))
    header, row = rows
    assert row[header.index("Number")] == cert.number
    assert row[header.index("Status")] == "current"
    assert row[header.index("Expires")] == cert.expires_on.isoformat()


# --- queries do not grow with rows --------------------------------------------------------------


def queries(client: Client, url: str, query: dict[str, str] | None = None) -> int:
    """The queries of one request, an export read to its end."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, query or {})
        body(response)
    assert response.status_code == 200, url
    return len(captured)


FORMATS = ("", "csv", "xlsx")
#: A list to measure: who asks, its address, its query.
Page = tuple[Client, str, dict[str, str]]


def measure(pages: list[Page]) -> dict[tuple[int, str], int]:
    """The queries of each page and of its CSV and XLSX exports."""
    counts = {}
    for i, (c, url, query) in enumerate(pages):
        c.get(url, query)  # warm: the session's first renewal
        for fmt in FORMATS:
            counts[(i, fmt)] = queries(c, url, {**query, "export": fmt} if fmt else query)
    return counts


def assert_no_more(pages: list[Page], before: dict[tuple[int, str], int], limit: Any) -> None:
    """Each page and export runs no more queries than ``before`` (``limit``:
    django_assert_max_num_queries)."""
    for i, (c, url, query) in enumerate(pages):
        for fmt in FORMATS:
            with limit(before[(i, fmt)]):
                response = c.get(url, {**query, "export": fmt} if fmt else query)
                body(response)
            assert response.status_code == 200


def test_cb_and_org_application_lists_and_exports_are_flat(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        submitted(world)
    pages: list[Page] = [
        (login(client, world.team.manager), f"{CB}/applications/", {}),
        (login(Client(), world.org_user), f"/office/org/{world.org.pk}/applications/", {}),
    ]
    before = measure(pages)
    for _ in range(27):
        submitted(world)
    assert_no_more(pages, before, django_assert_max_num_queries)
    assert "30 found" in text(client.get(f"{CB}/applications/"))


def test_cb_assessment_list_and_its_tabs_are_flat(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    for _ in range(3):
        world.assessment(world.accepted_application())
    url = f"{CB}/assessments/"
    lead = login(client, world.team.lead)  # an assessor: "On my team" first
    decider = login(Client(), world.team.decision_maker)
    pages: list[Page] = [
        (lead, url, {}),
        (decider, url, {"show": "all"}),
        (decider, url, {"show": "decide"}),
    ]
    before = measure(pages)
    for _ in range(27):
        world.assessment(world.accepted_application())
    assert_no_more(pages, before, django_assert_max_num_queries)
    assert "30 found" in text(decider.get(url, {"show": "decide"}))


def test_certificate_lists_and_publication_reviews_are_flat(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    scheme_publication_review_set(actor=world.secretariat, scheme=world.scheme, enabled=True)

    def grant(n: int) -> None:
        for i in range(n):
            cert = world.granted()
            if i % 2:  # half of them published, half awaiting the review
                certificate_publication_approve(actor=world.secretariat, certificate=cert)

    grant(3)
    manager = login(client, world.team.manager)
    sec = login(Client(), world.secretariat)
    pages: list[Page] = [
        (manager, f"{CB}/certificates/", {}),
        (login(Client(), world.org_user), f"/office/org/{world.org.pk}/certificates/", {}),
        (sec, "/office/secretariat/certificates/", {}),
        (sec, "/office/secretariat/publication/", {}),
    ]
    before = measure(pages)
    grant(27)
    assert_no_more(pages, before, django_assert_max_num_queries)
    assert "30 found" in text(manager.get(f"{CB}/certificates/"))


def test_organization_site_and_finding_lists_are_flat(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    a = world.assessment(world.accepted_application(), report=False)

    def grow(n: int, start: int) -> None:
        for i in range(start, start + n):
            finding_record(
                actor=world.team.lead,
                assessment=a,
                grade="minor",
                requirement_kind="iso9001",
                requirement_ref=f"ISO 9001:2015 7.{i}",
                description="Records incomplete",
            )
            site_create(
                actor=world.org_user,
                organization=world.org,
                name=f"Plant {i}",
                city="Ulm",
                country="DE",
            )
            organization_create(actor=world.org_user, legal_name=f"Holder {i}", country="FR")

    grow(3, 0)
    pages: list[Page] = [
        (login(client, world.org_user), f"/office/org/{world.org.pk}/findings/", {}),
        (client, f"/office/org/{world.org.pk}/", {}),
        (login(Client(), world.secretariat), "/office/org/", {}),
    ]
    before = measure(pages)
    grow(27, 3)
    assert_no_more(pages, before, django_assert_max_num_queries)


def test_secretariat_cb_and_standard_lists_are_flat(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    login(client, world.secretariat)

    def cbs(n: int, start: int) -> None:
        for i in range(start, start + n):
            cb_create(actor=world.secretariat, code=f"QF{i}", name="Body", country="FR")

    cbs(2, 0)
    # The standards catalogue is reference data: one designation's editions against all.
    few = {"q": "IEC 61340-5-1"}
    url = "/office/secretariat/reference/"
    assert len(csv_rows(client.get(url, {**few, "export": "csv"}))) - 1 <= 3
    assert len(csv_rows(client.get(url, {"export": "csv"}))) - 1 >= 30
    before = measure([(client, "/office/secretariat/", {}), (client, url, few)])
    cbs(27, 2)
    assert_no_more(
        [(client, "/office/secretariat/", {}), (client, url, {})],
        before,
        django_assert_max_num_queries,
    )


def test_the_list_of_one_s_own_assessments_is_counted_from_one_s_places_on_the_teams(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apcert.web import lists

    # Given three assessments with the lead on the team, and one without
    t = world.team
    for _ in range(3):
        world.assessment(world.accepted_application())
    start = DAY0 + dt.timedelta(days=30)
    assessment_plan(
        actor=t.manager,
        kind="initial",
        application=world.accepted_application(),
        start_date=start,
        end_date=start + dt.timedelta(days=1),
        team=[(t.assessor, "lead")],
    )
    client.force_login(t.lead)
    # When the lead reads their own list, its count is read from their places on the teams
    with CaptureQueriesContext(connection) as queries:
        page = text(client.get("/office/cb/assessments/", {"show": "mine"}))
    [count] = [q["sql"] for q in queries.captured_queries if "COUNT(*) FROM (" in q["sql"]]
    assert 'FROM "assessments_teammember" WHERE ("assessments_teammember"."user_id" =' in count
    # Then it counts the three, as the whole CB's list counts four
    assert "3 found" in page
    assert "4 found" in text(client.get("/office/cb/assessments/", {"show": "all"}))
    # And past the cap it says so
    monkeypatch.setattr(lists, "COUNT_CAP", 2)
    assert "More than 2 found" in text(client.get("/office/cb/assessments/", {"show": "mine"}))
