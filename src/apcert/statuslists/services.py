"""Keeping the status lists in step with certificate statuses, in the same transaction.

Each certificate takes one index in its CB's lists when it is first published; the bit at
that index in the ``suspension`` list is set while it is suspended, and in the
``revocation`` list once it is withdrawn or cancelled (which never ends). An expired
certificate is told by the validity dates in its credential, not by a list.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Max

from apcert.certificates.choices import CertificateStatus
from apcert.certificates.models import Certificate
from apcert.statuslists import bitstring
from apcert.statuslists.choices import StatusPurpose
from apcert.statuslists.models import StatusList, StatusListEntry

#: The bit each list holds for a certificate in each status.
SUSPENDED_STATUSES = frozenset({"suspended"})
REVOKED_STATUSES = frozenset({"withdrawn", "cancelled"})


def _wanted(status: str) -> dict[str, bool]:
    return {
        StatusPurpose.SUSPENSION: status in SUSPENDED_STATUSES,
        StatusPurpose.REVOCATION: status in REVOKED_STATUSES,
    }


def _locked_lists(cb_id: int) -> dict[str, StatusList]:
    """Both lists of the CB, made if missing, locked for this transaction (in the same
    order everywhere, so two changes at one CB queue rather than deadlock)."""
    for purpose in StatusPurpose.values:
        StatusList.objects.get_or_create(
            cb_id=cb_id, purpose=purpose, defaults={"bits": bitstring.empty()}
        )
    lists = StatusList.objects.select_for_update().filter(cb_id=cb_id).order_by("purpose")
    return {lst.purpose: lst for lst in lists}


def status_entry_allocate(certificate: Certificate) -> StatusListEntry:
    """The certificate's index in its CB's lists, given now if it has none (the next free
    one; the lists grow by 16 KiB blocks when full)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("status_entry_allocate() must run inside the service's transaction")
    entry = StatusListEntry.objects.filter(certificate=certificate).first()
    if entry is not None:
        return entry
    lists = _locked_lists(certificate.cb_id)
    last = StatusListEntry.objects.filter(cb_id=certificate.cb_id).aggregate(m=Max("index"))["m"]
    index = 0 if last is None else last + 1
    size = bitstring.size_for(index + 1)
    for lst in lists.values():
        data = bytes(lst.bits)
        if len(data) * 8 < size:
            lst.bits = bitstring.grown(data, size)
            lst.version += 1
            lst.save(update_fields=["bits", "version", "updated_at"])
    return StatusListEntry.objects.create(
        certificate=certificate, cb_id=certificate.cb_id, index=index
    )


def status_lists_apply(certificate: Certificate) -> StatusListEntry | None:
    """Set the certificate's bits from its status (call after saving the status, inside
    the service's transaction) and return its entry. A draft has no place in the lists yet
    (None)."""
    if certificate.status == CertificateStatus.DRAFT:
        return None
    entry = status_entry_allocate(certificate)
    lists = _locked_lists(certificate.cb_id)
    for purpose, value in _wanted(certificate.status).items():
        lst = lists[purpose]
        data = bytes(lst.bits)
        if bitstring.get(data, entry.index) != value:
            lst.bits = bitstring.put(data, entry.index, value)
            lst.version += 1
            lst.save(update_fields=["bits", "version", "updated_at"])
    return entry


def status_lists_keep(certificate: Certificate) -> None:
    """Keep the certificate's bits in step after a change (a draft has none yet)."""
    status_lists_apply(certificate)


def status_entries_allocate_many(
    certificates: Iterable[Certificate],
) -> dict[int, StatusListEntry]:
    """Each certificate's index in its CB's lists (keyed by certificate id), given now to
    those that have none, a CB at a time: its lists locked and grown once, the new entries
    written together, and their bits set from their certificates' statuses, as
    :func:`status_lists_apply` sets them. For a batch (a few queries, whatever its size);
    drafts have no place yet and are left out."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("status_entries_allocate_many() must run inside a transaction")
    public = [c for c in certificates if c.status != CertificateStatus.DRAFT]
    entries = {
        entry.certificate_id: entry
        for entry in StatusListEntry.objects.filter(certificate__in=[c.pk for c in public])
    }
    missing: dict[int, list[Certificate]] = {}
    for certificate in public:
        if certificate.pk not in entries:
            missing.setdefault(certificate.cb_id, []).append(certificate)
    for cb_id in sorted(missing):
        newcomers = missing[cb_id]
        lists = _locked_lists(cb_id)
        last = StatusListEntry.objects.filter(cb_id=cb_id).aggregate(m=Max("index"))["m"]
        first = 0 if last is None else last + 1
        made = [
            StatusListEntry(certificate=certificate, cb_id=cb_id, index=first + n)
            for n, certificate in enumerate(newcomers)
        ]
        StatusListEntry.objects.bulk_create(made)
        size = bitstring.size_for(first + len(made))
        for purpose, lst in lists.items():
            before = bytes(lst.bits)
            data = bitstring.set_all(
                bitstring.grown(before, size),
                (
                    entry.index
                    for entry, certificate in zip(made, newcomers, strict=True)
                    if _wanted(certificate.status)[purpose]
                ),
            )
            if data != before:
                lst.bits = data
                lst.version += 1
                lst.save(update_fields=["bits", "version", "updated_at"])
        entries.update({entry.certificate_id: entry for entry in made})
    return entries
