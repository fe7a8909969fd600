"""Reading the audit trail, and checking that it is intact."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import QuerySet

from apcert.audit.chain import GENESIS_HASH, event_content, event_hash
from apcert.audit.models import AuditChainHead, AuditEvent


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def audit_events_for(*, object_type: str, object_id: str | int) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id))


def audit_chain_verify(
    *, chunk_size: int = 5000, progress: Callable[[int], None] | None = None
) -> ChainReport:
    """Walk the whole chain in order; report the first event that does not verify."""
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0
    rows = AuditEvent.objects.order_by("seq").values_list(
        "seq",
        "occurred_at",
        "actor_id",
        "actor_label",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before",
        "after",
        "reason",
        "prev_hash",
        "hash",
    )
    for row in rows.iterator(chunk_size=chunk_size):
        (
            seq,
            occurred_at,
            actor_id,
            actor_label,
            action,
            object_type,
            object_id,
            object_repr,
            before,
            after,
            reason,
            prev_hash,
            stored_hash,
        ) = row
        if seq != expected_seq:
            return ChainReport(
                False,
                checked,
                expected_seq,
                f"event #{expected_seq} is missing (next found is #{seq})",
            )
        if prev_hash != prev:
            return ChainReport(
                False, checked, seq, f"event #{seq} does not point to the hash of event #{seq - 1}"
            )
        content = event_content(
            seq=seq,
            occurred_at=occurred_at,
            actor_id=actor_id,
            actor_label=actor_label,
            action=action,
            object_type=object_type,
            object_id=object_id,
            object_repr=object_repr,
            before=before,
            after=after,
            reason=reason,
            prev_hash=prev_hash,
        )
        if event_hash(content) != stored_hash:
            return ChainReport(
                False,
                checked,
                seq,
                f"event #{seq} ({action} {object_type}:{object_id}) has been "
                "altered: its content no longer matches its hash",
            )
        prev = stored_hash
        expected_seq += 1
        checked += 1
        if progress is not None and checked % chunk_size == 0:
            progress(chunk_size)
    head = AuditChainHead.objects.filter(id=1).first()
    if head is not None and (head.last_seq != checked or head.last_hash != prev):
        return ChainReport(
            False,
            checked,
            checked + 1 if head.last_seq > checked else checked,
            f"the chain ends at event #{checked} but its head records "
            f"#{head.last_seq}: events at the end are missing",
        )
    return ChainReport(True, checked)
