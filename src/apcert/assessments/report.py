"""The assessment report as a document: what it says, read once, and who may read it.

The report names the certification body and the organization, the assessed scope (the
application's scope lines for an initial assessment, the certificate's issue in force on
the assessment's last day for the others), the kind and dates of the assessment, its team,
the report's date and summary, every finding with its corrective actions and their review,
and a closing section that sums the findings up against what a decision needs.

The content is plain frozen data, so that the PDF and the printable page are made from the
same facts, and the same facts give the same document. It is read in a fixed number of
queries, however many findings and answers there are.

The organization receives the report once it is issued; the CB's staff and the Secretariat
may read it at any time (an unissued report is marked as a draft).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Prefetch

from apcert.accounts.models import User
from apcert.assessments.choices import (
    REPORT_ISSUED_STATUSES,
    AssessmentKind,
    CorrectiveActionStatus,
    FindingGrade,
    FindingStatus,
    TeamRole,
)
from apcert.assessments.models import Assessment, CorrectiveAction, Finding, TeamMember
from apcert.bodies.models import CBStaff
from apcert.core.permissions import is_secretariat
from apcert.organizations.models import OrganizationMember

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser

    from apcert.applications.models import Application
    from apcert.certificates.models import Certificate
    from apcert.organizations.models import Organization

#: The team as the report lists it: the lead first, then the members, then the experts.
ROLE_ORDER: dict[str, int] = {TeamRole.LEAD: 0, TeamRole.MEMBER: 1, TeamRole.TECHNICAL_EXPERT: 2}


# --- the content ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportBody:
    """The certification body that carried out the assessment."""

    name: str
    code: str
    country: str


@dataclass(frozen=True)
class ReportOrganization:
    """The organization assessed: the applicant, or the certificate holder."""

    name: str
    country: str
    registration_number: str
    registration_authority: str
    address: str


@dataclass(frozen=True)
class ReportTeamMember:
    name: str
    role: str
    role_label: str


@dataclass(frozen=True)
class ReportSite:
    name: str
    address: str
    city: str
    country: str

    @property
    def place(self) -> str:
        """Where the site is: address, city (country); an address often names its city."""
        named = bool(self.city) and self.city in self.address
        parts = [self.address] if named else [self.address, self.city]
        where = ", ".join(part for part in parts if part)
        return f"{where} ({self.country})" if where else self.country


@dataclass(frozen=True)
class ReportScopeLine:
    category: str
    category_name: str
    site: str
    wording: str
    standards: tuple[str, ...]


@dataclass(frozen=True)
class ReportStandard:
    designation: str
    edition: str
    title: str

    @property
    def reference(self) -> str:
        return f"{self.designation}:{self.edition}"


@dataclass(frozen=True)
class ReportScope:
    """The scope assessed. ``subject`` names where it is declared: ``Application 12`` or
    ``IECQ-A XX 26.0001, issue 2``."""

    subject: str
    scheme: str
    programmes: tuple[str, ...]
    design_claimed: bool
    lines: tuple[ReportScopeLine, ...]
    sites: tuple[ReportSite, ...]
    standards: tuple[ReportStandard, ...]


@dataclass(frozen=True)
class ReportCorrectiveAction:
    """One answer of the organization to a nonconformity, and the assessor's review."""

    submitted_on: dt.date
    submitted_by: str
    correction: str
    root_cause: str
    action: str
    evidence: str
    evidence_files: tuple[str, ...]
    status: str
    outcome: str
    reviewed_on: dt.date | None
    reviewed_by: str
    review_comment: str


@dataclass(frozen=True)
class ReportFinding:
    number: int
    grade: str
    grade_label: str
    requirement_kind_label: str
    requirement: str
    standard: str
    description: str
    status: str
    status_label: str
    raised_on: dt.date
    #: ``None`` for an observation, which needs no answer.
    due_date: dt.date | None
    closed_on: dt.date | None
    corrective_actions: tuple[ReportCorrectiveAction, ...]


@dataclass(frozen=True)
class GradeCount:
    """How many findings of one grade there are, and how many of them are still awaited
    (a nonconformity open or answered but not yet accepted or verified)."""

    grade: str
    label: str
    total: int
    awaited: int
    plan_accepted: int
    closed: int


@dataclass(frozen=True)
class ReportClosing:
    """The findings summed up against what a certification decision needs: no open major
    nonconformity, and an accepted plan for every minor one."""

    counts: tuple[GradeCount, ...]
    open_majors: int
    minors_without_plan: int
    statement: str


@dataclass(frozen=True)
class AssessmentReport:
    assessment_id: int
    cb: ReportBody
    organization: ReportOrganization
    kind: str
    kind_label: str
    stage1_document_review: bool
    status: str
    status_label: str
    #: The dates the assessment was planned for. The record holds no other dates for the
    #: visit: findings are raised within them, and the report is issued after the last one.
    planned_start: dt.date
    planned_end: dt.date
    team: tuple[ReportTeamMember, ...]
    scope: ReportScope
    report_issued_on: dt.date | None
    summary: str
    findings: tuple[ReportFinding, ...]
    closing: ReportClosing
    #: The latest date among the report's facts: the findings and answers it shows are as
    #: they stood on that day.
    as_of: dt.date
    #: Carried out and reported in the CB's own software, its outcome recorded in apcert
    #: (the report then restates that record), rather than run in apcert.
    recorded: bool = False

    @property
    def issued(self) -> bool:
        return self.report_issued_on is not None

    @property
    def title(self) -> str:
        return f"Assessment report: {self.kind_label}"

    @property
    def document_date(self) -> dt.date:
        """The date a document made from this content bears: the report's date once it is
        issued, else the day its facts stand on (a draft)."""
        return self.report_issued_on or self.as_of


# --- reading it -----------------------------------------------------------------------------


def _person(user: User | None) -> str:
    if user is None:
        return ""
    return user.full_name or user.username


def _organization_of(a: Assessment) -> Organization:
    subject: Application | Certificate | None = a.application or a.certificate
    assert subject is not None  # the database requires one of the two
    return subject.organization


def _application_scope(application: Application) -> ReportScope:
    """The scope lines the application declares (three queries: lines with their
    category and site, their standards, the programmes)."""
    lines = list(
        application.scope_lines.select_related("category", "site")
        .prefetch_related("standards")
        .order_by("id")
    )
    sites: dict[int, ReportSite] = {}
    standards: dict[str, ReportStandard] = {}
    report_lines = []
    for line in lines:
        site = line.site
        sites.setdefault(site.pk, ReportSite(site.name, site.address, site.city, site.country))
        refs = []
        for std in sorted(line.standards.all(), key=lambda s: s.reference):
            refs.append(std.reference)
            standards.setdefault(
                std.reference, ReportStandard(std.designation, std.edition, std.title)
            )
        report_lines.append(
            ReportScopeLine(
                category=line.category.code,
                category_name=line.category.name,
                site=site.name,
                wording=line.wording,
                standards=tuple(refs),
            )
        )
    programmes = tuple(
        f"{code} – {name}"
        for code, name in application.programmes.order_by("code").values_list("code", "name")
    )
    scheme = application.scheme
    return ReportScope(
        subject=f"Application {application.pk}",
        scheme=f"{scheme.code} – {scheme.name}",
        programmes=programmes,
        design_claimed=application.design_claimed,
        lines=tuple(report_lines),
        sites=tuple(sorted(sites.values(), key=lambda s: s.name)),
        standards=tuple(standards[ref] for ref in sorted(standards)),
    )


def _certificate_scope(certificate: Certificate, on: dt.date) -> ReportScope:
    """The scope of the certificate's issue in force on ``on`` (its first issue if the
    assessment came before it): one query, two at most."""
    issue = (
        certificate.issues.filter(issued_on__lte=on).order_by("-issue_number").first()
        or certificate.issues.order_by("issue_number").first()
    )
    scheme = certificate.scheme
    subject = certificate.number
    if issue is None:  # (a draft certificate has no issue to assess yet)
        return ReportScope(subject, f"{scheme.code} – {scheme.name}", (), False, (), (), ())
    sites = {
        int(s["id"]): ReportSite(
            str(s["name"]), str(s.get("address") or ""), str(s.get("city") or ""), str(s["country"])
        )
        for s in issue.sites
    }
    lines = tuple(
        ReportScopeLine(
            category=str(line["category"]),
            category_name=str(line.get("category_name") or ""),
            site=str(line.get("site_name") or "")
            or (sites[line["site_id"]].name if line["site_id"] in sites else ""),
            wording=str(line["wording"]),
            standards=tuple(str(ref) for ref in line["standards"]),
        )
        for line in issue.scope_lines
    )
    return ReportScope(
        subject=f"{subject}, issue {issue.issue_number}",
        scheme=f"{scheme.code} – {scheme.name}",
        programmes=tuple(f"{p['code']} – {p['name']}" for p in issue.programmes),
        design_claimed=False,
        lines=lines,
        sites=tuple(sorted(sites.values(), key=lambda s: s.name)),
        standards=tuple(
            ReportStandard(str(s["designation"]), str(s["edition"]), str(s.get("title") or ""))
            for s in issue.standards
        ),
    )


def _outcome(answer: CorrectiveAction, finding: Finding, latest: bool) -> str:
    """The review's outcome in words: accepting a plan and verifying an action both leave
    the answer accepted; the finding's status tells which it was."""
    if answer.status == CorrectiveActionStatus.REJECTED:
        return "rejected"
    if answer.status == CorrectiveActionStatus.SUBMITTED:
        return "awaiting review"
    if latest and finding.status == FindingStatus.CLOSED:
        return "accepted: verified as effective"
    if latest and finding.status == FindingStatus.PLAN_ACCEPTED:
        return "accepted: plan accepted, to be verified"
    return "accepted"


def _finding(finding: Finding, position: int) -> ReportFinding:
    answers = list(finding.corrective_actions.all())
    observation = finding.grade == FindingGrade.OBSERVATION
    return ReportFinding(
        # The finding's number as the report prints it: its place among the assessment's
        # findings, by the order they were recorded.
        number=position,
        grade=finding.grade,
        grade_label=finding.get_grade_display(),
        requirement_kind_label=finding.get_requirement_kind_display(),
        requirement=finding.requirement_ref,
        standard=finding.standard.reference if finding.standard is not None else "",
        description=finding.description,
        status=finding.status,
        status_label=finding.get_status_display(),
        raised_on=finding.raised_on,
        due_date=None if observation else finding.due_date,
        closed_on=finding.closed_on,
        corrective_actions=tuple(
            ReportCorrectiveAction(
                submitted_on=ca.submitted_on,
                submitted_by=_person(ca.submitted_by),
                correction=ca.correction,
                root_cause=ca.root_cause,
                action=ca.action,
                evidence=ca.evidence,
                evidence_files=tuple(f.name for f in ca.evidence_files.all()),
                status=ca.status,
                outcome=_outcome(ca, finding, latest=i == len(answers) - 1),
                reviewed_on=ca.reviewed_on,
                reviewed_by=_person(ca.reviewed_by),
                review_comment=ca.review_comment,
            )
            for i, ca in enumerate(answers)
        ),
    )


def _closing(findings: Iterable[ReportFinding], kind: str) -> ReportClosing:
    findings = list(findings)
    counts = []
    for grade in FindingGrade:
        of_grade = [f for f in findings if f.grade == grade]
        counts.append(
            GradeCount(
                grade=grade.value,
                label=str(grade.label),
                total=len(of_grade),
                awaited=sum(
                    f.status in (FindingStatus.OPEN, FindingStatus.ANSWERED) for f in of_grade
                ),
                plan_accepted=sum(f.status == FindingStatus.PLAN_ACCEPTED for f in of_grade),
                closed=sum(f.status == FindingStatus.CLOSED for f in of_grade),
            )
        )
    by_grade = {c.grade: c for c in counts}
    open_majors = by_grade[FindingGrade.MAJOR].total - by_grade[FindingGrade.MAJOR].closed
    minors_without_plan = by_grade[FindingGrade.MINOR].awaited
    nonconformities = by_grade[FindingGrade.MAJOR].total + by_grade[FindingGrade.MINOR].total
    if not nonconformities:
        statement = "No nonconformity was found."
    elif not open_majors and not minors_without_plan:
        statement = (
            "Every major nonconformity is verified as corrected and every minor one has an "
            "accepted corrective action plan."
        )
    else:
        parts = []
        if open_majors:
            parts.append(
                f"{open_majors} major nonconformit{'y is' if open_majors == 1 else 'ies are'} "
                "not yet verified as corrected"
            )
        if minors_without_plan:
            parts.append(
                f"{minors_without_plan} minor nonconformit"
                f"{'y has' if minors_without_plan == 1 else 'ies have'} no accepted corrective "
                "action plan yet"
            )
        statement = " and ".join(parts) + "."
    if kind == AssessmentKind.INITIAL:
        statement += (
            " Certification can be granted once no major nonconformity is open and every "
            "minor one has an accepted plan; the decision is taken by a decision maker of the "
            "certification body who was not on the assessment team."
        )
    return ReportClosing(
        counts=tuple(counts),
        open_majors=open_majors,
        minors_without_plan=minors_without_plan,
        statement=statement,
    )


def assessment_report_content(assessment: Assessment | int) -> AssessmentReport:
    """Everything the assessment report says, as plain data. Read in a fixed number of
    queries whatever the number of findings and answers: the assessment with its CB,
    subject, organization and scheme; the team; the findings; their corrective actions;
    the evidence files; and the scope (three queries for an application's, one or two for
    a certificate's issue). Findings come in the order they were recorded."""
    pk = assessment if isinstance(assessment, int) else assessment.pk
    answers = (
        CorrectiveAction.objects.select_related("submitted_by", "reviewed_by")
        .prefetch_related("evidence_files")
        .order_by("id")
    )
    findings_in_order = (
        Finding.objects.select_related("standard")
        .prefetch_related(Prefetch("corrective_actions", queryset=answers))
        .order_by("id")
    )
    a = (
        Assessment.objects.select_related(
            "cb",
            "application__organization",
            "application__scheme",
            "certificate__organization",
            "certificate__scheme",
        )
        .prefetch_related(
            Prefetch(
                "team",
                queryset=TeamMember.objects.select_related("user").order_by("id"),
                to_attr="members",
            ),
            Prefetch("findings", queryset=findings_in_order, to_attr="ordered_findings"),
        )
        .get(pk=pk)
    )
    org = _organization_of(a)
    if a.application is not None:
        scope = _application_scope(a.application)
    else:
        assert a.certificate is not None
        scope = _certificate_scope(a.certificate, a.end_date)
    members: list[TeamMember] = a.members
    recorded: list[Finding] = a.ordered_findings
    team = tuple(
        ReportTeamMember(m.name or _person(m.user), m.role, m.get_role_display())
        for m in sorted(
            members, key=lambda m: (ROLE_ORDER.get(m.role, 9), m.name or _person(m.user))
        )
    )
    findings = tuple(_finding(f, position) for position, f in enumerate(recorded, start=1))
    dates = [a.end_date, *(d for d in (a.report_issued_on,) if d)]
    for f in findings:
        dates += [f.raised_on, *(d for d in (f.closed_on,) if d)]
        for ca in f.corrective_actions:
            dates += [ca.submitted_on, *(d for d in (ca.reviewed_on,) if d)]
    return AssessmentReport(
        assessment_id=a.pk,
        cb=ReportBody(a.cb.name, a.cb.code, a.cb.country),
        organization=ReportOrganization(
            name=org.legal_name,
            country=org.country,
            registration_number=org.registration_number,
            registration_authority=org.registration_authority,
            address=org.address,
        ),
        kind=a.kind,
        kind_label=a.get_kind_display(),
        stage1_document_review=a.stage1_document_review,
        status=a.status,
        status_label=a.get_status_display(),
        planned_start=a.start_date,
        planned_end=a.end_date,
        team=team,
        scope=scope,
        report_issued_on=a.report_issued_on if a.status in REPORT_ISSUED_STATUSES else None,
        summary=a.summary if a.status in REPORT_ISSUED_STATUSES else "",
        findings=findings,
        closing=_closing(findings, a.kind),
        as_of=max(dates),
        recorded=a.recorded,
    )


# --- who may read it ------------------------------------------------------------------------


def may_read_assessment_report(user: User | AnonymousUser | None, assessment: Assessment) -> bool:
    """Whether ``user`` may have the assessment's report: the Secretariat and the active
    staff of the CB that carried it out at any time; the users of the organization assessed
    (the applicant, or the certificate holder) once the report is issued; nobody else."""
    if not isinstance(user, User) or not user.is_active:
        return False
    if is_secretariat(user):
        return True
    if CBStaff.objects.filter(cb_id=assessment.cb_id, user_id=user.pk, active=True).exists():
        return True
    if not assessment.report_issued:
        return False
    org_id = (
        Assessment.objects.filter(pk=assessment.pk)
        .values_list("application__organization_id", "certificate__organization_id")
        .get()
    )
    organization_id = org_id[0] if org_id[0] is not None else org_id[1]
    return OrganizationMember.objects.filter(
        organization_id=organization_id, user_id=user.pk
    ).exists()
