"""Reading signing keys and what the register publishes of them: each CB's DID document and
JWKS, the trust bundle, and the trust store the server verifies with."""

from __future__ import annotations

from typing import Any

from django.db.models import F, QuerySet
from django.utils import timezone

from apcert.bodies.models import CertificationBody
from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import CertificateIssue
from apcert.credentials import identifiers, multikey
from apcert.credentials.models import IssueCredential, SigningKey
from apcert.credentials.proofs import format_datetime
from apcert.credentials.receipts import REGISTER_NAME
from apcert.credentials.trust import (
    BUNDLE_TYPE,
    BUNDLE_VERSION,
    TrustedIssuer,
    TrustStore,
    keys_of_did_document,
)

DID_CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]


def signing_keys() -> QuerySet[SigningKey]:
    return SigningKey.objects.select_related("cb").order_by("cb__code", "sequence")


def keys_of(cb: CertificationBody) -> list[SigningKey]:
    return list(SigningKey.objects.filter(cb=cb).order_by("sequence"))


def current_key(cb: CertificationBody) -> SigningKey | None:
    """The key the CB signs with now: the one not retired (none if all are, or none yet)."""
    return SigningKey.objects.filter(cb=cb, retired_at__isnull=True).first()


def current_register_key() -> SigningKey | None:
    """The key the register signs its verification receipts with now, if any."""
    return SigningKey.objects.filter(cb__isnull=True, retired_at__isnull=True).first()


def register_keys() -> list[SigningKey]:
    return list(SigningKey.objects.filter(cb__isnull=True).order_by("sequence"))


def unsigned_latest_issues(cb: CertificationBody | None = None) -> QuerySet[CertificateIssue]:
    """The latest issues of public certificates (of ``cb``, or of every CB) that have no
    stored credential, at CBs that have a signing key now: what
    ``credentials_sign_missing`` signs."""
    keyed = SigningKey.objects.filter(cb__isnull=False, retired_at__isnull=True)
    if cb is not None:
        keyed = keyed.filter(cb=cb)
    return CertificateIssue.objects.filter(
        certificate__cb__in=keyed.values("cb"),
        credential__isnull=True,
        issue_number=F("certificate__current_issue_number"),
    ).exclude(certificate__status=CertificateStatus.DRAFT)


def stored_credential(issue_id: int) -> IssueCredential | None:
    return IssueCredential.objects.filter(issue_id=issue_id).first()


def public_cb(code: str) -> CertificationBody | None:
    """The CB with this code (as written in its DID), if it has ever had a signing key."""
    return CertificationBody.objects.filter(code=code, signing_keys__isnull=False).first()


def did_document(cb: CertificationBody, keys: list[SigningKey] | None = None) -> dict[str, Any]:
    """The CB's ``did:web`` DID document: every key it has had, as a Multikey verification
    method usable for ``assertionMethod``. A compromised key carries ``revoked`` (W3C
    Controlled Identifiers 1.0), the time from which its proofs are not to be trusted; it
    stays listed so that what it signed before still verifies."""
    return _did_document(identifiers.cb_did(cb.code), keys_of(cb) if keys is None else keys)


def register_did_document(keys: list[SigningKey] | None = None) -> dict[str, Any]:
    """The register's own DID document (``/.well-known/did.json``): the keys that sign its
    verification receipts, as a CB's document lists the CB's."""
    return _did_document(identifiers.register_did(), register_keys() if keys is None else keys)


def _did_document(did: str, keys: list[SigningKey]) -> dict[str, Any]:
    methods = []
    for key in keys:
        method: dict[str, Any] = {
            "id": key.key_id,
            "type": "Multikey",
            "controller": did,
            "publicKeyMultibase": key.public_key_multibase,
        }
        if key.compromised_from is not None:
            method["revoked"] = format_datetime(key.compromised_from)
        methods.append(method)
    return {
        "@context": list(DID_CONTEXT),
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": [key.key_id for key in keys],
    }


def jwks(cb: CertificationBody, keys: list[SigningKey] | None = None) -> dict[str, Any]:
    """The CB's JSON Web Key Set (RFC 7517/8037): its keys that are not compromised (a JWKS
    cannot say "trusted until"; the DID document can, and lists them all)."""
    keys = keys_of(cb) if keys is None else keys
    return {
        "keys": [
            multikey.public_jwk(
                multikey.public_key_from_multibase(key.public_key_multibase), kid=key.key_id
            )
            for key in keys
            if key.compromised_from is None
        ]
    }


def trust_bundle() -> dict[str, Any]:
    """Every CB that has a signing key, with its DID document, and the register itself once
    it has a key (it signs verification receipts): what ``apcert verify --trust-bundle``
    needs to check credentials and receipts with no network."""
    by_cb: dict[int, list[SigningKey]] = {}
    cbs: dict[int, CertificationBody] = {}
    own: list[SigningKey] = []
    for key in signing_keys():
        if key.cb_id is None or key.cb is None:
            own.append(key)
            continue
        by_cb.setdefault(key.cb_id, []).append(key)
        cbs[key.cb_id] = key.cb
    issuers = []
    for cb_id in sorted(cbs, key=lambda i: cbs[i].code):
        cb = cbs[cb_id]
        issuers.append(
            {
                "id": identifiers.cb_did(cb.code),
                "code": cb.code,
                "name": cb.name,
                "country": cb.country,
                "didDocument": did_document(cb, by_cb[cb_id]),
            }
        )
    if own:
        issuers.append(
            {
                "id": identifiers.register_did(),
                "code": "",
                "name": REGISTER_NAME,
                "country": "",
                "didDocument": register_did_document(own),
            }
        )
    return {
        "type": BUNDLE_TYPE,
        "version": BUNDLE_VERSION,
        "register": identifiers.site_url(),
        "generated": format_datetime(timezone.now()),
        "issuers": issuers,
    }


def trust_store() -> TrustStore:
    """The trust store of the register's own database (same content as the trust bundle)."""
    store = TrustStore()
    for entry in trust_bundle()["issuers"]:
        store.add_issuer(
            TrustedIssuer(id=entry["id"], name=entry["name"], code=entry["code"]),
            keys_of_did_document(entry["didDocument"]),
        )
    return store
