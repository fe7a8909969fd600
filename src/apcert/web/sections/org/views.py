"""Pages of the organization section (/office/org/<organization>/...).

Every page reads its objects through the selectors of the domain apps, already limited to
what the viewer may see: an organization's users their own organization, the Secretariat
every one. Another organization's id in the address is a 404, as one that does not exist.
Actions are offered to the organization's users only; a forced one reaches the service, whose
refusal is shown (a 403 page for a missing right, the reason next to the field otherwise).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apcert.applications.choices import ApplicationStatus
from apcert.applications.lifecycle import APPLICATION
from apcert.applications.models import Application, ScopeLine
from apcert.applications.selectors import (
    application_draft_problems,
    application_history,
    application_problems,
    applications_for_organization_users,
    cbs_accepting,
    scope_line_problems,
)
from apcert.applications.services import (
    application_create,
    application_submit,
    application_withdraw,
    scope_line_add,
)
from apcert.assessments.choices import AssessmentKind, FindingGrade, FindingStatus
from apcert.assessments.errors import EVIDENCE_NO_ANSWER
from apcert.assessments.evidence import evidence_attach
from apcert.assessments.lifecycle import FINDING
from apcert.assessments.models import Assessment, Finding
from apcert.assessments.selectors import (
    assessment_reports_for_organization_users,
    finding_answers,
    findings_for_organization_users,
    latest_answer,
)
from apcert.assessments.services import corrective_action_submit
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate
from apcert.certificates.selectors import (
    application_decided,
    certificate_history,
    certificates_for_organization_users,
)
from apcert.core.errors import (
    INVALID,
    PERMISSION_ORGANIZATION_MEMBER_REQUIRED,
    DomainError,
    PermissionDenied,
    RuleViolation,
)
from apcert.core.permissions import is_secretariat
from apcert.organizations.models import Organization
from apcert.organizations.permissions import is_org_member, require_org_member
from apcert.organizations.selectors import organizations_for_organization_users, sites_of
from apcert.organizations.services import site_create
from apcert.web.assessment_reports import (
    readable_report,
    report_page_response,
    report_pdf_response,
)
from apcert.web.errors import add_form_error, error_page
from apcert.web.history import history_page
from apcert.web.lists import ChoiceFilter, Search, Sort, list_page
from apcert.web.section import current_user, section
from apcert.web.sections.org.forms import (
    ApplicationForm,
    CorrectiveActionForm,
    EvidenceForm,
    ScopeLineForm,
    SiteForm,
    WithdrawForm,
)
from apcert.web.status_today import with_status_today

NOT_AN_ORGANIZATION_USER = PermissionDenied(
    "This section is for the users of an organization that applies for or holds IECQ "
    "certificates. Ask your organization's administrator to invite you.",
    code=PERMISSION_ORGANIZATION_MEMBER_REQUIRED,
)


org_page = section("org")


def _organization(request: HttpRequest, org_id: int) -> Organization:
    return get_object_or_404(organizations_for_organization_users(current_user(request)), pk=org_id)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _context(request: HttpRequest, organization: Organization, tab: str, **extra: Any) -> dict:
    """What every page of the section shows: the organization, its tabs, and whether the
    viewer acts for it (only its users are offered its actions)."""
    return {
        "section": "org",
        "organization": organization,
        "tab": tab,
        "acts_for": is_org_member(current_user(request), organization),
        **extra,
    }


# --- the organizations and their profile --------------------------------------------------------


@require_safe
@org_page
def organization_list(request: HttpRequest) -> HttpResponse:
    """The organizations the user acts for (the Secretariat: all); straight to the one if
    there is only one."""
    user = current_user(request)
    organizations = organizations_for_organization_users(user)
    if not is_secretariat(user):
        mine = list(organizations[:2])
        if not mine:
            return error_page(request, NOT_AN_ORGANIZATION_USER, title="Organization")
        if len(mine) == 1:
            return redirect("web:org:profile", org_id=mine[0].pk)
    listing = list_page(
        request,
        organizations,
        sorts={
            "name": Sort("Legal name", ("legal_name",)),
            "country": Sort("Country", ("country", "legal_name")),
            "registered": Sort("Registered in apcert", ("created_at",)),
        },
        default_sort="name",
        search=Search("Legal name contains", ("legal_name__icontains",)),
    )
    return render(request, "web/org/organizations.html", {"listing": listing})


@require_safe
@org_page
def profile(request: HttpRequest, org_id: int) -> HttpResponse:
    """The organization's registration details and its sites."""
    organization = _organization(request, org_id)
    listing = list_page(
        request,
        sites_of(organization),
        sorts={
            "name": Sort("Name", ("name",)),
            "city": Sort("City", ("city", "name")),
            "country": Sort("Country", ("country", "city")),
        },
        default_sort="name",
        filters=[
            ChoiceFilter(
                "published",
                "published",
                [("1", "published"), ("0", "not published")],
                label="In the public register",
            )
        ],
    )
    context = _context(request, organization, "profile", listing=listing)
    context["may_add_site"] = context["acts_for"] or is_secretariat(current_user(request))
    return render(request, "web/org/profile.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@org_page
def site_new(request: HttpRequest, org_id: int) -> HttpResponse:
    """Add a site (any user of the organization, or the Secretariat: ``site_create``)."""
    user = current_user(request)
    organization = _organization(request, org_id)
    if request.method != "POST":
        if not (is_secretariat(user) or is_org_member(user, organization)):
            return error_page(request, NOT_AN_ORGANIZATION_USER, title="Add a site")
        return render(
            request,
            "web/org/site_new.html",
            _context(request, organization, "profile", form=SiteForm()),
        )
    form = SiteForm(request.POST)
    if form.is_valid():
        try:
            site = site_create(actor=user, organization=organization, **form.cleaned_data)
        except PermissionDenied as exc:
            return error_page(request, exc, title="Add a site")
        except DomainError as exc:
            add_form_error(form, exc)
        else:
            messages.success(request, f"The site {site} is added.")
            return redirect("web:org:profile", org_id=organization.pk)
    return render(
        request,
        "web/org/site_new.html",
        _context(request, organization, "profile", form=form),
        status=400,
    )


# --- applications -------------------------------------------------------------------------------


@require_safe
@org_page
def application_list(request: HttpRequest, org_id: int) -> HttpResponse:
    organization = _organization(request, org_id)
    listing = list_page(
        request,
        applications_for_organization_users(current_user(request)).filter(
            organization=organization
        ),
        sorts={
            "created": Sort("Started", ("created_at",)),
            "submitted": Sort("Submitted", ("submitted_at",)),
            "status": Sort("Status", ("status", "-created_at")),
            "cb": Sort("Certification body", ("cb__code", "-created_at")),
        },
        default_sort="-created",
        filters=[
            ChoiceFilter("status", "status", ApplicationStatus.choices, label="Status"),
        ],
    )
    return render(
        request,
        "web/org/applications.html",
        _context(request, organization, "applications", listing=listing),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@org_page
def application_new(request: HttpRequest, org_id: int) -> HttpResponse:
    """Start an application: the CB, the scheme and programmes, design, then scope lines on
    the application's page. Rules that the first answers already break are shown next to
    the answer, and no draft is started."""
    user = current_user(request)
    organization = _organization(request, org_id)
    try:
        require_org_member(user, organization)
    except PermissionDenied as exc:
        return error_page(request, exc, title="Apply for certification")
    today = timezone.localdate()
    cbs = cbs_accepting(on=today)
    form = ApplicationForm(request.POST if request.method == "POST" else None, cbs=cbs)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        programmes = list(data["programmes"])
        problems = application_draft_problems(
            cb=data["cb"],
            scheme=data["scheme"],
            programmes=programmes,
            requests_component_qualification=data["requests_component_qualification"],
            on=today,
        )
        for problem in problems:
            add_form_error(form, problem)
        if not problems:
            try:
                application = application_create(
                    actor=user,
                    organization=organization,
                    cb=data["cb"],
                    scheme=data["scheme"],
                    programmes=programmes,
                    design_claimed=data["design_claimed"],
                    requests_component_qualification=data["requests_component_qualification"],
                )
            except PermissionDenied as exc:
                return error_page(request, exc, title="Apply for certification")
            except DomainError as exc:
                add_form_error(form, exc)
            else:
                messages.success(
                    request,
                    f"Application {application.pk} to {application.cb.code} is started as a "
                    "draft. Declare its scope lines, then submit it.",
                )
                return redirect(
                    "web:org:application", org_id=organization.pk, app_id=application.pk
                )
    return render(
        request,
        "web/org/application_new.html",
        _context(request, organization, "applications", form=form),
        status=400 if form.is_bound else 200,
    )


def _application(request: HttpRequest, organization: Organization, app_id: int) -> Application:
    return get_object_or_404(
        applications_for_organization_users(current_user(request))
        .filter(organization=organization)
        .prefetch_related("programmes"),
        pk=app_id,
    )


def _scope_context(
    request: HttpRequest,
    organization: Organization,
    application: Application,
    *,
    scope_form: ScopeLineForm | None = None,
    added: ScopeLine | None = None,
) -> dict[str, Any]:
    """The application's scope lines, the rules still unmet, and the form for another line."""
    draft = application.status == ApplicationStatus.DRAFT
    acts_for = is_org_member(current_user(request), organization)
    lines = list(
        application.scope_lines.select_related("category", "site").prefetch_related("standards")
    )
    refusal = ""
    if scope_form is not None and scope_form.errors and not (draft and acts_for):
        # A forced line on an application that takes none: the reason, as a notice.
        refusal = " ".join(str(e) for errors in scope_form.errors.values() for e in errors)
    if draft and acts_for and scope_form is None:
        scope_form = ScopeLineForm(sites=sites_of(organization))
    return {
        "application": application,
        "lines": lines,
        "problems": application_problems(application, timezone.localdate()) if draft else [],
        "scope_form": scope_form if draft and acts_for else None,
        "scope_refusal": refusal,
        "added": added,
        "acts_for": acts_for,
    }


def _application_page(
    request: HttpRequest,
    organization: Organization,
    application: Application,
    *,
    status: int = 200,
    **extra: Any,
) -> HttpResponse:
    scope = _scope_context(
        request,
        organization,
        application,
        scope_form=extra.pop("scope_form", None),
    )
    withdrawable = (
        scope["acts_for"]
        # Withdrawal as the application's lifecycle allows it, and only until a decision.
        and APPLICATION.allowed(application.status, "withdraw")
        and not (
            application.status == ApplicationStatus.ACCEPTED and application_decided(application)
        )
    )
    context = _context(
        request,
        organization,
        "applications",
        assessments=list(application.assessments.select_related("cb").order_by("start_date")),
        withdraw_form=extra.pop("withdraw_form", None)
        or (WithdrawForm() if withdrawable else None),
        **scope,
        **extra,
    )
    return render(request, "web/org/application.html", context, status=status)


@require_safe
@org_page
def application_detail(request: HttpRequest, org_id: int, app_id: int) -> HttpResponse:
    """An application's status, its scope lines and the CB's answers; on a draft, the rules
    still to meet and the form for another scope line."""
    organization = _organization(request, org_id)
    return _application_page(request, organization, _application(request, organization, app_id))


@require_POST
@org_page
def scope_line_new(request: HttpRequest, org_id: int, app_id: int) -> HttpResponse:
    """Add a scope line. With htmx the scope section is re-rendered in place; without, the
    page is reloaded."""
    user = current_user(request)
    organization = _organization(request, org_id)
    application = _application(request, organization, app_id)
    try:
        require_org_member(user, organization)
    except PermissionDenied as exc:
        return error_page(request, exc, title="Add a scope line")
    form = ScopeLineForm(request.POST, sites=sites_of(organization))
    added: ScopeLine | None = None
    if form.is_valid():
        data = form.cleaned_data
        standards = list(data["standards"])
        problems = []
        if data["site"].organization_id == organization.pk:
            problems = scope_line_problems(
                application=application,
                category=data["category"],
                site=data["site"],
                standards=standards,
                on=timezone.localdate(),
            )
        for problem in problems:
            add_form_error(form, problem)
        if not problems:
            try:
                added = scope_line_add(
                    actor=user,
                    application=application,
                    category=data["category"],
                    site=data["site"],
                    wording=data["wording"],
                    standards=standards,
                )
            except PermissionDenied as exc:
                return error_page(request, exc, title="Add a scope line")
            except DomainError as exc:
                add_form_error(form, exc)
    if _is_htmx(request):
        # htmx swaps in 2xx answers only: the refused form comes back as a 200 with its errors.
        context = _scope_context(
            request,
            organization,
            application,
            scope_form=None if added else form,
            added=added,
        )
        return render(request, "web/org/_scope.html", {"organization": organization, **context})
    if added is not None:
        messages.success(request, f"Scope line {added.category.code} at {added.site.name} added.")
        url = reverse("web:org:application", args=[organization.pk, application.pk])
        return redirect(f"{url}#scope")
    return _application_page(request, organization, application, scope_form=form, status=400)


@require_POST
@org_page
def application_submit_view(request: HttpRequest, org_id: int, app_id: int) -> HttpResponse:
    """Submit the application to the CB; every rule of the scheme is checked."""
    organization = _organization(request, org_id)
    application = _application(request, organization, app_id)
    try:
        application_submit(actor=current_user(request), application=application)
    except PermissionDenied as exc:
        return error_page(request, exc, title="Submit the application")
    except DomainError as exc:
        return _application_page(
            request,
            organization,
            _application(request, organization, app_id),
            submit_error=exc,
            status=exc.http_status,
        )
    messages.success(
        request,
        f"Application {application.pk} is submitted to {application.cb.code}, which will "
        "accept or reject it.",
    )
    return redirect("web:org:application", org_id=organization.pk, app_id=application.pk)


@require_POST
@org_page
def application_withdraw_view(request: HttpRequest, org_id: int, app_id: int) -> HttpResponse:
    """Withdraw the application (until a certification decision is taken on it)."""
    organization = _organization(request, org_id)
    application = _application(request, organization, app_id)
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            application_withdraw(
                actor=current_user(request),
                application=application,
                reason=form.cleaned_data["reason"],
            )
        except PermissionDenied as exc:
            return error_page(request, exc, title="Withdraw the application")
        except DomainError as exc:
            return _application_page(
                request,
                organization,
                _application(request, organization, app_id),
                withdraw_error=exc,
                status=exc.http_status,
            )
        messages.success(request, f"Application {application.pk} is withdrawn.")
        return redirect("web:org:application", org_id=organization.pk, app_id=application.pk)
    return _application_page(request, organization, application, withdraw_form=form, status=400)


# --- findings -----------------------------------------------------------------------------------


@require_safe
@org_page
def finding_list(request: HttpRequest, org_id: int) -> HttpResponse:
    """The findings of the organization's assessments, those waiting on an answer first."""
    organization = _organization(request, org_id)
    listing = list_page(
        request,
        findings_for_organization_users(current_user(request), organization_id=organization.pk),
        sorts={
            "due": Sort("Due date", ("due_date",)),
            "raised": Sort("Raised on", ("raised_on",)),
            "grade": Sort("Grade", ("grade", "due_date")),
            "status": Sort("Status", ("status", "due_date")),
        },
        default_sort="due",
        filters=[
            ChoiceFilter("status", "status", FindingStatus.choices, label="Status"),
            ChoiceFilter("grade", "grade", FindingGrade.choices, label="Grade"),
        ],
    )
    return render(
        request,
        "web/org/findings.html",
        _context(request, organization, "findings", listing=listing),
    )


def _finding(request: HttpRequest, organization: Organization, finding_id: int) -> Finding:
    return get_object_or_404(
        findings_for_organization_users(current_user(request), organization_id=organization.pk),
        pk=finding_id,
    )


_TAKES_EVIDENCE = (FindingStatus.ANSWERED, FindingStatus.PLAN_ACCEPTED)


def _finding_page(
    request: HttpRequest,
    organization: Organization,
    finding: Finding,
    *,
    answer_form: CorrectiveActionForm | None = None,
    evidence_form: EvidenceForm | None = None,
    refusal: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    answers = list(finding_answers(finding))
    context = _context(
        request, organization, "findings", finding=finding, answers=answers, refusal=refusal
    )
    acts_for = context["acts_for"]
    if acts_for and FINDING.allowed(finding.status, "answer"):
        context["answer_form"] = answer_form or CorrectiveActionForm()
    if acts_for and answers and finding.status in _TAKES_EVIDENCE:
        context["evidence_form"] = evidence_form or EvidenceForm()
    for form, shown in ((answer_form, "answer_form"), (evidence_form, "evidence_form")):
        # A forced request to a form the page no longer offers: its errors become the notice.
        if form is not None and form.errors and shown not in context and refusal is None:
            errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
            context["refusal"] = DomainError(" ".join(errors), code=INVALID)
    return render(request, "web/org/finding.html", context, status=status)


@require_safe
@org_page
def finding_detail(request: HttpRequest, org_id: int, finding_id: int) -> HttpResponse:
    """A finding, the answers given and the assessor's reviews, and the forms to answer it
    (while open) and to attach evidence to the latest answer (while it waits on it)."""
    organization = _organization(request, org_id)
    return _finding_page(request, organization, _finding(request, organization, finding_id))


@require_POST
@org_page
def finding_answer(request: HttpRequest, org_id: int, finding_id: int) -> HttpResponse:
    """Answer a nonconformity: correction, root cause, action (``corrective_action_submit``)."""
    organization = _organization(request, org_id)
    finding = _finding(request, organization, finding_id)
    form = CorrectiveActionForm(request.POST)
    refusal: DomainError | None = None
    status = 400
    if form.is_valid():
        try:
            corrective_action_submit(
                actor=current_user(request), finding=finding, **form.cleaned_data
            )
        except PermissionDenied as exc:
            return error_page(request, exc, title="Answer the finding")
        except DomainError as exc:
            status = exc.http_status
            if exc.field:
                add_form_error(form, exc)
            else:
                refusal = exc
        else:
            messages.success(
                request,
                "Your answer is sent to the assessment team. You can attach evidence files "
                "to it now.",
            )
            return redirect("web:org:finding", org_id=organization.pk, finding_id=finding.pk)
    return _finding_page(
        request, organization, finding, answer_form=form, refusal=refusal, status=status
    )


@require_POST
@org_page
def evidence_upload(request: HttpRequest, org_id: int, finding_id: int) -> HttpResponse:
    """Attach an evidence file to the latest answer to the finding (``evidence_attach``)."""
    organization = _organization(request, org_id)
    finding = _finding(request, organization, finding_id)
    form = EvidenceForm(request.POST, request.FILES)
    refusal: DomainError | None = None
    status = 400
    if form.is_valid():
        latest = latest_answer(finding)
        try:
            if latest is None:
                raise RuleViolation(
                    "Answer the finding first: evidence is attached to an answer.",
                    code=EVIDENCE_NO_ANSWER,
                )
            evidence = evidence_attach(
                actor=current_user(request),
                corrective_action=latest,
                upload=form.cleaned_data["file"],
            )
        except PermissionDenied as exc:
            return error_page(request, exc, title="Attach evidence")
        except DomainError as exc:
            status = exc.http_status
            if exc.field:
                add_form_error(form, exc)
            else:
                refusal = exc
        else:
            messages.success(request, f"{evidence.name} is attached to your answer.")
            return redirect("web:org:finding", org_id=organization.pk, finding_id=finding.pk)
    return _finding_page(
        request, organization, finding, evidence_form=form, refusal=refusal, status=status
    )


# --- assessment reports -------------------------------------------------------------------------


@require_safe
@org_page
def assessment_report_list(request: HttpRequest, org_id: int) -> HttpResponse:
    """The reports of the organization's assessments, each from the day it is issued."""
    organization = _organization(request, org_id)
    listing = list_page(
        request,
        assessment_reports_for_organization_users(current_user(request), organization),
        sorts={
            "issued": Sort("Report issued", ("report_issued_on", "pk")),
            "assessed": Sort("Assessment dates", ("start_date", "pk")),
        },
        default_sort="-issued",
        filters=[ChoiceFilter("kind", "kind", AssessmentKind.choices, label="Kind of assessment")],
    )
    return render(
        request,
        "web/org/assessment_reports.html",
        _context(request, organization, "reports", listing=listing),
    )


def _report(request: HttpRequest, org_id: int, pk: int) -> Assessment:
    """An issued report of the organization's, if the user may read it; a 404 otherwise."""
    user = current_user(request)
    reports = assessment_reports_for_organization_users(user, _organization(request, org_id))
    return readable_report(user, get_object_or_404(reports, pk=pk))


@require_safe
@org_page
def assessment_report_page(request: HttpRequest, org_id: int, pk: int) -> HttpResponse:
    a = _report(request, org_id, pk)
    return report_page_response(
        request,
        a,
        pdf_url=reverse("web:org:assessment-report-pdf", args=[org_id, a.pk]) + "?download=1",
        back_url=reverse("web:org:assessment-reports", args=[org_id]),
    )


@require_safe
@org_page
def assessment_report_pdf(request: HttpRequest, org_id: int, pk: int) -> HttpResponse:
    return report_pdf_response(request, _report(request, org_id, pk))


# --- certificates -------------------------------------------------------------------------------


@require_safe
@org_page
def certificate_list(request: HttpRequest, org_id: int) -> HttpResponse:
    organization = _organization(request, org_id)
    listing = list_page(
        request,
        certificates_for_organization_users(current_user(request)).filter(
            organization=organization
        ),
        sorts={
            "number": Sort("Number", ("number",)),
            "status": Sort("Status", ("status", "number")),
            "expires": Sort("Expiry", ("expires_on",)),
        },
        default_sort="number",
        filters=[ChoiceFilter("status", "status", CertificateStatus.choices, label="Status")],
    )
    with_status_today(listing.page.object_list)
    return render(
        request,
        "web/org/certificates.html",
        _context(request, organization, "certificates", listing=listing),
    )


@require_safe
@org_page
def certificate_detail(request: HttpRequest, org_id: int, cert_id: int) -> HttpResponse:
    """A certificate's status and its history, its issues, and its public register page."""
    organization = _organization(request, org_id)
    certificate: Certificate = get_object_or_404(
        certificates_for_organization_users(current_user(request)).filter(
            organization=organization
        ),
        pk=cert_id,
    )
    with_status_today([certificate])
    return render(
        request,
        "web/org/certificate.html",
        _context(
            request,
            organization,
            "certificates",
            certificate=certificate,
            issues=list(certificate.issues.order_by("-issue_number")),
            status_changes=list(certificate.status_changes.order_by("-effective_on", "-id")),
            public=certificate.status != CertificateStatus.DRAFT,
        ),
    )


# --- a record's history ----------------------------------------------------------------------


@require_safe
@org_page
def application_history_view(request: HttpRequest, org_id: int, app_id: int) -> HttpResponse:
    """Every audited change of an application, who made it and what it changed."""
    organization = _organization(request, org_id)
    application = _application(request, organization, app_id)
    return render(
        request,
        "web/_history.html",
        _context(
            request,
            organization,
            "applications",
            nav="web/org/_tabs.html",
            heading=f"History of application {application.pk}",
            back_url=reverse("web:org:application", args=[organization.pk, application.pk]),
            back_label=f"Application {application.pk}",
            record_type=Application._meta.label_lower,
            page=history_page(request, application_history(application)),
        ),
    )


@require_safe
@org_page
def certificate_history_view(request: HttpRequest, org_id: int, cert_id: int) -> HttpResponse:
    """Every audited change of a certificate: its decision, issues and status changes."""
    organization = _organization(request, org_id)
    certificate: Certificate = get_object_or_404(
        certificates_for_organization_users(current_user(request)).filter(
            organization=organization
        ),
        pk=cert_id,
    )
    return render(
        request,
        "web/_history.html",
        _context(
            request,
            organization,
            "certificates",
            nav="web/org/_tabs.html",
            heading=f"History of {certificate.number}",
            back_url=reverse("web:org:certificate", args=[organization.pk, certificate.pk]),
            back_label=certificate.number,
            record_type=Certificate._meta.label_lower,
            page=history_page(request, certificate_history(certificate)),
        ),
    )
