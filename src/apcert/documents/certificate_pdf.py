"""The certificate document: one issue of a certificate as an A4 PDF.

Laid out like a paper certificate: title, number and issue, holder and the sites it
publishes, the scope, the declared standards with their editions, the dates and the
certification body. A QR code and a printed address lead to the register's verification
page for this number and issue, where the live status is (a PDF cannot know that its
certificate was suspended since). The signed credential, when given, is embedded as a file,
so the PDF carries something that verifies offline.

Only public fields are printed, read through
:mod:`apcert.register.selectors` like the register page: the holder's name and country,
published sites only, scope lines without unpublished sites. Made with fpdf2 and segno, pure
Python: no system package.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import segno
from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos

from apcert.certificates.models import CertificateIssue
from apcert.documents import fonts
from apcert.documents.attachments import (
    CREDENTIAL_MEDIA_TYPE,
    credential_bytes,
    credential_filename,
)
from apcert.documents.layout import ACCENT, BODY_PT, INK, MUTED, Writer
from apcert.register import selectors
from apcert.register.templatetags.register_tags import issue_reason_label, plain_day

TITLE = "Certificate of Approval — IECQ Approved Process"
#: Page geometry, in millimetres (A4 portrait).
MARGIN = 20.0
FRAME_OUTER = 9.0
FRAME_INNER = 11.0
BOTTOM_MARGIN = 26.0
QR_SIZE = 34.0
#: The mark across a document whose certificate is not current: red, large, diagonal, and
#: translucent enough that the certificate beneath stays legible.
MARK_RED = (190, 18, 30)
MARK_OPACITY = 0.55
MARK_PT = 34.0
MARK_ANGLE = -55.0
#: The height of the mark's band across the top of each page, in millimetres.
MARK_BAND = 7.0


class _Page(FPDF):
    """An A4 page with the certificate's frame, and the running lines of pages 2 onwards."""

    def __init__(self, *, running_title: str, footer_note: str, mark: str = "") -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.running_title = running_title
        self.footer_note = footer_note
        self.mark = mark
        self.set_margins(MARGIN, MARGIN + 4, MARGIN)
        self.set_auto_page_break(auto=True, margin=BOTTOM_MARGIN)
        for style in fonts.FACES:
            self.add_font(fonts.FAMILY, style, fonts.face(style))
        self.set_font(fonts.FAMILY, size=BODY_PT)
        self.set_text_color(*INK)
        self.set_draw_color(*INK)

    def header(self) -> None:  # (fpdf2 calls it at each new page)
        with self.local_context(draw_color=ACCENT):
            self.set_line_width(0.8)
            self.rect(FRAME_OUTER, FRAME_OUTER, self.w - 2 * FRAME_OUTER, self.h - 2 * FRAME_OUTER)
            self.set_line_width(0.25)
            self.rect(FRAME_INNER, FRAME_INNER, self.w - 2 * FRAME_INNER, self.h - 2 * FRAME_INNER)
        if self.page_no() > 1:
            # Below the status mark's band, when there is one.
            below = MARK_BAND if self.mark else 0.0
            with self.local_context(font_size_pt=8, text_color=MUTED):
                self.set_xy(MARGIN, FRAME_INNER + 4 + below)
                self.cell(text=self.running_title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_y(FRAME_INNER + 13 + below)

    def footer(self) -> None:
        with self.local_context(font_style="", font_size_pt=7.5, text_color=MUTED):
            self.set_xy(MARGIN, self.h - FRAME_INNER - 11)
            self.multi_cell(self.epw - 22, 3.6, self.footer_note, new_x=XPos.RIGHT, new_y=YPos.TOP)
            self.set_xy(self.w - MARGIN - 22, self.h - FRAME_INNER - 11)
            self.cell(22, 3.6, f"Page {self.page_no()} of {{nb}}", align=Align.R)
        if self.mark:
            self._draw_mark()

    def _draw_mark(self) -> None:
        """The status mark, drawn last on each page so that nothing covers it: a red band
        across the top of the frame, and the same words large and diagonal across the
        page, where no copy or crop of the page can leave them out."""
        red = MARK_RED
        with self.local_context(fill_color=red, text_color=(255, 255, 255)):
            self.set_font(fonts.FAMILY, "B", 11)
            self.set_xy(FRAME_INNER, FRAME_INNER)
            self.cell(self.w - 2 * FRAME_INNER, MARK_BAND, self.mark, align=Align.C, fill=True)
        with self.local_context(fill_opacity=MARK_OPACITY, text_color=red, draw_color=red):
            # As large as fits along the diagonal, inside the frame.
            self.set_font(fonts.FAMILY, "B", MARK_PT)
            room = 0.8 * (self.w**2 + self.h**2) ** 0.5
            width = self.get_string_width(self.mark)
            if width > room:
                self.set_font_size(MARK_PT * room / width)
                width = self.get_string_width(self.mark)
            cx, cy = self.w / 2, self.h / 2
            with self.rotation(MARK_ANGLE, cx, cy):
                self.text(cx - width / 2, cy + self.font_size / 3, self.mark)
        self.set_font(fonts.FAMILY, "", BODY_PT)


def _qr_png(url: str) -> io.BytesIO:
    """The QR code of ``url`` as a PNG: error correction M (about 15% of the code may be
    soiled or creased), the standard quiet zone of four modules."""
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=10, border=4)
    buffer.seek(0)
    return buffer


def _moment(issue: CertificateIssue) -> dt.datetime:
    """The document's creation date: when the issue was recorded, so that the same issue
    gives the same document metadata whenever it is downloaded."""
    return issue.created_at or timezone.now()


def render_certificate_pdf(
    issue: CertificateIssue,
    *,
    credential: dict[str, Any] | None,
    verify_url: str,
    mark: str = "",
) -> bytes:
    """One certificate issue as an A4 PDF, with a QR code of ``verify_url`` (see
    :func:`apcert.documents.verification_url`) and, when given, the signed ``credential``
    embedded as ``<number>-issue-<n>.vc.json``. ``issue.certificate`` should come with its
    ``cb`` and ``scheme`` (``select_related``) to spare two queries. ``mark`` (e.g.
    ``WITHDRAWN on 24 June 2022: not valid``) is printed across every page: a certificate
    that is not current must not pass for one on paper."""
    certificate = issue.certificate
    number = certificate.number
    cb = certificate.cb
    scheme = certificate.scheme
    attachment = credential_filename(number, issue.issue_number)
    if credential is not None:
        footer = (
            f"The register's signed credential for this issue is embedded in this PDF as the "
            f"file {attachment}; it verifies without the register. The live status is at the "
            "address on page 1."
        )
    else:
        footer = (
            "This copy carries no signed credential. The live status of the certificate is at "
            "the address on page 1."
        )
    pdf = _Page(
        running_title=f"{number} · issue {issue.issue_number} · continued",
        footer_note=footer,
        mark=mark,
    )
    pdf.set_lang("en")
    pdf.set_title(f"{number} issue {issue.issue_number}")
    pdf.set_subject(TITLE)
    pdf.set_author(cb.name)
    pdf.set_creator("apcert")
    pdf.set_keywords(f"IECQ; {number}; issue {issue.issue_number}")
    moment = _moment(issue)
    pdf.set_creation_date(moment)
    out = Writer(pdf)
    pdf.add_page()

    # --- title -------------------------------------------------------------------------
    with out.style(size=8.5, color=MUTED):
        pdf.cell(0, 5, "IECQ · IEC QUALITY ASSESSMENT SYSTEM FOR ELECTRONIC COMPONENTS",
                 align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)  # fmt: skip
    pdf.ln(2)
    with out.style(size=19, color=ACCENT, bold=True):
        pdf.multi_cell(0, 9, TITLE, align=Align.C, new_x=XPos.LMARGIN)
    pdf.ln(1)
    out.paragraph(f"Scheme {scheme.code} – {scheme.name}", size=9.5, color=MUTED, align=Align.C)
    pdf.ln(5)

    # --- number and issue, beside the QR code --------------------------------------------
    top = pdf.get_y()
    left_width = pdf.epw - QR_SIZE - 8
    pdf.image(_qr_png(verify_url), x=pdf.l_margin + pdf.epw - QR_SIZE, y=top, w=QR_SIZE,
              h=QR_SIZE, alt_text=f"QR code: {verify_url}")  # fmt: skip
    with out.style(size=9, color=MUTED):
        pdf.cell(left_width, 5, "Certificate number", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    with out.style(size=17, bold=True):
        pdf.multi_cell(left_width, 8, out.text(number), new_x=XPos.LMARGIN)
    pdf.ln(1.5)
    with out.style(size=11):
        pdf.multi_cell(
            left_width,
            5.5,
            f"Issue {issue.issue_number} of {plain_day(issue.issued_on)}"
            f" — {issue_reason_label(issue.reason)}",
            new_x=XPos.LMARGIN,
        )
    pdf.ln(1.5)
    with out.style(size=10):
        pdf.multi_cell(
            left_width,
            5,
            f"Valid from {plain_day(issue.valid_from)} until {plain_day(issue.valid_until)}",
            new_x=XPos.LMARGIN,
        )
    pdf.ln(1)
    out.facts(
        (
            ("First issued", plain_day(certificate.first_issued_on)),
            ("Certification body", f"{cb.name} ({cb.code}), {cb.country}"),
        ),
        width=left_width,
        label_width=32,
    )
    pdf.set_y(max(pdf.get_y(), top + QR_SIZE) + 2)
    with out.style(size=8.5, color=MUTED):
        pdf.cell(22, 4.2, "Verify at")
    with out.style(size=8.5, color=ACCENT):
        # A long address breaks anywhere: it is read, or scanned, not hyphenated.
        pdf.multi_cell(
            0, 4.2, out.text(verify_url), link=verify_url, wrapmode=WrapMode.CHAR,
            new_x=XPos.LMARGIN,
        )  # fmt: skip
    with out.style(size=8.5, color=MUTED):
        pdf.multi_cell(
            0,
            4.2,
            "Scan the code or open the address for the certificate's live status: a "
            "certificate can be suspended or withdrawn after this document was made.",
            new_x=XPos.LMARGIN,
        )

    # --- holder and sites ----------------------------------------------------------------
    holder = selectors.holder_of(issue)
    out.heading("Certificate holder")
    out.paragraph("This is to certify that", size=9.5, color=MUTED)
    pdf.ln(1)
    name_replaced = fonts.printable(str(holder["name"]))[1]
    with out.style(size=15, bold=True):
        pdf.multi_cell(0, 7.5, out.text(holder["name"]), new_x=XPos.LMARGIN)
    out.paragraph(f"Country: {holder['country']}", size=10)
    if name_replaced:
        out.paragraph(
            "The holder's name uses characters this document's font does not include; they "
            f"are shown as {fonts.REPLACEMENT}. The register and the embedded credential give "
            "the name in full.",
            size=8,
            color=MUTED,
        )
        out.replaced = False  # said here; the closing note is for the text that follows
    programmes = "; ".join(f"{p['code']} – {p['name']}" for p in issue.programmes)
    pdf.ln(1.5)
    out.paragraph(
        "operates the processes in the scope below, at the sites below, under the IECQ "
        f"Approved Process scheme ({scheme.code})"
        + (f", programmes {programmes}." if programmes else "."),
        size=9.5,
    )
    sites = selectors.published_sites(issue)
    out.heading("Sites")
    if sites:
        for site in sites:
            place = ", ".join(
                str(part) for part in (site["address"], site["city"], site["country"]) if part
            )
            with out.style(bold=True):
                pdf.multi_cell(0, 5, out.text(site["name"]), new_x=XPos.LMARGIN)
            out.paragraph(place, size=9, color=MUTED)
            pdf.ln(1)
    else:
        out.paragraph("The holder publishes none of its sites.", size=9.5, color=MUTED)

    # --- scope and standards -------------------------------------------------------------
    site_names = {int(site["id"]): str(site["name"]) for site in sites}
    lines = selectors.public_scope_lines(issue)
    out.heading(f"Scope of approval ({len(lines)} line{'s' if len(lines) != 1 else ''})")
    out.table(
        ("Process category", "Scope", "Site", "Standards"),
        (34, 70, 32, 34),
        (
            (
                f"{line['category']} – {line['category_name']}",
                line["wording"],
                site_names.get(line["site_id"], "") if line["site_id"] else "not published",
                ", ".join(line["standards"]),
            )
            for line in lines
        ),
    )
    out.heading("Standards declared")
    if issue.standards:
        out.table(
            ("Standard", "Edition", "Title"),
            (44, 22, 104),
            ((s["designation"], s["edition"], s["title"]) for s in issue.standards),
        )
    else:
        out.paragraph("No standard is declared.", size=9.5, color=MUTED)

    if out.replaced:
        pdf.ln(2)
        out.paragraph(
            f"Characters this document's font does not include are shown as "
            f"{fonts.REPLACEMENT}; the register gives every name and scope line in full.",
            size=8,
            color=MUTED,
        )

    if credential is not None:
        pdf.embed_file(
            bytes=credential_bytes(credential),
            basename=attachment,
            mime_type=CREDENTIAL_MEDIA_TYPE,
            desc=f"Signed credential of {number} issue {issue.issue_number}",
            modification_date=moment,
            creation_date=moment,
            compress=True,
        )
    return bytes(pdf.output())
