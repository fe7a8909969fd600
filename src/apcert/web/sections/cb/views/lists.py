"""The CB's lists: applications, assessments and certificates.

Each list searches, filters, sorts and pages what its selector lets the user see, and
exports the same rows as CSV or XLSX (``?export=``). The assessments list has tabs: all
the CB's, those the user is on the team of, and those awaiting the user's decision.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apcert.accounts.models import User
from apcert.applications.choices import ApplicationStatus
from apcert.applications.selectors import applications_for_cb_staff
from apcert.assessments.choices import AssessmentKind, AssessmentStatus
from apcert.assessments.models import Assessment
from apcert.assessments.selectors import (
    assessments_for_cb_staff,
    assessments_on_team_of,
    assessments_with_team,
    team_places_of,
)
from apcert.bodies.choices import CBRole
from apcert.bodies.selectors import cb_codes_for_secretariat, cb_roles_held
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.selectors import (
    assessments_awaiting_decision_by,
    certificates_for_cb_staff,
)
from apcert.core.permissions import is_secretariat
from apcert.organizations.models import Organization
from apcert.web.columns import certificate_columns
from apcert.web.exports import export_response
from apcert.web.lists import (
    ChoiceFilter,
    Column,
    DateRange,
    Search,
    Sort,
    Tab,
    TextFilter,
    chosen_tab,
    country_code,
    list_page,
)
from apcert.web.section import current_user
from apcert.web.sections.cb.views.common import SECTION, cb_section
from apcert.web.status_today import with_status_today

COUNTRY_FILTER = TextFilter(
    "country",
    "organization__country",
    "Holder's country",
    clean=country_code,
    hint="Two letters, e.g. DE.",
    size=4,
)


def cb_filter(user: User, lookup: str = "cb__code") -> list[ChoiceFilter]:
    """A filter by CB for those who see more than one (staff of several CBs, the
    Secretariat); none for the staff of one CB."""
    codes = cb_codes_for_secretariat(user) if is_secretariat(user) else list(cb_roles_held(user))
    if len(codes) < 2:
        return []
    return [ChoiceFilter("cb", lookup, [(c, c) for c in codes], "Certification body")]


# --- applications --------------------------------------------------------------------------

APPLICATION_SORTS = {
    "submitted": Sort("Submitted", ("submitted_at",)),
    "started": Sort("Started", ("created_at",)),
    "organization": Sort("Organization", ("organization__legal_name",)),
    "status": Sort("Status", ("status", "-submitted_at")),
    "number": Sort("Application number", ("pk",)),
}

APPLICATION_COLUMNS = (
    Column("Application", lambda a: a.pk),
    Column("Organization", lambda a: a.organization.legal_name),
    Column("Country", lambda a: a.organization.country),
    Column("Registration number", lambda a: a.organization.registration_number),
    Column("Certification body", lambda a: a.cb.code),
    Column("Scheme", lambda a: a.scheme.code),
    Column("Status", lambda a: a.get_status_display()),
    Column("Design claimed", lambda a: a.design_claimed),
    Column("Started (UTC)", lambda a: a.created_at),
    Column("Submitted (UTC)", lambda a: a.submitted_at),
)


@require_safe
@cb_section
def application_list(request: HttpRequest) -> HttpResponseBase:
    """The applications made to the user's CB: search by organization or number, filter by
    status and submission date, sort, page, export."""
    user = current_user(request)
    listing = list_page(
        request,
        applications_for_cb_staff(user),
        sorts=APPLICATION_SORTS,
        default_sort="-submitted",
        search=Search(
            "Organization, registration or application number",
            ("organization__legal_name__icontains", "organization__registration_number__icontains"),
            numbers=("pk",),
        ),
        filters=[
            ChoiceFilter("status", "status", ApplicationStatus.choices, "Status"),
            *cb_filter(user),
        ],
        text_filters=[COUNTRY_FILTER],
        date_ranges=[DateRange("submitted", "submitted_at__date", "Submitted")],
        exportable=True,
    )
    if listing.export:
        return export_response(
            listing, APPLICATION_COLUMNS, name="applications", title="Applications"
        )
    return render(
        request,
        "web/cb/application_list.html",
        {"listing": listing, "section": SECTION, "title": "Applications"},
    )


# --- assessments ---------------------------------------------------------------------------

ASSESSMENT_SORTS = {
    "start": Sort("First day", ("start_date",)),
    "end": Sort("Last day", ("end_date",)),
    "report": Sort("Report issued", ("report_issued_on",)),
    "status": Sort("Status", ("status", "start_date")),
    "kind": Sort("Kind", ("kind", "start_date")),
    "cb": Sort("Certification body", ("cb__code", "start_date")),
}

#: The tabs of the assessments list (``?show=``).
ALL, MINE, TO_DECIDE = "all", "mine", "decide"
ALL_TAB = Tab(ALL, "All")
MINE_TAB = Tab(MINE, "On my team")
TO_DECIDE_TAB = Tab(TO_DECIDE, "Awaiting my decision")


def assessment_tabs(user: User) -> tuple[list[Tab], str]:
    """The tabs offered to ``user`` and the one shown first: "On my team" to an assessor,
    first for a person who is only an assessor; "Awaiting my decision" to a decision maker.
    An administrator of a CB holds every role there."""
    roles = set().union(*cb_roles_held(user).values())
    if CBRole.ADMIN in roles:
        roles |= {CBRole.ASSESSOR, CBRole.DECISION_MAKER}
    tabs = [ALL_TAB]
    if CBRole.ASSESSOR in roles:
        tabs.append(MINE_TAB)
    if CBRole.DECISION_MAKER in roles:
        tabs.append(TO_DECIDE_TAB)
    default = MINE if roles == {CBRole.ASSESSOR} else ALL
    return (tabs if len(tabs) > 1 else []), default


def assessed_organization(a: Assessment) -> Organization:
    """The organization an assessment concerns: the applicant (initial) or the holder."""
    if a.application is not None:
        return a.application.organization
    assert a.certificate is not None  # the database's check: one or the other
    return a.certificate.organization


def _team(a: Assessment) -> str:
    return "; ".join(f"{m.person} ({m.get_role_display()})" for m in a.team.all())


ASSESSMENT_COLUMNS = (
    Column("Assessment", lambda a: a.pk),
    Column("Kind", lambda a: a.get_kind_display()),
    Column("Certification body", lambda a: a.cb.code),
    Column("Organization", lambda a: assessed_organization(a).legal_name),
    Column("Country", lambda a: assessed_organization(a).country),
    Column("Certificate", lambda a: a.certificate.number if a.certificate_id else ""),
    Column("Application", lambda a: a.application_id),
    Column("First day", lambda a: a.start_date),
    Column("Last day", lambda a: a.end_date),
    Column("Status", lambda a: a.get_status_display()),
    Column("Report issued", lambda a: a.report_issued_on),
    Column("Team", _team),
)


@require_safe
@cb_section
def assessment_list(request: HttpRequest) -> HttpResponseBase:
    """The assessments of the user's CB, of those the user is on the team of, or of those
    awaiting the user's decision: search by organization, certificate or assessor, filter
    by status, kind and dates, sort, page, export."""
    user = current_user(request)
    tabs, default = assessment_tabs(user)
    tab = chosen_tab(request, tabs, default)
    if tab == MINE:
        assessments = assessments_on_team_of(user)
    elif tab == TO_DECIDE:
        assessments = assessments_awaiting_decision_by(user)
    else:
        assessments = assessments_for_cb_staff(user)
    listing = list_page(
        request,
        assessments_with_team(assessments),
        sorts=ASSESSMENT_SORTS,
        default_sort="start" if tab == MINE else "-start",
        search=Search(
            "Organization, certificate, assessor or number",
            (
                "application__organization__legal_name__icontains",
                "certificate__organization__legal_name__icontains",
                "certificate__number__icontains",
                "team__user__full_name__icontains",
                "team__user__username__iexact",
                "team__name__icontains",
            ),
            numbers=("pk",),
        ),
        filters=[
            ChoiceFilter("status", "status", AssessmentStatus.choices, "Status"),
            ChoiceFilter("kind", "kind", AssessmentKind.choices, "Kind"),
            *cb_filter(user),
        ],
        date_ranges=[DateRange("start", "start_date", "First day")],
        tabs=tabs,
        tab=tab,
        exportable=True,
        # The user's own: counted from their places on the teams, not the CB's assessments.
        count_from=(lambda listed: team_places_of(user, listed)) if tab == MINE else None,
    )
    if listing.export:
        name = {MINE: "my-assessments", TO_DECIDE: "assessments-awaiting-decision"}
        return export_response(
            listing, ASSESSMENT_COLUMNS, name=name.get(tab, "assessments"), title="Assessments"
        )
    return render(
        request,
        "web/cb/assessment_list.html",
        {"listing": listing, "section": SECTION, "title": "Assessments"},
    )


# --- certificates --------------------------------------------------------------------------

CERTIFICATE_SORTS = {
    "number": Sort("Number", ("number",)),
    "holder": Sort("Holder", ("organization__legal_name",)),
    "expires": Sort("Expires", ("expires_on",)),
    "issued": Sort("First issued", ("first_issued_on",)),
    "status": Sort("Status", ("status", "number")),
}


@require_safe
@cb_section
def certificate_list(request: HttpRequest) -> HttpResponseBase:
    """The user's CB's certificates: search by number or holder, filter by status, country
    and dates, sort, page, export."""
    user = current_user(request)
    listing = list_page(
        request,
        certificates_for_cb_staff(user),
        sorts=CERTIFICATE_SORTS,
        default_sort="number",
        search=Search(
            "Number, holder or registration number",
            (
                "number__icontains",
                "organization__legal_name__icontains",
                "organization__registration_number__icontains",
            ),
        ),
        filters=[
            ChoiceFilter("status", "status", CertificateStatus.choices, "Status"),
            *cb_filter(user),
        ],
        text_filters=[COUNTRY_FILTER],
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
        "web/cb/certificate_list.html",
        {"listing": listing, "section": SECTION, "title": "Certificates"},
    )
