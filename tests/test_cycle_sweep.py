"""The time-driven sweep: a certificate's life driven by ``as_of`` dates,
idempotence, concurrency, late findings, the command and the scheduled task."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from apcert.assessments.models import Assessment, Finding
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_start,
    finding_record,
)
from apcert.audit.models import AuditEvent
from apcert.audit.selectors import audit_chain_verify
from apcert.certificates.models import Certificate, CertificateStatusChange, Decision
from apcert.certificates.services import certificate_renew, certificate_restore
from apcert.core.errors import DomainError
from apcert.cycle.models import FindingLateFlag, SweepRun
from apcert.cycle.sweep import SweepReport, cycle_sweep
from apcert.cycle.tasks import sweep_schedule
from apcert.schemes.models import SchemeRules
from tests.factories import World, on_day

D = dt.date
IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


# --- helpers ---------------------------------------------------------------------------------


def _visit(world: World, cert: Certificate, kind: str, report_on: dt.date) -> Assessment:
    t = world.team
    a = assessment_plan(
        actor=t.manager,
        kind=kind,
        certificate=cert,
        start_date=report_on - dt.timedelta(days=4),
        end_date=report_on - dt.timedelta(days=3),
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )
    with on_day(a.start_date):
        assessment_start(actor=t.lead, assessment=a)
    with on_day(report_on):
        return assessment_issue_report(actor=t.lead, assessment=a, issued_on=report_on)


def _status(cert: Certificate) -> tuple[str, dt.date]:
    c = Certificate.objects.get(pk=cert.pk)
    return c.status, c.status_since


def _records() -> dict[str, int]:
    return {
        "status_changes": CertificateStatusChange.objects.count(),
        "decisions": Decision.objects.count(),
        "flags": FindingLateFlag.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def _nothing(report: SweepReport) -> bool:
    return not report.changed and not report.needs_decision


def _last_change(cert: Certificate) -> CertificateStatusChange:
    return CertificateStatusChange.objects.filter(certificate=cert).order_by("-id")[0]


def _last_event(cert: Certificate) -> AuditEvent:
    return AuditEvent.objects.filter(
        object_type="certificates.certificate", object_id=str(cert.pk)
    ).order_by("-seq")[0]


# --- a simulated life ------------------------------------------------------------------------
# Granted 2026-03-24, valid until 2029-03-23 (AP defaults). Surveillance 1 due 2027-03-24,
# window 2027-01-23..2027-05-23; surveillance 2 falls due 12 months after surveillance 1 was
# carried out, and never later than 2028-03-24, with the same 60-day window.


def test_life_on_time_late_renewed_in_time_then_missed_in_the_next_cycle(world: World) -> None:
    cert = world.granted()

    # Surveillance 1 on time: nothing happens
    _visit(world, cert, "surveillance", D(2027, 3, 20))
    assert _nothing(cycle_sweep(as_of=D(2027, 6, 1)))

    # Surveillance 2 (carried out 2027-03-17, so due 2028-03-17, window to 2028-05-16) late
    # but inside its window: nothing happens
    _visit(world, cert, "surveillance", D(2028, 5, 16))
    assert _nothing(cycle_sweep(as_of=D(2028, 6, 1)))
    assert _status(cert) == ("current", D(2026, 3, 24))

    # Renewed in time on a re-assessment: still current past the first expiry
    re = _visit(world, cert, "reassessment", D(2029, 1, 15))
    with on_day(D(2029, 2, 1)):
        certificate_renew(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=re,
            decided_on=D(2029, 2, 1),
        )
    assert _nothing(cycle_sweep(as_of=D(2029, 3, 24)))
    assert _nothing(cycle_sweep(as_of=D(2029, 4, 1)))
    c = Certificate.objects.get(pk=cert.pk)
    assert (c.status, c.expires_on) == ("current", D(2032, 3, 23))

    # The new cycle's first surveillance (due 2030-03-24, window to 2030-05-23) is missed
    assert _nothing(cycle_sweep(as_of=D(2030, 5, 23)))
    report = cycle_sweep(as_of=D(2030, 5, 24))
    assert report.suspended == [cert.number]
    assert _status(cert) == ("suspended", D(2030, 5, 24))


def test_life_missed_suspended_restored_missed_again_withdrawn(world: World) -> None:
    cert = world.granted()
    dm = world.team.decision_maker

    # On the last day of surveillance 1's window nothing happens yet
    assert _nothing(cycle_sweep(as_of=D(2027, 5, 23)))

    # Missed: suspended the day after the window, by the system, naming the rule
    before = _records()
    report = cycle_sweep(as_of=D(2027, 5, 24))
    assert report.suspended == [cert.number]
    assert _status(cert) == ("suspended", D(2027, 5, 24))
    change = _last_change(cert)
    assert (change.from_status, change.to_status, change.effective_on) == (
        "current",
        "suspended",
        D(2027, 5, 24),
    )
    assert change.reason_category == "missed_surveillance"
    assert change.decision is None
    reason = "rule cycle.missed_surveillance: surveillance window ended 2027-05-23 without a visit"
    assert change.reason == reason
    event = _last_event(cert)
    assert (event.action, event.actor_id, event.actor_label) == (
        "certificate.suspend",
        None,
        "system",
    )
    assert event.reason == reason
    assert event.after is not None
    assert event.after["rule"] == "cycle.missed_surveillance"
    assert _records() == {
        **before,
        "status_changes": before["status_changes"] + 1,
        "audit_events": before["audit_events"] + 1,
    }

    # Restored by a decision after a special (short-notice) visit: the old miss does not count
    # again. (A late visit planned as a surveillance would count for surveillance 2: visits
    # are matched to reports in order, a report before a window counting for that window.)
    _visit(world, cert, "special", D(2027, 6, 5))
    with on_day(D(2027, 6, 10)):
        certificate_restore(
            actor=dm, certificate=cert, reason="surveillance done", decided_on=D(2027, 6, 10)
        )
    assert _nothing(cycle_sweep(as_of=D(2027, 7, 1)))
    assert _status(cert) == ("current", D(2027, 6, 10))

    # Surveillance 2 missed: suspended again
    assert cycle_sweep(as_of=D(2028, 5, 24)).suspended == [cert.number]
    assert _status(cert) == ("suspended", D(2028, 5, 24))

    # Up to the last day of the maximum (6 months: 2028-05-24 to 2028-11-23) nothing more
    # happens
    assert _nothing(cycle_sweep(as_of=D(2028, 11, 23)))

    # The day the maximum runs out: withdrawn, effective that day
    report = cycle_sweep(as_of=D(2028, 11, 24))
    assert report.withdrawn == [cert.number]
    assert _status(cert) == ("withdrawn", D(2028, 11, 24))
    change = _last_change(cert)
    assert (change.reason_category, change.decision) == ("suspension_exceeded", None)
    assert change.reason == (
        "rule cycle.suspension_exceeded: suspended since 2028-05-24, the scheme's maximum "
        "of 6 months ran out on 2028-11-24"
    )
    event = _last_event(cert)
    assert (event.action, event.actor_label) == ("certificate.withdraw", "system")

    # And it stays withdrawn: nothing further, not even expiry
    assert _nothing(cycle_sweep(as_of=D(2029, 6, 1)))
    assert audit_chain_verify().ok


def test_expiry_when_not_renewed_and_a_renewal_after_it_is_refused(world: World) -> None:
    cert = world.granted()
    _visit(world, cert, "surveillance", D(2027, 3, 20))
    _visit(world, cert, "surveillance", D(2028, 3, 20))
    re = _visit(world, cert, "reassessment", D(2029, 3, 10))

    # On its last valid day nothing happens; the day after, it expires
    assert _nothing(cycle_sweep(as_of=D(2029, 3, 23)))
    assert cycle_sweep(as_of=D(2029, 3, 24)).expired == [cert.number]
    assert _status(cert) == ("expired", D(2029, 3, 24))
    change = _last_change(cert)
    assert (change.reason_category, change.effective_on) == ("validity_ended", D(2029, 3, 24))
    assert _last_event(cert).actor_label == "system"

    # A renewal decided too late is refused, and nothing is written
    before = _records()
    with pytest.raises(DomainError) as exc:
        certificate_renew(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=re,
            decided_on=D(2029, 3, 25),
        )
    assert exc.value.code == "certificate.transition_not_allowed"
    assert _records() == before


def test_a_late_run_records_the_history_in_date_order(world: World) -> None:
    # Given a certificate whose sweep was not run for years
    cert = world.granted()

    # When the sweep catches up past its expiry
    report = cycle_sweep(as_of=D(2029, 6, 1))

    # Then it was suspended after the missed surveillance and withdrawn six months later,
    # before its expiry came due
    assert (report.suspended, report.withdrawn, report.expired) == (
        [cert.number],
        [cert.number],
        [],
    )
    changes = list(
        CertificateStatusChange.objects.filter(certificate=cert)
        .order_by("id")
        .values_list("to_status", "effective_on")
    )
    assert changes == [
        ("current", D(2026, 3, 24)),
        ("suspended", D(2027, 5, 24)),
        ("withdrawn", D(2027, 11, 24)),
    ]


def test_suspension_limit_follows_the_rule_figure(world: World) -> None:
    cert = world.granted()
    SchemeRules.objects.filter(scheme=cert.scheme).update(max_suspension_months=2)
    cycle_sweep(as_of=D(2027, 5, 24))
    assert _nothing(cycle_sweep(as_of=D(2027, 7, 23)))
    assert cycle_sweep(as_of=D(2027, 7, 24)).withdrawn == [cert.number]
    assert _status(cert) == ("withdrawn", D(2027, 7, 24))


def test_reduce_scope_rule_leaves_the_certificate_for_a_decision(world: World) -> None:
    cert = world.granted()
    SchemeRules.objects.filter(scheme=cert.scheme).update(suspension_end_action="reduce_scope")
    cycle_sweep(as_of=D(2027, 5, 24))
    before = _records()
    report = cycle_sweep(as_of=D(2027, 12, 1))
    assert not report.changed
    assert len(report.needs_decision) == 1
    assert report.needs_decision[0].startswith(f"{cert.number}: rule cycle.suspension_exceeded")
    assert _status(cert) == ("suspended", D(2027, 5, 24))
    assert _records() == before


# --- late findings ---------------------------------------------------------------------------


def _open_finding(world: World, cert: Certificate, grade: str = "minor") -> Finding:
    t = world.team
    a = assessment_plan(
        actor=t.manager,
        kind="surveillance",
        certificate=cert,
        start_date=D(2027, 3, 1),
        end_date=D(2027, 3, 2),
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )
    with on_day(D(2027, 3, 2)):
        assessment_start(actor=t.lead, assessment=a)
        return finding_record(
            actor=t.lead,
            assessment=a,
            grade=grade,
            requirement_kind="iso9001",
            requirement_ref="ISO 9001:2015 7.5",
            description="records incomplete",
            raised_on=D(2027, 3, 2),
        )


def test_findings_past_due_are_flagged_once(world: World) -> None:
    cert = world.granted()
    minor = _open_finding(world, cert)
    observation = _open_finding(world, cert, grade="observation")
    assert minor.due_date == D(2027, 5, 31)  # 90 days, the scheme's figure

    # On the due date nothing; the day after, the nonconformity (not the observation) is flagged
    assert cycle_sweep(as_of=D(2027, 5, 31)).findings_flagged == []
    report = cycle_sweep(as_of=D(2027, 6, 1))
    assert report.findings_flagged == [minor.pk]
    flag = FindingLateFlag.objects.get()
    assert (flag.finding_id, flag.flagged_on, flag.due_date, flag.rule) == (
        minor.pk,
        D(2027, 6, 1),
        D(2027, 5, 31),
        "cycle.finding_late",
    )
    event = AuditEvent.objects.filter(action="finding.flag_late").get()
    assert event.actor_label == "system"
    assert event.reason.startswith("rule cycle.finding_late: ")
    assert not FindingLateFlag.objects.filter(finding=observation).exists()

    # Later runs do not flag it again
    assert cycle_sweep(as_of=D(2027, 7, 1)).findings_flagged == []
    assert FindingLateFlag.objects.count() == 1


def test_answered_finding_is_flagged_but_an_accepted_plan_is_not(world: World) -> None:
    cert = world.granted()
    answered = _open_finding(world, cert)
    world.answer(answered, on=D(2027, 5, 1))
    planned = _open_finding(world, cert)
    world.review(world.answer(planned, on=D(2027, 5, 1)), "accept_plan", on=D(2027, 5, 2))
    assert cycle_sweep(as_of=D(2027, 6, 1)).findings_flagged == [answered.pk]


# --- idempotence -----------------------------------------------------------------------------


def test_a_second_run_changes_nothing(world: World) -> None:
    # Given one certificate to suspend, one to expire and a late finding
    to_suspend = world.granted()
    other = World.build()
    to_expire = other.granted()
    _visit(other, to_expire, "surveillance", D(2027, 3, 20))
    _visit(other, to_expire, "surveillance", D(2028, 3, 20))
    _open_finding(world, to_suspend)
    first = cycle_sweep(as_of=D(2027, 6, 1))
    assert first.suspended == [to_suspend.number]
    assert len(first.findings_flagged) == 1
    third = cycle_sweep(as_of=D(2029, 3, 24))
    assert third.expired == [to_expire.number]
    assert third.withdrawn == [to_suspend.number]

    # When the sweep runs again for the same date
    before = _records()
    seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0]
    again = cycle_sweep(as_of=D(2029, 3, 24))

    # Then it does nothing: no new rows, no new audit events
    assert _nothing(again)
    assert _records() == before
    assert AuditEvent.objects.order_by("-seq").values_list("seq", flat=True)[0] == seq


# --- two sweeps at once ----------------------------------------------------------------------


@pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="row locks (select_for_update) need PostgreSQL; SQLite serialises writers",
)
def test_two_sweeps_at_once_act_once(live_world: World) -> None:
    world = live_world
    certs = [world.granted() for _ in range(3)]
    finding = _open_finding(world, certs[0])
    barrier = threading.Barrier(2)
    reports: list[SweepReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait(timeout=30)
            reports.append(cycle_sweep(as_of=D(2027, 6, 1)))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert errors == []
    assert sorted(n for r in reports for n in r.suspended) == sorted(c.number for c in certs)
    assert [f for r in reports for f in r.findings_flagged] == [finding.pk]
    for cert in certs:
        assert (
            CertificateStatusChange.objects.filter(certificate=cert, to_status="suspended").count()
            == 1
        )
        assert (
            AuditEvent.objects.filter(action="certificate.suspend", object_id=str(cert.pk)).count()
            == 1
        )
    assert FindingLateFlag.objects.count() == 1
    assert audit_chain_verify().ok


# --- the command and the scheduled task ------------------------------------------------------


def test_command_sweeps_as_of_a_date(world: World, capsys: Any) -> None:
    cert = world.granted()
    call_command("sweep", "--as-of", "2027-05-24")
    out = capsys.readouterr().out
    assert "sweep as of 2027-05-24" in out
    assert f"suspended (missed surveillance): 1 ({cert.number})" in out
    assert _status(cert) == ("suspended", D(2027, 5, 24))


@pytest.mark.parametrize("bad", ["2027-13-01", "tomorrow", "24.05.2027"])
def test_command_refuses_a_bad_date(world: World, bad: str) -> None:
    before = _records()
    with pytest.raises(CommandError) as exc:
        call_command("sweep", "--as-of", bad)
    assert (
        str(exc.value) == f"--as-of '{bad}' is not a date; write it as YYYY-MM-DD, e.g. 2027-03-11."
    )
    assert _records() == before


def test_the_daily_sweep_is_queued_once_per_date(world: World, settings: Any) -> None:
    settings.TASKS = IMMEDIATE
    cert = world.granted()

    # When the worker schedules the day's sweep (run at once by the immediate backend)
    assert sweep_schedule(as_of=D(2027, 5, 24)) is True

    # Then it ran, and is recorded
    assert _status(cert) == ("suspended", D(2027, 5, 24))
    run = SweepRun.objects.get()
    assert run.as_of == D(2027, 5, 24) and run.finished_at is not None
    assert run.summary["suspended"] == [cert.number]

    # And a restart the same day queues nothing
    assert sweep_schedule(as_of=D(2027, 5, 24)) is False
    assert SweepRun.objects.count() == 1


def test_the_task_is_queued_in_the_database_backend(world: World, settings: Any) -> None:
    from django_tasks_db.models import DBTaskResult

    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    assert sweep_schedule(as_of=D(2027, 5, 24)) is True
    assert sweep_schedule(as_of=D(2027, 5, 24)) is False
    queued = DBTaskResult.objects.get()
    assert queued.task_path == "apcert.cycle.tasks.run_sweep"
    assert queued.args_kwargs == {"args": ["2027-05-24"], "kwargs": {}}
    assert connection.vendor in ("sqlite", "postgresql")
