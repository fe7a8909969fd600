"""The certification body's back-office pages, under /office/cb/.

For each screen: the role the service allows completes the action through the web client
(form, POST, follow, the database and its one audit event); each refused role gets 403 or
404 and nothing changes; another CB's object by id is a 404; a refusal shows next to the
field it names; list pages run a bounded number of queries.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.test import Client

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.applications.services import application_submit
from apcert.assessments.evidence import evidence_attach
from apcert.assessments.models import Assessment, CorrectiveAction, Finding
from apcert.assessments.services import assessment_plan, next_finding_number
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBStaff
from apcert.bodies.services import cb_staff_add
from apcert.certificates.models import Certificate, Decision
from apcert.certificates.selectors import grant_blockers
from apcert.core.errors import PERMISSION_CB_STAFF_REQUIRED
from tests.factories import DAY0, World, make_user

pytestmark = pytest.mark.django_db

CB = "/office/cb"
#: A list page's queries, whatever the number of rows: the session and user, the ids of the
#: user's CBs (so that the page is read along an index), the count, the page, the
#: navigation's role checks, the session's renewal. Rows add none.
LIST_QUERIES = 16
PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def text(response: HttpResponse) -> str:
    """The page's text with tags dropped and white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def field_error(response: HttpResponse, field_id: str) -> str:
    """The error shown next to the field ``field_id`` (its ``<div id=..._error>``)."""
    page_html = response.content.decode()
    found = re.search(
        rf'<div class="error-text" id="{re.escape(field_id)}_error">(.*?)</div>', page_html, re.S
    )
    assert found, f"no error next to {field_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found.group(1))).split())


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


def audit_count() -> int:
    return AuditEvent.objects.count()


def login(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


@pytest.fixture(autouse=True)
def _today(time_machine: Any) -> None:
    """Today, the default date of every decision and review: a few months after the
    factories' assessments, so that the dates the services check hold whenever this runs."""
    time_machine.move_to(dt.datetime(2026, 6, 1, 9, 0, tzinfo=dt.UTC))


@pytest.fixture
def other(world: World) -> World:
    """A second CB with its own staff and client: another tenant."""
    return World.build()


def submitted(world: World) -> Application:
    app = world.draft_application()
    return application_submit(actor=world.org_user, application=app, on=DAY0)


# --- navigation ------------------------------------------------------------------------------


def test_the_cb_section_is_in_the_navigation_of_cb_staff_only(client: Client, world: World) -> None:
    link = f'href="{CB}/applications/"'
    assert link in login(client, world.team.assessor).get("/office/").content.decode()
    assert link not in login(Client(), world.org_user).get("/office/").content.decode()
    assert link not in login(Client(), world.secretariat).get("/office/").content.decode()


@pytest.mark.parametrize(
    "url",
    [f"{CB}/applications/", f"{CB}/assessments/", f"{CB}/certificates/", f"{CB}/applications/1/"],
)
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/office/sign-in?next=")


# --- 1. incoming applications ----------------------------------------------------------------


def test_application_list_shows_the_cb_s_own_applications_only(
    client: Client, world: World, other: World
) -> None:
    mine = submitted(world)
    draft = world.draft_application()
    theirs = submitted(other)
    page = login(client, world.team.assessor).get(f"{CB}/applications/")
    assert page.status_code == 200
    page_html = page.content.decode()
    assert f'href="{CB}/applications/{mine.pk}/"' in page_html
    assert f'href="{CB}/applications/{draft.pk}/"' in page_html
    assert f'href="{CB}/applications/{theirs.pk}/"' not in page_html
    assert "2 found" in text(page)


def test_application_list_filters_by_status_and_sorts(client: Client, world: World) -> None:
    a = submitted(world)
    b = world.accepted_application()
    login(client, world.team.manager)
    only_submitted = client.get(f"{CB}/applications/", {"status": "submitted"})
    assert f"/applications/{a.pk}/" in only_submitted.content.decode()
    assert f"/applications/{b.pk}/" not in only_submitted.content.decode()
    assert "1 found" in text(only_submitted)
    ascending = client.get(f"{CB}/applications/", {"sort": "status"}).content.decode()
    descending = client.get(f"{CB}/applications/", {"sort": "-status"}).content.decode()
    # accepted < submitted
    assert ascending.index(f"/applications/{b.pk}/") < ascending.index(f"/applications/{a.pk}/")
    assert descending.index(f"/applications/{a.pk}/") < descending.index(f"/applications/{b.pk}/")
    # an unknown filter value or sort key falls back to the whole list, not an error
    odd = client.get(f"{CB}/applications/", {"status": "nonsense", "sort": "password"})
    assert odd.status_code == 200
    assert "2 found" in text(odd)


def test_application_list_is_paginated_with_a_bounded_number_of_queries(
    client: Client, world: World, django_assert_max_num_queries: Any
) -> None:
    apps = [world.draft_application() for _ in range(27)]
    login(client, world.team.manager)
    with django_assert_max_num_queries(LIST_QUERIES):
        first = client.get(f"{CB}/applications/", {"sort": "organization"})
    assert first.status_code == 200
    assert "27 found; page 1 of 2" in text(first)
    assert 'href="?sort=organization&amp;page=2"' in first.content.decode()
    with django_assert_max_num_queries(LIST_QUERIES):
        second = client.get(f"{CB}/applications/", {"sort": "organization", "page": 2})
    shown = set(re.findall(r"/applications/(\d+)/", first.content.decode())) | set(
        re.findall(r"/applications/(\d+)/", second.content.decode())
    )
    assert shown == {str(a.pk) for a in apps}


def test_scheme_manager_accepts_an_application(client: Client, world: World) -> None:
    app = submitted(world)
    login(client, world.team.manager)
    page = client.get(f"{CB}/applications/{app.pk}/")
    assert page.status_code == 200
    assert "Accept the application" in text(page)
    assert '<label for="id_accept-note">' in page.content.decode()

    response = client.post(
        f"{CB}/applications/{app.pk}/accept", {"accept-note": "Complete"}, follow=True
    )
    assert response.redirect_chain == [(f"{CB}/applications/{app.pk}/", 302)]
    assert f"Application {app.pk} is accepted." in text(response)
    app.refresh_from_db()
    assert app.status == "accepted"
    assert app.status_reason == "Complete"
    [event] = events("application.accept")
    assert event.actor_id == world.team.manager.pk
    assert event.object_id == str(app.pk)
    # once accepted, it is no longer offered; planning is
    assert "Accept the application" not in text(response)
    assert f'href="{CB}/applications/{app.pk}/plan"' in response.content.decode()


def test_rejecting_needs_a_reason_shown_next_to_the_field(client: Client, world: World) -> None:
    app = submitted(world)
    before = audit_count()
    login(client, world.team.manager)
    response = client.post(f"{CB}/applications/{app.pk}/reject", {"reject-reason": "  "})
    assert response.status_code == 400
    assert field_error(response, "id_reject-reason") == "Say why the application is rejected."
    assert Application.objects.get(pk=app.pk).status == "submitted"
    assert audit_count() == before

    response = client.post(
        f"{CB}/applications/{app.pk}/reject", {"reject-reason": "Out of scope"}, follow=True
    )
    assert response.status_code == 200
    app.refresh_from_db()
    assert (app.status, app.status_reason) == ("rejected", "Out of scope")
    [event] = events("application.reject")
    assert event.reason == "Out of scope"


def test_accepting_twice_is_refused_on_the_form_not_a_500(client: Client, world: World) -> None:
    app = world.accepted_application()
    before = audit_count()
    response = login(client, world.team.manager).post(f"{CB}/applications/{app.pk}/accept", {})
    assert response.status_code == 409
    assert "application that is accepted cannot be accepted" in text(response)
    assert audit_count() == before


@pytest.mark.parametrize("who", ["assessor", "decision_maker", "secretariat"])
def test_roles_that_may_not_decide_on_an_application_are_refused(
    client: Client, world: World, who: str
) -> None:
    app = submitted(world)
    user = world.secretariat if who == "secretariat" else getattr(world.team, who)
    login(client, user)
    page = client.get(f"{CB}/applications/{app.pk}/")
    assert page.status_code == 200  # they may read it
    assert "Accept the application" not in text(page)
    before = audit_count()
    for action, data in (("accept", {}), ("reject", {"reject-reason": "no"})):
        response = client.post(f"{CB}/applications/{app.pk}/{action}", data)
        assert response.status_code == 403
        assert "scheme manager" in text(response)
    assert Application.objects.get(pk=app.pk).status == "submitted"
    assert audit_count() == before


def test_another_cb_s_application_is_404(client: Client, world: World, other: World) -> None:
    theirs = submitted(other)
    before = audit_count()
    login(client, world.team.manager)
    assert client.get(f"{CB}/applications/{theirs.pk}/").status_code == 404
    assert client.post(f"{CB}/applications/{theirs.pk}/accept", {}).status_code == 404
    assert client.get(f"{CB}/applications/{theirs.pk}/plan").status_code == 404
    # the organization's own user is not CB staff: the CB section shows it nothing
    assert login(Client(), world.org_user).get(f"{CB}/applications/{theirs.pk}/").status_code == 404
    assert Application.objects.get(pk=theirs.pk).status == "submitted"
    assert audit_count() == before


def test_an_organization_user_is_refused_the_cb_section_with_the_reason(
    client: Client, world: World
) -> None:
    app = submitted(world)
    login(client, world.org_user)
    assert client.get(f"{CB}/applications/{app.pk}/").status_code == 404
    for listing in ("applications", "assessments", "certificates"):
        response = client.get(f"{CB}/{listing}/")
        assert response.status_code == 403
        assert "This section is for the staff of a certification body" in text(response)


@pytest.mark.parametrize("who", ["org_user", "stranger", "former_staff"])
def test_someone_not_on_a_cb_s_staff_gets_the_cb_staff_code(
    client: Client, world: World, who: str
) -> None:
    # given an organization user, someone of no role, and an assessor whose role has ended
    if who == "org_user":
        user = world.org_user
    elif who == "stranger":
        user = make_user("stranger")
    else:
        user = make_user("former")
        cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=user, role="assessor")
        CBStaff.objects.filter(user=user).update(active=False)
    login(client, user)

    # when they open each list of the CB section
    answers = [client.get(f"{CB}/{listing}/") for listing in ("applications", "assessments")]

    # then each is refused with the reason and its code
    for response in answers:
        assert response.status_code == 403
        assert response.context["error"].code == PERMISSION_CB_STAFF_REQUIRED


# --- 2. assessment planning, start, findings, report -----------------------------------------


def plan_data(world: World, **extra: Any) -> dict[str, Any]:
    start = DAY0 + dt.timedelta(days=30)
    data: dict[str, Any] = {
        "start_date": start.isoformat(),
        "end_date": (start + dt.timedelta(days=1)).isoformat(),
        "lead": str(world.team.lead.pk),
        "team": [str(world.team.assessor.pk)],
    }
    data.update(extra)
    return data


def test_scheme_manager_plans_the_initial_assessment(client: Client, world: World) -> None:
    app = world.accepted_application()
    login(client, world.team.manager)
    form = client.get(f"{CB}/applications/{app.pk}/plan")
    assert form.status_code == 200
    page_html = form.content.decode()
    assert '<label for="id_start_date">First day</label>' in page_html
    assert "<legend>Team members</legend>" in page_html

    response = client.post(f"{CB}/applications/{app.pk}/plan", plan_data(world), follow=True)
    a = Assessment.objects.get(application=app)
    assert response.redirect_chain == [(f"{CB}/assessments/{a.pk}/", 302)]
    assert (a.kind, a.status, a.start_date) == ("initial", "planned", DAY0 + dt.timedelta(30))
    assert sorted(a.team.values_list("user_id", "role")) == sorted(
        [(world.team.lead.pk, "lead"), (world.team.assessor.pk, "member")]
    )
    [event] = events("assessment.plan")
    assert event.actor_id == world.team.manager.pk


def test_a_team_member_who_is_not_a_qualified_assessor_is_refused_next_to_the_team(
    client: Client, world: World
) -> None:
    app = world.accepted_application()
    before = audit_count()
    login(client, world.team.manager)
    # the first decision maker holds no assessor role at the CB: not offered as a member
    form = client.get(f"{CB}/applications/{app.pk}/plan").content.decode()
    assert f'name="team" value="{world.team.assessor.pk}"' in form
    assert f'name="team" value="{world.team.decision_maker.pk}"' not in form
    # and refused by the service, next to the team field, when forced
    data = plan_data(world, team=[str(world.team.decision_maker.pk)])
    response = client.post(f"{CB}/applications/{app.pk}/plan", data)
    assert response.status_code == 409
    assert field_error(response, "id_team") == (
        f"{world.team.decision_maker} is not a qualified assessor of {world.team.cb.code}."
    )
    assert not Assessment.objects.filter(application=app).exists()
    assert audit_count() == before


def test_plan_validation_errors_show_next_to_their_fields(client: Client, world: World) -> None:
    app = world.accepted_application()
    login(client, world.team.manager)
    response = client.post(
        f"{CB}/applications/{app.pk}/plan",
        plan_data(
            world, end_date=DAY0.isoformat(), start_date=(DAY0 + dt.timedelta(5)).isoformat()
        ),
    )
    assert response.status_code == 400
    assert field_error(response, "id_end_date") == "The assessment cannot end before it starts."
    # a person from another CB is not among the choices at all
    stranger = World.build().team.lead
    response = client.post(f"{CB}/applications/{app.pk}/plan", plan_data(world, lead=stranger.pk))
    assert response.status_code == 400
    assert "Select a valid choice" in field_error(response, "id_lead")
    assert not Assessment.objects.filter(application=app).exists()


@pytest.mark.parametrize("who", ["lead", "decision_maker"])
def test_only_a_scheme_manager_plans(client: Client, world: World, who: str) -> None:
    app = world.accepted_application()
    login(client, getattr(world.team, who))
    assert client.get(f"{CB}/applications/{app.pk}/").status_code == 200
    assert (
        f"{CB}/applications/{app.pk}/plan"
        not in client.get(f"{CB}/applications/{app.pk}/").content.decode()
    )
    assert client.get(f"{CB}/applications/{app.pk}/plan").status_code == 403
    assert client.post(f"{CB}/applications/{app.pk}/plan", plan_data(world)).status_code == 403
    assert not Assessment.objects.filter(application=app).exists()


def planned(world: World) -> Assessment:
    t = world.team
    start = DAY0 + dt.timedelta(days=30)
    return assessment_plan(
        actor=t.manager,
        kind="initial",
        application=world.accepted_application(),
        start_date=start,
        end_date=start + dt.timedelta(days=1),
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )


def test_the_lead_starts_records_a_finding_and_issues_the_report(
    client: Client, world: World
) -> None:
    a = planned(world)
    url = f"{CB}/assessments/{a.pk}/"
    login(client, world.team.lead)
    assert "Start the assessment" in text(client.get(url))
    response = client.post(f"{url}start", follow=True)
    assert response.redirect_chain == [(url, 302)]
    assert Assessment.objects.get(pk=a.pk).status == "in_progress"
    assert len(events("assessment.start")) == 1
    assert "Record the finding" in text(response)

    response = client.post(
        f"{url}findings",
        {
            "finding-grade": "major",
            "finding-requirement_kind": "iso9001",
            "finding-requirement_ref": "ISO 9001:2015 8.5.1",
            "finding-description": "Work instructions missing at the plating line",
        },
        follow=True,
    )
    assert response.status_code == 200
    finding = Finding.objects.get(assessment=a)
    assert (finding.grade, finding.status, finding.raised_on) == ("major", "open", a.start_date)
    assert len(events("finding.record")) == 1
    assert "Work instructions missing at the plating line" in text(response)

    response = client.post(
        f"{url}report",
        {"report-issued_on": (a.end_date + dt.timedelta(2)).isoformat(), "report-summary": "ok"},
        follow=True,
    )
    a.refresh_from_db()
    assert (a.status, a.report_issued_on) == ("report_issued", a.end_date + dt.timedelta(2))
    assert len(events("assessment.issue_report")) == 1
    assert "Issue the report" not in text(response)


def test_finding_and_report_refusals_show_on_the_form(client: Client, world: World) -> None:
    a = world.assessment(world.accepted_application(), report=False)
    url = f"{CB}/assessments/{a.pk}/"
    before = audit_count()
    login(client, world.team.assessor)  # a team member: records findings
    response = client.post(
        f"{url}findings",
        {"finding-grade": "minor", "finding-requirement_kind": "iso9001"},
    )
    assert response.status_code == 400
    assert field_error(response, "id_finding-description") == (
        "A finding names its requirement and describes what was found."
    )
    response = client.post(
        f"{url}findings",
        {
            "finding-grade": "minor",
            "finding-requirement_kind": "standard",
            "finding-requirement_ref": "5.2",
            "finding-description": "x",
        },
    )
    assert field_error(response, "id_finding-standard") == (
        "Name the declared standard whose clause is not met."
    )
    login(client, world.team.lead)
    response = client.post(f"{url}report", {"report-issued_on": a.start_date.isoformat()})
    assert response.status_code == 409
    assert "The report cannot be issued before the assessment" in text(response)
    assert not Finding.objects.filter(assessment=a).exists()
    assert Assessment.objects.get(pk=a.pk).status == "in_progress"
    assert audit_count() == before


def test_roles_off_the_team_or_not_lead_are_refused(client: Client, world: World) -> None:
    a = planned(world)
    url = f"{CB}/assessments/{a.pk}/"
    before = audit_count()
    login(client, world.team.assessor)  # on the team, not the lead
    assert "Start the assessment" not in text(client.get(url))
    assert client.post(f"{url}start").status_code == 403
    login(client, world.team.manager)  # not on the team at all
    assert client.post(f"{url}start").status_code == 403
    assert Assessment.objects.get(pk=a.pk).status == "planned"
    # in progress: the manager may not record findings nor issue the report
    client.force_login(world.team.lead)
    client.post(f"{url}start")
    login(client, world.team.manager)
    page = text(client.get(url))
    assert "Record the finding" not in page and "Issue the report" not in page
    data = {
        "finding-grade": "minor",
        "finding-requirement_kind": "iso9001",
        "finding-requirement_ref": "8.5",
        "finding-description": "x",
    }
    assert client.post(f"{url}findings", data).status_code == 403
    assert client.post(f"{url}report", {}).status_code == 403
    assert not Finding.objects.filter(assessment=a).exists()
    assert audit_count() == before + 1  # the start only


def test_another_cb_s_assessment_is_404(client: Client, world: World, other: World) -> None:
    theirs = planned(other)
    login(client, world.team.lead)
    for path in ("", "start", "findings", "report", "decision"):
        method = client.get if path in ("", "decision") else client.post
        assert method(f"{CB}/assessments/{theirs.pk}/{path}").status_code == 404, path
    assert Assessment.objects.get(pk=theirs.pk).status == "planned"


def test_assessment_list_is_limited_filtered_and_bounded(
    client: Client, world: World, other: World, django_assert_max_num_queries: Any
) -> None:
    mine = [planned(world) for _ in range(3)]
    world.assessment(world.accepted_application())
    theirs = planned(other)
    login(client, world.team.assessor)
    with django_assert_max_num_queries(LIST_QUERIES + 2):  # the assessor's tabs
        page = client.get(f"{CB}/assessments/", {"status": "planned", "sort": "start"})
    page_html = page.content.decode()
    assert "3 found" in text(page)
    assert all(f"/assessments/{a.pk}/" in page_html for a in mine)
    assert f"/assessments/{theirs.pk}/" not in page_html


# --- 3. corrective actions and their evidence ------------------------------------------------


@pytest.fixture
def answered(world: World, settings: Any, tmp_path: Path) -> CorrectiveAction:
    """A major and a minor of an issued initial assessment, both answered, the major with
    an evidence file."""
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    a = world.assessment(world.accepted_application(), findings=("major", "minor"))
    major = a.findings.get(grade="major")
    ca = world.answer(major)
    world.answer(a.findings.get(grade="minor"))
    evidence_attach(
        actor=world.org_user,
        corrective_action=ca,
        upload=SimpleUploadedFile("checklist.pdf", PDF, content_type="application/pdf"),
    )
    return ca  # type: ignore[no-any-return]


def test_an_assessor_reviews_a_corrective_action_with_its_evidence(
    client: Client, world: World, answered: CorrectiveAction
) -> None:
    a = answered.finding.assessment
    evidence = answered.evidence_files.get()
    login(client, world.team.assessor)
    page = client.get(f"{CB}/assessments/{a.pk}/")
    page_html = page.content.decode()
    assert f'href="{CB}/evidence/{evidence.pk}"' in page_html
    assert "Record the review" in text(page)
    download = client.get(f"{CB}/evidence/{evidence.pk}")
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == PDF  # type: ignore[attr-defined]
    assert 'filename="checklist.pdf"' in download["Content-Disposition"]

    prefix = f"review-{answered.pk}"
    response = client.post(
        f"{CB}/corrective-actions/{answered.pk}/review",
        {f"{prefix}-outcome": "verify", f"{prefix}-comment": "Checklist in use"},
        follow=True,
    )
    assert response.redirect_chain == [(f"{CB}/assessments/{a.pk}/#findings", 302)]
    answered.refresh_from_db()
    assert (answered.status, answered.reviewed_by_id) == ("accepted", world.team.assessor.pk)
    assert Finding.objects.get(pk=answered.finding_id).status == "closed"
    [event] = events("finding.verify")
    assert event.reason == "Checklist in use"


def test_rejecting_a_corrective_action_needs_a_comment_next_to_the_field(
    client: Client, world: World, answered: CorrectiveAction
) -> None:
    before = audit_count()
    prefix = f"review-{answered.pk}"
    response = login(client, world.team.lead).post(
        f"{CB}/corrective-actions/{answered.pk}/review", {f"{prefix}-outcome": "reject"}
    )
    assert response.status_code == 400
    assert field_error(response, f"id_{prefix}-comment") == (
        "Say why the corrective action is rejected."
    )
    assert Finding.objects.get(pk=answered.finding_id).status == "answered"
    assert audit_count() == before

    client.post(
        f"{CB}/corrective-actions/{answered.pk}/review",
        {f"{prefix}-outcome": "reject", f"{prefix}-comment": "Root cause not shown"},
    )
    assert Finding.objects.get(pk=answered.finding_id).status == "open"
    assert len(events("finding.reject")) == 1


@pytest.mark.parametrize("who", ["manager", "decision_maker"])
def test_staff_off_the_team_may_read_but_not_review(
    client: Client, world: World, answered: CorrectiveAction, who: str
) -> None:
    a = answered.finding.assessment
    login(client, getattr(world.team, who))
    page = client.get(f"{CB}/assessments/{a.pk}/")
    assert page.status_code == 200
    assert "Record the review" not in text(page)
    before = audit_count()
    prefix = f"review-{answered.pk}"
    response = client.post(
        f"{CB}/corrective-actions/{answered.pk}/review", {f"{prefix}-outcome": "verify"}
    )
    assert response.status_code == 403
    assert Finding.objects.get(pk=answered.finding_id).status == "answered"
    assert audit_count() == before


def test_a_technical_expert_on_the_team_may_not_review(client: Client, world: World) -> None:
    t = world.team
    a = world.assessment(
        world.accepted_application(),
        findings=("minor",),
        team=[(t.lead, "lead"), (t.assessor, "member"), (t.manager, "technical_expert")],
    )
    ca = world.answer(a.findings.get())
    login(client, t.manager)
    assert "Record the review" not in text(client.get(f"{CB}/assessments/{a.pk}/"))
    before = audit_count()
    response = client.post(
        f"{CB}/corrective-actions/{ca.pk}/review", {f"review-{ca.pk}-outcome": "accept_plan"}
    )
    assert response.status_code == 403
    assert "not a technical expert" in text(response)
    assert Finding.objects.get(pk=ca.finding_id).status == "answered"
    assert audit_count() == before


def test_another_cb_gets_404_for_the_corrective_action_and_its_evidence(
    client: Client, world: World, other: World, answered: CorrectiveAction
) -> None:
    evidence = answered.evidence_files.get()
    login(client, other.team.lead)
    prefix = f"review-{answered.pk}"
    response = client.post(
        f"{CB}/corrective-actions/{answered.pk}/review", {f"{prefix}-outcome": "verify"}
    )
    assert response.status_code == 404
    assert client.get(f"{CB}/evidence/{evidence.pk}").status_code == 404
    assert Finding.objects.get(pk=answered.finding_id).status == "answered"


def test_assessment_page_runs_a_bounded_number_of_queries(
    client: Client, world: World, answered: CorrectiveAction, django_assert_max_num_queries: Any
) -> None:
    a = answered.finding.assessment
    for number, grade in enumerate(("observation",) * 5, start=next_finding_number(a)):
        Finding.objects.create(
            assessment=a,
            number=number,
            grade=grade,
            requirement_kind="iso9001",
            requirement_ref="7.1",
            description="noted",
            status="closed",
            raised_on=a.start_date,
            due_date=a.start_date,
        )
    login(client, world.team.lead)
    # Two more than the findings and answers: the decision's deferrals, and whether a
    # decision rests on the issued report (which may then no longer be corrected); and the
    # ids of the user's CBs.
    with django_assert_max_num_queries(21):
        assert client.get(f"{CB}/assessments/{a.pk}/").status_code == 200


# --- 4. the decision -------------------------------------------------------------------------


def test_the_decision_page_lists_every_blocking_rule(
    client: Client, world: World, answered: CorrectiveAction
) -> None:
    a = answered.finding.assessment
    login(client, world.team.decision_maker)
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    assert page.status_code == 200
    shown = text(page)
    assert "(decision.open_major)" in shown
    assert "(decision.minor_without_plan)" in shown
    assert "2 rules still block this decision." in shown
    # the form is shown all the same: the service's refusal will show next to its field
    assert 'name="decision" value="grant"' in page.content.decode()
    # the selector lists them all, where the service raises the first
    codes = [
        b.code
        for b in grant_blockers(
            actor=world.team.manager,
            application=a.application,  # type: ignore[arg-type]
            assessment=a,
            on=a.end_date + dt.timedelta(40),
        )
    ]
    assert codes == [
        "permission.cb_role_required",
        "decision.open_major",
        "decision.minor_without_plan",
    ]


def test_the_decision_maker_grants_once_every_rule_is_met(client: Client, world: World) -> None:
    a = world.assessment(world.accepted_application(), findings=("major", "minor"))
    world.resolve_findings(a)
    login(client, world.team.decision_maker)
    page = client.get(f"{CB}/assessments/{a.pk}/")
    assert f'href="{CB}/assessments/{a.pk}/decision"' in page.content.decode()
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    assert "Every rule is met" in text(page)
    decided_on = a.end_date + dt.timedelta(40)
    response = client.post(
        f"{CB}/assessments/{a.pk}/decision",
        {"grant-decided_on": decided_on.isoformat(), "grant-rationale": "All verified"},
        follow=True,
    )
    cert = Certificate.objects.get(application_id=a.application_id)
    assert response.redirect_chain == [(f"{CB}/certificates/{cert.pk}/", 302)]
    assert f"Certification is granted: {cert.number}." in text(response)
    assert (cert.status, cert.initial_decision_on) == ("current", decided_on)
    [event] = events("certificate.grant")
    assert event.actor_id == world.team.decision_maker.pk


def test_a_decision_maker_who_was_on_the_team_is_refused(client: Client, world: World) -> None:
    t = world.team
    a = world.assessment(
        world.accepted_application(), team=[(t.lead, "lead"), (t.decision_maker2, "member")]
    )
    before = audit_count()
    login(client, t.decision_maker2)
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    assert "(decision.maker_on_team)" in text(page)
    response = client.post(f"{CB}/assessments/{a.pk}/decision", {})
    assert response.status_code == 409
    assert "was on the assessment team and may not take the certification decision" in text(
        response
    )
    assert not Certificate.objects.exists()
    assert not Decision.objects.exists()
    assert audit_count() == before


def test_a_scheme_manager_may_not_grant(client: Client, world: World) -> None:
    a = world.assessment(world.accepted_application())
    login(client, world.team.manager)
    page = client.get(f"{CB}/assessments/{a.pk}/decision")
    assert "(permission.cb_role_required)" in text(page)
    # the rules are shown to the CB's staff, the forms only to its decision makers
    assert 'name="decision" value="grant"' not in page.content.decode()
    assert client.post(f"{CB}/assessments/{a.pk}/decision", {}).status_code == 403
    assert not Certificate.objects.exists()


# --- 5. certificate actions ------------------------------------------------------------------


@pytest.fixture
def cert(world: World) -> Certificate:
    return world.granted()


def test_certificate_list_is_the_cb_s_own_and_bounded(
    client: Client,
    world: World,
    other: World,
    cert: Certificate,
    django_assert_max_num_queries: Any,
) -> None:
    theirs = other.granted()
    login(client, world.team.manager)
    with django_assert_max_num_queries(LIST_QUERIES):
        page = client.get(f"{CB}/certificates/", {"status": "current", "sort": "-expires"})
    page_html = page.content.decode()
    assert f"/certificates/{cert.pk}/" in page_html
    assert f"/certificates/{theirs.pk}/" not in page_html
    assert "1 found" in text(page)
    assert "0 found" in text(client.get(f"{CB}/certificates/", {"status": "withdrawn"}))


# The decisions on a certificate (suspend, restore, withdraw, cancel, scope reduction, site
# removal, re-issues), each confirmed before it is written: tests/test_web_cb_certificates.py.


def test_an_admin_of_the_cb_holds_every_role(client: Client, world: World) -> None:
    admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="admin")
    app = submitted(world)
    login(client, admin)
    assert "Accept the application" in text(client.get(f"{CB}/applications/{app.pk}/"))
    client.post(f"{CB}/applications/{app.pk}/accept", {})
    assert Application.objects.get(pk=app.pk).status == "accepted"
