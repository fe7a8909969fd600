"""Certificate numbers: ``IECQ-<letter> <CB code> <YY>.<NNNN>``, allocated under a row lock."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction

from apcert.bodies.models import CertificationBody
from apcert.certificates.models import CertificateNumberSequence
from apcert.schemes.models import SchemeRules


def format_number(rules: SchemeRules, *, cb_code: str, year: int, serial: int) -> str:
    return rules.number_format.format(
        letter=rules.certificate_letter, cb_code=cb_code, yy=f"{year % 100:02d}", serial=serial
    )


def next_serial(*, cb: CertificationBody, year: int) -> int:
    """Take the next serial of a CB in a year. Must run inside the grant's transaction: the
    sequence row stays locked until it commits, so two grants never take the same serial.
    A grant that rolls back takes its increment back with it, so its serial, never committed
    and never seen, goes to the next grant; a serial that was committed is never given again,
    because the sequence only grows and certificates are never deleted."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("next_serial() must run inside a transaction")
    seq = CertificateNumberSequence.objects.select_for_update().filter(cb=cb, year=year).first()
    if seq is None:
        try:
            with transaction.atomic():
                CertificateNumberSequence.objects.create(cb=cb, year=year, last_serial=0)
        except IntegrityError:
            pass  # another grant created it first; lock it below
        seq = CertificateNumberSequence.objects.select_for_update().get(cb=cb, year=year)
    seq.last_serial += 1
    seq.save(update_fields=["last_serial"])
    return seq.last_serial


def allocate_number(*, rules: SchemeRules, cb: CertificationBody, on: dt.date) -> tuple[str, int]:
    serial = next_serial(cb=cb, year=on.year)
    return format_number(rules, cb_code=cb.code, year=on.year, serial=serial), serial


def number_sequences_reach(serials: dict[tuple[int, int], int]) -> None:
    """Move each ``(CB id, year)`` sequence up to at least ``serial``: certificates written
    with the numbers they already had (an imported register) take their serials out of the
    sequence, so that no later grant is given one of them. Inside the caller's transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("number_sequences_reach() must run inside a transaction")
    for (cb_id, year), serial in sorted(serials.items()):
        seq = (
            CertificateNumberSequence.objects.select_for_update()
            .filter(cb_id=cb_id, year=year)
            .first()
        )
        if seq is None:
            CertificateNumberSequence.objects.create(cb_id=cb_id, year=year, last_serial=serial)
        elif seq.last_serial < serial:
            seq.last_serial = serial
            seq.save(update_fields=["last_serial"])
