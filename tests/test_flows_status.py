"""Suspension and restore, withdrawal, cancellation at the holder's request: each a
decision, a status change and one audit event; no new issue."""

from __future__ import annotations

import datetime as dt

import pytest

from apcert.audit.models import AuditEvent
from apcert.certificates.models import Certificate, CertificateStatusChange
from apcert.certificates.services import (
    certificate_action_blockers,
    certificate_cancel,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from tests.factories import World, on_day
from tests.flows_support import DAYS, assert_refused, cert_row, decision_of, grew, records


def _suspended(world: World) -> Certificate:
    cert = world.granted()
    return certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="missed_surveillance",
        reason="Surveillance not carried out",
        decided_on=cert.status_since + 10 * DAYS,
    )


def _last_change(cert: Certificate) -> CertificateStatusChange:
    return CertificateStatusChange.objects.filter(certificate=cert).latest("id")


def test_given_a_suspended_certificate_when_the_cause_is_resolved_then_restored(
    world: World,
) -> None:
    # Given a suspended certificate
    cert = _suspended(world)
    before, row = records(), cert_row(cert.pk)
    on = cert.status_since + 20 * DAYS

    # When a decision records that the cause is resolved
    certificate_restore(
        actor=world.team.decision_maker,
        certificate=cert,
        reason="Surveillance carried out, no major",
        decided_on=on,
    )

    # Then it is current again from that date, with the decision in its history
    assert cert_row(cert.pk) == {**row, "status": "current", "status_since": on}
    change = _last_change(cert)
    assert (change.from_status, change.to_status, change.reason_category) == (
        "suspended",
        "current",
        "resolved",
    )
    decision = decision_of(change)
    assert (decision.kind, decision.rationale) == ("restore", "Surveillance carried out, no major")
    assert records() == grew(before, decisions=1, status_changes=1, audit_events=1)
    assert AuditEvent.objects.latest("seq").action == "certificate.restore"


def test_given_no_reason_when_restored_then_refused(world: World) -> None:
    cert = _suspended(world)
    assert_refused(
        lambda: certificate_restore(
            actor=world.team.decision_maker,
            certificate=cert,
            reason="   ",
            decided_on=cert.status_since + DAYS,
        ),
        "invalid.reason_required",
        cert,
    )


def test_given_a_current_certificate_when_restored_then_refused(world: World) -> None:
    cert = world.granted()
    assert_refused(
        lambda: certificate_restore(
            actor=world.team.decision_maker,
            certificate=cert,
            reason="Resolved",
            decided_on=cert.status_since + DAYS,
        ),
        "certificate.transition_not_allowed",
        cert,
    )


def test_given_a_restore_dated_before_the_suspension_then_refused(world: World) -> None:
    cert = _suspended(world)
    assert_refused(
        lambda: certificate_restore(
            actor=world.team.decision_maker,
            certificate=cert,
            reason="Resolved",
            decided_on=cert.status_since - DAYS,
        ),
        "decision.date_before_last_change",
        cert,
    )


def test_restore_on_the_last_day_of_the_maximum_suspension_is_accepted(world: World) -> None:
    # Given a certificate suspended on 2026-04-03 (the scheme's maximum: 6 months, so it
    # runs out on 2026-10-03)
    cert = _suspended(world)
    assert cert.status_since == dt.date(2026, 4, 3)

    # When it is restored on 2026-10-02, the last day of the maximum
    certificate_restore(
        actor=world.team.decision_maker,
        certificate=cert,
        reason="Fees paid",
        decided_on=dt.date(2026, 10, 2),
    )

    # Then it is current again
    assert cert_row(cert.pk)["status"] == "current"


def test_restore_once_the_maximum_suspension_has_run_out_is_refused(world: World) -> None:
    # Given a certificate suspended on 2026-04-03, which the sweep has not yet withdrawn
    cert = _suspended(world)

    # When a restore is decided on 2026-10-03, the day the 6 months run out, it is refused
    # with the date and what to do instead, and nothing is written
    err = assert_refused(
        lambda: certificate_restore(
            actor=world.team.decision_maker,
            certificate=cert,
            reason="Fees paid at last",
            decided_on=dt.date(2026, 10, 3),
        ),
        "certificate.suspension_exceeded",
        cert,
    )
    assert "ran out on 3 October 2026" in str(err)
    assert "withdraw it" in str(err)


def test_given_an_assessor_when_restoring_then_refused(world: World) -> None:
    cert = _suspended(world)
    assert_refused(
        lambda: certificate_restore(
            actor=world.team.lead,
            certificate=cert,
            reason="Resolved",
            decided_on=cert.status_since + DAYS,
        ),
        "permission.cb_role_required",
        cert,
    )


@pytest.mark.parametrize("start", ["current", "suspended"])
def test_given_a_certificate_when_withdrawn_then_withdrawn_with_its_reason(
    world: World, start: str
) -> None:
    cert = _suspended(world) if start == "suspended" else world.granted()
    before, row = records(), cert_row(cert.pk)
    on = cert.status_since + 5 * DAYS

    certificate_withdraw(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="suspension_exceeded",
        reason="Suspended for longer than six months",
        decided_on=on,
    )

    assert cert_row(cert.pk) == {**row, "status": "withdrawn", "status_since": on}
    change = _last_change(cert)
    assert (change.from_status, change.to_status, change.reason_category) == (
        start,
        "withdrawn",
        "suspension_exceeded",
    )
    assert decision_of(change).kind == "withdraw"
    assert records() == grew(before, decisions=1, status_changes=1, audit_events=1)
    assert AuditEvent.objects.latest("seq").action == "certificate.withdraw"


@pytest.mark.parametrize(
    ("category", "reason", "code"),
    [
        pytest.param("resolved", "Why not", "invalid.reason_category", id="not-a-reason"),
        pytest.param("misuse", "", "invalid.reason_required", id="no-reason"),
    ],
)
def test_given_a_faulty_withdrawal_then_refused(
    world: World, category: str, reason: str, code: str
) -> None:
    cert = world.granted()
    assert_refused(
        lambda: certificate_withdraw(
            actor=world.team.decision_maker,
            certificate=cert,
            reason_category=category,
            reason=reason,
            decided_on=cert.status_since + DAYS,
        ),
        code,
        cert,
    )


def test_given_a_withdrawn_certificate_when_withdrawn_again_then_refused(world: World) -> None:
    cert = world.granted()
    dm = world.team.decision_maker
    on = cert.status_since + DAYS
    certificate_withdraw(
        actor=dm, certificate=cert, reason_category="misuse", reason="Misuse", decided_on=on
    )
    assert_refused(
        lambda: certificate_withdraw(
            actor=dm, certificate=cert, reason_category="misuse", reason="Again", decided_on=on
        ),
        "certificate.transition_not_allowed",
        cert,
    )


@pytest.mark.parametrize("start", ["current", "suspended"])
def test_given_the_holders_request_when_cancelled_then_cancelled(world: World, start: str) -> None:
    cert = _suspended(world) if start == "suspended" else world.granted()
    before, row = records(), cert_row(cert.pk)
    on = cert.status_since + 3 * DAYS

    certificate_cancel(
        actor=world.team.decision_maker,
        certificate=cert,
        reason="Holder closes the plating line",
        decided_on=on,
    )

    assert cert_row(cert.pk) == {**row, "status": "cancelled", "status_since": on}
    change = _last_change(cert)
    assert (change.from_status, change.to_status, change.reason_category) == (
        start,
        "cancelled",
        "holder_request",
    )
    assert decision_of(change).kind == "cancel"
    assert records() == grew(before, decisions=1, status_changes=1, audit_events=1)
    assert AuditEvent.objects.latest("seq").action == "certificate.cancel"


@pytest.mark.parametrize(
    ("arrange", "code"),
    [
        pytest.param("expired", "certificate.transition_not_allowed", id="expired"),
        pytest.param("no-reason", "invalid.reason_required", id="no-reason"),
        pytest.param("after-expiry", "certificate.validity_ended", id="after-expiry"),
    ],
)
def test_given_a_faulty_cancellation_then_refused(world: World, arrange: str, code: str) -> None:
    from apcert.certificates.services import certificate_expire

    cert = world.granted()
    on = cert.status_since + DAYS
    if arrange == "expired":
        certificate_expire(certificate=cert, as_of=cert.expires_on + DAYS)
        on = cert.expires_on + 2 * DAYS
    elif arrange == "after-expiry":
        on = cert.expires_on + DAYS
    with on_day(on):
        assert_refused(
            lambda: certificate_cancel(
                actor=world.team.decision_maker,
                certificate=cert,
                reason="" if arrange == "no-reason" else "Holder's request",
                decided_on=on,
            ),
            code,
            cert,
        )


def test_a_decision_after_the_calendar_ended_the_certificate_is_refused(world: World) -> None:
    # Given a certificate granted 2026-03-24 whose first surveillance (window to 2027-05-23)
    # never took place: by the scheme's calendar it is suspended from 2027-05-24 and
    # withdrawn on 2027-11-24, and no sweep has recorded either
    cert = world.granted()

    # When a decision is dated on the day the calendar withdrew it, it is refused, naming
    # the date and the rule, and nothing is written
    with on_day(dt.date(2027, 11, 24)):
        err = assert_refused(
            lambda: certificate_cancel(
                actor=world.team.decision_maker,
                certificate=cert,
                reason="The holder asks",
                decided_on=dt.date(2027, 11, 24),
            ),
            "certificate.ended_by_calendar",
            cert,
        )
    assert "withdrawn on 24 November 2027" in str(err)
    assert "suspended longer than allowed" in str(err)

    # But on the day before, while the calendar has only suspended it, the CB may still end
    # it by its own decision
    with on_day(dt.date(2027, 11, 23)):
        certificate_withdraw(
            actor=world.team.decision_maker,
            certificate=cert,
            reason_category="missed_surveillance",
            reason="No surveillance visit could be arranged",
            decided_on=dt.date(2027, 11, 23),
        )
    assert cert_row(cert.pk)["status"] == "withdrawn"


# A certificate granted on 2026-03-24 whose first surveillance (window to 2027-05-23) never
# took place is suspended by the scheme's calendar from 2027-05-24, recorded or not.
CALENDAR_SUSPENDED_FROM = dt.date(2027, 5, 24)


def _status_history(cert: Certificate) -> list[tuple[str, str, dt.date, str, bool]]:
    return [
        (c.from_status, c.to_status, c.effective_on, c.reason_category, c.decision_id is None)
        for c in CertificateStatusChange.objects.filter(certificate=cert).order_by("id")
    ]


def test_a_suspension_after_the_calendar_suspended_the_certificate_is_refused(
    world: World,
) -> None:
    # Given a certificate that the calendar suspended, with no sweep run since
    cert = world.granted()
    with on_day(dt.date(2027, 6, 1)):
        # When a decision maker suspends it a week later, it is refused (a second suspension
        # would date it later than the public already reads it), and nothing is written
        err = assert_refused(
            lambda: certificate_suspend(
                actor=world.team.decision_maker,
                certificate=cert,
                reason_category="missed_surveillance",
                reason="Surveillance 1 was not carried out",
                decided_on=dt.date(2027, 6, 1),
            ),
            "certificate.suspended_by_calendar",
            cert,
        )
    assert "suspended since 24 May 2027" in str(err)


@pytest.mark.parametrize("action", ["withdraw", "restore", "cancel"])
def test_a_decision_after_a_missed_window_records_the_calendars_suspension_first(
    world: World, action: str
) -> None:
    # Given a certificate that the calendar suspended on 24 May, with no sweep run since
    cert = world.granted()
    before = records()
    on = dt.date(2027, 6, 10)

    # When a decision maker decides on it on 10 June
    with on_day(on):
        if action == "withdraw":
            certificate_withdraw(
                actor=world.team.decision_maker,
                certificate=cert,
                reason_category="missed_surveillance",
                reason="No visit could be arranged",
                decided_on=on,
            )
        elif action == "restore":
            certificate_restore(
                actor=world.team.decision_maker,
                certificate=cert,
                reason="Visited late",
                decided_on=on,
            )
        else:
            certificate_cancel(
                actor=world.team.decision_maker,
                certificate=cert,
                reason="The holder asks",
                decided_on=on,
            )

    # Then the calendar's suspension is recorded first, dated 24 May and by rule (no
    # decision), and the decision follows it: the public history keeps the day the
    # certificate was in fact suspended
    to_status = {"withdraw": "withdrawn", "restore": "current", "cancel": "cancelled"}[action]
    history = _status_history(cert)
    assert history[-2:] == [
        ("current", "suspended", CALENDAR_SUSPENDED_FROM, "missed_surveillance", True),
        ("suspended", to_status, on, history[-1][3], False),
    ]
    assert records() == grew(before, decisions=1, status_changes=2, audit_events=2)
    assert cert_row(cert.pk)["status"] == to_status
    assert cert_row(cert.pk)["status_since"] == on


def test_the_decisions_offered_follow_the_status_the_calendar_gave(world: World) -> None:
    # Given a certificate that the calendar suspended, with no sweep run since
    cert = Certificate.objects.get(pk=world.granted().pk)

    def blockers_on(day: dt.date, *actions: str) -> dict[str, list[str]]:
        with on_day(day):
            return {
                action: [
                    e.code
                    for e in certificate_action_blockers(
                        actor=world.team.decision_maker, certificate=cert, action=action, on=day
                    )
                ]
                for action in actions
            }

    blockers = blockers_on(dt.date(2027, 6, 1), "suspend", "restore", "withdraw")
    # Then suspending is refused, naming the calendar's suspension, and restoring, which
    # the stored status alone would refuse, is open
    assert blockers == {
        "suspend": ["certificate.suspended_by_calendar"],
        "restore": [],
        "withdraw": [],
    }
    # and on the day before the window closed, suspending is open and restoring is not
    early = blockers_on(dt.date(2027, 5, 23), "suspend", "restore")
    assert early == {"suspend": [], "restore": ["certificate.transition_not_allowed"]}
