"""The bitstring of a W3C Bitstring Status List (v1.0), as plain functions.

The list is a run of bits, one per credential, the first credential at the most significant
bit of the first byte. Published, it is GZIP-compressed and written as multibase base64url
without padding (the prefix ``u``). The specification asks for at least 131,072 bits
(16 KiB) so that a list does not tell how many credentials it covers; lists grow by that
size.
"""

from __future__ import annotations

import base64
import gzip
from collections.abc import Iterable

#: The smallest list the specification allows, in bits (and the step a list grows by).
MIN_BITS = 131_072
MULTIBASE_BASE64URL = "u"


class BitstringError(ValueError):
    """An encoded list that cannot be read: not multibase base64url, not GZIP, empty."""


def size_for(entries: int) -> int:
    """The number of bits of a list holding ``entries`` (a whole number of 16 KiB blocks)."""
    blocks = max(1, -(-entries // MIN_BITS))
    return blocks * MIN_BITS


def empty(bits: int = MIN_BITS) -> bytes:
    return bytes(-(-bits // 8))


def grown(data: bytes, bits: int) -> bytes:
    """``data`` padded with zero bits to hold ``bits`` bits."""
    need = -(-bits // 8)
    return data + bytes(need - len(data)) if len(data) < need else data


def get(data: bytes, index: int) -> bool:
    if index < 0 or index >= len(data) * 8:
        raise IndexError(f"status list index {index} is outside the list ({len(data) * 8} bits)")
    return bool(data[index // 8] & (0x80 >> (index % 8)))


def put(data: bytes, index: int, value: bool) -> bytes:
    """``data`` with bit ``index`` set to ``value`` (a new bytes object)."""
    if index < 0 or index >= len(data) * 8:
        raise IndexError(f"status list index {index} is outside the list ({len(data) * 8} bits)")
    out = bytearray(data)
    mask = 0x80 >> (index % 8)
    if value:
        out[index // 8] |= mask
    else:
        out[index // 8] &= ~mask & 0xFF
    return bytes(out)


def set_all(data: bytes, indices: Iterable[int]) -> bytes:
    """``data`` with the bits at ``indices`` set (a new bytes object, made once)."""
    out = bytearray(data)
    for index in indices:
        if index < 0 or index >= len(out) * 8:
            raise IndexError(f"status list index {index} is outside the list ({len(out) * 8} bits)")
        out[index // 8] |= 0x80 >> (index % 8)
    return bytes(out)


def encode(data: bytes) -> str:
    """The ``encodedList`` value: GZIP (with a fixed time stamp, so the same bits always give
    the same text), then multibase base64url without padding."""
    packed = gzip.compress(data, mtime=0)
    return MULTIBASE_BASE64URL + base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode(encoded: str) -> bytes:
    """The bits of an ``encodedList`` value; :class:`BitstringError` when it is not one."""
    if not isinstance(encoded, str) or not encoded.startswith(MULTIBASE_BASE64URL):
        raise BitstringError("the encoded list is not multibase base64url (prefix 'u')")
    text = encoded[1:]
    try:
        packed = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        data = gzip.decompress(packed)
    except (ValueError, OSError, EOFError) as exc:
        raise BitstringError(f"the encoded list cannot be read: {exc}") from None
    if not data:
        raise BitstringError("the encoded list is empty")
    return data
