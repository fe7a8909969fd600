"""Re-assessment -> renew: same number, a new issue, a new expiry counted
from the old expiry when renewed in time; too late, the holder starts again."""

from __future__ import annotations

import pytest

from apcert.audit.models import AuditEvent
from apcert.certificates.models import Certificate, Decision
from apcert.certificates.services import (
    certificate_expire,
    certificate_renew,
    certificate_suspend,
)
from apcert.core.dates import add_months
from tests.factories import World, on_day
from tests.flows_support import (
    DAYS,
    assert_refused,
    assessment_status,
    cert_row,
    grew,
    records,
    reported,
    surveilled,
    visit,
)


@pytest.mark.parametrize("days_before_expiry", [1, 200])
def test_given_a_reassessment_when_renewed_in_time_then_same_number_new_issue_new_expiry(
    world: World, days_before_expiry: int
) -> None:
    # Given a current certificate and a re-assessment reported before expiry
    cert = world.granted()
    surveilled(world, cert)
    old_expiry = cert.expires_on
    on = old_expiry - (days_before_expiry - 1) * DAYS
    a = visit(world, cert, "reassessment", start=on - 30 * DAYS, findings=("minor",))
    world.resolve_findings(a)
    before, row = records(), cert_row(cert.pk)

    # When it is renewed (on the last valid day, or months ahead)
    with on_day(on):
        certificate_renew(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            rationale="Re-assessment satisfactory",
            decided_on=on,
        )

    # Then the number stays, issue 2 is a renewal and the expiry runs on from the old one
    new_expiry = add_months(old_expiry + DAYS, 36) - DAYS
    assert cert_row(cert.pk) == {**row, "issue": 2, "expires_on": new_expiry}
    issue = cert.issues.get(issue_number=2)
    first = cert.issues.get(issue_number=1)
    assert (issue.reason, issue.issued_on, issue.valid_until) == ("renewal", on, new_expiry)
    assert issue.scope_lines == first.scope_lines
    # A renewal that changes nothing else says only the validity.
    assert issue.change_summary == f"Validity extended to {new_expiry.isoformat()}"
    decision = Decision.objects.get(assessment=a)
    assert (decision.kind, decision.certificate_id, issue.decision_id) == (
        "renew",
        cert.pk,
        decision.pk,
    )
    assert assessment_status(a) == "closed"
    assert records() == grew(before, decisions=1, issues=1, audit_events=1)
    assert AuditEvent.objects.latest("seq").action == "certificate.renew"


def test_given_a_renewal_decided_after_expiry_then_refused_as_too_late(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "reassessment", start=cert.expires_on - 20 * DAYS)
    with on_day(cert.expires_on + DAYS):
        assert_refused(
            lambda: certificate_renew(
                actor=world.team.decision_maker,
                certificate=cert,
                assessment=a,
                decided_on=cert.expires_on + DAYS,
            ),
            "certificate.renewal_too_late",
            cert,
        )


def test_given_an_expired_certificate_when_renewed_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "reassessment", start=cert.expires_on - 20 * DAYS)
    certificate_expire(certificate=cert, as_of=cert.expires_on + DAYS)
    assert_refused(
        lambda: certificate_renew(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=cert.expires_on,
        ),
        "certificate.transition_not_allowed",
        cert,
    )


def test_given_a_suspended_certificate_when_renewed_then_refused(world: World) -> None:
    cert = world.granted()
    a = visit(world, cert, "reassessment")
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="complaint",
        reason="Complaint",
        decided_on=reported(a),
    )
    assert_refused(
        lambda: certificate_renew(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=reported(a) + DAYS,
        ),
        "certificate.transition_not_allowed",
        cert,
    )


@pytest.mark.parametrize(
    ("kind", "findings", "report", "code"),
    [
        pytest.param("surveillance", (), True, "decision.wrong_assessment", id="surveillance"),
        pytest.param("reassessment", ("major",), True, "decision.open_major", id="open-major"),
        pytest.param("reassessment", ("minor",), True, "decision.minor_without_plan", id="minor"),
        pytest.param("reassessment", (), False, "decision.report_not_issued", id="no-report"),
    ],
)
def test_given_an_unfit_assessment_when_renewed_then_refused(
    world: World, kind: str, findings: tuple[str, ...], report: bool, code: str
) -> None:
    cert = world.granted()
    a = visit(world, cert, kind, findings=findings, report=report)
    assert_refused(
        lambda: certificate_renew(
            actor=world.team.decision_maker,
            certificate=cert,
            assessment=a,
            decided_on=a.end_date + 10 * DAYS,
        ),
        code,
        cert,
    )


def test_given_the_decision_maker_was_on_the_team_when_renewed_then_refused(
    world: World,
) -> None:
    t = world.team
    cert = world.granted()
    a = visit(
        world, cert, "reassessment", members=[(t.lead, "lead"), (t.decision_maker2, "member")]
    )
    assert_refused(
        lambda: certificate_renew(
            actor=t.decision_maker2,
            certificate=cert,
            assessment=a,
            decided_on=reported(a) + DAYS,
        ),
        "decision.maker_on_team",
        cert,
    )
    assert Certificate.objects.get(pk=cert.pk).current_issue_number == 1
