"""The public addresses of the credentials: each CB's ``did:web`` DID, its DID document and
JWKS, the JSON-LD context, and the register address of a certificate issue.

``did:web:<host>:cbs:<code>`` resolves (did:web method) to ``https://<host>/cbs/<code>/did.json``;
a port in ``APCERT_SITE_URL`` is written ``%3A`` and a path prefix becomes more ``:``
segments. ``/cbs/`` is apcert's own prefix for these documents: the CB directory pages are at
``/bodies/<code>``, so nothing clashes.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from django.conf import settings

#: The path (under the site) of the apcert JSON-LD context the credentials name.
CONTEXT_PATH = "/ns/credentials/v1"
VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
CREDENTIAL_TYPE = "IECQApprovedProcessCertificate"


def site_url() -> str:
    return str(settings.SITE_URL).rstrip("/")


def context_url() -> str:
    return site_url() + CONTEXT_PATH


def cb_did(cb_code: str) -> str:
    """The ``did:web`` DID of a CB under this register's address."""
    parts = urlsplit(site_url())
    segments = [quote(parts.netloc, safe="")]
    segments += [quote(s, safe="") for s in parts.path.split("/") if s]
    segments += ["cbs", quote(cb_code, safe="")]
    return "did:web:" + ":".join(segments)


def key_id(cb_code: str, sequence: int) -> str:
    """The verification method id of a CB's ``sequence``-th key."""
    return f"{cb_did(cb_code)}#key-{sequence}"


def did_document_url(cb_code: str) -> str:
    return f"{site_url()}/cbs/{quote(cb_code, safe='')}/did.json"


def jwks_url(cb_code: str) -> str:
    return f"{site_url()}/cbs/{quote(cb_code, safe='')}/jwks.json"


def issue_url(number: str, issue_number: int) -> str:
    """The register address of one issue of a certificate (its row in the issue history)."""
    return f"{site_url()}/certificates/{quote(number, safe='')}#issue-{issue_number}"


def organization_url(organization_id: int) -> str:
    return f"{site_url()}/organizations/{organization_id}"
