"""Reading the audit trail: a record's history, and checking that the trail is intact."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Max, Q, QuerySet

from apcert.audit.chain import GENESIS_HASH, StoredRow, first_altered, stored_row_matches
from apcert.audit.models import AuditChainHead, AuditEvent
from apcert.core.db.replicas import reading_connection
from apcert.core.processes import end_with_parent


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


def audit_events_for(*, object_type: str, object_id: str | int) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(object_type=object_type, object_id=str(object_id))


@dataclass(frozen=True)
class LastChange:
    """The latest event of the trail: its hash names the whole history up to it (a
    restored older database that then grows again has other hashes), and its time."""

    hash: str
    occurred_at: dt.datetime


def last_event_seqs(*, object_type: str, object_ids: Iterable[int]) -> dict[int, int]:
    """The sequence number of the latest audit event of each of these objects (absent: none
    yet), in one query along the index of events by object. Every regulated change of an
    object writes an event of it, so the number moves whenever the object changes."""
    ids = [str(pk) for pk in object_ids]
    if not ids:
        return {}
    rows = (
        AuditEvent.objects.filter(object_type=object_type, object_id__in=ids)
        .values("object_id")
        .annotate(last=Max("seq"))
        .order_by()
    )
    return {int(row["object_id"]): int(row["last"]) for row in rows}


def last_change() -> LastChange | None:
    """The latest event of the trail, or ``None`` while it is empty: one indexed read.
    Every regulated change writes one event in its own transaction, so this changes
    whenever anything the public register shows does."""
    # Plain SQL: every public answer asks it first, and the ORM's own work cost ten times
    # the indexed read (the last entry of the unique index on seq).
    # Read where the answer's own reads go (a replica for the public register): a validator
    # from the primary on an answer from a replica that has not replayed that change yet would
    # let caches keep the older answer under the newer validator.
    table = AuditEvent._meta.db_table
    with reading_connection().cursor() as cursor:
        cursor.execute(f"SELECT hash, occurred_at FROM {table} ORDER BY seq DESC LIMIT 1")
        row = cursor.fetchone()
    if row is None:
        return None
    occurred_at = row[1]
    if isinstance(occurred_at, str):
        occurred_at = dt.datetime.fromisoformat(occurred_at)
    if occurred_at.tzinfo is None:  # SQLite keeps UTC without the zone
        occurred_at = occurred_at.replace(tzinfo=dt.UTC)
    return LastChange(hash=row[0], occurred_at=occurred_at)


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


#: Below this many events the chain is checked in this process alone: a pool costs more to
#: start than it saves.
PARALLEL_FROM = 50_000
#: Chunks handed to the pool and not yet collected, per process of the pool.
_IN_FLIGHT_PER_WORKER = 3


def chain_workers(total: int) -> int:
    """How many processes check a chain of ``total`` events: one a core for a long chain."""
    if total < PARALLEL_FROM:
        return 1
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _rows_sql(*, ranged: bool) -> str:
    """The SELECT of the events in seq order, as :data:`StoredRow` tuples (with a seq range
    to fill in when ``ranged``). Times come as the text :func:`format_time` writes
    (PostgreSQL formats them; SQLite's own text is turned into it by :func:`stored_time`),
    JSON as its text: no converters."""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    names = [
        "seq", "occurred_at", "actor_id", "actor_label", "action", "object_type", "object_id",
        "object_repr", "before", "after", "reason", "prev_hash", "hash",
    ]  # fmt: skip
    columns = {name: connection.ops.quote_name(name) for name in names}
    if connection.vendor == "postgresql":
        columns["occurred_at"] = (
            f"to_char({columns['occurred_at']} AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\')'
        )
        columns["before"] = f"{columns['before']}::text"
        columns["after"] = f"{columns['after']}::text"
    elif connection.vendor == "sqlite":
        # Without a declared type, SQLite hands back its text, not a parsed datetime.
        columns["occurred_at"] = f"CAST({columns['occurred_at']} AS TEXT)"
    where = ""
    if ranged:
        mark = "?" if connection.vendor == "sqlite" else "%s"
        where = f" WHERE {columns['seq']} BETWEEN {mark} AND {mark}"
    return f"SELECT {', '.join(columns[name] for name in names)} FROM {table}{where} ORDER BY 1"


def _stored_rows(chunk_size: int) -> Iterator[list[StoredRow]]:
    """The events in seq order, ``chunk_size`` at a time, read with a plain cursor
    (server-side on PostgreSQL): no model instances, no converters."""
    with connection.chunked_cursor() as cursor:
        cursor.execute(_rows_sql(ranged=False))
        while rows := cursor.fetchmany(chunk_size):
            yield rows


# --- a long chain, read and checked a range of seqs a process ---------------------------------

#: Events (seqs) a process reads and checks at a time.
RANGE_SIZE = 50_000

#: What each process of a ranged check reads with: the database and the query.
_range_source: dict[str, Any] = {}


def _range_start(vendor: str, params: dict[str, Any], sql: str, parent: int) -> None:
    end_with_parent(parent)
    _range_source.update(vendor=vendor, params=params, sql=sql)


#: What a process found in its range: the events it checked, the first one's seq and
#: prev_hash, the last one's hash, and the first failure after the first event, as
#: (events checked before it, report) -- its seq and link the caller checks.
RangeOutcome = tuple[int, tuple[int, str] | None, str, tuple[int, ChainReport] | None]


def _check_range(lo: int, hi: int, chunk_size: int) -> RangeOutcome:
    """In a process of the pool: read the events of seqs ``lo`` to ``hi`` over a connection
    of its own, and check each after the first against the one before it, and each one's
    hash, in order."""
    vendor, params, sql = (_range_source[k] for k in ("vendor", "params", "sql"))
    if vendor == "sqlite":
        import sqlite3

        db: Any = sqlite3.connect(params["database"], uri=True)
        cursor = db.cursor()
    else:
        import psycopg

        db = psycopg.connect(**params)
        cursor = db.cursor(name="apcert_audit_range")
    try:
        cursor.execute(sql, (lo, hi))
        count = 0
        first: tuple[int, str] | None = None
        prev = ""
        expected = lo
        while rows := cursor.fetchmany(chunk_size):
            for row in rows:
                seq = row[0]
                if first is None:
                    first = (seq, row[11])
                elif seq != expected:
                    problem = f"event #{expected} is missing (next found is #{seq})"
                    return count, first, prev, (count, ChainReport(False, 0, expected, problem))
                elif row[11] != prev:
                    problem = f"event #{seq} does not point to the hash of event #{seq - 1}"
                    return count, first, prev, (count, ChainReport(False, 0, seq, problem))
                if not stored_row_matches(row):
                    return count, first, prev, (count, _altered_report(0, row))
                prev = row[12]
                expected = seq + 1
                count += 1
        return count, first, prev, None
    finally:
        db.close()


def _ranged_source() -> tuple[str, dict[str, Any]] | None:
    """How another process reaches this database, when it can see what this one sees: a
    SQLite file, or PostgreSQL, outside a transaction (whose writes no other connection
    sees yet); ``None`` otherwise."""
    if connection.in_atomic_block:
        return None
    if connection.vendor == "sqlite":
        name = str(connection.settings_dict["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            return None
        return "sqlite", {"database": f"file:{urllib.parse.quote(name)}?mode=ro"}
    if connection.vendor == "postgresql":
        params = {
            key: value
            for key, value in connection.get_connection_params().items()
            if key not in {"cursor_factory", "context", "prepare_threshold"}
        }
        return "postgresql", params
    return None


def _verify_ranged(
    vendor: str,
    params: dict[str, Any],
    chunk_size: int,
    progress: Callable[[int], None] | None,
    workers: int,
) -> ChainReport:
    last = AuditEvent.objects.aggregate(m=Max("seq"))["m"] or 0
    bounds = [(lo, min(lo + RANGE_SIZE - 1, last)) for lo in range(1, last + 1, RANGE_SIZE)]
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_range_start,
        initargs=(vendor, params, _rows_sql(ranged=True), os.getpid()),
    )
    try:
        outcomes = pool.map(
            _check_range,
            [lo for lo, _ in bounds],
            [hi for _, hi in bounds],
            [chunk_size] * len(bounds),
        )
        checked = 0
        expected = 1
        prev = GENESIS_HASH
        for count, first, last_hash, failure in outcomes:
            if first is None:
                continue  # no event in the range: the next one found tells what is missing
            first_seq, first_prev = first
            if first_seq != expected:
                return ChainReport(
                    False,
                    checked,
                    expected,
                    f"event #{expected} is missing (next found is #{first_seq})",
                )
            if first_prev != prev:
                return ChainReport(
                    False,
                    checked,
                    first_seq,
                    f"event #{first_seq} does not point to the hash of event #{first_seq - 1}",
                )
            if failure is not None:
                before, report = failure
                return ChainReport(False, checked + before, report.first_bad_seq, report.problem)
            checked += count
            expected = first_seq + count
            prev = last_hash
            if progress is not None:
                progress(count)
    finally:
        pool.shutdown(cancel_futures=True)
    return _head_check(checked, prev)


def _altered_report(position: int, row: StoredRow) -> ChainReport:
    seq, action, object_type, object_id = row[0], row[4], row[5], row[6]
    return ChainReport(
        False,
        position,
        seq,
        f"event #{seq} ({action} {object_type}:{object_id}) has been "
        "altered: its content no longer matches its hash",
    )


def audit_chain_verify(
    *,
    chunk_size: int = 5000,
    progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> ChainReport:
    """Walk the whole chain in order; report the first event that does not verify.

    Each event must carry the next seq, point to the stored hash of the event before it, and
    hash to its stored hash. The rows are read raw, in chunks. With ``workers`` processes
    (by default one a core for a long chain, see :func:`chain_workers`), each process reads
    and checks a range of seqs over its own connection when it can see what this one sees
    (PostgreSQL, or a SQLite file, outside a transaction), and this one checks where the
    ranges meet; otherwise one process checks the chain, unless ``workers`` is given: then
    this one reads, checks the links as they come and hands the hashes to the pool chunk by
    chunk. Either way the outcomes are taken in order: the
    first event that fails, whichever check it fails, is the one reported, as a walk in one
    process would report it."""
    chosen = workers is not None
    if workers is None:
        workers = chain_workers(AuditEvent.objects.count())
    if workers <= 1:
        return _verify(chunk_size, progress, None, 1)
    methods = multiprocessing.get_all_start_methods()
    source = _ranged_source() if "fork" in methods else None
    if source is not None:
        return _verify_ranged(*source, chunk_size, progress, workers)
    if not chosen:
        # Handing every row to the pool costs this process about what hashing it would:
        # one process does as well, unless the caller asks for a pool.
        return _verify(chunk_size, progress, None, 1)
    # fork where there is one: the workers inherit the loaded code and touch no database.
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return _verify(chunk_size, progress, pool, workers)


def _verify(
    chunk_size: int,
    progress: Callable[[int], None] | None,
    pool: ProcessPoolExecutor | None,
    workers: int,
) -> ChainReport:
    expected_seq = 1
    prev = GENESIS_HASH
    checked = 0  # events whose seq and link hold, in order
    broken: ChainReport | None = None  # the first event whose seq or link fails
    pending: deque[tuple[int, Future[tuple[int, StoredRow] | None]]] = deque()

    def collect(limit: int) -> ChainReport | None:
        """Collect the oldest chunks' hash checks until at most ``limit`` are pending."""
        while len(pending) > limit:
            size, future = pending.popleft()
            altered = future.result()
            if altered is not None:
                return _altered_report(*altered)
            if progress is not None:
                progress(size)
        return None

    for rows in _stored_rows(chunk_size):
        start = checked
        linked = rows
        for index, row in enumerate(rows):
            seq, prev_hash = row[0], row[11]
            if seq != expected_seq:
                broken = ChainReport(
                    False,
                    checked,
                    expected_seq,
                    f"event #{expected_seq} is missing (next found is #{seq})",
                )
            elif prev_hash != prev:
                broken = ChainReport(
                    False,
                    checked,
                    seq,
                    f"event #{seq} does not point to the hash of event #{seq - 1}",
                )
            if broken is not None:
                linked = rows[:index]
                break
            prev = row[12]
            expected_seq += 1
            checked += 1
        if pool is None:
            altered = first_altered(linked, start)
            if altered is not None:
                return _altered_report(*altered)
            if progress is not None:
                progress(len(linked))
        else:
            pending.append((len(linked), pool.submit(first_altered, linked, start)))
            report = collect(_IN_FLIGHT_PER_WORKER * workers)
            if report is not None:
                return report
        if broken is not None:
            break
    # An event altered before the first broken link is the first event that fails.
    report = collect(0)
    if report is not None:
        return report
    if broken is not None:
        return broken
    return _head_check(checked, prev)


def _head_check(checked: int, prev: str) -> ChainReport:
    """The chain read in full must end where its head says."""
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
