"""An application at the CB: accept or reject it, plan its initial assessment."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apcert.accounts.models import User
from apcert.applications.choices import ApplicationStatus
from apcert.applications.lifecycle import APPLICATION
from apcert.applications.models import Application
from apcert.applications.selectors import applications_for_cb_staff, scope_lines_of
from apcert.applications.services import application_accept, application_reject
from apcert.assessments.choices import AssessmentKind
from apcert.assessments.selectors import assessments_of_application
from apcert.assessments.services import assessment_plan, refuse_second_initial_assessment
from apcert.bodies.models import CertificationBody
from apcert.bodies.selectors import active_staff_of
from apcert.core.errors import PERMISSION_CB_ROLE_REQUIRED, DomainError, PermissionDenied
from apcert.web.errors import error_page
from apcert.web.section import current_user
from apcert.web.sections.cb import forms as f
from apcert.web.sections.cb.views.common import SECTION, cb_page, roles_at, show_refusal
from apcert.web.status_today import with_status_today

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
    roles = roles_at(current_user(request), app.cb)
    lines = list(scope_lines_of(app))
    assessments = list(assessments_of_application(app.pk))
    manager = "scheme_manager" in roles
    stop = _initial_plan_problem(app) if app.status == ApplicationStatus.ACCEPTED else None
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
            "may_plan": manager and app.status == ApplicationStatus.ACCEPTED and stop is None,
            "plan_stop": stop,
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
                page := show_refusal(request, exc, form, {"reason": "note"}, offered=offered)
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
            if (page := show_refusal(request, exc, form, None, offered=offered)) is not None:
                return page
            return _application_page(request, app, reject_form=form, status=exc.http_status)
        messages.success(request, f"Application {app.pk} is rejected.")
        return redirect("web:cb:application", pk=app.pk)
    return _application_page(request, app, reject_form=form, status=400)


def _initial_plan_problem(app: Application) -> DomainError | None:
    """Why the application's initial assessment may not be planned today, if it may not
    (the service's own check: one initial assessment to an application, none once it is
    decided on)."""
    try:
        refuse_second_initial_assessment(app, timezone.localdate())
    except DomainError as exc:
        return exc
    return None


def staff_choices(cb: CertificationBody) -> tuple[list[tuple[int, str]], set[int]]:
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
    if "scheme_manager" not in roles_at(user, app.cb):
        return error_page(
            request,
            PermissionDenied(
                f"Only a scheme manager of {app.cb.code} may plan assessments.",
                code=PERMISSION_CB_ROLE_REQUIRED,
            ),
            title="Plan an assessment",
        )
    # The page is not offered for a second initial assessment: it says why; a POST is
    # refused by the service, which checks again for the dates asked.
    stop = _initial_plan_problem(app)
    if stop is not None and request.method != "POST":
        return error_page(request, stop, title="Plan an assessment")
    staff, assessors = staff_choices(app.cb)
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
                offered = app.status == ApplicationStatus.ACCEPTED and stop is None
                if (page := show_refusal(request, exc, form, None, offered=offered)) is not None:
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
