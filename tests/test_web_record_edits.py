"""Records people correct from the screens: a draft application's scope lines changed or
removed by the organization, a finding corrected by the assessment team until the report is
issued, an evidence file taken back by its uploader until the answer is reviewed. Each
change goes through its service (the row and one audit event); each refusal shows its
reason and writes nothing; a removed file leaves both evidence lists but stays on the CB's
record; findings are numbered wherever they are listed.
"""

from __future__ import annotations

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
from apcert.assessments.models import Assessment, CorrectiveAction, EvidenceFile, Finding
from apcert.audit.models import AuditEvent
from apcert.organizations.services import organization_member_add
from apcert.schemes.models import ProcessCategory, Standard
from tests.factories import DAY0, World, make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def text(response: HttpResponse) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def field_error(response: HttpResponse, field: str) -> str:
    html = response.content.decode()
    found = re.search(rf'id="id_{field}_error">(.*?)</div>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split()) if found else ""


def audit_count() -> int:
    return AuditEvent.objects.count()


def last_audit() -> AuditEvent:
    event = AuditEvent.objects.order_by("-seq").first()
    assert event is not None
    return event


@pytest.fixture
def evidence_dir(settings: Any, tmp_path: Path) -> Path:
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    return settings.EVIDENCE_DIR  # type: ignore[no-any-return]


@pytest.fixture
def member(world: World) -> User:
    user = make_user("member")
    organization_member_add(actor=world.org_user, organization=world.org, user=user)
    return user


def _app_url(world: World, app: Application, rest: str = "") -> str:
    return f"/office/org/{world.org.pk}/applications/{app.pk}/{rest}"


def _line_data(world: World, wording: str) -> dict[str, Any]:
    return {
        "category": ProcessCategory.objects.get(code="EPL").pk,
        "site": world.site.pk,
        "wording": wording,
        "standards": [Standard.objects.get(designation="ISO 9001", edition="2015").pk],
    }


# --- scope lines of a draft -----------------------------------------------------------------------


def test_a_scope_line_is_changed_in_a_prefilled_form(client: Client, world: World) -> None:
    app = world.draft_application()
    line = app.scope_lines.get()
    client.force_login(world.org_user)
    page = client.get(_app_url(world, app))
    assert "Change" in text(page) and "Remove the line" in text(page)
    edit_url = _app_url(world, app, f"scope-lines/{line.pk}/edit")
    assert edit_url in page.content.decode()

    form = client.get(edit_url)
    assert form.status_code == 200
    assert line.wording in form.content.decode()  # prefilled

    before = audit_count()
    response = client.post(edit_url, _line_data(world, "Tin and nickel plating"))
    assert response.status_code == 302
    line.refresh_from_db()
    assert line.wording == "Tin and nickel plating"
    assert audit_count() == before + 1
    event = last_audit()
    assert event.action == "application.scope_line_update"
    assert event.actor_id == world.org_user.pk


def test_a_scope_line_change_refused_shows_the_reason_next_to_the_field(
    client: Client, world: World
) -> None:
    app = world.draft_application()
    line = app.scope_lines.get()
    other = World.build()
    client.force_login(world.org_user)
    before = audit_count()
    data = {**_line_data(world, "Tin plating elsewhere"), "site": other.site.pk}
    response = client.post(_app_url(world, app, f"scope-lines/{line.pk}/edit"), data)
    # (a site of another organization reads as one that does not exist)
    assert response.status_code == 400
    assert "Choose a site of your organization." in field_error(response, "site")
    line.refresh_from_db()
    assert line.site_id == world.site.pk
    assert audit_count() == before


def test_a_scope_line_is_removed_after_confirming(client: Client, world: World) -> None:
    app = world.draft_application()
    line = app.scope_lines.get()
    client.force_login(world.org_user)
    before = audit_count()
    response = client.post(_app_url(world, app, f"scope-lines/{line.pk}/remove"), follow=True)
    assert response.status_code == 200
    assert f"Scope line EPL at {world.site.name} removed." in text(response)
    assert not app.scope_lines.exists()
    assert audit_count() == before + 1
    assert last_audit().action == "application.scope_line_remove"


def test_a_submitted_applications_scope_is_not_offered_nor_changed(
    client: Client, world: World
) -> None:
    app = application_submit(actor=world.org_user, application=world.draft_application(), on=DAY0)
    line = app.scope_lines.get()
    client.force_login(world.org_user)
    page = client.get(_app_url(world, app))
    assert "Remove the line" not in text(page)
    assert f"scope-lines/{line.pk}/edit" not in page.content.decode()

    before = audit_count()
    edit_url = _app_url(world, app, f"scope-lines/{line.pk}/edit")
    shown = client.get(edit_url)
    assert shown.status_code == 409
    assert "Only a draft application" in text(shown)
    changed = client.post(edit_url, _line_data(world, "Something else"))
    assert changed.status_code == 409
    assert "Only a draft application" in text(changed)
    removed = client.post(_app_url(world, app, f"scope-lines/{line.pk}/remove"))
    assert removed.status_code == 409
    assert "Only a draft application" in text(removed)
    line.refresh_from_db()
    assert line.wording != "Something else"
    assert audit_count() == before


def test_the_secretariat_sees_the_scope_but_may_not_change_it(client: Client, world: World) -> None:
    app = world.draft_application()
    line = app.scope_lines.get()
    client.force_login(world.secretariat)
    page = client.get(_app_url(world, app))
    assert "Remove the line" not in text(page)
    before = audit_count()
    assert client.post(_app_url(world, app, f"scope-lines/{line.pk}/remove")).status_code == 403
    assert app.scope_lines.exists()
    assert audit_count() == before


# --- findings corrected by the team ---------------------------------------------------------------


@pytest.fixture
def in_progress(world: World) -> Assessment:
    return world.assessment(
        world.accepted_application(), findings=("major", "minor", "observation"), report=False
    )


def _edit_data(finding: Finding, **changes: str) -> dict[str, str]:
    data = {
        "edit-grade": finding.grade,
        "edit-requirement_kind": finding.requirement_kind,
        "edit-requirement_ref": finding.requirement_ref,
        "edit-standard": "",
        "edit-description": finding.description,
        "edit-due_date": finding.due_date.isoformat(),
        "edit-reason": "",
    }
    data.update({f"edit-{k}": v for k, v in changes.items()})
    return data


def test_the_assessment_page_numbers_findings_and_offers_change_to_the_team(
    client: Client, world: World, in_progress: Assessment
) -> None:
    client.force_login(world.team.assessor)
    response = client.get(f"/office/cb/assessments/{in_progress.pk}/")
    page = text(response)
    assert "Finding 1: major nonconformity" in page
    assert "Finding 3: observation" in page
    assert response.content.decode().count('aria-label="Change finding') == 3

    client.force_login(world.team.manager)  # staff of the CB, not on the team
    response = client.get(f"/office/cb/assessments/{in_progress.pk}/")
    assert "Finding 1" in text(response)
    assert "/edit" not in response.content.decode()


def test_a_team_member_regrades_a_finding(
    client: Client, world: World, in_progress: Assessment
) -> None:
    minor = in_progress.findings.get(grade="minor")
    url = f"/office/cb/assessments/{in_progress.pk}/findings/{minor.pk}/edit"
    client.force_login(world.team.assessor)
    form = client.get(url)
    assert form.status_code == 200
    assert minor.requirement_ref in form.content.decode()  # prefilled
    before = audit_count()
    response = client.post(url, _edit_data(minor, grade="major", reason="Systematic"))
    assert response.status_code == 302
    minor.refresh_from_db()
    assert minor.grade == "major"
    assert audit_count() == before + 1
    event = last_audit()
    assert event.action == "finding.update"
    assert event.before == {"grade": "minor"}


def test_an_observation_is_not_regraded_and_the_reason_is_shown(
    client: Client, world: World, in_progress: Assessment
) -> None:
    observation = in_progress.findings.get(grade="observation")
    url = f"/office/cb/assessments/{in_progress.pk}/findings/{observation.pk}/edit"
    client.force_login(world.team.lead)
    before = audit_count()
    response = client.post(url, _edit_data(observation, grade="minor"))
    assert response.status_code == 409
    assert "record the finding anew" in field_error(response, "edit-grade")
    observation.refresh_from_db()
    assert observation.grade == "observation"
    assert audit_count() == before


def test_after_the_report_findings_are_not_offered_nor_changed(
    client: Client, world: World
) -> None:
    reported = world.assessment(world.accepted_application(), findings=("minor",))
    minor = reported.findings.get()
    client.force_login(world.team.lead)
    response = client.get(f"/office/cb/assessments/{reported.pk}/")
    assert "Finding 1: minor nonconformity" in text(response)
    assert "/edit" not in response.content.decode()
    url = f"/office/cb/assessments/{reported.pk}/findings/{minor.pk}/edit"
    before = audit_count()
    shown = client.get(url)
    assert shown.status_code == 409
    assert "until its report is issued" in text(shown)
    response = client.post(url, _edit_data(minor, grade="major"))
    assert response.status_code == 409
    assert "The assessment report has been issued" in text(response)
    minor.refresh_from_db()
    assert minor.grade == "minor"
    assert audit_count() == before


def test_staff_off_the_team_may_not_correct_a_finding(
    client: Client, world: World, in_progress: Assessment
) -> None:
    minor = in_progress.findings.get(grade="minor")
    url = f"/office/cb/assessments/{in_progress.pk}/findings/{minor.pk}/edit"
    client.force_login(world.team.manager)
    before = audit_count()
    assert client.get(url).status_code == 403
    response = client.post(url, _edit_data(minor, grade="major"))
    assert response.status_code == 403
    assert "member of the assessment team" in text(response)
    assert audit_count() == before


# --- evidence taken back --------------------------------------------------------------------------


@pytest.fixture
def answered(world: World, evidence_dir: Path) -> tuple[Finding, CorrectiveAction, EvidenceFile]:
    a = world.assessment(world.accepted_application(), findings=("major",))
    finding = a.findings.get()
    answer = world.answer(finding)
    evidence = evidence_attach(
        actor=world.org_user,
        corrective_action=answer,
        upload=SimpleUploadedFile("checklist.pdf", PDF, content_type="application/pdf"),
    )
    return finding, answer, evidence


def _finding_url(world: World, finding: Finding, rest: str = "") -> str:
    return f"/office/org/{world.org.pk}/findings/{finding.pk}/{rest}"


def test_the_uploader_removes_a_file_and_the_cb_keeps_the_record(
    client: Client, world: World, answered: tuple[Finding, CorrectiveAction, EvidenceFile]
) -> None:
    finding, _, evidence = answered
    client.force_login(world.org_user)
    page = client.get(_finding_url(world, finding))
    assert "Finding 1: major nonconformity" in text(page)
    assert "Remove checklist.pdf" in text(page)

    before = audit_count()
    response = client.post(
        _finding_url(world, finding, f"evidence/{evidence.pk}/remove"),
        {f"remove-{evidence.pk}-reason": "Wrong revision"},
        follow=True,
    )
    assert response.status_code == 200
    assert "checklist.pdf is removed from your answer." in text(response)
    assert "Remove checklist.pdf" not in text(response)
    assert f"/office/org/evidence/{evidence.pk}" not in response.content.decode()
    evidence.refresh_from_db()
    assert evidence.removed and evidence.removal_reason == "Wrong revision"
    assert audit_count() == before + 1
    assert last_audit().action == "evidence.remove"

    a = finding.assessment
    client.force_login(world.team.lead)
    cb_page = text(client.get(f"/office/cb/assessments/{a.pk}/"))
    assert "Evidence files:" not in cb_page
    name = world.org_user.full_name or world.org_user.username
    assert f"1 file removed by {name} on" in cb_page
    assert "Wrong revision" in cb_page and "kept for the record" in cb_page


def test_a_removal_without_a_reason_is_refused_next_to_the_field(
    client: Client, world: World, answered: tuple[Finding, CorrectiveAction, EvidenceFile]
) -> None:
    finding, _, evidence = answered
    client.force_login(world.org_user)
    before = audit_count()
    response = client.post(
        _finding_url(world, finding, f"evidence/{evidence.pk}/remove"),
        {f"remove-{evidence.pk}-reason": " "},
    )
    assert response.status_code == 400
    assert "Say why" in field_error(response, f"remove-{evidence.pk}-reason")
    evidence.refresh_from_db()
    assert not evidence.removed
    assert audit_count() == before


def test_only_the_uploader_may_remove_a_file(
    client: Client,
    world: World,
    member: User,
    answered: tuple[Finding, CorrectiveAction, EvidenceFile],
) -> None:
    finding, _, evidence = answered
    client.force_login(member)
    assert "Remove checklist.pdf" not in text(client.get(_finding_url(world, finding)))
    before = audit_count()
    response = client.post(
        _finding_url(world, finding, f"evidence/{evidence.pk}/remove"),
        {f"remove-{evidence.pk}-reason": "Not mine"},
    )
    assert response.status_code == 403
    assert "Only the user who uploaded an evidence file may remove it." in text(response)
    evidence.refresh_from_db()
    assert not evidence.removed
    assert audit_count() == before


def test_a_reviewed_answers_files_are_not_offered_nor_removed(
    client: Client, world: World, answered: tuple[Finding, CorrectiveAction, EvidenceFile]
) -> None:
    finding, answer, evidence = answered
    world.review(answer, "verify")
    client.force_login(world.org_user)
    page = client.get(_finding_url(world, finding))
    assert "checklist.pdf" in text(page) and "Remove checklist.pdf" not in text(page)
    before = audit_count()
    response = client.post(
        _finding_url(world, finding, f"evidence/{evidence.pk}/remove"),
        {f"remove-{evidence.pk}-reason": "Too late"},
    )
    assert response.status_code == 409
    assert "can no longer be removed" in text(response)
    evidence.refresh_from_db()
    assert not evidence.removed
    assert audit_count() == before


def test_findings_are_numbered_in_the_organizations_list(
    client: Client, world: World, in_progress: Assessment
) -> None:
    client.force_login(world.org_user)
    page = text(client.get(f"/office/org/{world.org.pk}/findings/"))
    assert "Finding 1" in page and "Finding 2" in page and "Finding 3" in page
