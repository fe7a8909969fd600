"""The certification body's back-office pages: incoming applications, assessment
planning and findings, corrective action review with the evidence, the decision, and the
actions on the CB's certificates.

Each object is read through a selector limited to the CBs the user is staff of (the
Secretariat sees all), so another CB's object by id is a 404. Each page offers only the
actions the user's role allows there; the services decide, and a crafted POST they refuse
gets a 403 page (a role the user lacks) or the reason next to the field it names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apcert.accounts.models import User
from apcert.applications.choices import ApplicationStatus
from apcert.applications.lifecycle import APPLICATION
from apcert.applications.models import Application
from apcert.applications.selectors import (
    applications_for_cb_staff,
    declared_standards,
    scope_lines_of,
)
from apcert.applications.services import application_accept, application_reject
from apcert.assessments.choices import (
    AssessmentKind,
    AssessmentStatus,
    TeamRole,
)
from apcert.assessments.lifecycle import ASSESSMENT, FINDING
from apcert.assessments.models import (
    Assessment,
    CorrectiveAction,
    EvidenceFile,
    Finding,
)
from apcert.assessments.selectors import (
    assessment_findings,
    assessment_team,
    assessments_for_cb_staff,
    assessments_of_application,
    corrective_actions_for_cb_staff,
)
from apcert.assessments.services import (
    REVIEW_OUTCOMES,
    assessment_issue_report,
    assessment_plan,
    assessment_start,
    corrective_action_review,
    finding_record,
)
from apcert.bodies.models import CertificationBody
from apcert.bodies.permissions import cb_roles
from apcert.bodies.selectors import active_staff_of, is_active_cb_staff
from apcert.certificates.choices import CertificateStatus, PublicationReviewStatus
from apcert.certificates.errors import DECISION_WRONG_ASSESSMENT
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import (
    RecordedChange,
    certificate_recorded_changes,
    certificates_for_cb_staff,
    grant_blockers,
    publication_reviews_of,
)
from apcert.certificates.services import (
    certificate_grant,
    certificate_holder_renamed,
    certificate_publication_resubmit,
    certificate_restore,
    certificate_site_moved,
    certificate_site_renamed,
    certificate_standard_update,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.errors import (
    INVALID_ACTION,
    PERMISSION_CB_ROLE_REQUIRED,
    PERMISSION_CB_STAFF_REQUIRED,
    DomainError,
    PermissionDenied,
)
from apcert.core.permissions import is_secretariat
from apcert.schemes.selectors import standard_by_id
from apcert.web.errors import add_form_error, error_page
from apcert.web.lists import ChoiceFilter, Sort, list_page
from apcert.web.section import current_user, section
from apcert.web.sections.cb import forms as f
from apcert.web.status_today import with_status_today

SECTION = "cb"


NOT_CB_STAFF = PermissionDenied(
    "This section is for the staff of a certification body accepted in IECQ. Ask your "
    "CB's administrator to invite you.",
    code=PERMISSION_CB_STAFF_REQUIRED,
)


def _may_use_cb_section(user: User) -> bool:
    return is_secretariat(user) or is_active_cb_staff(user)


#: The CB's lists are refused, with the reason (403), to anyone who is neither active staff of
#: a CB nor the Secretariat (the selectors would otherwise show them an empty list); a record
#: of a CB the user is not staff of is a 404, from the selectors.
cb_section = section(
    "cb", allowed=_may_use_cb_section, refusal=NOT_CB_STAFF, title="Certification body"
)
cb_page = section("cb")


def _roles(user: User, cb: CertificationBody) -> set[str]:
    """The user's roles at ``cb``; an administrator of the CB holds them all (as
    bodies.permissions.require_cb_role has it)."""
    held = cb_roles(user, cb)
    return held | {"scheme_manager", "assessor", "decision_maker"} if "admin" in held else held


def _refused(
    request: HttpRequest,
    exc: DomainError,
    form: forms.Form,
    fields: Mapping[str, str] | None,
    *,
    offered: bool = True,
) -> HttpResponse | None:
    """A refusal on its own page, with its HTTP status, when the user lacks the role
    (PermissionDenied, 403) or the page does not offer the action in the object's present
    state (so a form error would not be seen); else None, the reason put on the form."""
    if isinstance(exc, PermissionDenied) or not offered:
        return error_page(request, exc)
    add_form_error(form, exc, fields)
    return None


# --- lists ---------------------------------------------------------------------------------

APPLICATION_SORTS = {
    "submitted": Sort("Submitted", ("submitted_at",)),
    "organization": Sort("Organization", ("organization__legal_name",)),
    "status": Sort("Status", ("status",)),
}


@require_safe
@cb_section
def application_list(request: HttpRequest) -> HttpResponse:
    """The applications made to the user's CB: filter by status, sort, page."""
    listing = list_page(
        request,
        applications_for_cb_staff(current_user(request)),
        sorts=APPLICATION_SORTS,
        default_sort="-submitted",
        filters=[
            ChoiceFilter("status", "status", ApplicationStatus.choices, "Status"),
        ],
    )
    return render(
        request,
        "web/cb/application_list.html",
        {"listing": listing, "section": SECTION, "title": "Applications"},
    )


ASSESSMENT_SORTS = {
    "start": Sort("First day", ("start_date",)),
    "status": Sort("Status", ("status",)),
    "kind": Sort("Kind", ("kind",)),
}


@require_safe
@cb_section
def assessment_list(request: HttpRequest) -> HttpResponse:
    """The assessments of the user's CB: filter by status and kind, sort, page."""
    listing = list_page(
        request,
        assessments_for_cb_staff(current_user(request)),
        sorts=ASSESSMENT_SORTS,
        default_sort="-start",
        filters=[
            ChoiceFilter("status", "status", AssessmentStatus.choices, "Status"),
            ChoiceFilter("kind", "kind", AssessmentKind.choices, "Kind"),
        ],
    )
    return render(
        request,
        "web/cb/assessment_list.html",
        {"listing": listing, "section": SECTION, "title": "Assessments"},
    )


CERTIFICATE_SORTS = {
    "number": Sort("Number", ("number",)),
    "holder": Sort("Holder", ("organization__legal_name",)),
    "expires": Sort("Expires", ("expires_on",)),
    "status": Sort("Status", ("status",)),
}


@require_safe
@cb_section
def certificate_list(request: HttpRequest) -> HttpResponse:
    """The user's CB's certificates: filter by status, sort, page."""
    listing = list_page(
        request,
        certificates_for_cb_staff(current_user(request)),
        sorts=CERTIFICATE_SORTS,
        default_sort="number",
        filters=[ChoiceFilter("status", "status", CertificateStatus.choices, "Status")],
    )
    with_status_today(listing.page.object_list)
    return render(
        request,
        "web/cb/certificate_list.html",
        {"listing": listing, "section": SECTION, "title": "Certificates"},
    )


# --- an application: accept or reject, plan its initial assessment --------------------------


def _application(request: HttpRequest, pk: int) -> Application:
    return get_object_or_404(applications_for_cb_staff(current_user(request)), pk=pk)


def _application_page(
    request: HttpRequest,
    app: Application,
    *,
    accept_form: forms.Form | None = None,
    reject_form: forms.Form | None = None,
    status: int = 200,
) -> HttpResponse:
    roles = _roles(current_user(request), app.cb)
    lines = list(scope_lines_of(app))
    assessments = list(assessments_of_application(app.pk))
    manager = "scheme_manager" in roles
    return render(
        request,
        "web/cb/application_detail.html",
        {
            "app": app,
            "lines": lines,
            "programmes": list(app.programmes.order_by("code")),
            "assessments": assessments,
            "certificates": with_status_today(app.certificates.all()),
            "may_decide": manager and APPLICATION.allowed(app.status, "accept"),
            "may_plan": manager and app.status == ApplicationStatus.ACCEPTED,
            "accept_form": accept_form or f.ApplicationAcceptForm(prefix="accept"),
            "reject_form": reject_form or f.ApplicationRejectForm(prefix="reject"),
            "section": SECTION,
        },
        status=status,
    )


@require_safe
@cb_page
def application_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _application_page(request, _application(request, pk))


@require_POST
@cb_page
def application_accept_view(request: HttpRequest, pk: int) -> HttpResponse:
    app = _application(request, pk)
    form = f.ApplicationAcceptForm(request.POST, prefix="accept")
    if form.is_valid():
        try:
            application_accept(
                actor=current_user(request), application=app, reason=form.cleaned_data["note"]
            )
        except DomainError as exc:
            offered = APPLICATION.allowed(app.status, "accept")
            if (
                page := _refused(request, exc, form, {"reason": "note"}, offered=offered)
            ) is not None:
                return page
            return _application_page(request, app, accept_form=form, status=exc.http_status)
        messages.success(request, f"Application {app.pk} is accepted.")
        return redirect("web:cb:application", pk=app.pk)
    return _application_page(request, app, accept_form=form, status=400)


@require_POST
@cb_page
def application_reject_view(request: HttpRequest, pk: int) -> HttpResponse:
    app = _application(request, pk)
    form = f.ApplicationRejectForm(request.POST, prefix="reject")
    if form.is_valid():
        try:
            application_reject(
                actor=current_user(request), application=app, reason=form.cleaned_data["reason"]
            )
        except DomainError as exc:
            offered = APPLICATION.allowed(app.status, "reject")
            if (page := _refused(request, exc, form, None, offered=offered)) is not None:
                return page
            return _application_page(request, app, reject_form=form, status=exc.http_status)
        messages.success(request, f"Application {app.pk} is rejected.")
        return redirect("web:cb:application", pk=app.pk)
    return _application_page(request, app, reject_form=form, status=400)


def _staff_choices(cb: CertificationBody) -> tuple[list[tuple[int, str]], set[int]]:
    """The CB's active staff, one entry a person with their roles, and which of them are
    assessors."""
    people: dict[int, tuple[User, list[str]]] = {}
    assessors: set[int] = set()
    for staff in active_staff_of(cb):
        people.setdefault(staff.user_id, (staff.user, []))[1].append(staff.get_role_display())
        if staff.role == "assessor":
            assessors.add(staff.user_id)
    choices = [(pk, f"{user} ({', '.join(roles)})") for pk, (user, roles) in people.items()]
    return choices, assessors


@require_http_methods(["GET", "HEAD", "POST"])
@cb_page
def assessment_plan_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Plan the initial assessment of an accepted application, with its team."""
    user = current_user(request)
    app = _application(request, pk)
    if "scheme_manager" not in _roles(user, app.cb):
        return error_page(
            request,
            PermissionDenied(
                f"Only a scheme manager of {app.cb.code} may plan assessments.",
                code=PERMISSION_CB_ROLE_REQUIRED,
            ),
            title="Plan an assessment",
        )
    staff, assessors = _staff_choices(app.cb)
    form = f.AssessmentPlanForm(
        request.POST if request.method == "POST" else None, staff=staff, assessors=assessors
    )
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            members = {s.user_id: s.user for s in active_staff_of(app.cb)}
            try:
                assessment = assessment_plan(
                    actor=user,
                    kind=AssessmentKind.INITIAL,
                    application=app,
                    start_date=form.cleaned_data["start_date"],
                    end_date=form.cleaned_data["end_date"],
                    stage1_document_review=form.cleaned_data["stage1_document_review"],
                    team=[(members[uid], role) for uid, role in form.team_roles()],
                )
            except DomainError as exc:
                offered = app.status == ApplicationStatus.ACCEPTED
                if (page := _refused(request, exc, form, None, offered=offered)) is not None:
                    return page
                status = exc.http_status
            else:
                messages.success(request, "The assessment is planned.")
                return redirect("web:cb:assessment", pk=assessment.pk)
    return render(
        request,
        "web/cb/assessment_plan.html",
        {"app": app, "form": form, "section": SECTION},
        status=status,
    )


# --- an assessment: start, findings, report, corrective actions -----------------------------


def _assessment(request: HttpRequest, pk: int) -> Assessment:
    return get_object_or_404(assessments_for_cb_staff(current_user(request)), pk=pk)


def _declared_standards(a: Assessment) -> list[tuple[int, str]]:
    return declared_standards(a.application_id)


@dataclass(frozen=True)
class AnswerRow:
    """A corrective action on the assessment page: its evidence files, and the review form
    when the user may review it now."""

    corrective_action: CorrectiveAction
    files: list[EvidenceFile]
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
    return AnswerRow(ca, list(ca.evidence_files.all()), form)


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
    roles = _roles(user, a.cb)
    return render(
        request,
        "web/cb/assessment_detail.html",
        {
            "a": a,
            "team": team,
            "findings": rows,
            "may_start": my_role == TeamRole.LEAD and ASSESSMENT.allowed(a.status, "start"),
            "may_record": my_role is not None and in_progress,
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
    return _assessment_page(request, _assessment(request, pk))


@require_POST
@cb_page
def assessment_start_view(request: HttpRequest, pk: int) -> HttpResponse:
    a = _assessment(request, pk)
    try:
        assessment_start(actor=current_user(request), assessment=a)
    except DomainError as exc:
        return error_page(request, exc, title="Start the assessment")
    messages.success(request, "The assessment is in progress.")
    return redirect("web:cb:assessment", pk=a.pk)


@require_POST
@cb_page
def finding_record_view(request: HttpRequest, pk: int) -> HttpResponse:
    a = _assessment(request, pk)
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
            if (page := _refused(request, exc, form, None, offered=offered)) is not None:
                return page
            return _assessment_page(request, a, finding_form=form, status=exc.http_status)
        messages.success(request, "The finding is recorded.")
        return redirect(reverse("web:cb:assessment", kwargs={"pk": a.pk}) + "#findings")
    return _assessment_page(request, a, finding_form=form, status=400)


@require_POST
@cb_page
def assessment_report_view(request: HttpRequest, pk: int) -> HttpResponse:
    a = _assessment(request, pk)
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
            if (page := _refused(request, exc, form, None, offered=offered)) is not None:
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
            if (page := _refused(request, exc, form, None, offered=_reviewable(ca))) is not None:
                return page
            return _assessment_page(request, a, review_forms={ca.pk: form}, status=exc.http_status)
        messages.success(request, f"The corrective action for finding {ca.finding_id} is reviewed.")
        return redirect(reverse("web:cb:assessment", kwargs={"pk": a.pk}) + "#findings")
    return _assessment_page(request, a, review_forms={ca.pk: form}, status=400)


# --- the decision ---------------------------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@cb_page
def decision_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Every rule still blocking a grant on this initial assessment, then the grant."""
    user = current_user(request)
    a = _assessment(request, pk)
    if a.application is None or a.kind != AssessmentKind.INITIAL:
        return error_page(
            request,
            PermissionDenied(
                "A grant rests on the initial assessment of an application.",
                code=DECISION_WRONG_ASSESSMENT,
            ),
            title="Decision",
        )
    app = a.application
    form = f.GrantForm(request.POST if request.method == "POST" else None, prefix="grant")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                cert = certificate_grant(
                    actor=user,
                    application=app,
                    assessment=a,
                    decided_on=form.cleaned_data["decided_on"],
                    rationale=form.cleaned_data["rationale"],
                )
            except DomainError as exc:
                if (page := _refused(request, exc, form, None)) is not None:
                    return page
                status = exc.http_status
            else:
                if cert.status == CertificateStatus.DRAFT:
                    messages.success(
                        request,
                        f"Certification is granted: {cert.number}. The scheme has the "
                        "Secretariat review new certificates: it is published once approved.",
                    )
                else:
                    messages.success(request, f"Certification is granted: {cert.number}.")
                return redirect("web:cb:certificate", pk=cert.pk)
    on = (form.cleaned_data.get("decided_on") if form.is_bound and form.is_valid() else None) or (
        timezone.localdate()
    )
    blockers = grant_blockers(actor=user, application=app, assessment=a, on=on)
    return render(
        request,
        "web/cb/decision.html",
        {
            "a": a,
            "app": app,
            "on": on,
            "blockers": blockers,
            "form": form,
            "section": SECTION,
        },
        status=status,
    )


# --- a certificate: suspend, restore, withdraw; re-issue for a recorded change ---------------

#: The certificate actions this page takes: (form, label). Which of them it offers follows
#: from the certificate's status through ``lifecycle.CERTIFICATE``; a re-issue is offered the
#: same way, for a change the records show.
CERTIFICATE_ACTIONS: dict[str, tuple[type[forms.Form], str]] = {
    "suspend": (f.SuspendForm, "Suspend"),
    "restore": (f.RestoreForm, "Restore"),
    "withdraw": (f.WithdrawForm, "Withdraw"),
}

#: Each recorded change and the service that re-issues the certificate for it.
REISSUE_SERVICES: dict[str, Callable[..., Certificate]] = {
    "holder_renamed": certificate_holder_renamed,
    "site_renamed": certificate_site_renamed,
    "site_moved": certificate_site_moved,
    "standard_updated": certificate_standard_update,
}


def _certificate(request: HttpRequest, pk: int) -> Certificate:
    return get_object_or_404(certificates_for_cb_staff(current_user(request)), pk=pk)


def _certificate_page(
    request: HttpRequest,
    cert: Certificate,
    *,
    bound: tuple[str, forms.Form] | None = None,
    status: int = 200,
) -> HttpResponse:
    decider = "decision_maker" in _roles(current_user(request), cert.cb)
    actions = []
    for action in CERTIFICATE.actions_from(cert.status):
        if decider and action in CERTIFICATE_ACTIONS:
            form_class, label = CERTIFICATE_ACTIONS[action]
            form = bound[1] if bound and bound[0] == action else form_class(prefix=action)
            actions.append({"action": action, "label": label, "form": form})
    reissue = bound[1] if bound and bound[0] == "reissue" else None
    if reissue is None and decider and CERTIFICATE.allowed(cert.status, "reissue"):
        changes = certificate_recorded_changes(cert)
        if changes:
            reissue = f.ReissueForm(prefix="reissue", changes=[(c.key, c.label) for c in changes])
    reviews = publication_reviews_of(cert)
    resubmit = None
    if (
        decider
        and cert.status == CertificateStatus.DRAFT
        and reviews
        and reviews[0].status == PublicationReviewStatus.RETURNED
    ):
        resubmit = (
            bound[1] if bound and bound[0] == "resubmit" else f.ResubmitForm(prefix="resubmit")
        )
    with_status_today([cert])
    return render(
        request,
        "web/cb/certificate_detail.html",
        {
            "cert": cert,
            "issues": list(cert.issues.order_by("-issue_number")),
            "changes": list(cert.status_changes.order_by("-effective_on", "-id")),
            "actions": actions,
            "reissue": reissue,
            "reviews": reviews,
            "resubmit": resubmit,
            "section": SECTION,
        },
        status=status,
    )


@require_safe
@cb_page
def certificate_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _certificate_page(request, _certificate(request, pk))


def _status_call(action: str) -> Callable[..., Certificate]:
    calls: dict[str, Callable[..., Certificate]] = {
        "suspend": certificate_suspend,
        "restore": certificate_restore,
        "withdraw": certificate_withdraw,
    }
    return calls[action]


def _reissue_target(change: RecordedChange) -> dict[str, Any]:
    if change.site is not None:
        return {"site": change.site}
    if change.standard is not None:
        return {"standard": change.standard}
    return {}


@require_POST
@cb_page
def certificate_reissue_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Re-issue for one change the records show. The service checks it again under its lock
    and writes the new issue with what changed read from the two issues' snapshots."""
    cert = _certificate(request, pk)
    changes = {c.key: c for c in certificate_recorded_changes(cert)}
    form = f.ReissueForm(
        request.POST, prefix="reissue", changes=[(k, c.label) for k, c in changes.items()]
    )
    if form.is_valid():
        change = changes[form.cleaned_data["change"]]
        try:
            cert = REISSUE_SERVICES[change.kind](
                actor=current_user(request),
                certificate=cert,
                decided_on=form.cleaned_data["decided_on"] or timezone.localdate(),
                rationale=form.cleaned_data["rationale"],
                **_reissue_target(change),
            )
        except DomainError as exc:
            offered = CERTIFICATE.allowed(cert.status, "reissue")
            if (page := _refused(request, exc, form, None, offered=offered)) is not None:
                return page
            return _certificate_page(request, cert, bound=("reissue", form), status=exc.http_status)
        messages.success(request, f"{cert.number}: issue {cert.current_issue_number} made.")
        return redirect("web:cb:certificate", pk=cert.pk)
    return _certificate_page(request, cert, bound=("reissue", form), status=400)


@require_POST
@cb_page
def certificate_resubmit_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Submit a certificate the Secretariat returned for review again, with the answer."""
    cert = _certificate(request, pk)
    form = f.ResubmitForm(request.POST, prefix="resubmit")
    if form.is_valid():
        try:
            certificate_publication_resubmit(
                actor=current_user(request), certificate=cert, note=form.cleaned_data["note"]
            )
        except DomainError as exc:
            if (page := _refused(request, exc, form, None)) is not None:
                return page
            return _certificate_page(
                request, cert, bound=("resubmit", form), status=exc.http_status
            )
        messages.success(request, f"{cert.number} is submitted to the Secretariat again.")
        return redirect("web:cb:certificate", pk=cert.pk)
    return _certificate_page(request, cert, bound=("resubmit", form), status=400)


@require_POST
@cb_page
def certificate_action_view(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    cert = _certificate(request, pk)
    if action not in CERTIFICATE_ACTIONS:
        return error_page(
            request,
            DomainError("There is no such action on a certificate.", code=INVALID_ACTION),
        )
    form_class, label = CERTIFICATE_ACTIONS[action]
    form = form_class(request.POST, prefix=action)
    if form.is_valid():
        try:
            _status_call(action)(actor=current_user(request), certificate=cert, **form.cleaned_data)
        except DomainError as exc:
            offered = CERTIFICATE.allowed(cert.status, action)
            if (page := _refused(request, exc, form, None, offered=offered)) is not None:
                return page
            return _certificate_page(request, cert, bound=(action, form), status=exc.http_status)
        messages.success(request, f"{cert.number}: {label.lower()} recorded.")
        return redirect("web:cb:certificate", pk=cert.pk)
    return _certificate_page(request, cert, bound=(action, form), status=400)
