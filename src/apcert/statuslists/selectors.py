"""Reading the status lists: a certificate's entries for its credentials, a list's
unsigned credential document, and a bit of a published list."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.utils import timezone

from apcert.bodies.models import CertificationBody
from apcert.certificates.models import Certificate
from apcert.statuslists import bitstring
from apcert.statuslists.choices import StatusPurpose
from apcert.statuslists.models import StatusList, StatusListEntry

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"


def status_list_url(cb_code: str, purpose: str) -> str:
    return f"{settings.SITE_URL}/bodies/{quote(cb_code, safe='')}/status/{purpose}"


def status_entries(certificate: Certificate, entry: StatusListEntry) -> list[dict[str, Any]]:
    """The ``credentialStatus`` entries of the certificate's credentials: one per purpose,
    each naming its list and the certificate's index in it."""
    entries = []
    for purpose in StatusPurpose.values:
        url = status_list_url(certificate.cb.code, purpose)
        entries.append(
            {
                "id": f"{url}#{entry.index}",
                "type": "BitstringStatusListEntry",
                "statusPurpose": purpose,
                "statusListIndex": str(entry.index),
                "statusListCredential": url,
            }
        )
    return entries


def status_list_document(status_list: StatusList, *, issuer: str) -> dict[str, Any]:
    """The unsigned BitstringStatusListCredential of ``status_list`` (W3C Bitstring Status
    List v1.0, section 2.2), issued by ``issuer`` (the CB's DID)."""
    cb: CertificationBody = status_list.cb
    url = status_list_url(cb.code, status_list.purpose)
    return {
        "@context": [CREDENTIALS_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer,
        "validFrom": status_list.updated_at.replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z"),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": status_list.purpose,
            "encodedList": bitstring.encode(bytes(status_list.bits)),
        },
    }


def published_status_list(cb: CertificationBody, purpose: str, *, issuer: str) -> dict[str, Any]:
    """The unsigned status list credential of the CB for ``purpose`` as it is now. A CB
    whose lists were never made (no certificate published since it had them) has an
    all-zero list: no certificate of it is suspended or revoked by a list."""
    status_list = StatusList.objects.filter(cb=cb, purpose=purpose).first()
    if status_list is None:
        status_list = StatusList(cb=cb, purpose=purpose, bits=bitstring.empty())
        status_list.updated_at = timezone.now()
    status_list.cb = cb
    return status_list_document(status_list, issuer=issuer)


def status_bit(document: dict[str, Any], index: int) -> bool:
    """The bit at ``index`` of a status list credential's ``encodedList``
    (:class:`~apcert.statuslists.bitstring.BitstringError` or IndexError when unreadable)."""
    subject = document.get("credentialSubject")
    if not isinstance(subject, dict):
        raise bitstring.BitstringError("the status list credential has no subject")
    return bitstring.get(bitstring.decode(subject.get("encodedList", "")), index)
