"""W3C Bitstring Status Lists of certificates: the bitstring's encoding, and the
bits kept in step with each certificate status, per CB and purpose."""

from __future__ import annotations

import base64
import gzip

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    certificate_cancel,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.statuslists import bitstring
from apcert.statuslists.models import StatusList, StatusListEntry
from apcert.statuslists.selectors import status_bit, status_entries, status_list_document
from apcert.statuslists.services import status_entry_allocate, status_lists_apply
from tests.factories import World

# --- the bitstring -----------------------------------------------------------------------------


def test_the_first_index_is_the_most_significant_bit_of_the_first_byte() -> None:
    data = bitstring.put(bitstring.empty(), 0, True)
    assert data[0] == 0b1000_0000
    data = bitstring.put(data, 9, True)
    assert data[1] == 0b0100_0000
    assert bitstring.get(data, 9) and not bitstring.get(data, 8)
    assert bitstring.get(bitstring.put(data, 9, False), 9) is False


def test_an_encoded_list_is_multibase_base64url_of_gzip_and_at_least_16_kib() -> None:
    encoded = bitstring.encode(bitstring.put(bitstring.empty(), 5, True))
    assert encoded.startswith("u") and "=" not in encoded and "+" not in encoded
    text = encoded[1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    assert len(raw) == 16 * 1024
    assert raw[0] == 0b0000_0100
    # The same bits always give the same text (a fixed GZIP time stamp).
    assert encoded == bitstring.encode(bitstring.put(bitstring.empty(), 5, True))


@given(st.sets(st.integers(min_value=0, max_value=bitstring.MIN_BITS - 1), max_size=40))
def test_encode_then_decode_keeps_every_bit(indexes: set[int]) -> None:
    data = bitstring.empty()
    for i in indexes:
        data = bitstring.put(data, i, True)
    back = bitstring.decode(bitstring.encode(data))
    assert back == data
    assert {i for i in range(bitstring.MIN_BITS) if i in indexes and bitstring.get(back, i)} == (
        indexes
    )


@pytest.mark.parametrize("bad", ["", "zabc", "u!!!", "u" + "A" * 10, 7])
def test_an_unreadable_list_is_refused_by_name(bad: object) -> None:
    with pytest.raises(bitstring.BitstringError):
        bitstring.decode(bad)  # type: ignore[arg-type]


def test_lists_grow_by_whole_blocks() -> None:
    assert bitstring.size_for(1) == bitstring.MIN_BITS
    assert bitstring.size_for(bitstring.MIN_BITS) == bitstring.MIN_BITS
    assert bitstring.size_for(bitstring.MIN_BITS + 1) == 2 * bitstring.MIN_BITS
    with pytest.raises(IndexError):
        bitstring.get(bitstring.empty(), bitstring.MIN_BITS)


# --- the bits of certificates ------------------------------------------------------------------


def _bits(cert: Certificate) -> dict[str, bool]:
    entry = StatusListEntry.objects.get(certificate=cert)
    return {
        lst.purpose: bitstring.get(bytes(lst.bits), entry.index)
        for lst in StatusList.objects.filter(cb=cert.cb)
    }


def _apply(cert: Certificate) -> None:
    with transaction.atomic():
        status_lists_apply(Certificate.objects.get(pk=cert.pk))


@pytest.mark.django_db
def test_each_status_sets_its_bits(world: World) -> None:
    cert = world.granted()
    dm = world.team.decision_maker
    on = cert.initial_decision_on
    _apply(cert)
    assert _bits(cert) == {"suspension": False, "revocation": False}

    certificate_suspend(
        actor=dm, certificate=cert, reason_category="complaint", reason="x", decided_on=on
    )
    _apply(cert)
    assert _bits(cert) == {"suspension": True, "revocation": False}

    certificate_restore(actor=dm, certificate=cert, reason="Resolved", decided_on=on)
    _apply(cert)
    assert _bits(cert) == {"suspension": False, "revocation": False}

    certificate_withdraw(
        actor=dm, certificate=cert, reason_category="misuse", reason="x", decided_on=on
    )
    _apply(cert)
    assert _bits(cert) == {"suspension": False, "revocation": True}

    other = world.granted()
    certificate_cancel(actor=dm, certificate=other, reason="Plant closed", decided_on=on)
    _apply(other)
    assert _bits(other) == {"suspension": False, "revocation": True}


@pytest.mark.django_db
def test_indexes_are_given_once_per_certificate_and_never_shared(world: World) -> None:
    first, second = world.granted(), world.granted()
    with transaction.atomic():
        a = status_entry_allocate(first)
        b = status_entry_allocate(second)
        again = status_entry_allocate(first)
    assert (a.index, b.index, again.pk) == (0, 1, a.pk)


@pytest.mark.django_db
def test_a_list_document_names_its_purpose_and_reads_back(world: World) -> None:
    cert = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="x",
        decided_on=cert.initial_decision_on,
    )
    _apply(cert)
    entry = StatusListEntry.objects.get(certificate=cert)
    entries = status_entries(cert, entry)
    assert [e["statusPurpose"] for e in entries] == ["suspension", "revocation"]
    for e in entries:
        lst = StatusList.objects.get(cb=cert.cb, purpose=e["statusPurpose"])
        doc = status_list_document(lst, issuer="did:web:example")
        assert doc["id"] == e["statusListCredential"]
        assert doc["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
        assert doc["credentialSubject"]["statusPurpose"] == e["statusPurpose"]
        assert status_bit(doc, int(e["statusListIndex"])) is (e["statusPurpose"] == "suspension")
