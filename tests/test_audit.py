"""The audit trail: one event per change, hash-chained, refused UPDATE/DELETE, verifiable."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from apcert.audit import triggers
from apcert.audit.chain import GENESIS_HASH
from apcert.audit.models import AuditChainHead, AuditEvent
from apcert.audit.selectors import audit_chain_verify
from apcert.audit.services import audit_record
from apcert.certificates.models import CertificateIssue
from apcert.credentials.models import IssueCredential
from apcert.credentials.services import signing_key_generate
from tests.factories import World

pytestmark = pytest.mark.django_db


def _tamper(sql: str, params: list[object], table: str = "audit_auditevent") -> None:
    """What someone with DDL rights could do: lift the trigger, change a row, restore it."""
    triggers.remove(connection, table)
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        triggers.install(connection, table)


def test_given_events_when_chain_walked_then_each_points_to_the_previous(world: World) -> None:
    world.granted()
    events = list(AuditEvent.objects.order_by("seq"))

    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    head = AuditChainHead.objects.get()
    assert (head.last_seq, head.last_hash) == (events[-1].seq, events[-1].hash)
    assert audit_chain_verify().ok


def test_audit_record_outside_a_transaction_is_refused(live_db: None) -> None:
    before = AuditEvent.objects.count()
    with pytest.raises(RuntimeError, match="inside the service's transaction"):
        audit_record(actor=None, action="x", object_type="t", object_id=1)
    assert AuditEvent.objects.count() == before


#: A text column of each append-only table, to try to rewrite.
REWRITABLE = {
    "audit_auditevent": ("reason", "'rewritten'"),
    "certificates_certificateissue": ("change_summary", "'rewritten'"),
    "credentials_issuecredential": ("credential", "'{}'"),
}


def _signed_grant(world: World) -> None:
    """A granted certificate whose CB signs: a row in every append-only table."""
    signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    world.granted()
    assert IssueCredential.objects.exists()


def test_every_append_only_table_is_tried_below() -> None:
    assert set(REWRITABLE) == set(triggers.APPEND_ONLY_TABLES)


@pytest.mark.parametrize("table", sorted(triggers.APPEND_ONLY_TABLES))
def test_update_on_append_only_table_fails_at_the_database(
    world: World, table: str, key_dir: Path
) -> None:
    _signed_grant(world)
    column, value = REWRITABLE[table]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET {column} = {value}")


@pytest.mark.parametrize("table", sorted(triggers.APPEND_ONLY_TABLES))
def test_delete_on_append_only_table_fails_at_the_database(
    world: World, table: str, key_dir: Path
) -> None:
    _signed_grant(world)
    counts = [m.objects.count() for m in (AuditEvent, CertificateIssue, IssueCredential)]
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table}")
    assert [m.objects.count() for m in (AuditEvent, CertificateIssue, IssueCredential)] == counts


def test_orm_update_and_delete_are_refused_too(world: World) -> None:
    world.granted()
    event = AuditEvent.objects.order_by("seq").first()
    assert event is not None
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(reason="edited")
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_truncate_of_the_audit_table_is_refused_on_postgresql(world: World) -> None:
    world.granted()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_auditevent")


def test_verify_command_passes_on_an_intact_chain(world: World, capsys) -> None:
    world.granted()
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert f"audit chain OK: {AuditEvent.objects.count()} events verified" in out


def test_verify_names_the_first_event_altered_behind_its_back(world: World) -> None:
    world.granted()
    victim = AuditEvent.objects.order_by("seq")[3]
    _tamper("UPDATE audit_auditevent SET reason = %s WHERE seq = %s", ["nothing", victim.seq])

    report = audit_chain_verify()
    assert not report.ok
    assert report.first_bad_seq == victim.seq
    assert report.checked == victim.seq - 1
    with pytest.raises(CommandError, match=rf"BROKEN at event #{victim.seq}\b"):
        call_command("audit", "verify")


def test_verify_finds_an_altered_json_payload(world: World) -> None:
    world.granted()
    victim = AuditEvent.objects.get(action="certificate.grant")
    after = dict(victim.after)
    after["number"] = "IECQ-A FAKE 26.9999"
    _tamper(
        "UPDATE audit_auditevent SET after = %s WHERE seq = %s",
        [json.dumps(after), victim.seq],
    )
    report = audit_chain_verify()
    assert (report.ok, report.first_bad_seq) == (False, victim.seq)


def test_verify_finds_a_deleted_event(world: World) -> None:
    world.granted()
    victim = AuditEvent.objects.order_by("seq")[2]
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [victim.seq])

    report = audit_chain_verify()
    assert (report.ok, report.first_bad_seq) == (False, victim.seq)
    assert "missing" in report.problem


def test_verify_finds_events_cut_from_the_end(world: World) -> None:
    world.granted()
    last = AuditEvent.objects.order_by("-seq").first()
    assert last is not None
    _tamper("DELETE FROM audit_auditevent WHERE seq = %s", [last.seq])

    report = audit_chain_verify()
    assert not report.ok
    assert "missing" in report.problem


def test_verify_finds_a_rehashed_event_whose_successor_no_longer_points_to_it(
    world: World,
) -> None:
    # A forger who recomputes the altered event's own hash still breaks the next link.
    from apcert.audit.chain import event_content, event_hash

    world.granted()
    victim = AuditEvent.objects.order_by("seq")[1]
    fields = {
        f: getattr(victim, f)
        for f in (
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
            "prev_hash",
        )
    }
    fields["reason"] = "forged"
    new_hash = event_hash(event_content(**fields))
    _tamper(
        "UPDATE audit_auditevent SET reason = %s, hash = %s WHERE seq = %s",
        ["forged", new_hash, victim.seq],
    )
    report = audit_chain_verify()
    assert (report.ok, report.first_bad_seq) == (False, victim.seq + 1)


def test_every_grant_writes_exactly_one_event(world: World) -> None:
    app = world.accepted_application()
    a = world.assessment(app)
    before = AuditEvent.objects.count()
    from apcert.certificates.services import certificate_grant

    certificate_grant(actor=world.team.decision_maker, application=app, assessment=a)
    assert AuditEvent.objects.count() == before + 1
