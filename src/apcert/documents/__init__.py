"""Documents: the certificate PDF with its QR code and embedded signed credential, made
from the register's public records; and the assessment report, private, as a PDF and as a
printable page.

An app without models, installed for its template and stylesheet; its one font comes from a
wheel.
"""

from apcert.documents.assessment_report_html import assessment_report_html
from apcert.documents.assessment_report_pdf import render_assessment_report_pdf
from apcert.documents.attachments import (
    CREDENTIAL_MEDIA_TYPE,
    credential_filename,
    extract_credential,
    file_stem,
)
from apcert.documents.certificate_pdf import render_certificate_pdf
from apcert.documents.errors import DocumentError
from apcert.documents.links import verification_url

__all__ = [
    "CREDENTIAL_MEDIA_TYPE",
    "DocumentError",
    "assessment_report_html",
    "credential_filename",
    "extract_credential",
    "file_stem",
    "render_assessment_report_pdf",
    "render_certificate_pdf",
    "verification_url",
]
