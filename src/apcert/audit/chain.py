"""Canonical form and hashing of audit events (no ORM here)."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

#: prev_hash of the first event in the chain.
GENESIS_HASH = "0" * 64


def to_jsonable(value: Any) -> Any:
    """Turn a value into plain JSON types that survive a database round trip unchanged."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        # Floats do not round-trip identically through every backend: keep their text.
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat(timespec="microseconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, set | frozenset) else items
    return str(value)


def format_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")


#: What json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
#: allow_nan=False) would make for each call, made once.
_CANONICAL = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
).encode


def canonical_bytes(fields: Mapping[str, Any]) -> bytes:
    """Canonical JSON of an event's content: sorted keys, no spaces, UTF-8."""
    return _CANONICAL(fields).encode("utf-8")


def event_content(
    *,
    seq: int,
    occurred_at: dt.datetime | str,
    actor_id: int | None,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    object_repr: str,
    before: Any,
    after: Any,
    reason: str,
    prev_hash: str,
) -> dict[str, Any]:
    """The content an event's hash covers; ``occurred_at`` is the time or its text as
    :func:`format_time` writes it."""
    return {
        "seq": seq,
        "occurred_at": occurred_at if isinstance(occurred_at, str) else format_time(occurred_at),
        "actor_id": actor_id,
        "actor_label": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "object_repr": object_repr,
        "before": before,
        "after": after,
        "reason": reason,
        "prev_hash": prev_hash,
    }


def event_hash(content: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


# --- checking stored rows ------------------------------------------------------------------

#: A stored event as the chain check reads it: seq, occurred_at (a datetime, or the text
#: format_time writes), actor_id, actor_label, action, object_type, object_id, object_repr,
#: before and after (JSON text, a parsed value or None), reason, prev_hash, hash.
StoredRow = tuple[Any, ...]


def _stored_json(value: Any) -> Any:
    """A JSON column's value as the ORM reads it: text is parsed, and text that is not JSON
    is kept as the string it is (so that a mangled value shows as an altered event)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def stored_time(value: Any) -> str:
    """:func:`format_time` of a stored ``occurred_at``: a datetime (naive ones are UTC), or
    the text SQLite keeps, ``YYYY-MM-DD HH:MM:SS[.ffffff]`` in UTC."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}+00:00"
        if len(value) == 19 and value[10] == " ":
            return f"{value[:10]}T{value[11:]}.000000+00:00"
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value  # not a time: the content cannot match its hash
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return format_time(value)


def _content(row: StoredRow, before: Any, after: Any) -> dict[str, Any]:
    return event_content(
        seq=row[0],
        occurred_at=stored_time(row[1]),
        actor_id=row[2],
        actor_label=row[3],
        action=row[4],
        object_type=row[5],
        object_id=row[6],
        object_repr=row[7],
        before=before,
        after=after,
        reason=row[10],
        prev_hash=row[11],
    )


def stored_row_hash(row: StoredRow) -> str:
    """The hash a stored event's content has now, computed as the event was hashed: JSON
    read as the ORM reads it, written with :func:`canonical_bytes`."""
    return event_hash(_content(row, _stored_json(row[8]), _stored_json(row[9])))


def _json_value(value: Any) -> Any:
    return orjson.loads(value) if isinstance(value, str) else value


def stored_row_matches(row: StoredRow) -> bool:
    """Whether a stored event's content still hashes to its stored hash.

    First with orjson, which reads and writes JSON in C: it writes strings, integers,
    booleans, nulls, objects and arrays byte for byte as :func:`canonical_bytes` does (same
    escapes, keys sorted by code point); only floats it may write otherwise. A match is
    then exact: the two write each float so that it reads back as itself, so text equal to
    what was hashed holds the same values, whose canonical form is what was hashed. On a
    mismatch, or a value orjson refuses (an integer past 64 bits, NaN, a lone surrogate,
    text that is not JSON), the event is hashed again as it was written, which decides."""
    try:
        content = _content(row, _json_value(row[8]), _json_value(row[9]))
        fast = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        pass
    else:
        if hashlib.sha256(fast).hexdigest() == row[12]:
            return True
    try:
        return bool(stored_row_hash(row) == row[12])
    except ValueError:  # a value no canonical form can hold (NaN): it was not hashed so
        return False


def first_altered(rows: list[StoredRow], start: int) -> tuple[int, StoredRow] | None:
    """The first of ``rows`` (the ``start``-th event of the chain onwards) whose content no
    longer matches its stored hash: its place in the chain and the row (without its JSON);
    ``None`` when all match."""
    for offset, row in enumerate(rows):
        if not stored_row_matches(row):
            return start + offset, (*row[:8], None, None, *row[10:])
    return None
