"""Checking a signed credential: proof, issuer, key, validity dates.

:func:`verify_credential` never raises on bad input: it returns a :class:`VerificationResult`
made of named :class:`Check` lines (``signature``, ``validity``; a status check, from the
Bitstring Status List, is appended by its own code when it is added). The result is valid when
every check is; ``code`` is the first failing check's reason:

=============================== ======================================================
``credential.malformed``        not a JSON object, or not canonicalizable JSON
``proof.missing``               no ``proof``
``proof.malformed``             a proof field is missing or unreadable, or several proofs
``proof.unsupported_cryptosuite`` not a DataIntegrityProof of ``eddsa-jcs-2022``
``proof.context_mismatch``      the proof's ``@context`` is not the document's start
``proof.purpose_mismatch``      the proof purpose is not ``assertionMethod``
``issuer.unknown``              the issuer is not in the trust store
``key.unknown``                 the verification method is not a key of a known issuer
``key.issuer_mismatch``         the key belongs to another issuer than the credential names
``key.compromised``             the proof was created when the key was compromised
``proof.signature_mismatch``    the signature does not match (the credential was changed)
``credential.not_yet_valid``    before ``validFrom``
``credential.expired``          after ``validUntil``
=============================== ======================================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from apcert.credentials.proofs import (
    ASSERTION_METHOD,
    ProofError,
    format_datetime,
    parse_datetime,
    parse_proof,
    signature_matches,
)
from apcert.credentials.trust import TrustedIssuer, TrustStore


@dataclass(frozen=True)
class Check:
    """One line of a verification: ``name`` (signature, validity, status...), its outcome,
    the reason code when it failed, and a sentence for people."""

    name: str
    ok: bool
    detail: str
    code: str | None = None


@dataclass
class VerificationResult:
    checks: list[Check] = field(default_factory=list)
    issuer: TrustedIssuer | None = None
    issuer_id: str | None = None
    key_id: str | None = None
    signed_at: dt.datetime | None = None
    #: The ``credentialSubject`` (what the credential certifies), when there is one.
    subject: Mapping[str, Any] | None = None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None

    @property
    def valid(self) -> bool:
        return bool(self.checks) and all(check.ok for check in self.checks)

    @property
    def code(self) -> str | None:
        """The reason code of the first failing check; ``None`` when valid."""
        return next((check.code for check in self.checks if not check.ok), None)

    @property
    def signature_valid(self) -> bool:
        return any(check.name == "signature" and check.ok for check in self.checks)


def _fail(result: VerificationResult, code: str, detail: str) -> VerificationResult:
    result.checks.append(Check("signature", False, detail, code))
    return result


def issuer_id_of(credential: Mapping[str, Any]) -> str | None:
    issuer = credential.get("issuer")
    if isinstance(issuer, Mapping):
        issuer = issuer.get("id")
    return issuer if isinstance(issuer, str) and issuer else None


def verify_credential(
    credential: object, *, trust: TrustStore, now: dt.datetime | None = None
) -> VerificationResult:
    """Check a secured credential against the trust store, at ``now`` (default: the clock)."""
    result = VerificationResult()
    try:
        proof = parse_proof(credential)
    except ProofError as exc:
        return _fail(result, exc.code, exc.message)
    assert isinstance(credential, Mapping)  # parse_proof accepts nothing else
    subject = credential.get("credentialSubject")
    result.subject = subject if isinstance(subject, Mapping) else None
    result.key_id = proof.verification_method
    result.signed_at = proof.created
    result.issuer_id = issuer_id_of(credential)
    if proof.proof_purpose != ASSERTION_METHOD:
        return _fail(result, "proof.purpose_mismatch", "the proof is not for assertionMethod")
    issuer = trust.issuers.get(result.issuer_id or "")
    if issuer is None:
        return _fail(
            result,
            "issuer.unknown",
            f"the issuer {result.issuer_id or '(none)'} is not a known certification body",
        )
    result.issuer = issuer
    key = trust.keys.get(proof.verification_method)
    if key is None:
        return _fail(result, "key.unknown", f"{proof.verification_method} is not a known key")
    if key.controller != issuer.id:
        return _fail(
            result, "key.issuer_mismatch", f"the key {key.key_id} is not a key of {issuer.id}"
        )
    if key.compromised_from is not None and proof.created >= key.compromised_from:
        return _fail(
            result,
            "key.compromised",
            f"signed {format_datetime(proof.created)} with a key compromised since "
            f"{format_datetime(key.compromised_from)}",
        )
    if not signature_matches(proof, key.public_key):
        return _fail(
            result,
            "proof.signature_mismatch",
            "the signature does not match: the credential was changed after signing",
        )
    result.checks.append(
        Check(
            "signature",
            True,
            f"signed by {issuer.name or issuer.id} with {key.key_id} "
            f"on {format_datetime(proof.created)}",
        )
    )
    result.checks.append(_validity(result, credential, now or dt.datetime.now(dt.UTC)))
    return result


def _validity(result: VerificationResult, credential: Mapping[str, Any], now: dt.datetime) -> Check:
    bounds = {}
    for name in ("validFrom", "validUntil"):
        raw = credential.get(name)
        moment = parse_datetime(raw)
        if raw is not None and moment is None:
            return Check("validity", False, f"{name} is not a date-time", "credential.malformed")
        bounds[name] = moment
    result.valid_from, result.valid_until = bounds["validFrom"], bounds["validUntil"]
    if result.valid_from is not None and now < result.valid_from:
        return Check(
            "validity",
            False,
            f"not valid before {format_datetime(result.valid_from)}",
            "credential.not_yet_valid",
        )
    if result.valid_until is not None and now > result.valid_until:
        return Check(
            "validity",
            False,
            f"expired on {format_datetime(result.valid_until)}",
            "credential.expired",
        )
    until = format_datetime(result.valid_until) if result.valid_until else "no end date"
    return Check("validity", True, f"within its validity period (until {until})")
