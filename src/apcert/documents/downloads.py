"""The certificate PDF as the register serves it: a public issue, its signed credential
when the credentials code is installed, and the file name to save it under."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apcert.certificates.models import CertificateIssue
from apcert.documents.attachments import file_stem
from apcert.documents.certificate_pdf import render_certificate_pdf
from apcert.documents.links import verification_url
from apcert.register import selectors

CREDENTIALS_MODULE = "apcert.credentials"


@functools.cache
def _credentials_hook() -> Callable[[CertificateIssue], dict[str, Any] | None] | None:
    """``apcert.credentials.credential_for_issue`` once that code is there (the signed
    credentials are another part of issue 6), else ``None``. An error inside that module
    is not hidden: only its absence is expected. Looked up on first use, not at import,
    so that the two modules may import each other's neighbours freely."""
    try:
        module = importlib.import_module(CREDENTIALS_MODULE)
    except ModuleNotFoundError as error:
        if error.name != CREDENTIALS_MODULE:
            raise
        return None
    hook: Callable[[CertificateIssue], dict[str, Any] | None] | None = getattr(
        module, "credential_for_issue", None
    )
    return hook


@dataclass(frozen=True)
class IssuePdf:
    filename: str
    content: bytes


def issue_credential(issue: CertificateIssue) -> dict[str, Any] | None:
    """The signed credential of the issue, or ``None`` while apcert has no credentials
    module (``apcert.credentials.credential_for_issue``)."""
    hook = _credentials_hook()
    return hook(issue) if hook is not None else None


def public_issue_pdf(number: str, issue_number: int) -> IssuePdf | None:
    """The PDF of one issue of a public certificate, or ``None`` when the register shows no
    such certificate (unknown, or a draft) or no such issue."""
    issue = selectors.public_issue(number, issue_number)
    if issue is None:
        return None
    content = render_certificate_pdf(
        issue,
        credential=issue_credential(issue),
        verify_url=verification_url(issue.certificate.number, issue.issue_number),
    )
    return IssuePdf(filename=file_stem(number, issue_number) + ".pdf", content=content)
