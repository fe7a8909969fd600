"""The Data Integrity cryptosuite ``eddsa-jcs-2022`` (W3C "Data Integrity EdDSA Cryptosuites
v1.0", section 3.3), for one proof on a JSON document.

Creating a proof: the proof configuration (``type`` DataIntegrityProof, ``cryptosuite``,
``created``, ``verificationMethod``, ``proofPurpose`` and the document's ``@context``) and the
document are each canonicalized with JCS (RFC 8785) and hashed with SHA-256; the signature is
Ed25519 over ``hash(proof configuration) || hash(document)``, and ``proofValue`` is its
base58-btc multibase. Verifying takes the same steps back: the proof without ``proofValue`` is
the configuration, the document without ``proof`` is what was signed, and a proof ``@context``
must be the start of the document's.

This module is pure: no database, no settings. It never raises on a bad document, only
:class:`ProofError`, whose ``code`` the verifier reports.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from apcert.credentials import jcs
from apcert.credentials.multikey import EncodingError, multibase_decode, multibase_encode

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-jcs-2022"
ASSERTION_METHOD = "assertionMethod"
ED25519_SIGNATURE_BYTES = 64


class ProofError(ValueError):
    """A document whose proof cannot be checked; ``code`` says why (``proof.malformed``...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParsedProof:
    """A proof read from a secured document, ready for its signature to be checked."""

    verification_method: str
    created: dt.datetime
    proof_purpose: str
    signature: bytes
    #: SHA-256(JCS(proof configuration)) || SHA-256(JCS(unsecured document)): what was signed.
    hash_data: bytes


def format_datetime(moment: dt.datetime) -> str:
    """An XML Schema dateTimeStamp in UTC, to the second: ``2026-01-12T09:30:00Z``."""
    if moment.tzinfo is None:
        raise ValueError("a proof's time needs a time zone")
    # isoformat() of a naive time without microseconds is YYYY-MM-DDTHH:MM:SS, the year
    # always in four digits.
    return moment.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def parse_datetime(value: object) -> dt.datetime | None:
    """A dateTimeStamp (with its time zone) as an aware datetime, or ``None``."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _canonical(value: Any) -> bytes:
    try:
        return jcs.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise ProofError(
            "credential.malformed", f"the JSON cannot be canonicalized: {exc}"
        ) from None


def _hash_data(proof_config: Mapping[str, Any], document: Mapping[str, Any]) -> bytes:
    return (
        hashlib.sha256(_canonical(proof_config)).digest()
        + hashlib.sha256(_canonical(document)).digest()
    )


def _copied(value: Any) -> Any:
    """A copy of a JSON value that shares nothing mutable with it; objects and arrays are
    copied as such (faster than ``copy.deepcopy``), anything else deep-copied."""
    kind = type(value)
    if kind is dict:
        return {name: _copied(item) for name, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        return value
    return copy.deepcopy(value)


def create_proof(
    document: Mapping[str, Any],
    *,
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: dt.datetime,
    proof_purpose: str = ASSERTION_METHOD,
) -> dict[str, Any]:
    """The document (a copy) with an ``eddsa-jcs-2022`` proof added under ``proof``."""
    unsecured = _copied(dict(document))
    if "proof" in unsecured:
        raise ValueError("the document already has a proof; apcert signs unsigned documents")
    config: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": format_datetime(created),
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    if "@context" in unsecured:
        config["@context"] = _copied(unsecured["@context"])
    signature = private_key.sign(_hash_data(config, unsecured))
    return {**unsecured, "proof": {**config, "proofValue": multibase_encode(signature)}}


def _text(proof: Mapping[str, Any], name: str) -> str:
    value = proof.get(name)
    if not isinstance(value, str) or not value:
        raise ProofError("proof.malformed", f"the proof has no {name}")
    return value


def parse_proof(secured: object) -> ParsedProof:
    """Read the one proof of a secured document and compute what it signed.

    Raises :class:`ProofError` with ``credential.malformed``, ``proof.missing``,
    ``proof.malformed``, ``proof.unsupported_cryptosuite`` or ``proof.context_mismatch``.
    """
    if not isinstance(secured, Mapping):
        raise ProofError("credential.malformed", "a credential is a JSON object")
    proof = secured.get("proof")
    if proof is None:
        raise ProofError("proof.missing", "the credential has no proof")
    if isinstance(proof, list):
        raise ProofError("proof.malformed", "apcert credentials carry exactly one proof")
    if not isinstance(proof, Mapping):
        raise ProofError("proof.malformed", "the proof is not a JSON object")
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        raise ProofError(
            "proof.unsupported_cryptosuite",
            f"the proof is not a {PROOF_TYPE} of the {CRYPTOSUITE} cryptosuite",
        )
    verification_method = _text(proof, "verificationMethod")
    proof_purpose = _text(proof, "proofPurpose")
    created = parse_datetime(proof.get("created"))
    if created is None:
        raise ProofError("proof.malformed", "the proof's created is not a date-time with a zone")
    try:
        signature = multibase_decode(_text(proof, "proofValue"))
    except EncodingError as exc:
        raise ProofError("proof.malformed", f"the proofValue is {exc}") from None
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise ProofError("proof.malformed", "the proofValue is not a 64-byte Ed25519 signature")

    unsecured = dict(secured)
    del unsecured["proof"]
    config = dict(proof)
    del config["proofValue"]
    if "@context" in config:
        # Section 3.3.2: the document's @context must start with the proof's, in order; the
        # proof's then stands for the document's in what is hashed.
        proof_context = config["@context"]
        document_context = unsecured.get("@context")
        wanted = proof_context if isinstance(proof_context, list) else [proof_context]
        have = document_context if isinstance(document_context, list) else [document_context]
        if have[: len(wanted)] != wanted:
            raise ProofError(
                "proof.context_mismatch",
                "the document's @context does not start with the proof's @context",
            )
        unsecured["@context"] = proof_context
    return ParsedProof(
        verification_method=verification_method,
        created=created,
        proof_purpose=proof_purpose,
        signature=signature,
        hash_data=_hash_data(config, unsecured),
    )


def signature_matches(proof: ParsedProof, public_key: bytes) -> bool:
    """Whether the proof's Ed25519 signature is good for this raw 32-byte public key."""
    try:
        _public_key(public_key).verify(proof.signature, proof.hash_data)
    except (InvalidSignature, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _public_key(raw: bytes) -> Ed25519PublicKey:
    """The key object of a raw public key, made once: a batch meets the same few keys."""
    return Ed25519PublicKey.from_public_bytes(raw)
