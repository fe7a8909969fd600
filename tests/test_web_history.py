"""A record's history in the back office: the audited events of an application, an
assessment (its findings, answers and evidence included) and a certificate, each on its own
page in the CB section and, for applications and certificates, the organization section.
Shown to those who may see the record (anyone else: 404), in a bounded number of queries
whatever the number of events, a page at a time."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

from apcert.accounts.models import User
from apcert.applications.selectors import application_history
from apcert.assessments.evidence import evidence_attach
from apcert.assessments.selectors import assessment_history
from apcert.assessments.services import finding_record
from apcert.audit.selectors import HistoryEntry
from apcert.certificates.selectors import certificate_history
from apcert.certificates.services import certificate_suspend
from apcert.web import history
from tests.factories import DAY0, World, make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
#: A history page's queries: the session and user, the record through its selector, the
#: events (and, for an assessment, its findings' and evidence's ids), the navigation's role
#: checks, the session's renewal. Events add none.
HISTORY_QUERIES = 15


def text(response: HttpResponse) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def get(user: User, url: str) -> HttpResponse:
    response = client_for(user).get(url)
    return response  # type: ignore[no-any-return]


def assert_shows(response: HttpResponse, entries: list[HistoryEntry]) -> None:
    assert response.status_code == 200
    page = text(response)
    assert entries
    for e in entries:
        assert e.what in page
        assert e.who in page
    # Newest first, as the selector reads them.
    whats = [e.what for e in entries]
    positions = [page.find(w) for w in dict.fromkeys(whats)]
    assert positions[0] == min(positions)


def _assessment_with_answer(world: World, settings: object, tmp_path: object) -> object:
    settings.EVIDENCE_DIR = tmp_path  # type: ignore[attr-defined]
    a = world.assessment(world.accepted_application(), findings=("major", "minor"), report=False)
    major = a.findings.get(grade="major")
    answer = world.answer(major)
    evidence_attach(
        actor=world.org_user,
        corrective_action=answer,
        upload=SimpleUploadedFile("checklist.pdf", PDF, content_type="application/pdf"),
    )
    return a


def test_assessment_history_shows_plan_findings_answers_and_evidence(
    world: World, settings: object, tmp_path: object
) -> None:
    a = _assessment_with_answer(world, settings, tmp_path)
    entries = assessment_history(a)  # type: ignore[arg-type]
    response = get(world.team.lead, f"/office/cb/assessments/{a.pk}/history")  # type: ignore[attr-defined]
    assert_shows(response, entries)
    page = text(response)
    for what in (
        "Assessment planned",
        "Assessment started",
        "Finding recorded",
        "Corrective action submitted",
        "Evidence file attached",
    ):
        assert what in page, what
    assert world.team.manager.label in page  # who planned
    # A changed field as its value before and after; a created record's fields as set.
    assert "Status : planned → in_progress" in page
    assert "Grade : major" in page
    assert world.org_user.label in page  # who answered
    # A planned date recorded as an ISO date is shown as a date.
    start = a.start_date  # type: ignore[attr-defined]
    assert f'<time datetime="{start.isoformat()}">' in response.content.decode()
    # The record's page links to its history.
    detail = get(world.team.lead, f"/office/cb/assessments/{a.pk}/")  # type: ignore[attr-defined]
    assert f'href="/office/cb/assessments/{a.pk}/history"' in detail.content.decode()  # type: ignore[attr-defined]


def test_application_history_in_cb_and_org_sections(world: World) -> None:
    app = world.accepted_application()
    entries = application_history(app)
    assert {"Application submitted", "Application accepted"} <= {e.what for e in entries}
    cb = get(world.team.manager, f"/office/cb/applications/{app.pk}/history")
    assert_shows(cb, entries)
    org = get(world.org_user, f"/office/org/{world.org.pk}/applications/{app.pk}/history")
    assert_shows(org, entries)
    assert world.team.manager.label in text(org)
    for url, link in (
        (f"/office/cb/applications/{app.pk}/", f"/office/cb/applications/{app.pk}/history"),
        (
            f"/office/org/{world.org.pk}/applications/{app.pk}/",
            f"/office/org/{world.org.pk}/applications/{app.pk}/history",
        ),
    ):
        user = world.team.manager if "/cb/" in url else world.org_user
        assert f'href="{link}"' in get(user, url).content.decode()


def test_certificate_history_in_cb_and_org_sections(world: World) -> None:
    cert = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="Surveillance overdue",
    )
    entries = certificate_history(cert)
    assert len(entries) >= 2
    cb = get(world.team.decision_maker, f"/office/cb/certificates/{cert.pk}/history")
    assert_shows(cb, entries)
    page = text(cb)
    assert "Surveillance overdue" in page
    assert world.team.decision_maker.label in page
    org = get(world.org_user, f"/office/org/{world.org.pk}/certificates/{cert.pk}/history")
    assert_shows(org, entries)
    assert f'href="/office/cb/certificates/{cert.pk}/history"' in (
        get(world.team.decision_maker, f"/office/cb/certificates/{cert.pk}/").content.decode()
    )
    assert f'href="/office/org/{world.org.pk}/certificates/{cert.pk}/history"' in (
        get(world.org_user, f"/office/org/{world.org.pk}/certificates/{cert.pk}/").content.decode()
    )


@pytest.mark.usefixtures("reference")
def test_another_cb_and_another_organization_get_404(world: World) -> None:
    other = World.build()
    cert = world.granted()
    app_id = cert.application_id
    a = cert.application.assessments.get()  # type: ignore[union-attr]
    for url in (
        f"/office/cb/applications/{app_id}/history",
        f"/office/cb/assessments/{a.pk}/history",
        f"/office/cb/certificates/{cert.pk}/history",
    ):
        assert get(other.team.manager, url).status_code == 404, url
    for url in (
        f"/office/org/{world.org.pk}/applications/{app_id}/history",
        f"/office/org/{world.org.pk}/certificates/{cert.pk}/history",
        # Another organization's own address with this one's record: 404 too.
        f"/office/org/{other.org.pk}/applications/{app_id}/history",
        f"/office/org/{other.org.pk}/certificates/{cert.pk}/history",
    ):
        assert get(other.org_user, url).status_code == 404, url
    # Someone who is no CB's staff: the record is not theirs to see.
    assert get(make_user("nobody"), f"/office/cb/certificates/{cert.pk}/history").status_code in (
        403,
        404,
    )
    # The Secretariat sees every record.
    assert get(world.secretariat, f"/office/cb/assessments/{a.pk}/history").status_code == 200


def test_query_count_is_bounded_and_flat_as_events_grow(
    world: World, django_assert_max_num_queries: object, settings: object, tmp_path: object
) -> None:
    a = _assessment_with_answer(world, settings, tmp_path)
    client = client_for(world.team.lead)
    url = f"/office/cb/assessments/{a.pk}/history"  # type: ignore[attr-defined]
    client.get(url)  # the session's first use

    def count() -> int:
        with django_assert_max_num_queries(HISTORY_QUERIES) as captured:  # type: ignore[operator]
            assert client.get(url).status_code == 200
        return len(captured)

    before = count()
    for n in range(6):
        finding_record(
            actor=world.team.lead,
            assessment=a,
            grade="minor",
            requirement_kind="iso9001",
            requirement_ref=f"ISO 9001:2015 7.{n}",
            description=f"Another gap {n}",
        )
    assert len(assessment_history(a)) >= 12  # type: ignore[arg-type]
    assert count() == before


def test_long_history_is_paged(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history, "HISTORY_PER_PAGE", 2)
    a = world.assessment(world.accepted_application(), findings=("major", "minor"))
    entries = assessment_history(a)
    assert len(entries) > 4
    url = f"/office/cb/assessments/{a.pk}/history"
    first = get(world.team.lead, url)
    assert entries[0].what in text(first)
    assert entries[-1].what not in text(first)
    assert 'rel="next"' in first.content.decode()
    last_page = (len(entries) - 1) // 2 + 1
    last = get(world.team.lead, f"{url}?page={last_page}")
    assert entries[-1].what in text(last)
    assert 'rel="prev"' in last.content.decode()
    # A page out of range or not a number: the nearest page, never an error.
    assert get(world.team.lead, f"{url}?page=999").status_code == 200
    assert get(world.team.lead, f"{url}?page=x").status_code == 200


def test_values_rendered_plainly() -> None:
    assert history.shown_value("2026-12-07").date == dt.date(2026, 12, 7)
    assert history.shown_value("2026-12-07T14:05:00+00:00").moment == dt.datetime(
        2026, 12, 7, 14, 5, tzinfo=dt.UTC
    )
    assert history.shown_value(None).absent
    assert history.shown_value(True).text == "yes"
    assert history.shown_value(["a", "b"]).text == "a, b"
    assert history.shown_value({"k": 1}).text == "k: 1"
    assert history.shown_value("2026-13-40").text == "2026-13-40"
    assert DAY0  # the factories' day zero
