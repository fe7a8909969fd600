"""The certificate PDF as the register serves it: a public issue, its signed credential
(once its CB has a signing key), the file name to save it under, and, while the certificate
is not current, its status today marked across every page. Drawn once for the same facts
and kept (:mod:`apcert.documents.pdf_store`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apcert.certificates.models import CertificateIssue
from apcert.certificates.selectors import certificate_status_on
from apcert.credentials.services import credential_for_issue
from apcert.documents.attachments import file_stem
from apcert.documents.links import verification_url
from apcert.documents.pdf_store import kept_pdf
from apcert.register import selectors
from apcert.register.status_words import status_words


@dataclass(frozen=True)
class IssuePdf:
    filename: str
    content: bytes


def issue_credential(issue: CertificateIssue) -> dict[str, Any] | None:
    """The signed credential of the issue: the one stored, or made and stored now (an
    issue made before its CB had a key); ``None`` while the CB has no signing key."""
    return credential_for_issue(issue)


def public_issue_pdf(number: str, issue_number: int) -> IssuePdf | None:
    """The PDF of one issue of a public certificate, or ``None`` when the register shows no
    such certificate (unknown, or a draft) or no such issue."""
    issue = selectors.public_issue(number, issue_number)
    if issue is None:
        return None
    # The status today, whether or not the sweep has recorded what the calendar did: a PDF
    # downloaded after the certificate expired by date says so though no job has run.
    words = status_words(certificate_status_on(issue.certificate))
    credential = issue_credential(issue)
    url = verification_url(issue.certificate.number, issue.issue_number)
    content = kept_pdf(issue, {"credential": credential, "verify_url": url, "mark": words.mark})
    return IssuePdf(filename=file_stem(number, issue_number) + ".pdf", content=content)
