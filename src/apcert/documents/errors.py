"""The errors of the document code, with stable codes like every DomainError."""

from __future__ import annotations

from apcert.core.errors import DomainError


class DocumentError(DomainError):
    """A document that cannot be read: not a PDF, a damaged PDF, or an attachment that is
    not a credential. ``code`` says which (:data:`NOT_A_PDF`, :data:`DAMAGED_PDF`,
    :data:`CREDENTIAL_UNREADABLE`, :data:`TOO_DEEP`, :data:`ATTACHMENT_TOO_LARGE`)."""

    code = "document_error"
    http_status = 400


NOT_A_PDF = "document.not_a_pdf"
DAMAGED_PDF = "document.damaged_pdf"
CREDENTIAL_UNREADABLE = "document.credential_unreadable"
NO_CREDENTIAL = "document.no_credential"
NOT_A_CREDENTIAL = "document.not_a_credential"
#: JSON nested deeper than any credential (:data:`apcert.core.bounded_json.MAX_DEPTH`).
TOO_DEEP = "document.too_deep"
#: An embedded attachment far larger than any credential.
ATTACHMENT_TOO_LARGE = "document.attachment_too_large"
