"""The CB's lists: applications, assessments and certificates."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apcert.applications.choices import ApplicationStatus
from apcert.applications.selectors import applications_for_cb_staff
from apcert.assessments.choices import AssessmentKind, AssessmentStatus
from apcert.assessments.selectors import assessments_for_cb_staff
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.selectors import certificates_for_cb_staff
from apcert.web.lists import ChoiceFilter, Sort, list_page
from apcert.web.section import current_user
from apcert.web.sections.cb.views.common import SECTION, cb_section
from apcert.web.status_today import with_status_today

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
