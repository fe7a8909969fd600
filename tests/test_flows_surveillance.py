"""Surveillance -> maintain: the decision after a surveillance visit."""

from __future__ import annotations

import pytest

from apcert.audit.models import AuditEvent
from apcert.audit.selectors import audit_chain_verify
from apcert.certificates.models import Certificate, Decision
from apcert.certificates.services import certificate_maintain, certificate_suspend
from tests.factories import World, on_day
from tests.flows_support import (
    DAYS,
    assert_refused,
    assessment_status,
    cert_row,
    grew,
    records,
    reported,
    visit,
)


def test_given_a_surveillance_with_findings_resolved_when_maintained_then_a_decision_only(
    world: World,
) -> None:
    # Given a current certificate and a surveillance whose minor has an accepted plan
    cert = world.granted()
    a = visit(world, cert, "surveillance", findings=("minor", "observation"))
    world.resolve_findings(a)
    before, row = records(), cert_row(cert.pk)
    on = reported(a) + 10 * DAYS

    # When the decision maker maintains certification
    decision = certificate_maintain(
        actor=world.team.decision_maker,
        certificate=cert,
        assessment=a,
        decided_on=on,
        rationale="Surveillance satisfactory",
    )

    # Then a maintain decision is recorded, the certificate is unchanged, the visit closed
    assert (decision.kind, decision.assessment_id, decision.certificate_id) == (
        "maintain",
        a.pk,
        cert.pk,
    )
    assert (decision.cb_id, decision.decided_on) == (cert.cb_id, on)
    assert cert_row(cert.pk) == row
    assert assessment_status(a) == "closed"
    assert records() == grew(before, decisions=1, audit_events=1)
    event = AuditEvent.objects.latest("seq")
    assert event.after is not None
    assert (event.action, event.object_id) == ("certificate.maintain", str(cert.pk))
    assert event.after["decision"] == decision.pk
    assert audit_chain_verify().ok


@pytest.mark.parametrize(
    ("findings", "code"),
    [
        pytest.param(("major",), "decision.open_major", id="open-major"),
        pytest.param(("minor",), "decision.minor_without_plan", id="minor-without-plan"),
    ],
)
def test_given_unresolved_findings_when_maintained_then_refused_with_the_findings_code(
    world: World, findings: tuple[str, ...], code: str
) -> None:
    # Given a surveillance with an unresolved nonconformity
    cert = world.granted()
    a = visit(world, cert, "surveillance", findings=findings)

    # When maintained, Then refused (suspension is a separate decision) and nothing written
    assert_refused(
        lambda: certificate_maintain(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=reported(a) + DAYS,
        ),
        code,
        cert,
    )
    assert assessment_status(a) == "report_issued"


def test_given_the_decision_maker_was_on_the_team_when_maintained_then_refused(
    world: World,
) -> None:
    t = world.team
    cert = world.granted()
    a = visit(
        world, cert, "surveillance", members=[(t.lead, "lead"), (t.decision_maker2, "member")]
    )
    assert_refused(
        lambda: certificate_maintain(
            actor=t.decision_maker2,
            certificate=cert,
            assessment=a,
            decided_on=reported(a) + DAYS,
        ),
        "decision.maker_on_team",
        cert,
    )


def test_given_no_report_yet_when_maintained_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance", report=False)
    assert_refused(
        lambda: certificate_maintain(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=a.end_date + 10 * DAYS,
        ),
        "decision.report_not_issued",
        cert,
    )


def test_given_a_decision_dated_before_the_report_when_maintained_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance")
    assert_refused(
        lambda: certificate_maintain(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=reported(a) - DAYS,
        ),
        "decision.before_report",
        cert,
    )


@pytest.mark.parametrize("kind", ["reassessment", "scope_extension", "special"])
def test_given_another_kind_of_assessment_when_maintained_then_refused(
    world: World, kind: str
) -> None:
    cert = world.granted()
    a = visit(world, cert, kind)
    assert_refused(
        lambda: certificate_maintain(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=reported(a) + DAYS,
        ),
        "decision.wrong_assessment",
        cert,
    )


def test_given_a_surveillance_of_another_certificate_when_maintained_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    other = world.granted(category="PWB")
    a = visit(world, other, "surveillance")
    assert_refused(
        lambda: certificate_maintain(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=reported(a) + DAYS,
        ),
        "decision.wrong_assessment",
        cert,
        other,
    )


def test_given_a_surveillance_already_decided_on_when_maintained_again_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance")
    dm = world.team.decision_maker
    certificate_maintain(actor=dm, certificate=cert, assessment=a, decided_on=reported(a) + DAYS)
    assert_refused(
        lambda: certificate_maintain(
            actor=dm, certificate=cert, assessment=a, decided_on=reported(a) + 2 * DAYS
        ),
        "decision.assessment_already_used",
        cert,
    )


def test_given_a_suspended_certificate_when_maintained_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance")
    dm = world.team.decision_maker
    certificate_suspend(
        actor=dm,
        certificate=cert,
        reason_category="unpaid_fees",
        reason="Invoice unpaid",
        decided_on=reported(a) + DAYS,
    )
    err = assert_refused(
        lambda: certificate_maintain(
            actor=dm, certificate=cert, assessment=a, decided_on=reported(a) + 2 * DAYS
        ),
        "certificate.not_current",
        cert,
    )
    assert err.params["state"] == "suspended"


def test_given_a_decision_after_expiry_when_maintained_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance")
    with on_day(cert.expires_on + DAYS):
        assert_refused(
            lambda: certificate_maintain(
                actor=world.team.decision_maker,
                certificate=cert,
                assessment=a,
                decided_on=cert.expires_on + DAYS,
            ),
            "certificate.validity_ended",
            cert,
        )


def test_given_a_decision_before_the_last_change_when_maintained_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance", start=cert.status_since - 20 * DAYS)
    assert_refused(
        lambda: certificate_maintain(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=cert.status_since - DAYS,
        ),
        "decision.date_before_last_change",
        cert,
    )


def test_given_an_actor_who_is_not_a_decision_maker_when_maintained_then_refused(
    world: World,
) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance")
    assert_refused(
        lambda: certificate_maintain(
            actor=world.team.manager,
            certificate=cert,
            assessment=a,
            decided_on=reported(a) + DAYS,
        ),
        "permission.cb_role_required",
        cert,
    )
    assert Decision.objects.filter(certificate=cert, kind="maintain").count() == 0
    assert Certificate.objects.get(pk=cert.pk).status == "current"
