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


def _site_segments() -> list[str]:
    parts = urlsplit(site_url())
    segments = [quote(parts.netloc, safe="")]
    segments += [quote(s, safe="") for s in parts.path.split("/") if s]
    return segments


def cb_did(cb_code: str) -> str:
    """The ``did:web`` DID of a CB under this register's address."""
    return "did:web:" + ":".join([*_site_segments(), "cbs", quote(cb_code, safe="")])


def register_did() -> str:
    """The register's own ``did:web`` DID (it signs verification receipts):
    ``did:web:<host>``, resolved at ``https://<host>/.well-known/did.json``."""
    return "did:web:" + ":".join(_site_segments())


def register_key_id(sequence: int) -> str:
    return f"{register_did()}#key-{sequence}"


def key_id(cb_code: str, sequence: int) -> str:
    """The verification method id of a CB's ``sequence``-th key."""
    return f"{cb_did(cb_code)}#key-{sequence}"


#: Where did:web resolves the register's DID (a site without a path prefix).
REGISTER_DID_PATH = "/.well-known/did.json"


def did_document_url(cb_code: str) -> str:
    return f"{site_url()}/cbs/{quote(cb_code, safe='')}/did.json"


def jwks_url(cb_code: str) -> str:
    return f"{site_url()}/cbs/{quote(cb_code, safe='')}/jwks.json"


def issue_url(number: str, issue_number: int) -> str:
    """The register address of one issue of a certificate (its row in the issue history)."""
    return f"{site_url()}/certificates/{quote(number, safe='')}#issue-{issue_number}"


def organization_url(organization_id: int) -> str:
    return f"{site_url()}/organizations/{organization_id}"
