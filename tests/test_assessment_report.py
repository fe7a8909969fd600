"""The assessment report: its content read from an assessment with findings at every grade
and reviewed answers, in a fixed number of queries; the PDF, read back with pypdf (the
texts, page breaks with many findings, scripts the font has and lacks, the same bytes for
the same content); the printable page; and who may read the report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pypdf import PdfReader

from apcert.accounts.models import User
from apcert.assessments.evidence.services import evidence_attach
from apcert.assessments.models import Assessment, Finding
from apcert.assessments.report import (
    AssessmentReport,
    assessment_report_content,
    may_read_assessment_report,
)
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_start,
    corrective_action_review,
    corrective_action_submit,
    finding_record,
)
from apcert.certificates.models import Certificate
from apcert.core.dates import format_date, format_datetime
from apcert.documents import assessment_report_html, render_assessment_report_pdf
from apcert.documents.fonts import REPLACEMENT
from apcert.organizations.services import organization_create, organization_member_add
from apcert.schemes.models import Standard
from tests.factories import DAY0, World, make_user
from tests.flows_support import visit

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _evidence_dir(settings: Any, tmp_path: Path) -> None:
    settings.EVIDENCE_DIR = tmp_path / "evidence"


DAYS = dt.timedelta(days=1)
START = DAY0 + 30 * DAYS

#: What the findings of :func:`assessed` say, by grade.
MAJOR_TEXT = "Reflow profiles are not validated after a change of solder paste."
MINOR_TEXT = "Two operators' training records lack the trainer's signature."
MINOR2_TEXT = "The calibration label of gauge G-17 is unreadable."
OBSERVATION_TEXT = "Consider trending the first-pass yield per line."
EVIDENCE_PDF = (
    b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
)


def _find(world: World, a: Assessment, grade: str, text: str, **extra: Any) -> Finding:
    return finding_record(
        actor=world.team.lead,
        assessment=a,
        grade=grade,
        requirement_kind=extra.pop("requirement_kind", "iso9001"),
        requirement_ref=extra.pop("requirement_ref", "ISO 9001:2015 8.5.1"),
        description=text,
        **extra,
    )


def assessed(world: World, *, report: bool = True) -> Assessment:
    """An initial assessment with a technical expert on the team, a stage 1 review and a
    finding of every grade: the major answered, rejected, answered again and verified; a
    minor with its plan accepted; another minor not answered; an observation."""
    t = world.team
    app = world.accepted_application(standards=("ISO 9001:2015", "IEC 61340-5-1:2024"))
    a = assessment_plan(
        actor=t.manager,
        kind="initial",
        application=app,
        start_date=START,
        end_date=START + DAYS,
        team=[
            (t.assessor, "member"),
            (t.decision_maker2, "technical_expert"),
            (t.lead, "lead"),
        ],
        stage1_document_review=True,
    )
    assessment_start(actor=t.lead, assessment=a)
    major = _find(world, a, "major", MAJOR_TEXT)
    minor = _find(
        world,
        a,
        "minor",
        MINOR_TEXT,
        requirement_kind="standard",
        requirement_ref="IEC 61340-5-1:2024 5.2.4",
        standard=Standard.objects.get(designation="IEC 61340-5-1", edition="2024"),
    )
    _find(world, a, "minor", MINOR2_TEXT, requirement_kind="iecq", requirement_ref="IECQ 03-4 4.2")
    _find(world, a, "observation", OBSERVATION_TEXT, raised_on=START + DAYS)
    if not report:
        return a
    a = assessment_issue_report(
        actor=t.lead,
        assessment=a,
        issued_on=START + 4 * DAYS,
        summary="The plant runs its processes as declared.\nThree nonconformities were raised.",
    )
    first = corrective_action_submit(
        actor=world.org_user,
        finding=major,
        correction="Profile re-run",
        root_cause="Unknown",
        action="None yet",
        submitted_on=START + 10 * DAYS,
    )
    corrective_action_review(
        actor=t.lead,
        corrective_action=first,
        outcome="reject",
        comment="The root cause is not shown",
        reviewed_on=START + 12 * DAYS,
    )
    second = corrective_action_submit(
        actor=world.org_user,
        finding=major,
        correction="All profiles re-validated",
        root_cause="No trigger for re-validation in the change procedure",
        action="Change procedure CP-4 now requires profile validation",
        evidence="Validation records VR-112 to VR-118",
        submitted_on=START + 20 * DAYS,
    )
    evidence_attach(
        actor=world.org_user,
        corrective_action=second,
        upload=SimpleUploadedFile("VR-112 profile.pdf", EVIDENCE_PDF, "application/pdf"),
    )
    corrective_action_review(
        actor=t.assessor,
        corrective_action=second,
        outcome="verify",
        comment="Records seen",
        reviewed_on=START + 25 * DAYS,
    )
    plan = world.answer(minor, on=START + 15 * DAYS)
    world.review(plan, "accept_plan", on=START + 18 * DAYS)
    return Assessment.objects.get(pk=a.pk)


# --- the content ----------------------------------------------------------------------------


def test_the_content_gives_every_fact_of_the_report(world: World) -> None:
    # given a reported initial assessment with findings at every grade, answers reviewed
    a = assessed(world)
    t = world.team
    # when its report's content is read
    report = assessment_report_content(a)
    # then the parties, kind, dates and team are those of the assessment
    assert report.cb.code == t.cb.code and report.cb.name == t.cb.name
    assert report.organization.name == world.org.legal_name
    assert (report.kind, report.kind_label) == ("initial", "initial assessment")
    assert report.stage1_document_review is True
    assert (report.planned_start, report.planned_end) == (START, START + DAYS)
    assert report.report_issued_on == START + 4 * DAYS
    assert report.issued and report.document_date == START + 4 * DAYS
    assert report.summary.startswith("The plant runs its processes as declared.")
    # the lead first, then the member, then the technical expert
    assert [(m.name, m.role) for m in report.team] == [
        (t.lead.full_name, "lead"),
        (t.assessor.full_name, "member"),
        (t.decision_maker2.full_name, "technical_expert"),
    ]
    # the scope is the application's: its line, site and standards with their titles
    scope = report.scope
    assert scope.subject == f"Application {a.application_id}"
    assert scope.scheme.startswith("AP – ")
    assert [p.split(" – ")[0] for p in scope.programmes] == ["AP"]
    assert [(line.category, line.site) for line in scope.lines] == [("EPL", "Main plant")]
    assert scope.lines[0].standards == ("IEC 61340-5-1:2024", "ISO 9001:2015")
    assert [s.reference for s in scope.standards] == ["IEC 61340-5-1:2024", "ISO 9001:2015"]
    assert all(s.title for s in scope.standards)
    assert [(s.name, s.place) for s in scope.sites] == [("Main plant", "Dresden (DE)")]
    # every finding, numbered in the order recorded, with its dates and status
    assert [(f.number, f.grade, f.status) for f in report.findings] == [
        (1, "major", "closed"),
        (2, "minor", "plan_accepted"),
        (3, "minor", "open"),
        (4, "observation", "closed"),
    ]
    major, minor, minor2, observation = report.findings
    assert major.description == MAJOR_TEXT
    assert major.requirement == "ISO 9001:2015 8.5.1"
    assert major.requirement_kind_label == "ISO 9001 clause"
    assert (major.raised_on, major.due_date, major.closed_on) == (
        START,
        START + 90 * DAYS,
        START + 25 * DAYS,
    )
    assert minor.standard == "IEC 61340-5-1:2024"
    assert observation.due_date is None and observation.closed_on == START + DAYS
    assert minor2.corrective_actions == () and minor2.closed_on is None
    # the answers in order, with their review's outcome
    rejected, verified = major.corrective_actions
    assert (rejected.outcome, rejected.review_comment) == (
        "rejected",
        "The root cause is not shown",
    )
    assert rejected.reviewed_by == t.lead.full_name
    assert rejected.submitted_by == world.org_user.full_name
    assert verified.outcome == "accepted: verified as effective"
    assert verified.root_cause == "No trigger for re-validation in the change procedure"
    assert verified.evidence == "Validation records VR-112 to VR-118"
    assert verified.evidence_files == ("VR-112 profile.pdf",)
    assert (verified.reviewed_on, verified.reviewed_by) == (START + 25 * DAYS, t.assessor.full_name)
    (plan,) = minor.corrective_actions
    assert plan.outcome == "accepted: plan accepted, to be verified"
    # the close sums the findings up against what a grant needs
    counts = {
        c.grade: (c.total, c.awaited, c.plan_accepted, c.closed) for c in report.closing.counts
    }
    assert counts == {"major": (1, 0, 0, 1), "minor": (2, 1, 1, 0), "observation": (1, 0, 0, 1)}
    assert (report.closing.open_majors, report.closing.minors_without_plan) == (0, 1)
    assert report.closing.statement.startswith(
        "1 minor nonconformity has no accepted corrective action plan yet."
    )
    # the facts stand as of the last review
    assert report.as_of == START + 25 * DAYS


def test_before_the_report_the_content_is_a_draft(world: World) -> None:
    a = assessed(world, report=False)
    report = assessment_report_content(a.pk)
    assert not report.issued
    assert report.report_issued_on is None and report.summary == ""
    assert report.status == "in_progress"
    assert report.document_date == report.as_of == START + DAYS
    assert report.closing.statement.startswith(
        "1 major nonconformity is not yet verified as corrected and 2 minor nonconformities "
        "have no accepted corrective action plan yet."
    )


def test_a_certificate_assessment_reports_the_issue_in_force(world: World) -> None:
    # given a granted certificate and a surveillance visit of it with a minor finding
    cert = world.granted()
    a = visit(world, cert, "surveillance", findings=("minor",))
    # when the visit's report is read
    report = assessment_report_content(a)
    # then the scope is the certificate's issue, the organization its holder
    issue = Certificate.objects.get(pk=cert.pk).issues.get(issue_number=1)
    assert report.scope.subject == f"{cert.number}, issue 1"
    assert [line.wording for line in report.scope.lines] == [
        line["wording"] for line in issue.scope_lines
    ]
    assert {s.name for s in report.scope.sites} == {"Main plant"}
    assert [s.reference for s in report.scope.standards] == ["ISO 9001:2015"]
    assert report.organization.name == world.org.legal_name
    assert report.kind_label == "surveillance"
    assert [f.grade for f in report.findings] == ["minor"]
    # a surveillance report says nothing of a grant
    assert "granted" not in report.closing.statement


def _queries(assessment: Assessment) -> int:
    with CaptureQueriesContext(connection) as captured:
        assessment_report_content(assessment)
    return len(captured)


def test_the_content_is_read_in_a_fixed_number_of_queries(world: World) -> None:
    # given an assessment with four findings and three answers, and another with 24
    # findings, each nonconformity answered and reviewed
    small = assessed(world)
    app = world.accepted_application()
    big = world.assessment(app, findings=("major", "minor", "observation") * 8)
    for f in big.findings.exclude(grade="observation"):
        world.review(world.answer(f, on=f.raised_on + 10 * DAYS), "reject")
    # when each report's content is read
    # then both take the same few queries: the assessment, the team, the findings, their
    # answers, the evidence files, and the scope (lines, standards, programmes)
    assert _queries(small) == _queries(big) == 8
    report = assessment_report_content(big)
    assert len(report.findings) == 24
    assert sum(len(f.corrective_actions) for f in report.findings) == 16
    # and so does a certificate's assessment (its issue read in place of the scope lines,
    # standards and programmes)
    cert = world.granted()
    few = visit(world, cert, "surveillance", findings=("minor",))
    many = visit(
        world, cert, "surveillance", findings=("minor", "major") * 6, start=few.end_date + 30 * DAYS
    )
    for visited in (few, many):
        for f in visited.findings.all():
            world.review(world.answer(f, on=f.raised_on + 10 * DAYS), "accept_plan")
    assert _queries(few) == _queries(many) == 6


# --- the dates ------------------------------------------------------------------------------


def test_dates_print_in_one_format() -> None:
    assert format_date(dt.date(2026, 12, 7)) == "7 December 2026"
    assert format_date(dt.date(2027, 1, 31)) == "31 January 2027"
    moment = dt.datetime(2026, 12, 7, 15, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert format_datetime(moment) == "7 December 2026, 14:05 UTC"
    assert format_datetime(dt.datetime(2026, 12, 7, 9, 0)) == "7 December 2026, 09:00 UTC"


# --- the PDF --------------------------------------------------------------------------------


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text, whitespace collapsed."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def test_the_pdf_shows_every_finding_and_answer(world: World) -> None:
    report = assessment_report_content(assessed(world))
    pdf = render_assessment_report_pdf(report)
    assert pdf.startswith(b"%PDF-")
    texts = page_texts(pdf)
    text = " ".join(texts)
    t = world.team
    for expected in (
        "Assessment report",
        "Initial assessment",
        f"{t.cb.name} ({t.cb.code})",
        world.org.legal_name,
        "11 February 2026 to 12 February 2026",  # the dates
        "with a stage 1 document review",
        "Report issued 15 February 2026",
        "The plant runs its processes as declared.",
        f"{t.lead.full_name} lead assessor",
        f"{t.decision_maker2.full_name} technical expert",
        "EPL",
        "Main plant",
        "IEC 61340-5-1:2024",
        MAJOR_TEXT,
        MINOR_TEXT,
        MINOR2_TEXT,
        OBSERVATION_TEXT,
        "Finding 1 · major nonconformity",
        "Finding 4 · observation",
        "Change procedure CP-4 now requires profile validation",
        "Evidence files VR-112 profile.pdf",
        "rejected, 23 February 2026",
        "The root cause is not shown",
        "accepted: verified as effective, 8 March 2026",
        "No corrective action has been submitted yet.",
        "no answer needed (an observation)",
        "Conclusion",
        "1 minor nonconformity has no accepted corrective action plan yet.",
    ):
        assert expected in text, expected
    # each page: the CB and the organization at the head, the report and its date at the
    # foot, and its number of the whole
    for number, page in enumerate(texts, start=1):
        assert page.startswith(f"{t.cb.name} ({t.cb.code}) {world.org.legal_name}"), page[:80]
        foot = f"initial assessment · {world.org.legal_name} · report of 15 February 2026"
        assert f"Assessment report · {foot}" in page
        assert f"Page {number} of {len(texts)}" in page
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and reader.metadata.author == t.cb.name
    assert reader.metadata.creation_date.date() == dt.date(2026, 2, 15)
    assert len(reader.pages[0].mediabox) == 4
    assert round(float(reader.pages[0].mediabox.width)) == 595  # A4: 210 mm


def test_a_draft_pdf_says_so(world: World) -> None:
    report = assessment_report_content(assessed(world, report=False))
    text = " ".join(page_texts(render_assessment_report_pdf(report)))
    assert "DRAFT: this report has not been issued (in progress)" in text
    assert "draft, findings as of 12 February 2026" in text


def test_forty_findings_flow_over_pages_each_once(world: World) -> None:
    # given a report of 40 findings with long descriptions
    report = assessment_report_content(assessed(world))
    finding = report.findings[0]
    long = " ".join(["The soldering profile of line {n} was changed without validation."] * 6)
    findings = tuple(
        dataclasses.replace(
            finding,
            number=n,
            description=long.replace("{n}", f"L{n:02d}") + f" Finding-{n:02d}-ends.",
        )
        for n in range(1, 41)
    )
    many = dataclasses.replace(report, findings=findings)
    # when it is rendered
    pdf = render_assessment_report_pdf(many)
    texts = page_texts(pdf)
    # then it takes many pages, numbered "Page X of Y", every finding printed whole, once
    assert len(texts) >= 10
    joined = " ".join(texts)
    for n in range(1, 41):
        assert joined.count(f"Finding {n} · major nonconformity") == 1, n
        assert joined.count(f"Finding-{n:02d}-ends.") == 1, n
    assert all(f"Page {i} of {len(texts)}" in page for i, page in enumerate(texts, start=1))
    # and no finding begins in the last few lines of a page: its heading is never alone at
    # the bottom (the next page starts with the rest of it or with a new one)
    for page in PdfReader(io.BytesIO(pdf)).pages:
        heights: list[float] = []

        def seen(
            text: str, cm: Any, tm: Any, font: Any, size: Any, out: list[float] = heights
        ) -> None:
            if text.startswith("Finding ") and "·" in text:
                out.append(tm[5])

        page.extract_text(visitor_text=seen)
        # 22 mm foot margin + about 30 mm of the finding kept with its heading
        assert all(y > (22 + 28) / 25.4 * 72 for y in heights), heights


def test_the_same_content_gives_the_same_bytes(world: World) -> None:
    report = assessment_report_content(assessed(world))
    first = render_assessment_report_pdf(report)
    again = render_assessment_report_pdf(assessment_report_content(report.assessment_id))
    assert first == again
    # and other content other bytes
    other = dataclasses.replace(report, summary="Another summary.")
    assert render_assessment_report_pdf(other) != first


#: Renders a pickled report in a process of its own, with its own hash seed.
RENDER_ELSEWHERE = """
import pickle, sys
import django
django.setup()
from apcert.documents import render_assessment_report_pdf
sys.stdout.buffer.write(render_assessment_report_pdf(pickle.loads(sys.stdin.buffer.read())))
"""


def test_another_process_renders_the_same_bytes(world: World) -> None:
    # A copy kept by one server process is the one another would make: nothing in the
    # document depends on the process (hash seeds, the time it was made).
    report = assessment_report_content(assessed(world))
    env = {**os.environ, "PYTHONHASHSEED": "12345", "DJANGO_SETTINGS_MODULE": "apcert.settings"}
    made = subprocess.run(  # noqa: S603
        [sys.executable, "-c", RENDER_ELSEWHERE],
        input=pickle.dumps(report),
        capture_output=True,
        env=env,
        check=True,
        timeout=120,
    )
    assert made.stdout == render_assessment_report_pdf(report)


def test_names_in_other_scripts(world: World) -> None:
    report = assessment_report_content(assessed(world))
    turkish = "Işıklı Çağ Elektronik Sanayi ve Ticaret A.Ş."
    org = dataclasses.replace(report.organization, name=turkish)
    text = " ".join(
        page_texts(render_assessment_report_pdf(dataclasses.replace(report, organization=org)))
    )
    # Turkish letters are in the font: printed as they are, on every page's head too
    assert text.count(turkish) >= 3
    assert REPLACEMENT not in text
    # Chinese characters, which the font lacks, are replaced, and the report says so
    chinese = dataclasses.replace(report.organization, name="深圳电子 Shenzhen Dianzi Ltd")
    text = " ".join(
        page_texts(render_assessment_report_pdf(dataclasses.replace(report, organization=chinese)))
    )
    assert f"{REPLACEMENT * 4} Shenzhen Dianzi Ltd" in text
    assert "深圳" not in text
    assert "Characters this document's font does not include are shown as" in text


# --- the printable page ---------------------------------------------------------------------


def test_the_page_shows_each_finding_and_the_team(world: World) -> None:
    report = assessment_report_content(assessed(world))
    html = assessment_report_html(report, pdf_url="/report.pdf", back_url="/back")
    assert html.startswith("<!doctype html>")
    assert 'href="/static/documents/assessment_report.css"' in html
    for f in report.findings:
        assert f'<article class="finding grade-{f.grade}" id="finding-{f.number}"' in html
        assert f.description.replace("'", "&#x27;") in html
    for member in report.team:
        assert f"<td>{member.name}</td><td>{member.role_label}</td>" in html
    assert '<time datetime="2026-02-15">15 February 2026</time>' in html
    assert "Change procedure CP-4 now requires profile validation" in html
    assert "The root cause is not shown" in html
    assert "<dt>Evidence files</dt><dd>VR-112 profile.pdf</dd>" in html
    assert 'class="screen-only report-actions"' in html and 'href="/report.pdf"' in html
    # nothing inline that a strict Content-Security-Policy would block
    assert "<script" not in html and "<style" not in html
    assert not re.search(r"\sstyle=", html)
    assert not re.search(r"\son[a-z]+=", html)


def test_the_page_escapes_what_people_wrote(world: World) -> None:
    report = assessment_report_content(assessed(world))
    hostile = dataclasses.replace(report, summary="<script>alert(1)</script>")
    html = assessment_report_html(hostile)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # without links to offer, the page has no navigation
    assert "<nav" not in html


def test_the_print_stylesheet_keeps_findings_whole_and_hides_navigation() -> None:
    from django.contrib.staticfiles import finders

    path = finders.find("documents/assessment_report.css")
    assert path is not None
    css = Path(path).read_text(encoding="utf-8")
    assert "size: A4" in css
    assert re.search(r"article\.finding \{ break-inside: avoid;", css)
    assert re.search(r"\.screen-only, nav \{ display: none", css)


# --- who may read it ------------------------------------------------------------------------


def _reader_matrix(world: World, a: Assessment) -> dict[str, bool]:
    other_org_user = make_user("otherorg")
    organization_create(actor=other_org_user, legal_name="Other Works", country="FR")
    member = make_user("member")
    organization_member_add(actor=world.org_user, organization=world.org, user=member)
    other_cb = World.make_cb(world.secretariat, "OTH", dt.date(2020, 1, 1))
    inactive = make_user("gone")
    organization_member_add(actor=world.org_user, organization=world.org, user=inactive)
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    inactive.refresh_from_db()
    readers: dict[str, Any] = {
        "secretariat": world.secretariat,
        "cb manager": world.team.manager,
        "cb lead": world.team.lead,
        "cb decision maker": world.team.decision_maker,
        "org admin": world.org_user,
        "org member": member,
        "inactive org member": inactive,
        "other org": other_org_user,
        "other cb's staff": other_cb.manager,
        "anonymous": AnonymousUser(),
        "nobody": None,
    }
    fresh = Assessment.objects.get(pk=a.pk)
    return {name: may_read_assessment_report(user, fresh) for name, user in readers.items()}


CB_AND_SECRETARIAT = {"secretariat", "cb manager", "cb lead", "cb decision maker"}


def test_who_may_read_a_report_not_yet_issued(world: World) -> None:
    a = assessed(world, report=False)
    allowed = {name for name, yes in _reader_matrix(world, a).items() if yes}
    assert allowed == CB_AND_SECRETARIAT


def test_who_may_read_an_issued_report(world: World) -> None:
    a = assessed(world)
    allowed = {name for name, yes in _reader_matrix(world, a).items() if yes}
    assert allowed == CB_AND_SECRETARIAT | {"org admin", "org member"}


def test_the_holder_reads_a_certificate_visit_once_reported(world: World) -> None:
    cert = world.granted()
    planned = visit(world, cert, "surveillance", report=False)
    assert may_read_assessment_report(world.org_user, planned) is False
    assert may_read_assessment_report(world.team.lead, planned) is True
    done = visit(world, cert, "surveillance", start=planned.end_date + 60 * DAYS)
    assert may_read_assessment_report(world.org_user, done) is True


def test_a_content_is_plain_frozen_data(world: World) -> None:
    report = assessment_report_content(assessed(world))
    assert isinstance(report, AssessmentReport)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.summary = "changed"  # type: ignore[misc]
    assert hash(report) == hash(assessment_report_content(report.assessment_id))
