"""The public documents of the register, as plain JSON-ready dicts.

:func:`certificate_document` is the answer of ``GET /api/public/certificates/{number}``; the
search index stores it, serialized, beside each entry (kept in step in the change's own
transaction), so the hottest public read is one indexed row. Only the scheme's public
fields are listed, one by one.

A transferred certificate names the other one, number and public page, both ways
(``transferred_from``, ``transferred_to``). The transfer service re-indexes both certificates
in its transaction, so the old one's stored document gains its successor as the transfer
commits. The page's address starts with the ``SITE_URL`` setting: after changing it,
``apcert reindex`` brings the stored documents in step (``--check`` lists those that differ).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import quote

import orjson
from django.conf import settings

from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate, CertificateIssue
from apcert.certificates.timeline import StatusOnDay
from apcert.register import selectors
from apcert.register.status_today import status_recorded


def certificate_document(
    certificate: Certificate, transfer: selectors.TransferLinks | None = None
) -> dict[str, Any]:
    """The public view of a certificate and its latest issue. ``certificate`` must come from
    :func:`apcert.register.selectors.public_certificate` (or carry the same prefetches).
    ``transfer``: its links when the caller has read them for many certificates at once."""
    issue = selectors.latest_issue(certificate)
    assert issue is not None  # a public certificate has had an issue since its grant
    changes = selectors.status_changes_of(certificate)
    return certificate_document_from(
        certificate,
        issue,
        changes[-1].reason_category if changes else None,
        transfer_of(certificate) if transfer is None else transfer,
    )


def certificate_document_from(
    certificate: Certificate,
    issue: CertificateIssue,
    status_reason_category: str | None,
    transfer: selectors.TransferLinks,
) -> dict[str, Any]:
    """:func:`certificate_document` from pieces read in bulk: the certificate (with its CB
    and scheme), its latest issue, the reason category of its latest status change."""
    cb = certificate.cb
    return document_of(
        number=certificate.number,
        status=certificate.status,
        status_since=certificate.status_since,
        status_reason_category=status_reason_category,
        first_issued_on=certificate.first_issued_on,
        expires_on=certificate.expires_on,
        cb={"code": cb.code, "name": cb.name, "country": cb.country},
        scheme={"code": certificate.scheme.code, "name": certificate.scheme.name},
        issue=issue,
        transfer=transfer,
    )


def transfer_of(certificate: Certificate) -> selectors.TransferLinks:
    # Only a certificate withdrawn as "transferred" has a successor, and only one made by a
    # transfer a predecessor: most certificates need no query.
    if (
        certificate.transferred_from_id is None
        and certificate.status != CertificateStatus.WITHDRAWN
    ):
        return selectors.NO_TRANSFER
    return selectors.transfer_links([certificate.pk]).get(certificate.pk, selectors.NO_TRANSFER)


def certificate_page_url(number: str) -> str:
    """The absolute address of a certificate's public page."""
    return f"{str(settings.SITE_URL).rstrip('/')}/certificates/{quote(number, safe='')}"


def transfer_link(number: str | None) -> dict[str, str] | None:
    """The other certificate of a transfer as the documents name it, or ``None``."""
    if number is None:
        return None
    return {"number": number, "url": certificate_page_url(number)}


def document_of(
    *,
    number: str,
    status: str,
    status_since: dt.date,
    status_reason_category: str | None,
    first_issued_on: dt.date,
    expires_on: dt.date,
    cb: dict[str, str],
    scheme: dict[str, str],
    issue: CertificateIssue,
    transfer: selectors.TransferLinks,
    status_is_recorded: bool = True,
) -> dict[str, Any]:
    """The public document from its pieces: for readers that fetch certificates in bulk
    (the exports) and give the same answer as the API."""
    return {
        "number": number,
        "status": status,
        "status_since": status_since.isoformat(),
        "status_reason_category": status_reason_category,
        "status_recorded": status_is_recorded,
        "first_issued_on": first_issued_on.isoformat(),
        "expires_on": expires_on.isoformat(),
        "issue_number": issue.issue_number,
        "issued_on": issue.issued_on.isoformat(),
        "valid_from": issue.valid_from.isoformat(),
        "valid_until": issue.valid_until.isoformat(),
        "cb": dict(cb),
        "scheme": dict(scheme),
        "programmes": [{"code": p["code"], "name": p["name"]} for p in issue.programmes],
        "holder": dict(selectors.holder_of(issue)),
        "sites": selectors.public_sites(issue),
        "scope_lines": selectors.public_scope_lines(issue),
        "standards": [
            {"designation": s["designation"], "edition": s["edition"], "title": s["title"]}
            for s in issue.standards
        ],
        "transferred_from": transfer_link(transfer.transferred_from),
        "transferred_to": transfer_link(transfer.transferred_to),
    }


def document_on_day(document: dict[str, Any], today: StatusOnDay) -> dict[str, Any]:
    """The document with the status of the day: unchanged while the recorded status holds;
    otherwise the status, its date and reason category that the calendar gave, with
    ``status_recorded`` false until the register's daily check records them."""
    if status_recorded(today):
        return document
    return {
        **document,
        "status": today.status,
        "status_since": today.since.isoformat(),
        "status_reason_category": today.reason_category,
        "status_recorded": False,
    }


def certificate_document_json(
    certificate: Certificate, transfer: selectors.TransferLinks | None = None
) -> str:
    """:func:`certificate_document` as compact JSON, the bytes the API sends."""
    return document_json(certificate_document(certificate, transfer))


def document_json(document: dict[str, Any]) -> str:
    """A public document as compact JSON, the bytes the API sends: orjson's, which are
    those of ``json.dumps(document, separators=(",", ":"), ensure_ascii=False)`` several
    times faster (a bulk index build writes a million); the standard library's for what
    orjson refuses (a lone surrogate, say), so that nothing it could write is lost."""
    try:
        return orjson.dumps(document).decode()
    except TypeError:  # orjson.JSONEncodeError
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False)
