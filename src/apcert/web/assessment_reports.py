"""The assessment report served by the back office, as a printable page and as a PDF.

Both sections that show the report (the certification body's, at any time, to its staff and
the Secretariat; the organization's, once the report is issued, to its users) read the
assessment through their own selector, then ask :func:`readable_report` whether the user
may have the report: anyone else gets a 404, exactly as for an assessment that does not
exist, so that the address reveals nothing. The report is private: a browser may keep it,
but must ask again before showing it, and no shared cache keeps it.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse

from apcert.accounts.models import User
from apcert.assessments.models import Assessment
from apcert.assessments.report import assessment_report_content, may_read_assessment_report
from apcert.documents import assessment_report_html, render_assessment_report_pdf

CACHE_CONTROL = "private, no-cache"


def readable_report(user: User, assessment: Assessment) -> Assessment:
    """``assessment``, if ``user`` may read its report; a 404 otherwise."""
    if not may_read_assessment_report(user, assessment):
        raise Http404("No such assessment report.")
    return assessment


def pdf_filename(assessment: Assessment) -> str:
    return f"assessment-report-{assessment.pk}.pdf"


def report_page_response(
    request: HttpRequest, assessment: Assessment, *, pdf_url: str, back_url: str
) -> HttpResponse:
    """The report as a page of its own, to read on screen and to print."""
    content = assessment_report_content(assessment)
    html = assessment_report_html(content, request=request, pdf_url=pdf_url, back_url=back_url)
    response = HttpResponse(html)
    response["Cache-Control"] = CACHE_CONTROL
    return response


def report_pdf_response(request: HttpRequest, assessment: Assessment) -> HttpResponse:
    """The report as a PDF, shown in the browser, or saved with ``?download=1``."""
    pdf = render_assessment_report_pdf(assessment_report_content(assessment))
    response = HttpResponse(pdf, content_type="application/pdf")
    disposition = "attachment" if request.GET.get("download") == "1" else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{pdf_filename(assessment)}"'
    response["Cache-Control"] = CACHE_CONTROL
    response["X-Content-Type-Options"] = "nosniff"
    return response
