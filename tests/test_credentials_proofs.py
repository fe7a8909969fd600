"""The eddsa-jcs-2022 cryptosuite on its own: the W3C test vector, tampering, bad input."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from apcert.credentials import multikey
from apcert.credentials.proofs import create_proof, parse_proof
from apcert.credentials.trust import TrustedIssuer, TrustedKey, TrustStore
from apcert.credentials.verification import verify_credential

DATA = Path(__file__).parent / "data" / "vc-di-eddsa"
VECTOR_ISSUER = "https://vc.example/issuers/5678"
NOW = dt.datetime(2026, 1, 12, tzinfo=dt.UTC)


def _vector() -> dict[str, Any]:
    return json.loads((DATA / "eddsa-jcs-2022-signed.json").read_text())


def _key_pair() -> tuple[bytes, Ed25519PrivateKey]:
    pair = json.loads((DATA / "keyPair.json").read_text())
    public = multikey.public_key_from_multibase(pair["publicKeyMultibase"])
    secret = multikey.multibase_decode(pair["privateKeyMultibase"])
    assert secret[:2] == b"\x80\x26"  # the ed25519-priv multicodec header
    return public, Ed25519PrivateKey.from_private_bytes(secret[2:])


def _vector_trust(compromised_from: dt.datetime | None = None) -> TrustStore:
    public, _ = _key_pair()
    store = TrustStore()
    store.add_issuer(
        TrustedIssuer(id=VECTOR_ISSUER, name="Example issuer"),
        [
            TrustedKey(
                key_id=_vector()["proof"]["verificationMethod"],
                controller=VECTOR_ISSUER,
                public_key=public,
                compromised_from=compromised_from,
            )
        ],
    )
    return store


def test_the_published_test_vector_verifies() -> None:
    result = verify_credential(_vector(), trust=_vector_trust(), now=NOW)

    assert result.valid, result.checks
    assert result.code is None
    assert [c.name for c in result.checks] == ["signature", "validity"]
    assert result.issuer is not None and result.issuer.id == VECTOR_ISSUER
    assert result.signed_at == dt.datetime(2023, 2, 24, 23, 36, 38, tzinfo=dt.UTC)


def test_signing_the_test_vector_gives_its_proof_value() -> None:
    # Given the vector's unsigned credential, its key and its created time
    vector = _vector()
    unsigned = {k: v for k, v in vector.items() if k != "proof"}
    _, private_key = _key_pair()

    # When it is signed
    signed = create_proof(
        unsigned,
        private_key=private_key,
        verification_method=vector["proof"]["verificationMethod"],
        created=dt.datetime(2023, 2, 24, 23, 36, 38, tzinfo=dt.UTC),
    )

    # Then the proof is the published one, byte for byte (Ed25519 is deterministic)
    assert signed == vector


def test_the_multikey_of_the_vector_round_trips() -> None:
    public, _private_key = _key_pair()
    assert multikey.public_key_multibase(public) == (
        "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2"
    )
    jwk = multikey.public_jwk(public, kid="k")
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and len(jwk["x"]) == 43


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (
            lambda d: d["credentialSubject"].update(alumniOf="Another School"),
            "proof.signature_mismatch",
        ),
        (lambda d: d.update(validFrom="2023-01-02T00:00:00Z"), "proof.signature_mismatch"),
        (lambda d: d["proof"].update(created="2023-02-24T23:36:39Z"), "proof.signature_mismatch"),
        (lambda d: d.update(extra=1), "proof.signature_mismatch"),
        (lambda d: d.pop("proof"), "proof.missing"),
        (lambda d: d["proof"].pop("proofValue"), "proof.malformed"),
        (lambda d: d["proof"].update(proofValue="zzz"), "proof.malformed"),
        (
            lambda d: d["proof"].update(proofValue="u" + d["proof"]["proofValue"][1:]),
            "proof.malformed",
        ),
        (lambda d: d["proof"].update(created="yesterday"), "proof.malformed"),
        (lambda d: d["proof"].update(created="2023-02-24T23:36:38"), "proof.malformed"),
        (lambda d: d.update(proof=[d["proof"], d["proof"]]), "proof.malformed"),
        (
            lambda d: d["proof"].update(cryptosuite="eddsa-rdfc-2022"),
            "proof.unsupported_cryptosuite",
        ),
        (lambda d: d["proof"].update(type="Ed25519Signature2020"), "proof.unsupported_cryptosuite"),
        (
            lambda d: d.update({"@context": ["https://www.w3.org/ns/credentials/v2"]}),
            "proof.context_mismatch",
        ),
        (lambda d: d["proof"].update(proofPurpose="authentication"), "proof.purpose_mismatch"),
        (lambda d: d.update(issuer="https://elsewhere.example/1"), "issuer.unknown"),
        (lambda d: d["proof"].update(verificationMethod=VECTOR_ISSUER + "#other"), "key.unknown"),
        (lambda d: d.update(validUntil="2024-01-01T00:00:00Z"), "proof.signature_mismatch"),
    ],
)
def test_a_changed_credential_fails_with_its_reason(change: Any, code: str) -> None:
    credential = _vector()
    change(credential)

    result = verify_credential(credential, trust=_vector_trust(), now=NOW)

    assert not result.valid
    assert result.code == code


def test_changing_one_byte_of_the_signature_fails() -> None:
    credential = _vector()
    signature = bytearray(multikey.multibase_decode(credential["proof"]["proofValue"]))
    signature[10] ^= 0x01
    credential["proof"]["proofValue"] = multikey.multibase_encode(bytes(signature))

    result = verify_credential(credential, trust=_vector_trust(), now=NOW)

    assert result.code == "proof.signature_mismatch"


def test_a_key_compromised_after_the_proof_still_verifies_and_before_does_not() -> None:
    created = dt.datetime(2023, 2, 24, 23, 36, 38, tzinfo=dt.UTC)
    later = verify_credential(
        _vector(), trust=_vector_trust(created + dt.timedelta(seconds=1)), now=NOW
    )
    at_once = verify_credential(_vector(), trust=_vector_trust(created), now=NOW)

    assert later.valid
    assert at_once.code == "key.compromised"


def test_validity_dates_are_checked_after_the_signature() -> None:
    _public, private_key = _key_pair()
    unsigned = {k: v for k, v in _vector().items() if k != "proof"}
    unsigned["validUntil"] = "2025-12-31T23:59:59Z"
    signed = create_proof(
        unsigned,
        private_key=private_key,
        verification_method=_vector()["proof"]["verificationMethod"],
        created=dt.datetime(2023, 2, 24, tzinfo=dt.UTC),
    )
    trust = _vector_trust()

    expired = verify_credential(signed, trust=trust, now=NOW)
    early = verify_credential(signed, trust=trust, now=dt.datetime(2022, 1, 1, tzinfo=dt.UTC))
    within = verify_credential(signed, trust=trust, now=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))

    assert (expired.code, expired.signature_valid) == ("credential.expired", True)
    assert early.code == "credential.not_yet_valid"
    assert within.valid


@pytest.mark.parametrize("value", [None, 1, "text", [], [{}], {"proof": "x"}, {"proof": {}}])
def test_anything_that_is_not_a_credential_is_reported_not_raised(value: object) -> None:
    result = verify_credential(value, trust=_vector_trust(), now=NOW)

    assert not result.valid
    assert result.code in {
        "credential.malformed",
        "proof.malformed",
        "proof.unsupported_cryptosuite",
    }


def test_numbers_jcs_cannot_canonicalize_are_malformed() -> None:
    credential = _vector()
    credential["credentialSubject"]["big"] = 2**60

    assert verify_credential(credential, trust=_vector_trust(), now=NOW).code == (
        "credential.malformed"
    )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)


@given(
    path=st.lists(
        st.sampled_from(["proof", "credentialSubject", "@context", "issuer"]),
        min_size=1,
        max_size=2,
    ),
    value=json_values,
)
def test_no_change_of_the_vector_raises_or_verifies(path: list[str], value: object) -> None:
    credential = copy.deepcopy(_vector())
    target: Any = credential
    for name in path[:-1]:
        target = target[name] if isinstance(target.get(name), dict) else target
    if target.get(path[-1]) == value:
        return
    target[path[-1]] = value

    result = verify_credential(credential, trust=_vector_trust(), now=NOW)

    assert not result.valid


def test_parse_proof_reports_what_was_signed() -> None:
    proof = parse_proof(_vector())
    assert len(proof.hash_data) == 64
    assert proof.proof_purpose == "assertionMethod"
