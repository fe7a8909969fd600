"""A record's history: the audit events of an application, an assessment (with its findings,
their corrective actions and evidence) or a certificate, newest first, in words, read
through the audit trail's index in a fixed number of queries.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apcert.applications.models import ScopeLine
from apcert.applications.selectors import application_history
from apcert.applications.services import scope_line_add, scope_line_remove, scope_line_update
from apcert.assessments.edits import finding_update
from apcert.assessments.evidence import evidence_attach, evidence_remove
from apcert.assessments.models import Assessment
from apcert.assessments.selectors import assessment_history
from apcert.assessments.services import assessment_issue_report, finding_record
from apcert.audit.models import AuditEvent
from apcert.audit.selectors import (
    HistoryEntry,
    action_in_words,
    field_changes,
    record_history,
)
from apcert.certificates.selectors import certificate_history
from apcert.certificates.services import certificate_suspend
from apcert.schemes.models import ProcessCategory
from tests.factories import World

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


# --- wording and changes -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "words"),
    [
        ("finding.record", "Finding recorded"),
        ("assessment.plan", "Assessment planned"),
        ("assessment.cancel", "Assessment cancelled"),
        ("application.withdraw", "Application withdrawn"),
        ("application.submit", "Application submitted"),
        ("evidence.remove", "Evidence removed"),
        ("signing_key.compromise", "Signing key compromised"),
        ("assessment.issue_report", "Assessment: issue report"),
        ("reference_load", "Reference load"),
    ],
)
def test_an_action_without_words_of_its_own_is_worded_from_itself(action: str, words: str) -> None:
    assert action_in_words(action) == words


def test_an_app_words_its_own_actions() -> None:
    words = {"assessment.issue_report": "Report issued"}
    assert action_in_words("assessment.issue_report", words) == "Report issued"
    assert action_in_words("assessment.start", words) == "Assessment started"


def test_the_changes_are_the_fields_whose_value_differs_by_name() -> None:
    assert field_changes(
        {"status": "planned", "team": ["a"]},
        {"status": "in_progress", "team": ["a"], "summary": "x"},
    ) == (("status", "planned", "in_progress"), ("summary", None, "x"))
    assert field_changes({"b": 1, "a": 1}, {"b": 2, "a": 2}) == (("a", 1, 2), ("b", 1, 2))
    assert field_changes(None, {"kind": "initial"}) == (("kind", None, "initial"),)
    assert field_changes({"wording": "w"}, None) == (("wording", "w", None),)
    assert field_changes("old", "new") == (("value", "old", "new"),)
    assert field_changes(None, None) == ()


def test_no_records_named_is_no_history_and_no_query(django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert record_history(records={"assessments.finding": []}) == []


# --- an assessment ---------------------------------------------------------------------------


@pytest.fixture
def evidence_dir(settings: Any, tmp_path: Path) -> Path:
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    return settings.EVIDENCE_DIR  # type: ignore[no-any-return]


def _full_assessment(world: World) -> Assessment:
    """An initial assessment with two findings (one corrected), an answer with two evidence
    files (one taken back), and its report issued."""
    t = world.team
    a = world.assessment(world.accepted_application(), report=False)
    major = finding_record(
        actor=t.lead,
        assessment=a,
        grade="major",
        requirement_kind="iso9001",
        requirement_ref="ISO 9001:2015 8.5.1",
        description="Work instructions missing.",
    )
    finding_record(
        actor=t.assessor,
        assessment=a,
        grade="observation",
        requirement_kind="iso9001",
        requirement_ref="ISO 9001:2015 7.1.5",
        description="Calibration labels faded.",
    )
    finding_update(
        actor=t.assessor,
        finding=major,
        requirement_kind="iso9001",
        requirement_ref="ISO 9001:2015 8.5.1 c)",
        description="Work instructions missing.",
        reason="Clause made precise",
    )
    ca = world.answer(major)
    files = [
        evidence_attach(
            actor=world.org_user,
            corrective_action=ca,
            upload=SimpleUploadedFile(name, PDF, content_type="application/pdf"),
        )
        for name in ("wrong.pdf", "checklist.pdf")
    ]
    evidence_remove(actor=world.org_user, evidence=files[0], reason="Wrong lot")
    return assessment_issue_report(actor=t.lead, assessment=a, issued_on=a.end_date)


def test_an_assessments_history_holds_it_its_findings_answers_and_evidence_newest_first(
    world: World, evidence_dir: Path, django_assert_num_queries: Any
) -> None:
    # Given an assessment with everything that can happen to it, and another one beside it
    a = _full_assessment(world)
    world.assessment(world.accepted_application(), findings=("minor",))

    # When its history is read: the ids of what belongs to it, then their events
    with django_assert_num_queries(2):
        history = assessment_history(a)

    # Then every event of it and its parts, and none of the other assessment, newest first
    assert [(e.what, e.object_type) for e in history] == [
        ("Report issued", "assessments.assessment"),
        ("Evidence file removed by its uploader", "assessments.evidencefile"),
        ("Evidence file attached", "assessments.evidencefile"),
        ("Evidence file attached", "assessments.evidencefile"),
        ("Corrective action submitted", "assessments.finding"),
        ("Finding corrected", "assessments.finding"),
        ("Finding recorded", "assessments.finding"),
        ("Finding recorded", "assessments.finding"),
        ("Assessment started", "assessments.assessment"),
        ("Assessment planned", "assessments.assessment"),
    ]
    assert [e.seq for e in history] == sorted((e.seq for e in history), reverse=True)
    # And each entry says who, when, what changed and why
    corrected = history[5]
    assert corrected.who == world.team.assessor.label
    assert corrected.action == "finding.update"
    assert corrected.changes == (
        ("requirement_ref", "ISO 9001:2015 8.5.1", "ISO 9001:2015 8.5.1 c)"),
    )
    assert corrected.reason == "Clause made precise"
    assert corrected.object_repr.startswith(f"finding 1 of assessment {a.pk}: ")
    assert isinstance(corrected.when, dt.datetime)
    assert history[0].changes == (
        ("report_issued_on", None, a.end_date.isoformat()),
        ("status", "in_progress", "report_issued"),
        ("summary", None, ""),
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        corrected.who = "someone else"  # type: ignore[misc]


def test_an_assessments_history_costs_two_queries_whatever_it_holds(
    world: World, django_assert_num_queries: Any
) -> None:
    a = world.assessment(world.accepted_application(), findings=("major", "minor") * 5)
    for f in a.findings.exclude(grade="observation"):
        world.answer(f)
    with django_assert_num_queries(2):
        history = assessment_history(a)
    assert len(history) == 3 + 10 + 10  # plan, start, report; 10 findings; 10 answers


# --- an application ------------------------------------------------------------------------


def test_an_applications_history_holds_its_scope_lines_even_once_removed(
    world: World, django_assert_num_queries: Any
) -> None:
    # Given a draft whose line was changed, a second line added then removed
    app = world.draft_application()
    line = ScopeLine.objects.get(application=app)
    scope_line_update(
        actor=world.org_user,
        scope_line=line,
        category=line.category,
        site=line.site,
        wording="Electroplating of connector pins",
        standards=["ISO 9001:2015"],
    )
    extra = world.draft_application().scope_lines.get()  # another application's line
    removed = scope_line_add(
        actor=world.org_user,
        application=app,
        category=ProcessCategory.objects.get(code="PCBA"),
        site=world.site2,
        wording="PCB assembly",
        standards=["ISO 9001:2015"],
    )
    scope_line_remove(actor=world.org_user, scope_line=removed)

    # When its history is read
    with django_assert_num_queries(1):
        history = application_history(app)

    # Then
    assert [e.what for e in history] == [
        "Scope line removed",
        "Scope line added",
        "Scope line changed",
        "Scope line added",
        "Application started",
    ]
    assert history[0].changes == (
        ("category", "PCBA", None),
        ("scope_line", removed.pk, None),
        ("site", world.site2.pk, None),
        ("standards", ["ISO 9001:2015"], None),
        ("wording", "PCB assembly", None),
    )
    assert history[2].changes == (
        ("wording", "EPL process at the main plant", "Electroplating of connector pins"),
    )
    assert all(e.object_id == str(app.pk) for e in history)
    assert extra.application_id != app.pk


# --- a certificate -------------------------------------------------------------------------


def test_a_certificates_history_holds_its_decisions_and_status_changes(
    world: World, django_assert_num_queries: Any
) -> None:
    # Given a certificate granted, then suspended; and another certificate beside it
    cert = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="Complaint upheld",
        decided_on=cert.status_since + dt.timedelta(days=20),
    )
    world.granted()

    # When its history is read
    with django_assert_num_queries(1):
        history = certificate_history(cert)

    # Then
    assert [e.what for e in history] == ["Certificate suspended", "Certificate granted"]
    assert history[0].reason == "Complaint upheld"
    assert ("status", "current", "suspended") in history[0].changes
    assert all(isinstance(e, HistoryEntry) for e in history)
    assert {e.object_id for e in history} == {str(cert.pk)}
    assert AuditEvent.objects.filter(object_type="certificates.certificate").count() > 2
