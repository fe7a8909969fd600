"""The assessment report in the back office: the printable page and the PDF under the CB's
section (its staff and the Secretariat, at any time, a draft before the report is issued)
and under the organization's (its users, from the day the report is issued); anyone else
gets a 404 that reveals nothing. The links to the report from the CB's assessment page,
from the organization's list of its reports, from a finding and from an application; the
responses' caching and file name; a bounded number of queries however long the report or
the list."""

from __future__ import annotations

import datetime as dt
import io
import re
from html import unescape
from typing import Any

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from apcert.accounts.models import User
from apcert.assessments.models import Assessment
from apcert.assessments.selectors import assessment_reports_for_organization_users
from apcert.assessments.services import assessment_issue_report, finding_record
from apcert.audit.models import AuditEvent
from apcert.organizations.services import organization_member_add
from tests.factories import World, make_user
from tests.flows_support import visit

pytestmark = pytest.mark.django_db

DAYS = dt.timedelta(days=1)
MAJOR_TEXT = "Reflow profiles are not validated after a change of solder paste."
MINOR_TEXT = "Two operators' training records lack the trainer's signature."
SUMMARY = "The plant runs its processes as declared."


def text(response: HttpResponse) -> str:
    """The page's text with tags dropped and white space collapsed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def record(world: World, a: Assessment, grade: str, description: str) -> None:
    finding_record(
        actor=world.team.lead,
        assessment=a,
        grade=grade,
        requirement_kind="iso9001",
        requirement_ref="ISO 9001:2015 8.5.1",
        description=description,
    )


def in_progress(world: World, *, extra_findings: int = 0) -> Assessment:
    """An initial assessment in progress with a major and a minor finding (and as many more
    observations as asked)."""
    a = world.assessment(world.accepted_application(), report=False)
    record(world, a, "major", MAJOR_TEXT)
    record(world, a, "minor", MINOR_TEXT)
    for n in range(extra_findings):
        record(world, a, "observation", f"Observation {n}: consider trending the yield.")
    return a


def issue(world: World, a: Assessment) -> Assessment:
    return assessment_issue_report(
        actor=world.team.lead, assessment=a, issued_on=a.end_date + 3 * DAYS, summary=SUMMARY
    )


def cb_url(a: Assessment, ext: str) -> str:
    return f"/office/cb/assessments/{a.pk}/report.{ext}"


def org_url(world: World, a: Assessment, ext: str) -> str:
    return f"/office/org/{world.org.pk}/assessments/{a.pk}/report.{ext}"


def get(user: User | None, url: str, **params: Any) -> HttpResponse:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client.get(url, params)  # type: ignore[return-value]


@pytest.fixture
def other(world: World) -> World:
    """Another CB, with its staff, and another organization with its user."""
    return World.build()


@pytest.fixture
def member(world: World) -> User:
    user = make_user("member")
    organization_member_add(actor=world.org_user, organization=world.org, user=user)
    return user


# --- who may read it ------------------------------------------------------------------------


def _outcomes(world: World, other: World, member: User, url: str) -> dict[str, int | str]:
    readers: dict[str, User | None] = {
        "cb manager": world.team.manager,
        "cb lead": world.team.lead,
        "cb decision maker": world.team.decision_maker,
        "secretariat": world.secretariat,
        "org admin": world.org_user,
        "org member": member,
        "other cb": other.team.manager,
        "other org": other.org_user,
        "anonymous": None,
    }
    outcomes: dict[str, int | str] = {}
    for name, user in readers.items():
        response = get(user, url)
        if response.status_code == 302:
            assert response["Location"].startswith("/office/sign-in?next="), name
            outcomes[name] = "sign-in"
        else:
            outcomes[name] = response.status_code
    return outcomes


CB_STAFF = {"cb manager": 200, "cb lead": 200, "cb decision maker": 200, "secretariat": 200}
NOBODY_ELSE = {"other cb": 404, "other org": 404, "anonymous": "sign-in"}


@pytest.mark.parametrize("ext", ["html", "pdf"])
def test_the_cb_route_before_the_report_is_issued(
    world: World, other: World, member: User, ext: str
) -> None:
    a = in_progress(world)
    assert _outcomes(world, other, member, cb_url(a, ext)) == {
        **CB_STAFF,
        "org admin": 404,
        "org member": 404,
        **NOBODY_ELSE,
    }


@pytest.mark.parametrize("ext", ["html", "pdf"])
def test_the_cb_route_is_the_cb_s_even_once_issued(
    world: World, other: World, member: User, ext: str
) -> None:
    # The organization reads the issued report in its own section, not the CB's.
    a = issue(world, in_progress(world))
    assert _outcomes(world, other, member, cb_url(a, ext)) == {
        **CB_STAFF,
        "org admin": 404,
        "org member": 404,
        **NOBODY_ELSE,
    }


@pytest.mark.parametrize("ext", ["html", "pdf"])
def test_the_organization_route_before_and_after_issue(
    world: World, other: World, member: User, ext: str
) -> None:
    a = in_progress(world)
    before = _outcomes(world, other, member, org_url(world, a, ext))
    # Before the report is issued the organization does not have it: the address says no
    # more than one that does not exist. The CB's staff read it in their own section.
    assert before == {
        "cb manager": 404,
        "cb lead": 404,
        "cb decision maker": 404,
        "secretariat": 404,
        "org admin": 404,
        "org member": 404,
        **NOBODY_ELSE,
    }
    issue(world, a)
    after = _outcomes(world, other, member, org_url(world, a, ext))
    assert after == {**before, "secretariat": 200, "org admin": 200, "org member": 200}


def test_another_organization_s_report_under_its_own_address_is_a_404(
    world: World, other: World
) -> None:
    # other's user asks for world's report under other's organization: not theirs.
    a = issue(world, in_progress(world))
    response = get(other.org_user, f"/office/org/{other.org.pk}/assessments/{a.pk}/report.pdf")
    assert response.status_code == 404
    missing = get(world.org_user, f"/office/org/{world.org.pk}/assessments/999999/report.html")
    assert missing.status_code == 404
    assert get(world.team.manager, "/office/cb/assessments/999999/report.pdf").status_code == 404


def test_an_inactive_member_is_sent_to_sign_in(world: World, member: User) -> None:
    a = issue(world, in_progress(world))
    client = Client()
    client.force_login(member)
    User.objects.filter(pk=member.pk).update(is_active=False)
    response = client.get(org_url(world, a, "pdf"))
    assert response.status_code == 302
    assert response["Location"].startswith("/office/sign-in?next=")


def test_the_holder_reads_a_certificate_visit_once_reported(world: World) -> None:
    cert = world.granted()
    planned = visit(world, cert, "surveillance", findings=("minor",), report=False)
    assert get(world.org_user, org_url(world, planned, "html")).status_code == 404
    assert get(world.team.lead, cb_url(planned, "html")).status_code == 200
    issue(world, planned)
    response = get(world.org_user, org_url(world, planned, "html"))
    assert response.status_code == 200
    assert cert.number in text(response)


def test_reading_a_report_writes_nothing(world: World) -> None:
    a = issue(world, in_progress(world))
    before = AuditEvent.objects.count()
    for user, url in (
        (world.team.manager, cb_url(a, "pdf")),
        (world.org_user, org_url(world, a, "html")),
    ):
        assert get(user, url).status_code == 200
        client = Client()
        client.force_login(user)
        assert client.post(url).status_code == 405
    assert AuditEvent.objects.count() == before


# --- the documents ------------------------------------------------------------------------


def test_the_pdf_is_the_report_with_its_findings(world: World) -> None:
    a = issue(world, in_progress(world))
    response = get(world.org_user, org_url(world, a, "pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'inline; filename="assessment-report-{a.pk}.pdf"'
    assert response["Cache-Control"] == "private, no-cache"
    assert response.content.startswith(b"%PDF-")
    content = pdf_text(response.content)
    for expected in (MAJOR_TEXT, MINOR_TEXT, SUMMARY, world.org.legal_name, world.team.cb.name):
        assert expected in content
    assert "draft" not in content.lower()


def test_the_pdf_is_a_download_when_asked(world: World) -> None:
    a = in_progress(world)
    response = get(world.team.lead, cb_url(a, "pdf"), download="1")
    assert response["Content-Disposition"] == (
        f'attachment; filename="assessment-report-{a.pk}.pdf"'
    )
    assert response.content.startswith(b"%PDF-")
    # Before issue, the CB's copy says it is a draft.
    assert "draft" in pdf_text(response.content).lower()


def test_the_printable_page_on_the_cb_side_is_a_draft_until_issued(world: World) -> None:
    a = in_progress(world)
    response = get(world.team.manager, cb_url(a, "html"))
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
    page = text(response)
    assert "Draft: this report has not been issued" in page
    assert MAJOR_TEXT in page and MINOR_TEXT in page
    html = response.content.decode()
    # Back to the assessment, and the PDF to save; no script, no inline style.
    assert f'href="/office/cb/assessments/{a.pk}/"' in html
    assert f'href="/office/cb/assessments/{a.pk}/report.pdf?download=1"' in html
    assert "<script" not in html and "style=" not in html
    issue(world, a)
    page = text(get(world.team.manager, cb_url(a, "html")))
    assert "Draft" not in page
    assert SUMMARY in page


def test_the_printable_page_on_the_organization_side(world: World) -> None:
    a = issue(world, in_progress(world))
    response = get(world.org_user, org_url(world, a, "html"))
    html = response.content.decode()
    assert f'href="/office/org/{world.org.pk}/assessments/"' in html
    assert f'href="/office/org/{world.org.pk}/assessments/{a.pk}/report.pdf?download=1"' in html
    assert MAJOR_TEXT in text(response)


def test_a_head_request_is_answered(world: World) -> None:
    a = issue(world, in_progress(world))
    client = Client()
    client.force_login(world.org_user)
    response = client.head(org_url(world, a, "pdf"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"


def _queries(user: User, url: str) -> int:
    client = Client()
    client.force_login(user)
    client.get(url)  # the session's renewal, once
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


#: A report's queries, whatever its length: the session and the user (2), the assessment
#: and who may read it (up to 4), the report's content (9), the navigation's checks.
MAX_REPORT_QUERIES = 18


@pytest.mark.parametrize("ext", ["html", "pdf"])
def test_a_report_s_queries_do_not_grow_with_its_findings(world: World, ext: str) -> None:
    short = issue(world, in_progress(world))
    long = issue(world, in_progress(world, extra_findings=12))
    for user, url in (
        (world.team.lead, cb_url),
        (world.org_user, lambda a, e: org_url(world, a, e)),
    ):
        counts = {_queries(user, url(a, ext)) for a in (short, long)}  # type: ignore[operator]
        assert len(counts) == 1, counts
        assert counts.pop() <= MAX_REPORT_QUERIES


# --- the organization's list of its reports -----------------------------------------------


def test_the_organization_lists_the_reports_issued_to_it(world: World, other: World) -> None:
    issued = issue(world, in_progress(world))
    not_yet = in_progress(world)
    theirs = issue(other, in_progress(other))
    response = get(world.org_user, f"/office/org/{world.org.pk}/assessments/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"/assessments/{issued.pk}/report.html" in html
    assert f"/assessments/{issued.pk}/report.pdf?download=1" in html
    assert f"/assessments/{not_yet.pk}/" not in html
    assert f"/assessments/{theirs.pk}/" not in html
    assert 'aria-current="page">Assessment reports<' in html
    assert f"Application {issued.application_id}" in text(response)


def test_the_list_filters_by_kind(world: World) -> None:
    cert = world.granted()
    surveillance = visit(world, cert, "surveillance")
    initial = issue(world, in_progress(world))
    html = get(
        world.org_user, f"/office/org/{world.org.pk}/assessments/", kind="surveillance"
    ).content.decode()
    assert f"/assessments/{surveillance.pk}/report.html" in html
    assert f"/assessments/{initial.pk}/report.html" not in html
    assert cert.number in html


def test_the_list_is_the_organization_s_own(world: World, other: World) -> None:
    url = f"/office/org/{world.org.pk}/assessments/"
    assert get(other.org_user, url).status_code == 404
    assert get(world.team.manager, url).status_code == 404
    assert get(world.secretariat, url).status_code == 200


def test_the_selector_gives_the_issued_reports_to_the_organization_s_users_only(
    world: World, other: World, member: User
) -> None:
    issued = issue(world, in_progress(world))
    in_progress(world)
    mine = assessment_reports_for_organization_users
    assert list(mine(world.org_user, world.org)) == [issued]
    assert list(mine(member, world.org)) == [issued]
    assert list(mine(world.secretariat, world.org)) == [issued]
    assert list(mine(other.org_user, world.org)) == []
    assert list(mine(world.team.manager, world.org)) == []
    User.objects.filter(pk=member.pk).update(is_active=False)
    member.refresh_from_db()
    assert list(mine(member, world.org)) == []


#: A list page's queries, as the organization's other lists: the session and the user (2),
#: the navigation's role checks (4), the organization and whether the viewer acts for it
#: (2), the list's count and page (2).
MAX_LIST_QUERIES = 14


def test_the_list_s_queries_do_not_grow_with_its_rows(world: World) -> None:
    url = f"/office/org/{world.org.pk}/assessments/"
    issue(world, in_progress(world))
    one = _queries(world.org_user, url)
    cert = world.granted()
    for n in range(4):
        visit(world, cert, "surveillance", start=cert.status_since + (30 + 60 * n) * DAYS)
    assert _queries(world.org_user, url) == one <= MAX_LIST_QUERIES


# --- the links to it ----------------------------------------------------------------------


def test_the_cb_assessment_page_links_the_draft_then_the_report(world: World) -> None:
    a = in_progress(world)
    page = get(world.team.assessor, f"/office/cb/assessments/{a.pk}/")
    html = page.content.decode()
    assert f'href="/office/cb/assessments/{a.pk}/report.html">Draft report<' in html
    assert f'href="/office/cb/assessments/{a.pk}/report.pdf?download=1"' in html
    assert "Print the report" not in html
    issue(world, a)
    html = get(world.team.assessor, f"/office/cb/assessments/{a.pk}/").content.decode()
    assert f'href="/office/cb/assessments/{a.pk}/report.html">Print the report<' in html
    assert ">Download PDF<" in html
    assert "Draft report" not in html


def test_a_finding_links_its_report_once_issued(world: World) -> None:
    a = in_progress(world)
    finding = a.findings.get(grade="major")
    url = f"/office/org/{world.org.pk}/findings/{finding.pk}/"
    report = f"/office/org/{world.org.pk}/assessments/{a.pk}/report.html"
    assert report not in get(world.org_user, url).content.decode()
    issue(world, a)
    html = get(world.org_user, url).content.decode()
    assert f'href="{report}"' in html
    assert f'href="/office/org/{world.org.pk}/assessments/{a.pk}/report.pdf?download=1"' in html


def test_an_application_links_its_assessment_s_report_once_issued(world: World) -> None:
    a = in_progress(world)
    url = f"/office/org/{world.org.pk}/applications/{a.application_id}/"
    report = f"/office/org/{world.org.pk}/assessments/{a.pk}/report.html"
    assert report not in get(world.org_user, url).content.decode()
    issue(world, a)
    assert f'href="{report}"' in get(world.org_user, url).content.decode()


def test_the_tab_is_offered_on_every_page_of_the_organization(world: World) -> None:
    html = get(world.org_user, f"/office/org/{world.org.pk}/findings/").content.decode()
    assert f'href="/office/org/{world.org.pk}/assessments/"' in html
