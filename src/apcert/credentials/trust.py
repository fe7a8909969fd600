"""What a verifier trusts: issuers (each CB's DID) and their public keys with compromise dates.

Built from the database (:func:`apcert.credentials.selectors.trust_store`) or, offline, from a
trust bundle file (``apcert trust-bundle``): a JSON object listing every CB with its DID
document. A key whose verification method carries ``revoked`` (W3C Controlled Identifiers
1.0) was compromised from that time: proofs created from then on do not verify.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from apcert.credentials.multikey import EncodingError, public_key_from_multibase
from apcert.credentials.proofs import parse_datetime

#: The ``type`` and ``version`` of a trust bundle file.
BUNDLE_TYPE = "ApcertTrustBundle"
BUNDLE_VERSION = 1


class TrustBundleError(ValueError):
    """A trust bundle that cannot be read."""


@dataclass(frozen=True)
class TrustedIssuer:
    """An issuer a verifier knows: a CB's DID, with its code and name for people."""

    id: str
    name: str
    code: str = ""


@dataclass(frozen=True)
class TrustedKey:
    """A public key of a known issuer; ``compromised_from`` when it must no longer be trusted."""

    key_id: str
    controller: str
    public_key: bytes
    compromised_from: dt.datetime | None = None


@dataclass
class TrustStore:
    issuers: dict[str, TrustedIssuer] = field(default_factory=dict)
    keys: dict[str, TrustedKey] = field(default_factory=dict)

    def add_issuer(self, issuer: TrustedIssuer, keys: Iterable[TrustedKey]) -> None:
        self.issuers[issuer.id] = issuer
        for key in keys:
            self.keys[key.key_id] = key

    @classmethod
    def from_bundle(cls, bundle: object) -> TrustStore:
        """The trust store of a parsed trust bundle; :class:`TrustBundleError` if malformed."""
        if not isinstance(bundle, Mapping) or bundle.get("type") != BUNDLE_TYPE:
            raise TrustBundleError(f"not an apcert trust bundle (its type is not {BUNDLE_TYPE})")
        if bundle.get("version") != BUNDLE_VERSION:
            raise TrustBundleError(f"unsupported trust bundle version {bundle.get('version')!r}")
        entries = bundle.get("issuers")
        if not isinstance(entries, list):
            raise TrustBundleError("the trust bundle has no list of issuers")
        store = cls()
        for entry in entries:
            if not isinstance(entry, Mapping):
                raise TrustBundleError("an issuer of the trust bundle is not an object")
            document = entry.get("didDocument")
            issuer = TrustedIssuer(
                id=str(entry.get("id", "")),
                name=str(entry.get("name", "")),
                code=str(entry.get("code", "")),
            )
            if not issuer.id or not isinstance(document, Mapping):
                raise TrustBundleError("an issuer of the trust bundle has no id or DID document")
            if document.get("id") != issuer.id:
                raise TrustBundleError(f"the DID document of {issuer.id} names another DID")
            store.add_issuer(issuer, keys_of_did_document(document))
        return store


def keys_of_did_document(document: Mapping[str, Any]) -> list[TrustedKey]:
    """The Ed25519 Multikeys a DID document lists for ``assertionMethod``."""
    did = str(document.get("id", ""))
    asserting = {m for m in document.get("assertionMethod", []) if isinstance(m, str)}
    keys = []
    for method in document.get("verificationMethod", []):
        if not isinstance(method, Mapping) or method.get("type") != "Multikey":
            continue
        key_id = method.get("id")
        if key_id not in asserting or method.get("controller") != did:
            continue
        try:
            raw = public_key_from_multibase(str(method.get("publicKeyMultibase", "")))
        except EncodingError as exc:
            raise TrustBundleError(f"the key {key_id} is unreadable: {exc}") from None
        revoked = method.get("revoked")
        compromised_from = parse_datetime(revoked) if revoked is not None else None
        if revoked is not None and compromised_from is None:
            raise TrustBundleError(f"the key {key_id} has an unreadable revoked date")
        keys.append(TrustedKey(str(key_id), did, raw, compromised_from))
    return keys
