"""The stored visit schedule: after every kind of change it holds exactly the open
visits of each live certificate's programme (apcert.cycle.programme), ``visits-check`` finds
drift and ``visits-rebuild`` repairs it, and the data migration fills an existing database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError

from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    certificate_expire,
    certificate_reduce_scope,
    certificate_renew,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.errors import DomainError
from apcert.cycle.models import ScheduledVisit
from apcert.cycle.programme import visits_for
from apcert.cycle.schedule import (
    _VISIT_ATTRIBUTES,
    _visit_columns,
    current_models,
    open_visits,
    visit_schedule_check,
    visit_schedule_rebuild,
    visit_schedule_refresh,
)
from apcert.cycle.selectors import certificates_with_programme
from apcert.cycle.sweep import cycle_sweep
from apcert.schemes.models import SchemeRules
from apcert.schemes.services import DATA_DIR, reference_load
from tests.factories import World, on_day
from tests.flows_support import DAYS, reported, surveilled, visit
from tests.test_cycle_programme import _visit
from tests.test_flows_scope import _two_site_certificate
from tests.test_flows_transfer import _new_cb, _transfer

pytestmark = pytest.mark.django_db

D = dt.date
Row = tuple[str, int, dt.date, dt.date, dt.date]


def stored(cert: Certificate) -> list[Row]:
    return [
        (v.kind, v.sequence, v.due_date, v.window_start, v.window_end)
        for v in ScheduledVisit.objects.filter(certificate=cert).order_by("due_date")
    ]


def computed(cert: Certificate) -> list[Row]:
    """The open visits as the selectors plan them on each call (no stored rows read)."""
    live = certificates_with_programme().filter(pk=cert.pk).first()
    if live is None:
        return []
    return [
        (v.kind, v.sequence, v.due_date, v.window_start, v.window_end)
        for v in visits_for(live)
        if not v.done
    ]


def assert_in_step(*certs: Certificate) -> None:
    for cert in certs:
        assert stored(cert) == computed(cert), cert.number
    assert visit_schedule_check() == []


def test_a_grant_plans_the_first_cycle(world: World) -> None:
    # When a certificate is granted on 2026-03-24 under the AP rules (12/12 months, 60 days)
    cert = world.granted()

    # Then its two surveillances and the re-assessment are stored, as planned
    assert stored(cert) == [
        ("surveillance", 1, D(2027, 3, 24), D(2027, 1, 23), D(2027, 5, 23)),
        ("surveillance", 2, D(2028, 3, 24), D(2028, 1, 24), D(2028, 5, 23)),
        ("reassessment", 1, D(2029, 1, 22), D(2028, 11, 23), D(2029, 3, 23)),
    ]
    assert_in_step(cert)


def test_a_surveillance_report_removes_its_visit_and_a_cancelled_one_changes_nothing(
    world: World,
) -> None:
    cert = world.granted()
    planned = stored(cert)
    # Given a surveillance planned and started: nothing is done yet
    a = visit(world, cert, "surveillance", start=D(2027, 3, 1), report=False)
    assert stored(cert) == planned
    # When its report is issued, the first surveillance is done
    from apcert.assessments.services import assessment_issue_report

    with on_day(D(2027, 3, 5)):
        assessment_issue_report(actor=world.team.lead, assessment=a, issued_on=D(2027, 3, 5))
    assert [r[:2] for r in stored(cert)] == [("surveillance", 2), ("reassessment", 1)]
    assert_in_step(cert)


def test_a_late_report_counts_for_the_next_visit(world: World) -> None:
    cert = world.granted()
    _visit(world, cert, "surveillance", D(2027, 6, 10))  # after the first window closed
    # It did surveillance 2; carried out 2027-06-07, it makes a third fall due a year later
    assert [r[:2] for r in stored(cert)] == [
        ("surveillance", 1),
        ("surveillance", 3),
        ("reassessment", 1),
    ]
    assert_in_step(cert)


def test_suspension_keeps_the_visits_withdrawal_removes_them(world: World) -> None:
    cert = world.granted()
    dm = world.team.decision_maker
    certificate_suspend(
        actor=dm,
        certificate=cert,
        reason_category="holder_request",
        reason="Plant closed for works",
        decided_on=D(2026, 6, 1),
    )
    assert len(stored(cert)) == 3  # suspended is still live: its visits are still due
    certificate_restore(actor=dm, certificate=cert, reason="Works done", decided_on=D(2026, 7, 1))
    assert len(stored(cert)) == 3
    certificate_withdraw(
        actor=dm,
        certificate=cert,
        reason_category="holder_request",
        reason="Business closed",
        decided_on=D(2026, 8, 1),
    )
    assert stored(cert) == []
    assert_in_step(cert)


def test_expiry_by_the_sweep_removes_the_visits(world: World) -> None:
    cert = world.granted()
    certificate_expire(certificate=cert, as_of=cert.expires_on + DAYS)
    assert stored(cert) == []
    other = world.granted()
    cycle_sweep(as_of=other.expires_on + 2 * DAYS)
    assert Certificate.objects.get(pk=other.pk).status != "current"
    assert stored(other) == []
    assert_in_step(cert, other)


def test_a_renewal_plans_the_next_cycle(world: World) -> None:
    cert = world.granted()
    surveilled(world, cert)
    a = visit(world, cert, "reassessment", start=cert.expires_on - 60 * DAYS)
    world.resolve_findings(a)
    with on_day(cert.expires_on - 10 * DAYS):
        certificate_renew(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            rationale="Re-assessment satisfactory",
            decided_on=cert.expires_on - 10 * DAYS,
        )
    # The new cycle starts on 2029-03-24: its first surveillance is due a year later
    assert stored(cert)[0][:3] == ("surveillance", 1, D(2030, 3, 24))
    assert stored(cert)[-1][:2] == ("reassessment", 1)
    assert_in_step(cert)


def test_a_scope_reduction_keeps_the_schedule_in_step(world: World) -> None:
    cert = _two_site_certificate(world)
    before = stored(cert)
    certificate_reduce_scope(
        actor=world.team.decision_maker,
        certificate=cert,
        remove=[("PWB", world.site2.pk)],
        reason="PWB line closed down",
        decided_on=cert.status_since + DAYS,
    )
    assert cert.issues.count() == 2
    assert stored(cert) == before
    assert_in_step(cert)


def test_a_transfer_moves_the_visits_to_the_new_certificate(world: World) -> None:
    cert = world.granted()
    new_team = _new_cb(world)
    a = visit(world, cert, "transfer_review", team=new_team, findings=("observation",))
    new = _transfer(new_team, cert, a, decided_on=reported(a) + 5 * DAYS)
    assert stored(cert) == []
    assert stored(new) and stored(new) == computed(new)
    assert_in_step(cert, new)


def test_a_change_of_the_schemes_surveillance_rules_replans_its_certificates(
    world: World, tmp_path: Path
) -> None:
    cert = world.granted()
    assert stored(cert)[0][2] == D(2027, 3, 24)
    # When the reference data moves the first surveillance to 9 months after the decision
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    schemes = data / "schemes.toml"
    text = schemes.read_text()
    assert "first_surveillance_months = 12" in text
    schemes.write_text(
        text.replace("first_surveillance_months = 12", "first_surveillance_months = 9", 1)
    )
    reference_load(actor=world.secretariat, data_dir=data)

    # Then the stored schedule follows the new rule
    assert stored(cert)[0][:3] == ("surveillance", 1, D(2026, 12, 24))
    assert_in_step(cert)


def test_visits_check_finds_drift_and_visits_rebuild_repairs_it(world: World) -> None:
    cert, other = world.granted(), world.granted()
    elsewhere = World.build()
    call_command("visits-check")  # in step: no error

    # Given one row lost and another moved
    ScheduledVisit.objects.filter(certificate=cert, kind="reassessment").delete()
    ScheduledVisit.objects.filter(certificate=other, sequence=1, kind="surveillance").update(
        due_date=D(2027, 4, 1)
    )
    ScheduledVisit.objects.filter(certificate=other, kind="reassessment").update(
        organization_id=elsewhere.org.pk
    )
    # When checked, each difference is named and the command fails with exit code 1
    problems = visit_schedule_check()
    assert problems == [
        f"{cert.number}: missing reassessment due 2029-01-22 (window 2028-11-23 to 2029-03-23)",
        f"{other.number}: reassessment stored under CB {other.cb_id} and holder "
        f"{elsewhere.org.pk}; the certificate's are {other.cb_id} and {other.organization_id}",
        f"{other.number}: missing surveillance 1 due 2027-03-24 (window 2027-01-23 to 2027-05-23)",
        f"{other.number}: stored but not planned: surveillance 1 due 2027-04-01 "
        "(window 2027-01-23 to 2027-05-23)",
    ]
    with pytest.raises(CommandError, match="out of step") as failed:
        call_command("visits-check")
    assert failed.value.returncode == 1

    # When rebuilt, the check passes again
    call_command("visits-rebuild", "--quiet")
    assert_in_step(cert, other)
    call_command("visits-check")


def test_visits_check_finds_rows_of_a_certificate_no_longer_live(world: World) -> None:
    cert = world.granted()
    rows = stored(cert)
    certificate_withdraw(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="holder_request",
        reason="Business closed",
        decided_on=D(2026, 8, 1),
    )
    ScheduledVisit.objects.create(
        certificate=cert,
        cb_id=cert.cb_id,
        organization_id=cert.organization_id,
        **dict(zip(_FIELDS, rows[0], strict=True)),
    )
    assert visit_schedule_check() == [
        f"{cert.number}: surveillance 1 stored for a certificate that is withdrawn"
    ]
    visit_schedule_refresh([cert.pk])
    assert visit_schedule_check() == []


_FIELDS = ("kind", "sequence", "due_date", "window_start", "window_end")


def test_the_data_migration_fills_an_existing_database(world: World) -> None:
    # Given certificates whose rows are missing (a database from before the schedule)
    cert = world.granted()
    done = world.granted()
    _visit(world, done, "surveillance", D(2027, 3, 10))
    ScheduledVisit.objects.all().delete()
    migration = importlib.import_module("apcert.cycle.migrations.0003_fill_scheduled_visits")

    # When the migration runs forward, every live certificate's open visits are there
    migration.fill(apps, None)
    assert_in_step(cert, done)
    # And backward empties the table
    migration.empty(apps, None)
    assert not ScheduledVisit.objects.exists()


def test_a_rebuild_writes_what_the_check_expects(world: World) -> None:
    # Given certificates of each kind the programme reads: one just granted, one with a
    # surveillance done, a suspended one, and one taken over from another CB after its first
    # surveillance (its programme continues the first certificate's)
    plain = world.granted()
    done = world.granted()
    _visit(world, done, "surveillance", D(2027, 3, 10))
    suspended = world.granted()
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=suspended,
        reason_category="holder_request",
        reason="Plant closed for works",
        decided_on=D(2026, 6, 1),
    )
    first = world.granted()
    _visit(world, first, "surveillance", D(2027, 3, 10))
    new_team = _new_cb(world)
    a = visit(world, first, "transfer_review", team=new_team, start=D(2027, 6, 1))
    with on_day(reported(a) + 5 * DAYS):
        moved = _transfer(new_team, first, a, decided_on=reported(a) + 5 * DAYS)
    certs = (plain, done, suspended, first, moved)
    rows = {c.number: stored(c) for c in certs}
    assert rows[moved.number][0][:2] == ("surveillance", 2)  # the first's visit counts
    facts = list(
        Certificate.objects.order_by("pk").values_list("pk", "surveillance_due_by", "lapses_on")
    )
    assert_in_step(*certs)

    # When the rows and the date facts are lost, and the schedule rebuilt
    ScheduledVisit.objects.all().delete()
    Certificate.objects.update(surveillance_due_by=None, lapses_on=None)
    assert visit_schedule_check()
    assert visit_schedule_rebuild() == 4  # plain, done, suspended and moved are live

    # Then every row and date fact is back as the services wrote them
    assert {c.number: stored(c) for c in certs} == rows
    assert (
        list(
            Certificate.objects.order_by("pk").values_list("pk", "surveillance_due_by", "lapses_on")
        )
        == facts
    )
    assert_in_step(*certs)
    stored_row = ScheduledVisit.objects.filter(certificate=moved).first()
    assert stored_row is not None
    assert (stored_row.cb_id, stored_row.organization_id) == (moved.cb_id, moved.organization_id)


def test_open_visits_reads_the_attributes_the_check_and_the_services_use(world: World) -> None:
    cert = world.granted()
    stored_cert = Certificate.objects.get(pk=cert.pk)
    ((pk, (planned, visits)),) = open_visits([cert.pk, 10**9], current_models()).items()
    assert pk == cert.pk
    for name in (
        "number",
        "status",
        "cb_id",
        "organization_id",
        "initial_decision_on",
        "expires_on",
        "status_since",
        "surveillance_due_by",
        "lapses_on",
        "transferred_from_id",
    ):
        assert getattr(planned, name) == getattr(stored_cert, name), name
    assert planned.planned_dates == (stored_cert.surveillance_due_by, stored_cert.lapses_on)
    assert [(v.kind, v.sequence, v.due_date) for v in visits] == [r[:3] for r in stored(cert)]


def test_a_scheme_without_rules_stops_a_rebuild_but_not_the_migration(world: World) -> None:
    cert = world.granted()
    SchemeRules.objects.filter(scheme_id=cert.scheme_id).delete()
    # The application's rebuild refuses, as every service does, and leaves the schedule
    with pytest.raises(DomainError) as refused:
        visit_schedule_rebuild()
    assert refused.value.code == "scheme.rules_missing"
    assert stored(cert)
    # A migration's leaves the certificates of such a scheme without rows
    assert visit_schedule_rebuild(models=dataclasses.replace(current_models(), strict=False))
    assert stored(cert) == []


def test_a_rebuild_refuses_a_visit_field_it_does_not_write(world: World) -> None:
    cert = world.granted()
    meta = ScheduledVisit._meta
    extra = SimpleNamespace(attname="note", column="note")
    visit_model = SimpleNamespace(
        objects=ScheduledVisit.objects,
        _meta=SimpleNamespace(
            concrete_fields=[*meta.concrete_fields, extra],
            auto_field=meta.auto_field,
            label=meta.label,
            db_table=meta.db_table,
        ),
    )
    models = dataclasses.replace(current_models(), visit=visit_model)
    with pytest.raises(ImproperlyConfigured, match="note"):
        visit_schedule_rebuild(models=models)
    assert stored(cert)  # the schedule is left as it was


def test_the_stored_visits_carry_their_certificate_s_number_and_the_check_reads_it(
    world: World,
) -> None:
    # Given a certificate taken over by another CB (a new certificate, with its own number)
    cert = world.granted()
    new_team = _new_cb(world)
    a = visit(world, cert, "transfer_review", team=new_team, findings=("observation",))
    new = _transfer(new_team, cert, a, decided_on=reported(a) + 5 * DAYS)
    # Then its visits carry its number and CB, and the first certificate has none
    assert set(
        ScheduledVisit.objects.filter(certificate=new).values_list("certificate_number", "cb_id")
    ) == {(new.number, new.cb_id)}
    assert not ScheduledVisit.objects.filter(certificate_number=cert.number).exists()

    # Given a stored number out of step with its certificate's
    ScheduledVisit.objects.filter(certificate=new, kind="reassessment").update(
        certificate_number=cert.number
    )
    # When checked, it is named; when rebuilt, it is the certificate's again
    assert visit_schedule_check() == [
        f"{new.number}: reassessment stored under the number '{cert.number}'"
    ]
    visit_schedule_rebuild()
    assert visit_schedule_check() == []
    assert set(
        ScheduledVisit.objects.filter(certificate=new).values_list("certificate_number", flat=True)
    ) == {new.number}


def test_the_migration_that_keeps_the_number_fills_it_from_the_certificates(
    world: World,
) -> None:
    certs = [world.granted(), world.granted()]
    ScheduledVisit.objects.update(certificate_number="")
    migration = importlib.import_module("apcert.cycle.migrations.0006_visit_certificate_number")
    migration.fill(apps, None)
    assert sorted(
        ScheduledVisit.objects.order_by()
        .values_list("certificate_id", "certificate_number")
        .distinct()
    ) == sorted((c.pk, c.number) for c in certs)
    assert visit_schedule_check() == []


def test_a_migration_s_visit_model_without_the_number_is_written_without_it() -> None:
    # The migrations that filled the schedule before the number was kept run the rebuild
    # with their historical model, which has no such column
    meta = ScheduledVisit._meta
    older = SimpleNamespace(
        _meta=SimpleNamespace(
            concrete_fields=[f for f in meta.concrete_fields if f.name != "certificate_number"],
            auto_field=meta.auto_field,
            label=meta.label,
            db_table=meta.db_table,
        )
    )
    table, columns, written = _visit_columns(dataclasses.replace(current_models(), visit=older))
    assert "certificate_number" not in written and "certificate_number" not in columns
    assert written == tuple(name for name in _VISIT_ATTRIBUTES if name != "certificate_number")
    assert table == meta.db_table and len(columns) == len(written)
    table, columns, written = _visit_columns(current_models())
    assert written == _VISIT_ATTRIBUTES and "certificate_number" in columns
