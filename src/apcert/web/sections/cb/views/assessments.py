"""An assessment: start it, record findings, issue the report, review corrective actions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apcert.applications.selectors import declared_standards
from apcert.assessments.choices import AssessmentKind, AssessmentStatus, TeamRole
from apcert.assessments.edits import finding_update
from apcert.assessments.errors import FINDING_NOT_EDITABLE
from apcert.assessments.lifecycle import ASSESSMENT, FINDING
from apcert.assessments.models import Assessment, CorrectiveAction, EvidenceFile, Finding
from apcert.assessments.selectors import (
    assessment_findings,
    assessment_team,
    assessments_for_cb_staff,
    corrective_actions_for_cb_staff,
)
from apcert.assessments.services import (
    REVIEW_OUTCOMES,
    assessment_issue_report,
    assessment_start,
    corrective_action_review,
    finding_record,
)
from apcert.core.errors import (
    PERMISSION_TEAM_MEMBER_REQUIRED,
    DomainError,
    PermissionDenied,
    RuleViolation,
)
from apcert.schemes.selectors import standard_by_id
from apcert.web.errors import error_page
from apcert.web.section import current_user
from apcert.web.sections.cb import forms as f
from apcert.web.sections.cb.views.common import SECTION, cb_page, roles_at, show_refusal

# --- an assessment: start, findings, report, corrective actions -----------------------------


def assessment_for(request: HttpRequest, pk: int) -> Assessment:
    return get_object_or_404(assessments_for_cb_staff(current_user(request)), pk=pk)


def _declared_standards(a: Assessment) -> list[tuple[int, str]]:
    return declared_standards(a.application_id)


@dataclass(frozen=True)
class AnswerRow:
    """A corrective action on the assessment page: its evidence files, and the review form
    when the user may review it now."""

    corrective_action: CorrectiveAction
    files: list[EvidenceFile]
    #: The files their uploader removed, kept for the record: shown as removed, by whom,
    #: when and why.
    removed: list[EvidenceFile]
    review_form: forms.Form | None


@dataclass(frozen=True)
class FindingRow:
    finding: Finding
    answers: list[AnswerRow]


def _review_outcomes(finding: Finding) -> list[str]:
    """The review outcomes the finding's lifecycle allows from its status."""
    return [o for o in FINDING.actions_from(finding.status) if o in REVIEW_OUTCOMES]


def _answer_row(
    ca: CorrectiveAction,
    open_pk: int | None,
    bound: Mapping[int, forms.Form],
    outcomes: Sequence[str],
) -> AnswerRow:
    form = None
    if ca.pk == open_pk:
        form = (
            bound[ca.pk]
            if ca.pk in bound
            else f.ReviewForm(prefix=f"review-{ca.pk}", outcomes=outcomes)
        )
    removed = list(getattr(ca, "removed_files", []))
    return AnswerRow(ca, list(ca.evidence_files.all()), removed, form)


def _assessment_page(
    request: HttpRequest,
    a: Assessment,
    *,
    finding_form: forms.Form | None = None,
    report_form: forms.Form | None = None,
    review_forms: Mapping[int, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = current_user(request)
    team = list(assessment_team(a))
    my_role = next((m.role for m in team if m.user_id == user.pk), None)
    findings = list(assessment_findings(a))
    assessor = my_role in (TeamRole.LEAD, TeamRole.MEMBER)
    bound = review_forms or {}
    rows = []
    for finding in findings:
        answers = list(finding.corrective_actions.all())
        # Only the latest answer to a finding may be reviewed, by an assessor, with the
        # outcomes the finding's lifecycle allows now.
        outcomes = _review_outcomes(finding)
        open_pk = answers[-1].pk if assessor and answers and outcomes else None
        rows.append(
            FindingRow(finding, [_answer_row(ca, open_pk, bound, outcomes) for ca in answers])
        )
    in_progress = a.status == AssessmentStatus.IN_PROGRESS
    roles = roles_at(user, a.cb)
    return render(
        request,
        "web/cb/assessment_detail.html",
        {
            "a": a,
            "team": team,
            "findings": rows,
            "may_start": my_role == TeamRole.LEAD and ASSESSMENT.allowed(a.status, "start"),
            "may_record": my_role is not None and in_progress,
            # A finding is corrected by the team until the report is issued.
            "may_edit_findings": my_role is not None and in_progress,
            "may_report": my_role == TeamRole.LEAD and ASSESSMENT.allowed(a.status, "issue_report"),
            # The decision closes the reported assessment it rests on.
            "may_decide": (
                "decision_maker" in roles
                and a.kind == AssessmentKind.INITIAL
                and ASSESSMENT.allowed(a.status, "close")
            ),
            "finding_form": finding_form
            or f.FindingForm(prefix="finding", standards=_declared_standards(a)),
            "report_form": report_form or f.ReportForm(prefix="report"),
            "section": SECTION,
        },
        status=status,
    )


@require_safe
@cb_page
def assessment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _assessment_page(request, assessment_for(request, pk))


@require_POST
@cb_page
def assessment_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    a = assessment_for(request, pk)
    try:
        assessment_start(actor=current_user(request), assessment=a)
    except DomainError as exc:
        return error_page(request, exc, title="Start the assessment")
    messages.success(request, "The assessment is in progress.")
    return redirect("web:cb:assessment", pk=a.pk)


@require_POST
@cb_page
def finding_record_view(request: HttpRequest, pk: int) -> HttpResponse:
    a = assessment_for(request, pk)
    form = f.FindingForm(request.POST, prefix="finding", standards=_declared_standards(a))
    if form.is_valid():
        data = form.cleaned_data
        standard = standard_by_id(data["standard"])
        try:
            finding_record(
                actor=current_user(request),
                assessment=a,
                grade=data["grade"],
                requirement_kind=data["requirement_kind"],
                requirement_ref=data["requirement_ref"],
                description=data["description"],
                raised_on=data["raised_on"],
                due_date=data["due_date"],
                standard=standard,
            )
        except DomainError as exc:
            offered = a.status == AssessmentStatus.IN_PROGRESS
            if (page := show_refusal(request, exc, form, None, offered=offered)) is not None:
                return page
            return _assessment_page(request, a, finding_form=form, status=exc.http_status)
        messages.success(request, "The finding is recorded.")
        return redirect(reverse("web:cb:assessment", kwargs={"pk": a.pk}) + "#findings")
    return _assessment_page(request, a, finding_form=form, status=400)


@require_POST
@cb_page
def assessment_report_view(request: HttpRequest, pk: int) -> HttpResponse:
    a = assessment_for(request, pk)
    form = f.ReportForm(request.POST, prefix="report")
    if form.is_valid():
        try:
            assessment_issue_report(
                actor=current_user(request),
                assessment=a,
                issued_on=form.cleaned_data["issued_on"],
                summary=form.cleaned_data["summary"],
            )
        except DomainError as exc:
            offered = ASSESSMENT.allowed(a.status, "issue_report")
            if (page := show_refusal(request, exc, form, None, offered=offered)) is not None:
                return page
            return _assessment_page(request, a, report_form=form, status=exc.http_status)
        messages.success(request, "The report is issued.")
        return redirect("web:cb:assessment", pk=a.pk)
    return _assessment_page(request, a, report_form=form, status=400)


def _reviewable(ca: CorrectiveAction) -> bool:
    """The page offers a review of the latest answer to a finding whose lifecycle allows one."""
    latest = ca.finding.corrective_actions.order_by("-id").values_list("pk", flat=True).first()
    return bool(_review_outcomes(ca.finding)) and latest == ca.pk


@require_POST
@cb_page
def corrective_action_review_view(request: HttpRequest, pk: int) -> HttpResponse:
    ca = get_object_or_404(corrective_actions_for_cb_staff(current_user(request)), pk=pk)
    a = ca.finding.assessment
    form = f.ReviewForm(request.POST, prefix=f"review-{ca.pk}")
    if form.is_valid():
        try:
            corrective_action_review(
                actor=current_user(request),
                corrective_action=ca,
                outcome=form.cleaned_data["outcome"],
                comment=form.cleaned_data["comment"],
                reviewed_on=form.cleaned_data["reviewed_on"],
            )
        except DomainError as exc:
            if (
                page := show_refusal(request, exc, form, None, offered=_reviewable(ca))
            ) is not None:
                return page
            return _assessment_page(request, a, review_forms={ca.pk: form}, status=exc.http_status)
        messages.success(request, f"The corrective action for finding {ca.finding_id} is reviewed.")
        return redirect(reverse("web:cb:assessment", kwargs={"pk": a.pk}) + "#findings")
    return _assessment_page(request, a, review_forms={ca.pk: form}, status=400)


# --- correcting a finding until the report is issued ----------------------------------------


def _finding_edit_form(
    a: Assessment, finding: Finding, data: Mapping[str, object] | None = None
) -> f.FindingEditForm:
    standards = _declared_standards(a)
    if finding.standard_id is not None and all(k != finding.standard_id for k, _ in standards):
        # A standard recorded when it was declared stays offered as it was.
        assert finding.standard is not None
        standards = [*standards, (finding.standard_id, finding.standard.reference)]
    initial = {
        "grade": finding.grade,
        "requirement_kind": finding.requirement_kind,
        "requirement_ref": finding.requirement_ref,
        "standard": str(finding.standard_id or ""),
        "description": finding.description,
        "due_date": finding.due_date,
    }
    return f.FindingEditForm(data, prefix="edit", standards=standards, initial=initial)


def _edit_refusal(request: HttpRequest, a: Assessment) -> DomainError | None:
    """Why the page offers no correction of the assessment's findings to the user, if so
    (the service gives the same reasons to a forced request)."""
    user = current_user(request)
    if not any(m.user_id == user.pk for m in assessment_team(a)):
        return PermissionDenied(
            "Only a member of the assessment team may correct its findings.",
            code=PERMISSION_TEAM_MEMBER_REQUIRED,
        )
    if a.status != AssessmentStatus.IN_PROGRESS:
        return RuleViolation(
            "The findings can be corrected only while the assessment is in progress, until "
            "its report is issued.",
            code=FINDING_NOT_EDITABLE,
        )
    return None


def _finding_edit_page(
    request: HttpRequest, a: Assessment, finding: Finding, form: forms.Form, status: int = 200
) -> HttpResponse:
    return render(
        request,
        "web/cb/finding_edit.html",
        {"a": a, "finding": finding, "form": form, "section": SECTION},
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@cb_page
def finding_edit_view(request: HttpRequest, pk: int, finding_id: int) -> HttpResponse:
    """Correct a finding (``finding_update``): offered to the team while the assessment is
    in progress; the refusal, with its reason, otherwise."""
    a = assessment_for(request, pk)
    finding = get_object_or_404(assessment_findings(a), pk=finding_id)
    title = f"Correct finding {finding.number}"
    if request.method != "POST":
        if (refusal := _edit_refusal(request, a)) is not None:
            return error_page(request, refusal, title=title)
        return _finding_edit_page(request, a, finding, _finding_edit_form(a, finding))
    form = _finding_edit_form(a, finding, request.POST)
    if not form.is_valid():
        return _finding_edit_page(request, a, finding, form, status=400)
    data = form.cleaned_data
    try:
        finding_update(
            actor=current_user(request),
            finding=finding,
            grade=data["grade"],
            requirement_kind=data["requirement_kind"],
            requirement_ref=data["requirement_ref"],
            description=data["description"],
            standard=standard_by_id(data["standard"]),
            due_date=data["due_date"],
            reason=data["reason"],
        )
    except DomainError as exc:
        offered = _edit_refusal(request, a) is None
        if (page := show_refusal(request, exc, form, None, offered=offered)) is not None:
            return page
        return _finding_edit_page(request, a, finding, form, status=exc.http_status)
    messages.success(request, f"Finding {finding.number} is corrected.")
    return redirect(reverse("web:cb:assessment", kwargs={"pk": a.pk}) + f"#finding-{finding.pk}")
