"""Reading the audit trail: a record's history, and checking that the trail is intact."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

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


# --- a record's history --------------------------------------------------------------------

#: One field an event changed: its name, its value before and after (``None`` where the
#: event records no value on that side, as for a record created or removed).
FieldChange = tuple[str, Any, Any]


@dataclass(frozen=True)
class HistoryEntry:
    """One event of a record's history, as a person reads it."""

    seq: int
    when: dt.datetime
    who: str
    action: str  # as recorded, e.g. "finding.record"
    what: str  # in words, e.g. "Finding recorded"
    object_type: str
    object_id: str
    object_repr: str
    changes: tuple[FieldChange, ...]
    reason: str


# Past participles that are not the verb with "d" or "ed" added.
_PAST = {
    "cancel": "cancelled",
    "flag": "flagged",
    "plan": "planned",
    "set": "set",
    "submit": "submitted",
    "withdraw": "withdrawn",
}


def _past(verb: str) -> str:
    if verb in _PAST:
        return _PAST[verb]
    return f"{verb}d" if verb.endswith("e") else f"{verb}ed"


def action_in_words(action: str, words: Mapping[str, str] | None = None) -> str:
    """``action`` as a person says it: from ``words`` (an app's own wording of its actions)
    if it is there, else made from the action itself: ``finding.record`` is "Finding
    recorded"; an action of several words keeps them, ``assessment.issue_report`` being
    "Assessment: issue report"."""
    if words and action in words:
        return words[action]
    entity, dot, verb = action.rpartition(".")
    if not dot:
        return action.replace("_", " ").capitalize()
    subject = entity.replace("_", " ").capitalize()
    if "_" not in verb:
        return f"{subject} {_past(verb)}"
    return f"{subject}: {verb.replace('_', ' ')}"


def _as_fields(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def field_changes(before: Any, after: Any) -> tuple[FieldChange, ...]:
    """The fields whose recorded value differs between ``before`` and ``after``, by name:
    the order an event listed them in is not kept by every database (PostgreSQL's jsonb
    orders the keys its own way)."""
    was, now = _as_fields(before), _as_fields(after)
    names = sorted({*was, *now})
    return tuple((n, was.get(n), now.get(n)) for n in names if was.get(n) != now.get(n))


def record_history(
    *,
    records: Mapping[str, Iterable[int | str]],
    words: Mapping[str, str] | None = None,
) -> list[HistoryEntry]:
    """The audit events of the records named by ``records`` (object type, as the services
    write it, to the ids of that type), newest first, in words.

    An app that knows which records belong together (an assessment, its findings and their
    evidence) names them all; each (type, ids) pair is read through the index on (object
    type, object id, seq), so a record's history costs one query whatever the size of the
    log."""
    wanted = Q()
    for object_type, ids in records.items():
        keys = sorted({str(i) for i in ids})
        if keys:
            wanted |= Q(object_type=object_type, object_id__in=keys)
    if not wanted:
        return []
    rows = AuditEvent.objects.filter(wanted).order_by("-seq")
    return [
        HistoryEntry(
            seq=e.seq,
            when=e.occurred_at,
            who=e.actor_label,
            action=e.action,
            what=action_in_words(e.action, words),
            object_type=e.object_type,
            object_id=e.object_id,
            object_repr=e.object_repr,
            changes=field_changes(e.before, e.after),
            reason=e.reason,
        )
        for e in rows.only(
            "seq",
            "occurred_at",
            "actor_label",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "before",
            "after",
            "reason",
        )
    ]


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
