"""Transfer to another CB: a transfer review at the new CB, a new number
under it, both certificates linked, the old one withdrawn with the reason "transferred"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from apcert.assessments.models import Assessment
from apcert.assessments.services import assessment_plan
from apcert.audit.models import AuditEvent
from apcert.audit.selectors import audit_chain_verify
from apcert.certificates.models import Certificate, CertificateStatusChange, Decision
from apcert.certificates.services import (
    certificate_suspend,
    certificate_transfer,
    certificate_withdraw,
)
from apcert.core.errors import DomainError
from tests.factories import CBTeam, World, make_user, on_day
from tests.flows_support import (
    DAYS,
    assert_refused,
    assessment_status,
    grew,
    records,
    reported,
    surveilled,
    visit,
)

ACCEPTED = dt.date(2020, 1, 1)


def _new_cb(world: World, programmes: tuple[str, ...] = ("AP",)) -> CBTeam:
    return World.make_cb(
        world.secretariat, f"N{make_user('cb').pk}", ACCEPTED, programmes=programmes
    )


def _transfer(new: CBTeam, cert: Certificate, a: Assessment, **kw: Any) -> Certificate:
    on = kw.pop("decided_on", None) or a.end_date + 9 * DAYS
    return certificate_transfer(
        actor=kw.pop("actor", new.decision_maker),
        certificate=cert,
        assessment=a,
        decided_on=on,
        rationale=kw.pop("rationale", "Transfer review satisfactory"),
    )


def test_given_a_transfer_review_at_the_new_cb_when_transferred_then_new_number_old_withdrawn(
    world: World,
) -> None:
    # Given a current certificate (re-issued once) and a transfer review by another CB
    old = world.granted()
    new_team = _new_cb(world)
    a = visit(world, old, "transfer_review", team=new_team, findings=("observation",))
    old_issue = old.issues.get(issue_number=1)
    before = records()
    on = reported(a) + 5 * DAYS

    # When the new CB's decision maker decides the transfer
    new = _transfer(new_team, old, a, decided_on=on)

    # Then a new certificate under the new CB: new number, issue 1 "transfer", same scope
    # and expiry, the certification cycle kept
    new = Certificate.objects.get(pk=new.pk)
    old = Certificate.objects.get(pk=old.pk)
    assert new.number != old.number
    assert new.number.startswith(f"IECQ-A {new_team.cb.code} {on.year % 100:02d}.")
    assert (new.cb_id, new.status, new.status_since, new.current_issue_number) == (
        new_team.cb.pk,
        "current",
        on,
        1,
    )
    assert (new.expires_on, new.initial_decision_on, new.first_issued_on) == (
        old.expires_on,
        old.initial_decision_on,
        on,
    )
    assert (new.organization_id, new.scheme_id) == (old.organization_id, old.scheme_id)
    issue = new.issues.get()
    assert (issue.issue_number, issue.reason, issue.issued_on, issue.valid_from) == (
        1,
        "transfer",
        on,
        on,
    )
    assert issue.valid_until == old.expires_on
    assert (issue.scope_lines, issue.programmes) == (old_issue.scope_lines, old_issue.programmes)
    # ... both linked, the old one withdrawn "transferred" under the same decision
    assert new.transferred_from_id == old.pk
    assert old.transferred_to == new
    assert (old.status, old.status_since, old.current_issue_number) == ("withdrawn", on, 1)
    decision = Decision.objects.get(assessment=a)
    assert (decision.kind, decision.cb_id, decision.certificate_id, decision.decided_by_id) == (
        "grant",
        new_team.cb.pk,
        new.pk,
        new_team.decision_maker.pk,
    )
    old_change = CertificateStatusChange.objects.filter(certificate=old).latest("id")
    assert (old_change.from_status, old_change.to_status, old_change.reason_category) == (
        "current",
        "withdrawn",
        "transferred",
    )
    new_change = CertificateStatusChange.objects.get(certificate=new)
    assert (new_change.from_status, new_change.to_status) == ("draft", "current")
    assert old_change.decision_id == new_change.decision_id == issue.decision_id == decision.pk
    assert assessment_status(a) == "closed"
    # ... with one audit event naming both numbers
    assert records() == grew(
        before, decisions=1, certificates=1, issues=1, status_changes=2, audit_events=1
    )
    event = AuditEvent.objects.latest("seq")
    assert event.after is not None and event.before is not None
    assert (event.action, event.object_id) == ("certificate.transfer", str(new.pk))
    assert (event.after["number"], event.after["transferred_from"]) == (new.number, old.number)
    assert event.before["transferred_from"]["number"] == old.number
    assert audit_chain_verify().ok


@pytest.mark.parametrize("state", ["suspended", "withdrawn"])
def test_given_a_certificate_that_is_not_current_when_transferred_then_refused(
    world: World, state: str
) -> None:
    old = world.granted()
    new_team = _new_cb(world)
    a = visit(world, old, "transfer_review", team=new_team)
    dm = world.team.decision_maker
    if state == "suspended":
        certificate_suspend(
            actor=dm,
            certificate=old,
            reason_category="unpaid_fees",
            reason="Unpaid",
            decided_on=reported(a),
        )
    else:
        certificate_withdraw(
            actor=dm,
            certificate=old,
            reason_category="misuse",
            reason="Misuse",
            decided_on=reported(a),
        )
    err = assert_refused(
        lambda: _transfer(new_team, old, a), "certificate.transfer_not_current", old
    )
    assert err.params["state"] == state


def test_given_a_new_cb_without_acceptance_for_the_programme_when_transferred_then_refused(
    world: World,
) -> None:
    old = world.granted()
    new_team = _new_cb(world, programmes=("AP-ESD",))
    a = visit(world, old, "transfer_review", team=new_team)
    err = assert_refused(lambda: _transfer(new_team, old, a), "decision.cb_not_accepted", old)
    assert err.params["programme"] == "AP"


@pytest.mark.parametrize(
    ("findings", "report", "code"),
    [
        pytest.param(("major",), True, "decision.open_major", id="open-major"),
        pytest.param(("minor",), True, "decision.minor_without_plan", id="minor"),
        pytest.param((), False, "decision.report_not_issued", id="no-report"),
    ],
)
def test_given_an_unfit_transfer_review_when_transferred_then_refused(
    world: World, findings: tuple[str, ...], report: bool, code: str
) -> None:
    old = world.granted()
    new_team = _new_cb(world)
    a = visit(world, old, "transfer_review", team=new_team, findings=findings, report=report)
    on = a.end_date + 10 * DAYS
    assert_refused(lambda: _transfer(new_team, old, a, decided_on=on), code, old)


def test_given_the_decision_maker_was_on_the_review_team_when_transferred_then_refused(
    world: World,
) -> None:
    old = world.granted()
    t = _new_cb(world)
    a = visit(
        world,
        old,
        "transfer_review",
        team=t,
        members=[(t.lead, "lead"), (t.decision_maker2, "member")],
    )
    assert_refused(
        lambda: _transfer(t, old, a, actor=t.decision_maker2), "decision.maker_on_team", old
    )


def test_given_the_old_cbs_decision_maker_when_transferring_then_refused(world: World) -> None:
    old = world.granted()
    new_team = _new_cb(world)
    a = visit(world, old, "transfer_review", team=new_team)
    assert_refused(
        lambda: _transfer(new_team, old, a, actor=world.team.decision_maker),
        "permission.cb_role_required",
        old,
    )


def test_given_a_review_by_the_certificates_own_cb_when_transferred_then_refused(
    world: World,
) -> None:
    old = world.granted()
    a = visit(world, old, "transfer_review")  # planned by the old CB itself
    assert_refused(lambda: _transfer(world.team, old, a), "certificate.transfer_same_cb", old)


def test_given_a_review_of_another_certificate_when_transferred_then_refused(
    world: World,
) -> None:
    old = world.granted()
    other = world.granted(category="PWB")
    new_team = _new_cb(world)
    a = visit(world, other, "transfer_review", team=new_team)
    assert_refused(lambda: _transfer(new_team, old, a), "decision.wrong_assessment", old, other)


def test_given_a_transfer_after_expiry_then_refused(world: World) -> None:
    old = world.granted()
    new_team = _new_cb(world)
    a = visit(world, old, "transfer_review", team=new_team, start=old.expires_on - 20 * DAYS)
    with on_day(old.expires_on + DAYS):
        assert_refused(
            lambda: _transfer(new_team, old, a, decided_on=old.expires_on + DAYS),
            "certificate.validity_ended",
            old,
        )


# --- planning the transfer review at the new CB ----------------------------------------------


def test_given_another_cb_for_a_kind_other_than_transfer_review_when_planned_then_refused(
    world: World,
) -> None:
    old = world.granted()
    new_team = _new_cb(world)
    count = Assessment.objects.count()
    with pytest.raises(DomainError) as exc:
        assessment_plan(
            actor=new_team.manager,
            kind="surveillance",
            certificate=old,
            cb=new_team.cb,
            start_date=old.status_since + DAYS,
            end_date=old.status_since + DAYS,
            team=[(new_team.lead, "lead")],
        )
    assert exc.value.code == "assessment.cb_not_allowed"
    assert Assessment.objects.count() == count


def test_given_the_old_cbs_manager_when_planning_at_the_new_cb_then_refused(
    world: World,
) -> None:
    old = world.granted()
    new_team = _new_cb(world)
    count = Assessment.objects.count()
    with pytest.raises(DomainError) as exc:
        assessment_plan(
            actor=world.team.manager,
            kind="transfer_review",
            certificate=old,
            cb=new_team.cb,
            start_date=old.status_since + DAYS,
            end_date=old.status_since + DAYS,
            team=[(new_team.lead, "lead")],
        )
    assert exc.value.code == "permission.cb_role_required"
    assert Assessment.objects.count() == count


def test_given_a_renewed_certificate_when_transferred_then_the_new_one_keeps_the_renewed_cycle(
    world: World,
) -> None:
    # Given a certificate surveilled through its first cycle and renewed before expiry
    from apcert.certificates.services import certificate_renew
    from apcert.cycle.programme import visits_for

    old = world.granted()
    surveilled(world, old)
    renewed_on = old.expires_on - 30 * DAYS
    a = visit(world, old, "reassessment", start=renewed_on - 30 * DAYS)
    with on_day(renewed_on):
        certificate_renew(
            actor=world.team.decision_maker,
            certificate=old,
            assessment=a,
            rationale="Re-assessment satisfactory",
            decided_on=renewed_on,
        )
    old = Certificate.objects.get(pk=old.pk)
    cycle_start = renewed_on + 30 * DAYS + DAYS  # the day after the expiry the renewal replaced
    first_due = next(v for v in visits_for(old) if v.kind == "surveillance").due_date
    assert first_due > cycle_start
    due_by = old.surveillance_due_by
    assert due_by is not None and due_by > first_due

    # When it is transferred to another CB soon after the renewal
    new_team = _new_cb(world)
    review = visit(world, old, "transfer_review", team=new_team, start=renewed_on + 5 * DAYS)
    with on_day(reported(review) + DAYS):
        new = _transfer(new_team, old, review, decided_on=reported(review) + DAYS)
    new = Certificate.objects.get(pk=new.pk)

    # Then the new certificate follows the renewed cycle: no visit of the first cycle is
    # overdue, its first surveillance falls due when the old one's would have
    visits = visits_for(new)
    surveillances = [v for v in visits if v.kind == "surveillance"]
    assert surveillances[0].due_date == first_due
    assert all(v.window_start >= cycle_start for v in visits)
    # and the dates the register reads its status from are the renewed cycle's
    assert new.surveillance_due_by == due_by
    assert new.lapses_on is None or new.lapses_on > due_by
