"""The chain check reads raw rows and checks the hashes in a pool of processes: it reports
what a walk in one process reports, on every kind of break, wherever the chunks fall."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from apcert.audit import selectors
from apcert.audit.chain import (
    event_content,
    event_hash,
    stored_row_hash,
    stored_row_matches,
    stored_time,
)
from apcert.audit.models import AuditEvent
from apcert.audit.selectors import PARALLEL_FROM, audit_chain_verify, chain_workers
from apcert.audit.services import audit_record
from tests.factories import World
from tests.test_audit import _tamper

pytestmark = pytest.mark.django_db

#: (processes, events a chunk): one process; a pool with chunks of one, of a few, of all.
WAYS = [(1, 5000), (2, 1), (2, 3), (2, 5000)]


def _reports() -> set[tuple[bool, int, int | None, str]]:
    """The report of each way of checking, all of which must agree."""
    return {
        (r.ok, r.checked, r.first_bad_seq, r.problem)
        for r in (audit_chain_verify(workers=w, chunk_size=c) for w, c in WAYS)
    }


def _seqs() -> list[int]:
    return list(AuditEvent.objects.order_by("seq").values_list("seq", flat=True))


@pytest.fixture
def chain(world: World) -> list[int]:
    world.granted()
    # Values the canonical form must keep exactly: characters outside ASCII and the BMP,
    # controls, an empty object, nested lists, a big integer, a float kept as its text.
    with transaction.atomic():
        audit_record(
            actor=None,
            actor_label="test — ünïcödé 🛰",
            action="test.values",
            obj=world.org,
            before={"z": [], "a": {"\u2028": "\x01\x1f\x7f", "é": [1, [2, None]]}},
            after={"n": 2**70, "f": 1.5, "s": 'line\nbreak "quoted" \\ 😀', "t": True},
            reason="reason with\ttab",
        )
    return _seqs()


def test_an_intact_chain_checks_alike_every_way(chain: list[int]) -> None:
    assert _reports() == {(True, len(chain), None, "")}


def test_the_first_altered_event_is_named_every_way(chain: list[int]) -> None:
    _tamper("UPDATE audit_auditevent SET reason = %s WHERE seq = %s", ["edited", chain[4]])
    (report,) = _reports()
    assert report[:3] == (False, 4, chain[4])
    assert "altered" in report[3]


def test_an_altered_event_before_a_broken_link_is_the_one_named(chain: list[int]) -> None:
    # Event 3 altered, event 7 deleted: the walk meets event 3 first.
    _tamper("UPDATE audit_auditevent SET object_repr = %s WHERE seq = %s", ["x", chain[2]])
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [chain[6]])
    (report,) = _reports()
    assert report[:3] == (False, 2, chain[2])


def test_a_broken_link_before_an_altered_event_is_the_one_named(chain: list[int]) -> None:
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [chain[2]])
    _tamper("UPDATE audit_auditevent SET object_repr = %s WHERE seq = %s", ["x", chain[6]])
    (report,) = _reports()
    assert report == (False, 2, chain[2], f"event #{chain[2]} is missing (next found is "
                      f"#{chain[3]})")  # fmt: skip


def test_an_altered_json_value_is_found(chain: list[int]) -> None:
    victim = AuditEvent.objects.get(action="test.values")
    after = dict(victim.after, t=False)
    sql = "UPDATE audit_auditevent SET after = %s WHERE seq = %s"
    _tamper(sql, [json.dumps(after), victim.seq])
    assert {r[:3] for r in _reports()} == {(False, victim.seq - 1, victim.seq)}


def test_an_altered_time_is_found(chain: list[int]) -> None:
    victim = AuditEvent.objects.get(seq=chain[1])
    later = victim.occurred_at + dt.timedelta(microseconds=1)
    _tamper("UPDATE audit_auditevent SET occurred_at = %s WHERE seq = %s", [later, victim.seq])
    assert {r[:3] for r in _reports()} == {(False, 1, chain[1])}


def test_events_cut_from_the_end_are_found_every_way(chain: list[int]) -> None:
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [chain[-1]])
    (report,) = _reports()
    assert report[:3] == (False, len(chain) - 1, len(chain))
    assert "events at the end are missing" in report[3]


def test_a_rehashed_event_breaks_the_next_link_every_way(chain: list[int]) -> None:
    victim = AuditEvent.objects.get(seq=chain[1])
    fields = {f: getattr(victim, f) for f in (
        "seq", "occurred_at", "actor_id", "actor_label", "action", "object_type", "object_id",
        "object_repr", "before", "after", "prev_hash")}  # fmt: skip
    new_hash = event_hash(event_content(**{**fields, "reason": "forged"}))
    _tamper(
        "UPDATE audit_auditevent SET reason = %s, hash = %s WHERE seq = %s",
        ["forged", new_hash, victim.seq],
    )
    (report,) = _reports()
    assert report[:3] == (False, 2, chain[2])
    assert "does not point to the hash" in report[3]


def test_each_stored_row_hashes_as_its_event_was_hashed(chain: list[int]) -> None:
    for event in AuditEvent.objects.order_by("seq"):
        row = (
            event.seq, event.occurred_at, event.actor_id, event.actor_label, event.action,
            event.object_type, event.object_id, event.object_repr, json.dumps(event.before),
            json.dumps(event.after), event.reason, event.prev_hash, event.hash,
        )  # fmt: skip
        assert stored_row_hash(row) == event.hash


def test_the_stored_time_reads_as_the_event_wrote_it() -> None:
    moment = dt.datetime(2026, 3, 4, 5, 6, 7, 89, tzinfo=dt.UTC)
    written = "2026-03-04T05:06:07.000089+00:00"
    assert stored_time("2026-03-04 05:06:07.000089") == written
    assert stored_time("2026-03-04 05:06:07") == "2026-03-04T05:06:07.000000+00:00"
    assert stored_time(moment) == written
    assert stored_time(moment.replace(tzinfo=None)) == written
    assert stored_time("2026-03-04T07:06:07.000089+02:00") == written
    assert stored_time("not a time") == "not a time"


def test_a_long_chain_is_checked_by_one_process_a_core() -> None:
    assert chain_workers(PARALLEL_FROM - 1) == 1
    assert chain_workers(PARALLEL_FROM) >= 1


def test_the_command_reports_the_same(chain: list[int]) -> None:
    _tamper("UPDATE audit_auditevent SET reason = %s WHERE seq = %s", ["edited", chain[4]])
    with pytest.raises(CommandError, match=rf"BROKEN at event #{chain[4]}: event #{chain[4]} "):
        call_command("audit", "verify", stdout=StringIO(), stderr=StringIO())


def test_committed_events_are_read_a_range_a_process_with_the_same_reports(
    live_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Committed events (no test transaction around them): on PostgreSQL, or a SQLite file,
    # each process of the pool reads its own range of seqs over its own connection.
    monkeypatch.setattr(selectors, "RANGE_SIZE", 3)
    in_memory = "memory" in str(connection.settings_dict["NAME"])
    assert (selectors._ranged_source() is not None) is not in_memory
    live_world.granted()
    seqs = _seqs()
    expected = (True, len(seqs), None, "")
    assert {_report(w) for w in (1, 2)} == {expected}
    _tamper("UPDATE audit_auditevent SET reason = %s WHERE seq = %s", ["edited", seqs[4]])
    assert {_report(w)[:3] for w in (1, 2)} == {(False, 4, seqs[4])}
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [seqs[2]])
    assert {_report(w) for w in (1, 2)} == {
        (False, 2, seqs[2], f"event #{seqs[2]} is missing (next found is #{seqs[3]})")
    }


def _report(workers: int) -> tuple[bool, int, int | None, str]:
    r = audit_chain_verify(workers=workers, chunk_size=2)
    return (r.ok, r.checked, r.first_bad_seq, r.problem)


@pytest.mark.parametrize(
    "after",
    [
        {"n": 1e16, "m": 1e-05, "x": 0.1},  # floats orjson writes otherwise than json.dumps
        {"big": 2**70, "neg": -(2**64)},  # integers past 64 bits, which orjson refuses
        {"t": "\u2028\x00é😀", "k": {"\U0001f600": 1, "\ue000": 2}},
    ],
)
def test_a_stored_row_matches_exactly_as_it_was_hashed(after: dict[str, object]) -> None:
    written = "2026-03-04 05:06:07.000089"
    content = event_content(
        seq=7, occurred_at=stored_time(written), actor_id=None, actor_label="x", action="a.b",
        object_type="t", object_id="1", object_repr="r", before=None, after=after,
        reason="", prev_hash="0" * 64,
    )  # fmt: skip
    row = (7, written, None, "x", "a.b", "t", "1", "r", None, json.dumps(after), "", "0" * 64,
           event_hash(content))  # fmt: skip
    assert stored_row_matches(row)
    changed = dict(after, extra=1)
    assert not stored_row_matches((*row[:9], json.dumps(changed), *row[10:]))
