"""Documents made from the register's public records: the certificate PDF with its
QR code and embedded signed credential.

A plain package, not a Django app: no models, and its one font comes from a wheel.
"""

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
    "credential_filename",
    "extract_credential",
    "file_stem",
    "render_certificate_pdf",
    "verification_url",
]
