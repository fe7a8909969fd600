"""The assessment report as a printable page: a whole HTML document of its own, with a
print stylesheet (A4 margins, page numbers, a finding kept on one page where it fits,
nothing but the report on paper). No inline style or script: its stylesheet is the static
file ``documents/assessment_report.css``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.template.loader import render_to_string

if TYPE_CHECKING:
    from django.http import HttpRequest

    from apcert.assessments.report import AssessmentReport

TEMPLATE = "documents/assessment_report.html"


def assessment_report_html(
    content: AssessmentReport,
    *,
    request: HttpRequest | None = None,
    pdf_url: str = "",
    back_url: str = "",
) -> str:
    """The page of ``content`` (from ``assessment_report_content``). ``pdf_url`` and
    ``back_url``, when given, are offered as links on screen, and left out on paper."""
    return render_to_string(
        TEMPLATE,
        {"report": content, "pdf_url": pdf_url, "back_url": back_url},
        request=request,
    )
