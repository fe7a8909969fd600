"""Encodings of Ed25519 public keys: Multikey ``publicKeyMultibase`` and JWK.

Multikey (W3C Controlled Identifiers 1.0): ``z`` (multibase base58-btc) + base58btc(the
multicodec header ``0xed 0x01`` for an Ed25519 public key + the 32 key bytes). JWK (RFC 8037):
``{"kty": "OKP", "crv": "Ed25519", "x": base64url(key bytes)}``.
"""

from __future__ import annotations

import base64
from typing import Any

import base58

#: The multibase prefix of base58-btc.
BASE58BTC = "z"
#: The digit zero of base58-btc.
BASE58_ZERO = "1"
#: The multicodec header of an Ed25519 public key (``ed25519-pub``, 0xed as a varint).
ED25519_PUB_HEADER = b"\xed\x01"
ED25519_KEY_BYTES = 32


class EncodingError(ValueError):
    """A multibase or Multikey value that cannot be decoded."""


def multibase_encode(data: bytes) -> str:
    """``z`` + base58-btc of ``data``."""
    return BASE58BTC + base58.b58encode(data).decode("ascii")


def multibase_decode(value: str) -> bytes:
    """The bytes of a base58-btc multibase value (``z...``)."""
    if not isinstance(value, str) or not value.startswith(BASE58BTC) or len(value) < 2:
        raise EncodingError("not a base58-btc multibase value (it must start with 'z')")
    digits = value[1:]
    try:
        number = base58.b58decode_int(digits)
    except ValueError as exc:
        raise EncodingError(f"not base58-btc: {exc}") from None
    # Each leading "1" (the digit zero) stands for one leading zero byte; the rest is the
    # number, big-endian, in as few bytes as it takes.
    zeros = len(digits) - len(digits.lstrip(BASE58_ZERO))
    return bytes(zeros) + number.to_bytes((number.bit_length() + 7) // 8, "big")


def public_key_multibase(raw: bytes) -> str:
    """The Multikey ``publicKeyMultibase`` of a raw 32-byte Ed25519 public key."""
    if len(raw) != ED25519_KEY_BYTES:
        raise EncodingError("an Ed25519 public key has 32 bytes")
    return multibase_encode(ED25519_PUB_HEADER + raw)


def public_key_from_multibase(value: str) -> bytes:
    """The raw 32 bytes of an Ed25519 Multikey ``publicKeyMultibase``."""
    data = multibase_decode(value)
    if not data.startswith(ED25519_PUB_HEADER):
        raise EncodingError("not an Ed25519 Multikey (the header must be 0xed01)")
    raw = data[len(ED25519_PUB_HEADER) :]
    if len(raw) != ED25519_KEY_BYTES:
        raise EncodingError("an Ed25519 public key has 32 bytes")
    return raw


def public_jwk(raw: bytes, *, kid: str) -> dict[str, Any]:
    """The public JWK (RFC 8037, OKP/Ed25519) of a raw public key, with its ``kid``."""
    if len(raw) != ED25519_KEY_BYTES:
        raise EncodingError("an Ed25519 public key has 32 bytes")
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"}
