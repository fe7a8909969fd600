"""Writing to the audit trail. Services call :func:`audit_record`; nothing else writes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import connection, models
from django.utils import timezone

from apcert.audit.chain import GENESIS_HASH, event_content, event_hash, to_jsonable
from apcert.audit.context import through_words
from apcert.audit.listeners import event_recorded
from apcert.audit.models import AuditChainHead, AuditEvent

if TYPE_CHECKING:
    from apcert.accounts.models import User

SYSTEM_LABEL = "system"


def _lock_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(id=1).first()
    if head is None:
        AuditChainHead.objects.get_or_create(id=1, defaults={"last_hash": GENESIS_HASH})
        head = AuditChainHead.objects.select_for_update().get(id=1)
    return head


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model | None = None,
    object_type: str | None = None,
    object_id: str | int | None = None,
    before: Any = None,
    after: Any = None,
    reason: str = "",
    actor_label: str | None = None,
) -> AuditEvent:
    """Append one event to the chain and tell the listeners (``audit.listeners``) about it.
    Must run inside the service's transaction."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record() must be called inside the service's transaction")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = obj.pk if object_id is None else object_id
    if not object_type or object_id is None:
        raise ValueError("audit_record() needs an object or object_type and object_id")
    head = _lock_head()
    label = actor_label or (actor.label if actor is not None else SYSTEM_LABEL)
    through = through_words(actor.pk if actor is not None else None)
    if through:
        label = f"{label} {through}"
    fields: dict[str, Any] = {
        "seq": head.last_seq + 1,
        "occurred_at": timezone.now(),
        "actor_id": actor.pk if actor is not None else None,
        "actor_label": label[:300],
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "object_repr": (str(obj) if obj is not None else "")[:300],
        "before": to_jsonable(before),
        "after": to_jsonable(after),
        "reason": reason or "",
        "prev_hash": head.last_hash,
    }
    digest = event_hash(event_content(**fields))
    event = AuditEvent.objects.create(hash=digest, **fields)
    head.last_seq = fields["seq"]
    head.last_hash = digest
    head.save(update_fields=["last_seq", "last_hash"])
    event_recorded(event)
    return event


def audit_record_many(
    *,
    actor: User | None,
    action: str,
    objects: Sequence[tuple[models.Model, Any, Any]],
    reason: str = "",
    batch_size: int = 2000,
) -> int:
    """Append one event ``action`` for each of ``objects`` (``(obj, before, after)``), as
    :func:`audit_record` appends one, for a bulk write (an import): the chain head is
    locked once, the events hashed in order and written a batch at a time, each handed to
    the listeners. Must run inside the service's transaction. Returns how many."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record_many() must be called inside the service's transaction")
    if not objects:
        return 0
    head = _lock_head()
    label = actor.label if actor is not None else SYSTEM_LABEL
    through = through_words(actor.pk if actor is not None else None)
    if through:
        label = f"{label} {through}"
    label = label[:300]
    now = timezone.now()
    seq, prev = head.last_seq, head.last_hash
    for start in range(0, len(objects), batch_size):
        events = []
        for obj, before, after in objects[start : start + batch_size]:
            seq += 1
            fields: dict[str, Any] = {
                "seq": seq,
                "occurred_at": now,
                "actor_id": actor.pk if actor is not None else None,
                "actor_label": label,
                "action": action,
                "object_type": obj._meta.label_lower,
                "object_id": str(obj.pk),
                "object_repr": str(obj)[:300],
                "before": to_jsonable(before),
                "after": to_jsonable(after),
                "reason": reason,
                "prev_hash": prev,
            }
            prev = event_hash(event_content(**fields))
            events.append(AuditEvent(hash=prev, **fields))
        AuditEvent.objects.bulk_create(events)
        for event in events:
            event_recorded(event)
    head.last_seq, head.last_hash = seq, prev
    head.save(update_fields=["last_seq", "last_hash"])
    return len(objects)
