"""The verifiable credential (W3C VC Data Model 2.0) of one certificate issue, unsigned.

Built from the issue's immutable public snapshot through the register's selectors, so it
lists the public fields only: number, issue, holder name and country,
published sites, scheme and programmes, scope lines (an unpublished site's id left out),
standards with editions, the CB, the validity dates. The certificate's status is not in it:
a status changes after signing, and is told by the status list (``credentialStatus``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apcert.certificates.models import CertificateIssue
from apcert.credentials import identifiers
from apcert.register import selectors


def _date_start(day: Any) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _date_end(day: Any) -> str:
    return f"{day.isoformat()}T23:59:59Z"


def build_credential(
    issue: CertificateIssue, *, status_entries: Sequence[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The unsigned credential of ``issue``.

    ``status_entries``: the ``credentialStatus`` entries (e.g. Bitstring Status List entries)
    to put in the credential before it is signed; none by default. Validity runs from the
    start (UTC) of ``valid_from`` to the end (UTC) of ``valid_until``.
    """
    certificate = issue.certificate
    cb = certificate.cb
    scheme = certificate.scheme
    issuer_did = identifiers.cb_did(cb.code)
    subject: dict[str, Any] = {
        "id": identifiers.organization_url(certificate.organization_id),
        "type": "IECQApprovedProcessCertification",
        "certificateNumber": certificate.number,
        "issueNumber": issue.issue_number,
        "issuedOn": issue.issued_on.isoformat(),
        "holder": dict(selectors.holder_of(issue)),
        "sites": selectors.public_sites(issue),
        "scheme": {"code": scheme.code, "name": scheme.name},
        "programmes": [{"code": p["code"], "name": p["name"]} for p in issue.programmes],
        "scopeLines": [
            {
                "category": line["category"],
                "categoryName": line["category_name"],
                "wording": line["wording"],
                "standards": line["standards"],
                "siteId": line["site_id"],
            }
            for line in selectors.public_scope_lines(issue)
        ],
        "standards": [
            {"designation": s["designation"], "edition": s["edition"], "title": s["title"]}
            for s in issue.standards
        ],
        "certificationBody": {
            "id": issuer_did,
            "code": cb.code,
            "name": cb.name,
            "country": cb.country,
        },
    }
    credential: dict[str, Any] = {
        "@context": [identifiers.VC_CONTEXT, identifiers.context_url()],
        "id": identifiers.issue_url(certificate.number, issue.issue_number),
        "type": ["VerifiableCredential", identifiers.CREDENTIAL_TYPE],
        "name": f"IECQ certificate {certificate.number}, issue {issue.issue_number}",
        "issuer": {"id": issuer_did, "name": cb.name},
        "validFrom": _date_start(issue.valid_from),
        "validUntil": _date_end(issue.valid_until),
        "credentialSubject": subject,
    }
    if status_entries:
        entries = [dict(entry) for entry in status_entries]
        credential["credentialStatus"] = entries[0] if len(entries) == 1 else entries
    return credential


def context_document() -> dict[str, Any]:
    """The JSON-LD context served at :data:`identifiers.CONTEXT_PATH`: every apcert term in
    the credentials is a term of the register's own vocabulary."""
    vocab = identifiers.context_url() + "#"
    return {
        "@context": {
            "@version": 1.1,
            identifiers.CREDENTIAL_TYPE: vocab + identifiers.CREDENTIAL_TYPE,
            "IECQApprovedProcessCertification": vocab + "IECQApprovedProcessCertification",
            "IECQVerificationReceipt": vocab + "IECQVerificationReceipt",
            "IECQCertificateStatusOnDate": vocab + "IECQCertificateStatusOnDate",
            "@vocab": vocab,
        }
    }
