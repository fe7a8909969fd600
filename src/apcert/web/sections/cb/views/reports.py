"""An assessment's report as the CB's staff and the Secretariat have it: a printable page
and a PDF, at any time (before the report is issued, marked as a draft)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_safe

from apcert.assessments.models import Assessment
from apcert.web.assessment_reports import (
    readable_report,
    report_page_response,
    report_pdf_response,
)
from apcert.web.section import current_user
from apcert.web.sections.cb.views.assessments import assessment_for
from apcert.web.sections.cb.views.common import cb_page


def _assessment(request: HttpRequest, pk: int) -> Assessment:
    """The assessment, if it is one of the user's CB and the user may read its report;
    a 404 otherwise."""
    return readable_report(current_user(request), assessment_for(request, pk))


@require_safe
@cb_page
def assessment_report_page(request: HttpRequest, pk: int) -> HttpResponse:
    a = _assessment(request, pk)
    return report_page_response(
        request,
        a,
        pdf_url=reverse("web:cb:assessment-report-pdf", args=[a.pk]) + "?download=1",
        back_url=reverse("web:cb:assessment", args=[a.pk]),
    )


@require_safe
@cb_page
def assessment_report_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    return report_pdf_response(request, _assessment(request, pk))
