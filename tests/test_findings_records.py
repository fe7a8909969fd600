"""Findings are numbered within their assessment, and the team may correct one until the
report is issued.

Each refusal checks its stable code and that nothing was written: no finding changed (every
column read again from the database), no audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from apcert.assessments.edits import finding_update
from apcert.assessments.models import Assessment, Finding
from apcert.assessments.services import (
    assessment_cancel,
    assessment_issue_report,
    finding_record,
)
from apcert.audit.models import AuditEvent
from apcert.core.errors import DomainError
from apcert.schemes.models import Standard
from tests.factories import World

pytestmark = pytest.mark.django_db

DAYS = dt.timedelta(days=1)


def _record(world: World, a: Assessment, grade: str = "minor", **extra: Any) -> Finding:
    fields: dict[str, Any] = {
        "requirement_kind": "iso9001",
        "requirement_ref": "ISO 9001:2015 7.5.3",
        "description": "Two records were not signed.",
        **extra,
    }
    return finding_record(actor=world.team.lead, assessment=a, grade=grade, **fields)


def _in_progress(world: World) -> Assessment:
    return world.assessment(world.accepted_application(), report=False)


def _row(finding: Finding) -> dict[str, Any]:
    return Finding.objects.filter(pk=finding.pk).values().get()  # type: ignore[no-any-return]


def _edit(world: World, finding: Finding, **changes: Any) -> Finding:
    fields: dict[str, Any] = {
        "requirement_kind": finding.requirement_kind,
        "requirement_ref": finding.requirement_ref,
        "description": finding.description,
        "standard": finding.standard,
        "actor": world.team.lead,
        **changes,
    }
    return finding_update(finding=finding, **fields)


def _refused(call: Callable[[], Any], code: str, *findings: Finding) -> DomainError:
    rows = [_row(f) for f in findings]
    events = AuditEvent.objects.count()
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code, str(exc.value)
    assert [_row(f) for f in findings] == rows
    assert AuditEvent.objects.count() == events
    return exc.value


# --- numbers -------------------------------------------------------------------------------


def test_findings_are_numbered_one_two_three_within_each_assessment(world: World) -> None:
    # Given two assessments in progress
    first, second = _in_progress(world), _in_progress(world)

    # When findings are recorded on each, in turn
    a1 = _record(world, first, "major")
    b1 = _record(world, second, "observation")
    a2 = _record(world, first, "observation")
    a3 = _record(world, first, "minor")

    # Then each assessment counts its own, in the order recorded
    assert [(f.assessment_id, f.number) for f in (a1, a2, a3, b1)] == [
        (first.pk, 1),
        (first.pk, 2),
        (first.pk, 3),
        (second.pk, 1),
    ]
    assert str(a2) == (
        f"finding 2 of assessment {first.pk}: observation against ISO 9001:2015 7.5.3"
    )
    event = AuditEvent.objects.filter(action="finding.record", object_id=str(a3.pk)).get()
    assert event.after["number"] == 3
    assert event.object_repr == str(a3)


def test_the_database_refuses_two_findings_with_one_number_in_an_assessment(
    world: World,
) -> None:
    a = _in_progress(world)
    first = _record(world, a)
    duplicate = Finding(
        assessment=a,
        number=first.number,
        grade="observation",
        requirement_kind="iso9001",
        requirement_ref="7.1",
        description="noted",
        status="closed",
        raised_on=a.start_date,
        due_date=a.start_date,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


@pytest.mark.django_db(transaction=True)
def test_the_migration_numbers_the_findings_recorded_before_by_id(live_world: World) -> None:
    # Given findings of two assessments recorded in turn
    world = live_world
    first, second = _in_progress(world), _in_progress(world)
    recorded = [_record(world, a) for a in (first, second, first, second, first)]

    # When the numbers are dropped and the migration that brings them runs again
    executor = MigrationExecutor(connection)
    executor.migrate([("assessments", "0003_evidencefile")])
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("assessments"))

    # Then each assessment's findings are numbered by id
    numbers = dict(Finding.objects.values_list("pk", "number"))
    assert [numbers[f.pk] for f in recorded] == [1, 1, 2, 2, 3]


# --- corrections ---------------------------------------------------------------------------


def test_a_team_member_corrects_a_finding_and_the_event_lists_only_what_changed(
    world: World,
) -> None:
    # Given a minor nonconformity recorded by the lead
    a = _in_progress(world)
    finding = _record(world, a)
    due = finding.due_date

    # When the other assessor corrects its grade, reference and due date, with a reason
    edited = _edit(
        world,
        finding,
        actor=world.team.assessor,
        grade="major",
        requirement_ref=" ISO 9001:2015 7.5.3.2 ",
        due_date=due + 10 * DAYS,
        reason="Regraded after the closing meeting",
    )

    # Then the finding reads as corrected, its number and status as they were
    row = _row(edited)
    assert (row["grade"], row["requirement_ref"], row["due_date"]) == (
        "major",
        "ISO 9001:2015 7.5.3.2",
        due + 10 * DAYS,
    )
    assert (row["number"], row["status"], row["description"]) == (
        1,
        "open",
        "Two records were not signed.",
    )
    # And one event lists the changed fields only, before and after
    event = AuditEvent.objects.filter(action="finding.update").get()
    assert event.object_id == str(finding.pk)
    assert event.actor_id == world.team.assessor.pk
    assert event.before == {
        "grade": "minor",
        "requirement_ref": "ISO 9001:2015 7.5.3",
        "due_date": due.isoformat(),
    }
    assert event.after == {
        "grade": "major",
        "requirement_ref": "ISO 9001:2015 7.5.3.2",
        "due_date": (due + 10 * DAYS).isoformat(),
    }
    assert event.reason == "Regraded after the closing meeting"


def test_a_correction_that_changes_nothing_writes_nothing(world: World) -> None:
    finding = _record(world, _in_progress(world))
    row, events = _row(finding), AuditEvent.objects.count()

    _edit(world, finding)

    assert _row(finding) == row
    assert AuditEvent.objects.count() == events


def test_a_standard_clause_is_corrected_to_a_declared_standard(world: World) -> None:
    # Given a finding against an ISO 9001 clause, the scope declaring ISO 9001:2015
    finding = _record(world, _in_progress(world))
    iso = Standard.objects.get(designation="ISO 9001", edition="2015")

    # When it is put against the declared standard's clause
    _edit(world, finding, requirement_kind="standard", standard=iso)

    # Then
    assert _row(finding)["standard_id"] == iso.pk
    event = AuditEvent.objects.filter(action="finding.update").get()
    assert event.before == {"requirement_kind": "iso9001", "standard": None}
    assert event.after == {"requirement_kind": "standard", "standard": "ISO 9001:2015"}


@pytest.mark.parametrize("status", ["report_issued", "cancelled"])
def test_once_the_report_is_issued_or_the_assessment_cancelled_findings_stay(
    world: World, status: str
) -> None:
    # Given a finding, then the report issued (or the assessment cancelled)
    a = _in_progress(world)
    finding = _record(world, a)
    if status == "report_issued":
        assessment_issue_report(actor=world.team.lead, assessment=a, issued_on=a.end_date)
    else:
        assessment_cancel(actor=world.team.manager, assessment=a, reason="Plant closed")

    # When the lead corrects it, then it is refused
    err = _refused(
        lambda: _edit(world, finding, description="Three records were not signed."),
        "finding.not_editable",
        finding,
    )
    assert err.params == {"assessment_status": status}


@pytest.mark.parametrize(
    ("recorded", "regraded"), [("minor", "observation"), ("observation", "major")]
)
def test_an_observation_and_a_nonconformity_are_not_regraded_into_each_other(
    world: World, recorded: str, regraded: str
) -> None:
    finding = _record(world, _in_progress(world), recorded)
    _refused(
        lambda: _edit(world, finding, grade=regraded),
        "finding.grade_change_not_allowed",
        finding,
    )


@pytest.mark.parametrize("who", ["manager", "decision_maker", "org_user", "other CB's lead"])
def test_only_a_member_of_the_team_may_correct_a_finding(world: World, who: str) -> None:
    finding = _record(world, _in_progress(world))
    if who == "org_user":
        actor = world.org_user
    elif who == "other CB's lead":
        actor = World.make_cb(world.secretariat, "ELSE", dt.date(2020, 1, 1)).lead
    else:
        actor = getattr(world.team, who)
    _refused(
        lambda: _edit(world, finding, actor=actor, description="Changed"),
        "permission.team_member_required",
        finding,
    )


def test_an_inactive_team_member_may_not_correct_a_finding(world: World) -> None:
    finding = _record(world, _in_progress(world))
    world.team.assessor.is_active = False
    world.team.assessor.save(update_fields=["is_active"])
    _refused(
        lambda: _edit(world, finding, actor=world.team.assessor, description="Changed"),
        "permission.team_member_required",
        finding,
    )


def _another_declared_standard_missing() -> Standard:
    return Standard.objects.exclude(designation="ISO 9001").filter(accepted_for_iecq=True)[0]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"grade": "critical"}, "invalid.choice"),
        ({"requirement_kind": "company_rule"}, "invalid.choice"),
        ({"requirement_ref": "  "}, "invalid.required"),
        ({"description": ""}, "invalid.required"),
        ({"requirement_kind": "standard", "standard": None}, "finding.standard_required"),
        ({"standard": "undeclared"}, "finding.standard_not_declared"),
        ({"due_date": "before raised"}, "invalid.date_order"),
    ],
)
def test_a_correction_is_checked_as_a_new_finding_is(
    world: World, changes: dict[str, Any], code: str
) -> None:
    finding = _record(world, _in_progress(world))
    if changes.get("standard") == "undeclared":
        changes["standard"] = _another_declared_standard_missing()
    if changes.get("due_date") == "before raised":
        changes["due_date"] = finding.raised_on - DAYS
    _refused(lambda: _edit(world, finding, **changes), code, finding)


def test_a_correction_never_moves_a_finding_from_its_number(world: World) -> None:
    a = _in_progress(world)
    first, second = _record(world, a), _record(world, a, "major")
    _edit(world, first, grade="major")
    assert [_row(f)["number"] for f in (first, second)] == [1, 2]
