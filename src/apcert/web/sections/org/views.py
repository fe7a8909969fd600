"""Pages of the organization section (/office/org/<organization>/...).

Every page reads its objects through the selectors of the domain apps, already limited to
what the viewer may see: an organization's users their own organization, the Secretariat
every one. Another organization's id in the address is a 404, as one that does not exist.
Actions are offered to the organization's users only; a forced one reaches the service, whose
refusal is shown (a 403 page for a missing right, the reason next to the field otherwise).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from apcert.applications.choices import ApplicationStatus
from apcert.applications.errors import APPLICATION_NOT_DRAFT
from apcert.applications.lifecycle import APPLICATION
from apcert.applications.models import Application, ScopeLine
from apcert.applications.selectors import (
    application_draft_problems,
    application_history,
    application_problems,
    applications_for_organization_users,
    scope_line_problems,
)
from apcert.applications.services import (
    application_create,
    application_submit,
    application_withdraw,
    scope_line_add,
    scope_line_remove,
    scope_line_update,
)
from apcert.assessments.choices import (
    AssessmentKind,
    CorrectiveActionStatus,
    FindingGrade,
    FindingStatus,
)
from apcert.assessments.errors import EVIDENCE_NO_ANSWER
from apcert.assessments.evidence import evidence_attach, evidence_remove, evidence_visible
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
from apcert.web.chooser import answers_kept, query_of, wants_matches
from apcert.web.columns import certificate_columns
from apcert.web.errors import add_form_error, error_page
from apcert.web.exports import export_response
from apcert.web.history import history_page
from apcert.web.lists import (
    ChoiceFilter,
    Column,
    DateRange,
    Search,
    Sort,
    TextFilter,
    country_code,
    list_page,
)
from apcert.web.section import current_user, section
from apcert.web.sections.account.choosers import cb_chooser
from apcert.web.sections.org.forms import (
    ApplicationForm,
    CorrectiveActionForm,
    EvidenceForm,
    EvidenceRemoveForm,
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


ORGANIZATION_COLUMNS = (
    Column("Legal name", lambda o: o.legal_name),
    Column("Country", lambda o: o.country),
    Column("Registration number", lambda o: o.registration_number),
    Column("Registered with", lambda o: o.registration_authority),
    Column("Registered in apcert (UTC)", lambda o: o.created_at),
)


@require_safe
@org_page
def organization_list(request: HttpRequest) -> HttpResponseBase:
    """The organizations the user acts for (the Secretariat: all); straight to the one if
    there is only one. Search by name or registration number, filter by country and date
    registered, sort, page, export."""
    user = current_user(request)
    organizations = organizations_for_organization_users(user)
    if not is_secretariat(user):
        mine = list(organizations[:2])
        if not mine:
            return error_page(
                request, NOT_AN_ORGANIZATION_USER, title="Organization", to_section=False
            )
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
        search=Search(
            "Legal name or registration number",
            ("legal_name__icontains", "registration_number__icontains"),
        ),
        text_filters=[
            TextFilter(
                "country",
                "country",
                "Country",
                clean=country_code,
                hint="Two letters, e.g. DE.",
                size=4,
            )
        ],
        date_ranges=[DateRange("registered", "created_at__date", "Registered in apcert")],
        exportable=True,
    )
    if listing.export:
        return export_response(
            listing, ORGANIZATION_COLUMNS, name="organizations", title="Organizations"
        )
    return render(request, "web/org/organizations.html", {"listing": listing})


SITE_COLUMNS = (
    Column("Name", lambda s: s.name),
    Column("Address", lambda s: s.address),
    Column("City", lambda s: s.city),
    Column("Country", lambda s: s.country),
    Column("In the public register", lambda s: s.published),
)


@require_safe
@org_page
def profile(request: HttpRequest, org_id: int) -> HttpResponseBase:
    """The organization's registration details and its sites: search by name, city or
    address, filter by country and publication, sort, page, export."""
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
        search=Search(
            "Name, city or address",
            ("name__icontains", "city__icontains", "address__icontains"),
        ),
        filters=[
            ChoiceFilter(
                "published",
                "published",
                [("1", "published"), ("0", "not published")],
                label="In the public register",
            )
        ],
        text_filters=[
            TextFilter(
                "country",
                "country",
                "Country",
                clean=country_code,
                hint="Two letters, e.g. DE.",
                size=4,
            )
        ],
        exportable=True,
    )
    if listing.export:
        return export_response(listing, SITE_COLUMNS, name="sites", title="Sites")
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
            return error_page(
                request, NOT_AN_ORGANIZATION_USER, title="Add a site", to_section=False
            )
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


ORG_APPLICATION_COLUMNS = (
    Column("Application", lambda a: a.pk),
    Column("Certification body", lambda a: a.cb.code),
    Column("Certification body name", lambda a: a.cb.name),
    Column("Scheme", lambda a: a.scheme.code),
    Column("Status", lambda a: a.get_status_display()),
    Column("Design claimed", lambda a: a.design_claimed),
    Column("Started (UTC)", lambda a: a.created_at),
    Column("Submitted (UTC)", lambda a: a.submitted_at),
)


@require_safe
@org_page
def application_list(request: HttpRequest, org_id: int) -> HttpResponseBase:
    """The organization's applications: search by CB or number, filter by status, CB and
    date started, sort, page, export."""
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
        search=Search(
            "Certification body or application number",
            ("cb__code__icontains", "cb__name__icontains"),
            numbers=("pk",),
        ),
        filters=[
            ChoiceFilter("status", "status", ApplicationStatus.choices, label="Status"),
        ],
        date_ranges=[DateRange("started", "created_at__date", "Started")],
        exportable=True,
    )
    if listing.export:
        return export_response(
            listing, ORG_APPLICATION_COLUMNS, name="applications", title="Applications"
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
    form = ApplicationForm(request.POST if request.method == "POST" else None)
    query = query_of(request.POST, "cb")
    if wants_matches(request, "cb"):
        kept = ApplicationForm(initial=answers_kept(form))
        return _application_form(request, organization, kept, query=query, on=today)
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
    return _application_form(
        request, organization, form, query=query, on=today, status=400 if form.is_bound else 200
    )


def _application_form(
    request: HttpRequest,
    organization: Organization,
    form: ApplicationForm,
    *,
    query: str,
    on: dt.date,
    status: int = 200,
) -> HttpResponse:
    value = form["cb"].value()
    chooser = cb_chooser(on=on, query=query, selected="" if value is None else str(value))
    return render(
        request,
        "web/org/application_new.html",
        _context(request, organization, "applications", form=form, chooser=chooser),
        status=status,
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
        # Each line may be changed or removed while the application is a draft.
        "may_change_lines": draft and acts_for,
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
    if extra.get("scope_refusal"):
        scope["scope_refusal"] = extra.pop("scope_refusal")
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


def _scope_line(application: Application, line_id: int) -> ScopeLine:
    return get_object_or_404(
        application.scope_lines.select_related("category", "site").prefetch_related("standards"),
        pk=line_id,
    )


def _scope_line_edit_page(
    request: HttpRequest,
    organization: Organization,
    application: Application,
    line: ScopeLine,
    form: ScopeLineForm | None,
    *,
    refusal: DomainError | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "web/org/scope_line_edit.html",
        _context(
            request,
            organization,
            "applications",
            application=application,
            line=line,
            form=form,
            refusal=refusal,
        ),
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@org_page
def scope_line_edit(request: HttpRequest, org_id: int, app_id: int, line_id: int) -> HttpResponse:
    """Change a scope line of a draft application (``scope_line_update``), in a form
    prefilled with the line as it is."""
    user = current_user(request)
    organization = _organization(request, org_id)
    application = _application(request, organization, app_id)
    line = _scope_line(application, line_id)
    try:
        require_org_member(user, organization)
    except PermissionDenied as exc:
        return error_page(request, exc, title="Change a scope line")
    sites = sites_of(organization)
    if request.method != "POST":
        if application.status != ApplicationStatus.DRAFT:
            # Nothing to change: the reason, as the service gives it to a forced change.
            return _scope_line_edit_page(
                request,
                organization,
                application,
                line,
                None,
                refusal=RuleViolation(
                    "Only a draft application's scope can be changed.", code=APPLICATION_NOT_DRAFT
                ),
                status=409,
            )
        form = ScopeLineForm(
            sites=sites,
            initial={
                "category": line.category_id,
                "site": line.site_id,
                "wording": line.wording,
                "standards": [s.pk for s in line.standards.all()],
            },
        )
        return _scope_line_edit_page(request, organization, application, line, form)
    form = ScopeLineForm(request.POST, sites=sites)
    if not form.is_valid():
        return _scope_line_edit_page(request, organization, application, line, form, status=400)
    data = form.cleaned_data
    try:
        scope_line_update(
            actor=user,
            scope_line=line,
            category=data["category"],
            site=data["site"],
            wording=data["wording"],
            standards=list(data["standards"]),
        )
    except PermissionDenied as exc:
        return error_page(request, exc, title="Change a scope line")
    except DomainError as exc:
        refusal = None
        if exc.field:
            add_form_error(form, exc)
        else:
            refusal = exc
        return _scope_line_edit_page(
            request,
            organization,
            application,
            line,
            form if application.status == ApplicationStatus.DRAFT else None,
            refusal=refusal,
            status=exc.http_status,
        )
    messages.success(request, f"Scope line {data['category'].code} at {data['site'].name} changed.")
    url = reverse("web:org:application", args=[organization.pk, application.pk])
    return redirect(f"{url}#scope")


@require_POST
@org_page
def scope_line_remove_view(
    request: HttpRequest, org_id: int, app_id: int, line_id: int
) -> HttpResponse:
    """Take a line out of a draft application's scope (``scope_line_remove``), once
    confirmed on the application's page."""
    user = current_user(request)
    organization = _organization(request, org_id)
    application = _application(request, organization, app_id)
    line = _scope_line(application, line_id)
    label = f"{line.category.code} at {line.site.name}"
    try:
        scope_line_remove(actor=user, scope_line=line)
    except PermissionDenied as exc:
        return error_page(request, exc, title="Remove a scope line")
    except DomainError as exc:
        return _application_page(
            request,
            organization,
            _application(request, organization, app_id),
            scope_refusal=exc.message,
            status=exc.http_status,
        )
    messages.success(request, f"Scope line {label} removed.")
    url = reverse("web:org:application", args=[organization.pk, application.pk])
    return redirect(f"{url}#scope")


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


FINDING_COLUMNS = (
    Column("Finding", lambda f: f.number),
    Column("Grade", lambda f: f.get_grade_display()),
    Column("Requirement", lambda f: f.requirement_ref),
    Column("Description", lambda f: f.description),
    Column("Assessment", lambda f: f.assessment.get_kind_display()),
    Column("Certification body", lambda f: f.assessment.cb.code),
    Column("Assessment first day", lambda f: f.assessment.start_date),
    Column("Status", lambda f: f.get_status_display()),
    Column("Raised on", lambda f: f.raised_on),
    Column("Due", lambda f: f.due_date),
    Column("Closed on", lambda f: f.closed_on),
)


@require_safe
@org_page
def finding_list(request: HttpRequest, org_id: int) -> HttpResponseBase:
    """The findings of the organization's assessments, those waiting on an answer first:
    search by requirement or description, filter by status, grade and due date, sort,
    page, export."""
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
        search=Search(
            "Requirement, description or finding number",
            ("requirement_ref__icontains", "description__icontains"),
            numbers=("number",),
        ),
        filters=[
            ChoiceFilter("status", "status", FindingStatus.choices, label="Status"),
            ChoiceFilter("grade", "grade", FindingGrade.choices, label="Grade"),
        ],
        date_ranges=[DateRange("due", "due_date", "Due")],
        exportable=True,
    )
    if listing.export:
        return export_response(listing, FINDING_COLUMNS, name="findings", title="Findings")
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
    remove_form: EvidenceRemoveForm | None = None,
    remove_pk: int | None = None,
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
    # The files the viewer uploaded to an answer still awaiting review: each may be removed.
    user = current_user(request)
    # Each gets its own form (its own field ids), the refused one back with its errors.
    for ca in answers:
        if not (acts_for and ca.status == CorrectiveActionStatus.SUBMITTED):
            continue
        for ev in ca.evidence_files.all():
            if ev.uploaded_by_id == user.pk:
                given = remove_form if ev.pk == remove_pk else None
                ev.remove_form = given or EvidenceRemoveForm(  # type: ignore[attr-defined]
                    prefix=f"remove-{ev.pk}"
                )
    context["remove_pk"] = remove_pk
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


@require_POST
@org_page
def evidence_remove_view(
    request: HttpRequest, org_id: int, finding_id: int, evidence_id: int
) -> HttpResponse:
    """Take back an evidence file the viewer uploaded, saying why (``evidence_remove``):
    while the answer awaits review. The file is kept for the record, marked removed."""
    organization = _organization(request, org_id)
    finding = _finding(request, organization, finding_id)
    evidence = get_object_or_404(
        evidence_visible(actor=current_user(request)).filter(corrective_action__finding=finding),
        pk=evidence_id,
    )
    form = EvidenceRemoveForm(request.POST, prefix=f"remove-{evidence.pk}")
    refusal: DomainError | None = None
    status = 400
    if form.is_valid():
        try:
            evidence_remove(
                actor=current_user(request), evidence=evidence, reason=form.cleaned_data["reason"]
            )
        except PermissionDenied as exc:
            return error_page(request, exc, title="Remove an evidence file")
        except DomainError as exc:
            status = exc.http_status
            if exc.field:
                add_form_error(form, exc)
            else:
                refusal = exc
        else:
            messages.success(request, f"{evidence.name} is removed from your answer.")
            return redirect("web:org:finding", org_id=organization.pk, finding_id=finding.pk)
    return _finding_page(
        request,
        organization,
        finding,
        remove_form=form if refusal is None else None,
        remove_pk=evidence.pk,
        refusal=refusal,
        status=status,
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
def certificate_list(request: HttpRequest, org_id: int) -> HttpResponseBase:
    """The organization's certificates: search by number, filter by status and expiry,
    sort, page, export."""
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
        search=Search("Number contains", ("number__icontains",)),
        filters=[ChoiceFilter("status", "status", CertificateStatus.choices, label="Status")],
        date_ranges=[DateRange("expires", "expires_on", "Expires")],
        exportable=True,
    )
    if listing.export:
        return export_response(
            listing,
            certificate_columns(),
            name="certificates",
            title="Certificates",
            prepare=with_status_today,
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
