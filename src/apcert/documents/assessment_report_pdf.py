"""The assessment report as an A4 PDF.

Made from :class:`apcert.assessments.report.AssessmentReport`, the same content as the
printable page: the certification body and the organization at the head of every page, the
assessment's kind, dates and team, the scope assessed, the report's date and summary, every
finding with its corrective actions and their review, and the findings summed up at the
close. Each page's foot names the report and its date, and says "Page X of Y".

The same content gives the same bytes: the document's creation date is the report's date
(a draft's, the day its facts stand on), never the moment it was made, so a copy can be
kept and served again. Made with fpdf2 and the documents' own font: no system package.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos

from apcert.assessments.report import (
    AssessmentReport,
    ReportCorrectiveAction,
    ReportFinding,
)
from apcert.core.dates import format_date
from apcert.documents import fonts
from apcert.documents.layout import ACCENT, BODY_PT, INK, MUTED, RULE, STRIPE, Writer

#: How the report says that the assessment was carried out in the CB's own software.
RECORDED_WORDS = "carried out in the certification body's own software and recorded in apcert"

#: Page geometry, in millimetres (A4 portrait).
MARGIN = 18.0
TOP_MARGIN = 24.0
BOTTOM_MARGIN = 22.0
#: Room a finding needs on a page before it may start there: its heading and first lines.
KEEP_FINDING = 34.0
#: Room a corrective action needs before it may start on this page.
KEEP_ANSWER = 22.0
#: Room the findings' heading needs with their table of counts.
KEEP_COUNTS = 42.0
LABEL_WIDTH = 34.0


def report_date_words(report: AssessmentReport) -> str:
    """How the documents name the report's date: ``report of 7 December 2026``, or a
    draft's ``draft, findings as of 7 December 2026``."""
    if report.report_issued_on is not None:
        return f"report of {format_date(report.report_issued_on)}"
    return f"draft, findings as of {format_date(report.as_of)}"


def dates_words(start: dt.date, end: dt.date) -> str:
    """``7 December 2026``, or ``7 to 9 December 2026`` for several days."""
    if start == end:
        return format_date(start)
    return f"{format_date(start)} to {format_date(end)}"


class _ReportPage(FPDF):
    """An A4 page with the report's running head (the CB, the organization) and foot (the
    report, its date, the page number)."""

    def __init__(self, *, head_left: str, head_right: str, foot: str) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.head_left, left_replaced = fonts.printable(head_left)
        self.head_right, right_replaced = fonts.printable(head_right)
        self.foot, foot_replaced = fonts.printable(foot)
        self.replaced = left_replaced or right_replaced or foot_replaced
        self.set_margins(MARGIN, TOP_MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=BOTTOM_MARGIN)
        for style in fonts.FACES:
            self.add_font(fonts.FAMILY, style, fonts.face(style))
        self.set_font(fonts.FAMILY, size=BODY_PT)
        self.set_text_color(*INK)
        self.set_draw_color(*INK)

    def header(self) -> None:  # (fpdf2 calls it at each new page)
        half = self.epw / 2 - 2
        with self.local_context(font_size_pt=8, text_color=MUTED):
            self.set_xy(MARGIN, 10)
            # One line each: a long name is cut at the column rather than run into the
            # other; the first page gives both names in full.
            self.cell(half, 4, _fit(self, self.head_left, half))
            self.set_xy(MARGIN + self.epw - half, 10)
            self.cell(half, 4, _fit(self, self.head_right, half), align=Align.R)
        with self.local_context(draw_color=RULE):
            self.set_line_width(0.3)
            self.line(MARGIN, 15.5, MARGIN + self.epw, 15.5)
        self.set_xy(MARGIN, TOP_MARGIN)

    def footer(self) -> None:
        with self.local_context(draw_color=RULE):
            self.set_line_width(0.3)
            self.line(MARGIN, self.h - 15.5, MARGIN + self.epw, self.h - 15.5)
        with self.local_context(font_style="", font_size_pt=7.5, text_color=MUTED):
            self.set_xy(MARGIN, self.h - 14)
            self.multi_cell(self.epw - 26, 3.6, self.foot, new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.set_xy(self.w - MARGIN - 26, self.h - 14)
            self.cell(26, 3.6, f"Page {self.page_no()} of {{nb}}", align=Align.R)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """``text`` cut to ``width`` with an ellipsis, in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


class _ReportWriter(Writer):
    """The report's own blocks on top of the shared headings, paragraphs and tables."""

    def __init__(self, pdf: _ReportPage) -> None:
        super().__init__(pdf)
        self.page = pdf

    def label_values(self, rows: list[tuple[str, str]]) -> None:
        """Label and value pairs, skipping empty values."""
        self.facts([(k, v) for k, v in rows if v], label_width=LABEL_WIDTH)

    def paragraphs(self, value: str, **style: Any) -> None:
        """Text as its author broke it into lines, each line its own paragraph."""
        lines = [line.strip() for line in value.splitlines() if line.strip()]
        for i, line in enumerate(lines):
            if i:
                self.pdf.ln(1)
            self.paragraph(line, **style)

    def finding(self, finding: ReportFinding) -> None:
        pdf = self.pdf
        pdf.ln(2)
        if pdf.will_page_break(KEEP_FINDING):
            pdf.add_page()
        # The finding's title on a tinted band: its number, grade and status.
        top = pdf.get_y()
        title = f"Finding {finding.number} · {finding.grade_label}"
        with pdf.local_context(fill_color=STRIPE):
            pdf.rect(pdf.l_margin, top, pdf.epw, 7, style="F")
        with self.style(size=10.5, color=ACCENT, bold=True):
            pdf.set_xy(pdf.l_margin + 1.5, top + 1)
            pdf.cell(pdf.epw * 0.6, 5, title)
        with self.style(size=9, color=MUTED):
            pdf.set_xy(pdf.l_margin + pdf.epw * 0.4, top + 1.2)
            pdf.cell(pdf.epw * 0.6 - 1.5, 5, finding.status_label, align=Align.R)
        pdf.set_xy(pdf.l_margin, top + 8.5)
        requirement = f"{finding.requirement} ({finding.requirement_kind_label})"
        if finding.standard and finding.standard not in finding.requirement:
            requirement += f", {finding.standard}"
        self.label_values(
            [
                ("Requirement", requirement),
                ("Raised", format_date(finding.raised_on)),
                (
                    "Due",
                    format_date(finding.due_date)
                    if finding.due_date
                    else "no answer needed (an observation)",
                ),
                ("Closed", format_date(finding.closed_on) if finding.closed_on else "not yet"),
            ]
        )
        pdf.ln(1.5)
        with self.style(size=9, color=MUTED):
            pdf.cell(h=5, text="What was found", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.paragraphs(finding.description)
        if finding.corrective_actions:
            for n, answer in enumerate(finding.corrective_actions, start=1):
                self.corrective_action(n, answer)
        elif finding.due_date is not None:
            pdf.ln(1.5)
            self.paragraph("No corrective action has been submitted yet.", size=9, color=MUTED)
        pdf.ln(2)
        with pdf.local_context(draw_color=RULE):
            pdf.set_line_width(0.3)
            pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())

    def corrective_action(self, n: int, answer: ReportCorrectiveAction) -> None:
        pdf = self.pdf
        pdf.ln(2)
        if pdf.will_page_break(KEEP_ANSWER):
            pdf.add_page()
        submitted = f"submitted {format_date(answer.submitted_on)}"
        if answer.submitted_by:
            submitted += f" by {answer.submitted_by}"
        with self.style(size=9.5, color=ACCENT, bold=True):
            pdf.multi_cell(
                0, 5, self.text(f"Corrective action {n}, {submitted}"), new_x=XPos.LMARGIN
            )
        review = answer.outcome
        if answer.reviewed_on is not None:
            review += f", {format_date(answer.reviewed_on)}"
            if answer.reviewed_by:
                review += f" by {answer.reviewed_by}"
        if answer.review_comment:
            review += f": {answer.review_comment}"
        self.label_values(
            [
                ("Correction", answer.correction),
                ("Root cause", answer.root_cause),
                ("Action", answer.action),
                ("Evidence", answer.evidence),
                ("Evidence files", ", ".join(answer.evidence_files)),
                ("Review", review),
            ]
        )

    def title_page(self, report: AssessmentReport) -> None:
        """The title, and the facts of the assessment: who, what, when."""
        pdf = self.pdf
        cb, org = report.cb, report.organization
        with self.style(size=8.5, color=MUTED):
            pdf.cell(0, 5, "IECQ · IEC QUALITY ASSESSMENT SYSTEM FOR ELECTRONIC COMPONENTS",
                     new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
        with self.style(size=18, color=ACCENT, bold=True):
            pdf.multi_cell(0, 9, "Assessment report", new_x=XPos.LMARGIN)
        self.paragraph(report.kind_label.capitalize(), size=12, color=ACCENT)
        if not report.issued:
            pdf.ln(1)
            self.paragraph(
                f"DRAFT: this report has not been issued ({report.status_label}). The findings "
                f"are as they stood on {format_date(report.as_of)}.",
                size=9.5,
                color=MUTED,
            )
        pdf.ln(3)
        registration = " ".join(
            part for part in (org.registration_authority, org.registration_number) if part
        )
        self.label_values(
            [
                ("Certification body", f"{cb.name} ({cb.code}), {cb.country}"),
                ("Organization", f"{org.name}, {org.country}"),
                ("Registration", registration),
                (
                    "Address",
                    ", ".join(line.strip() for line in org.address.splitlines() if line.strip()),
                ),
                (
                    "Assessment",
                    report.kind_label
                    + (", with a stage 1 document review" if report.stage1_document_review else "")
                    + (f", {RECORDED_WORDS}" if report.recorded else ""),
                ),
                ("Dates", dates_words(report.planned_start, report.planned_end)),
                (
                    "Report issued",
                    format_date(report.report_issued_on)
                    if report.report_issued_on
                    else "not yet (draft)",
                ),
                ("Status", report.status_label),
            ]
        )

    def scope(self, report: AssessmentReport) -> None:
        """The scope assessed: where it is declared, its lines, sites and standards."""
        pdf = self.pdf
        scope = report.scope
        self.heading("Scope assessed")
        self.label_values(
            [
                ("Declared in", scope.subject),
                ("Scheme", scope.scheme),
                ("Programmes", "; ".join(scope.programmes)),
                ("Design", "claimed" if scope.design_claimed else ""),
            ]
        )
        pdf.ln(2)
        if scope.lines:
            self.table(
                ("Process category", "Scope", "Site", "Standards"),
                (36, 70, 30, 34),
                (
                    (
                        f"{line.category} – {line.category_name}" if line.category_name
                        else line.category,
                        line.wording,
                        line.site,
                        ", ".join(line.standards),
                    )
                    for line in scope.lines
                ),
            )  # fmt: skip
        else:
            self.paragraph("The scope declares no line.", size=9.5, color=MUTED)
        if scope.sites:
            pdf.ln(3)
            self.table(("Site", "Where"), (50, 120), ((s.name, s.place) for s in scope.sites))
        if scope.standards:
            pdf.ln(3)
            self.table(
                ("Standard", "Edition", "Title"),
                (44, 22, 104),
                ((s.designation, s.edition, s.title) for s in scope.standards),
            )

    def team_and_summary(self, report: AssessmentReport) -> None:
        """The assessment team, and the report's summary."""
        self.heading("Assessment team")
        self.table(("Name", "Role"), (100, 70), ((m.name, m.role_label) for m in report.team))
        self.heading("Summary")
        if report.summary:
            self.paragraphs(report.summary)
        elif report.issued:
            self.paragraph("The report gives no summary.", size=9.5, color=MUTED)
        else:
            self.paragraph(
                "The summary is written when the report is issued.", size=9.5, color=MUTED
            )

    def findings(self, report: AssessmentReport) -> None:
        """The findings counted by grade, then each finding with its answers."""
        pdf = self.pdf
        count = len(report.findings)
        if pdf.will_page_break(KEEP_COUNTS):  # the heading with the whole table of counts
            pdf.add_page()
        self.heading(f"Findings ({count})")
        if report.findings:
            self.table(
                ("Grade", "Findings", "Awaiting answer or review", "Plan accepted", "Closed"),
                (58, 22, 42, 26, 22),
                (
                    (c.label.capitalize(), c.total, c.awaited, c.plan_accepted, c.closed)
                    for c in report.closing.counts
                ),
            )
            for finding in report.findings:
                self.finding(finding)
        else:
            self.paragraph("No finding was recorded.", size=9.5, color=MUTED)

    def conclusion(self, report: AssessmentReport) -> None:
        """The findings summed up, the lead assessor, the report's date."""
        pdf = self.pdf
        self.heading("Conclusion")
        self.paragraph(report.closing.statement)
        lead = next((m.name for m in report.team if m.role == "lead"), "")
        pdf.ln(2)
        self.label_values(
            [
                ("Lead assessor", lead),
                (
                    "Report issued",
                    format_date(report.report_issued_on)
                    if report.report_issued_on
                    else "not yet (draft)",
                ),
            ]
        )
        if self.replaced or self.page.replaced:
            pdf.ln(2)
            self.paragraph(
                "Characters this document's font does not include are shown as "
                f"{fonts.REPLACEMENT}; the certification body's records give every name in full.",
                size=8,
                color=MUTED,
            )


def render_assessment_report_pdf(report: AssessmentReport) -> bytes:
    """The assessment report as an A4 PDF: the same ``report`` gives the same bytes."""
    cb, org = report.cb, report.organization
    moment = dt.datetime.combine(report.document_date, dt.time(0, 0), tzinfo=dt.UTC)
    pdf = _ReportPage(
        head_left=f"{cb.name} ({cb.code})",
        head_right=org.name,
        foot=f"Assessment report · {report.kind_label} · {org.name} · {report_date_words(report)}",
    )
    pdf.set_lang("en")
    pdf.set_title(f"Assessment report: {report.kind_label}, {org.name}")
    pdf.set_subject(report_date_words(report).capitalize())
    pdf.set_author(cb.name)
    pdf.set_creator("apcert")
    pdf.set_keywords(f"IECQ; assessment report; {cb.code}")
    pdf.set_creation_date(moment)
    out = _ReportWriter(pdf)
    pdf.add_page()
    out.title_page(report)
    out.scope(report)
    out.team_and_summary(report)
    out.findings(report)
    out.conclusion(report)
    return bytes(pdf.output())
