"""Every (state, action) pair of every transition table, first as plain data, then through
the one service that applies it ("A test walks every (state, action) pair").

The expected tables below are written out by hand from the scheme's rules and the comments
in each ``lifecycle.py``, so a change to a table has to be made in two places on purpose.
Service-level tests bring a real object into each state through the services, apply the
action through its service and check either the table's target and the records written,
or the ``<entity>.transition_not_allowed`` refusal and that nothing changed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from apcert.applications.choices import ApplicationStatus
from apcert.applications.lifecycle import APPLICATION
from apcert.applications.models import Application
from apcert.applications.services import (
    application_accept,
    application_reject,
    application_submit,
    application_withdraw,
)
from apcert.assessments.choices import AssessmentStatus, CorrectiveActionStatus, FindingStatus
from apcert.assessments.lifecycle import ASSESSMENT, CORRECTIVE_ACTION, FINDING
from apcert.assessments.models import Assessment, CorrectiveAction, Finding
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_start,
    corrective_action_review,
    corrective_action_submit,
)
from apcert.audit.models import AuditEvent
from apcert.audit.selectors import audit_chain_verify
from apcert.bodies.choices import AcceptanceStatus
from apcert.bodies.lifecycle import CB_ACCEPTANCE
from apcert.bodies.models import CBAcceptance
from apcert.bodies.services import cb_acceptance_transition
from apcert.certificates.choices import CertificateStatus, PublicationReviewStatus
from apcert.certificates.lifecycle import CERTIFICATE, PUBLICATION_REVIEW
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateStatusChange,
    Decision,
)
from apcert.certificates.services import (
    certificate_cancel,
    certificate_expire,
    certificate_grant,
    certificate_holder_renamed,
    certificate_renew,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.dates import add_months
from apcert.core.errors import DomainError, TransitionNotAllowed
from apcert.core.lifecycle import TransitionTable
from apcert.organizations.services import organization_rename
from apcert.webhooks.choices import SubscriptionStatus
from apcert.webhooks.lifecycle import SUBSCRIPTION
from tests.factories import DAY0, World

DAYS = dt.timedelta(days=1)


# --- the expected tables, written out from the scheme's rules ---------------------------

EXPECTED: dict[str, dict[tuple[str, str], str]] = {
    "application": {
        ("draft", "submit"): "submitted",
        ("draft", "withdraw"): "withdrawn",
        ("submitted", "accept"): "accepted",
        ("submitted", "reject"): "rejected",
        ("submitted", "withdraw"): "withdrawn",
        ("accepted", "withdraw"): "withdrawn",
    },
    "assessment": {
        ("planned", "start"): "in_progress",
        ("planned", "reschedule"): "planned",
        ("planned", "cancel"): "cancelled",
        ("in_progress", "issue_report"): "report_issued",
        ("in_progress", "cancel"): "cancelled",
        ("report_issued", "correct_report"): "report_issued",
        ("report_issued", "close"): "closed",
    },
    "finding": {
        ("open", "answer"): "answered",
        ("answered", "reject"): "open",
        ("answered", "accept_plan"): "plan_accepted",
        ("answered", "verify"): "closed",
        ("plan_accepted", "verify"): "closed",
    },
    "certificate": {
        ("draft", "grant"): "current",
        ("current", "suspend"): "suspended",
        ("current", "withdraw"): "withdrawn",
        ("current", "cancel"): "cancelled",
        ("current", "expire"): "expired",
        ("current", "reissue"): "current",
        ("current", "renew"): "current",
        ("suspended", "restore"): "current",
        ("suspended", "withdraw"): "withdrawn",
        ("suspended", "cancel"): "cancelled",
        ("suspended", "expire"): "expired",
        ("suspended", "reissue"): "suspended",
    },
    "publication_review": {
        ("pending", "approve"): "approved",
        ("pending", "return"): "returned",
    },
    "corrective_action": {
        ("submitted", "accept_plan"): "accepted",
        ("submitted", "verify"): "accepted",
        ("submitted", "reject"): "rejected",
        ("accepted", "verify"): "accepted",
    },
    "cb_acceptance": {
        ("active", "suspend"): "suspended",
        ("active", "withdraw"): "withdrawn",
        ("suspended", "restore"): "active",
        ("suspended", "withdraw"): "withdrawn",
        ("withdrawn", "restore"): "active",
    },
    # A subscription made without an account waits for its owner's confirmation; repeated
    # failures (or its owner) pause it; its owner resumes it.
    "webhook_subscription": {
        ("pending", "confirm"): "active",
        ("active", "pause"): "paused",
        ("paused", "resume"): "active",
    },
}

TABLES: dict[str, TransitionTable] = {
    "application": APPLICATION,
    "assessment": ASSESSMENT,
    "finding": FINDING,
    "certificate": CERTIFICATE,
    "publication_review": PUBLICATION_REVIEW,
    "corrective_action": CORRECTIVE_ACTION,
    "cb_acceptance": CB_ACCEPTANCE,
    "webhook_subscription": SUBSCRIPTION,
}


def _pairs(table: TransitionTable) -> list[Any]:
    return [pytest.param(s, a, id=f"{s}-{a}") for s, a in table.pairs()]


# --- (a) the tables as data ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("table", "choices"),
    [
        pytest.param(APPLICATION, ApplicationStatus, id="application"),
        pytest.param(ASSESSMENT, AssessmentStatus, id="assessment"),
        pytest.param(FINDING, FindingStatus, id="finding"),
        pytest.param(CERTIFICATE, CertificateStatus, id="certificate"),
        pytest.param(PUBLICATION_REVIEW, PublicationReviewStatus, id="publication_review"),
        pytest.param(CORRECTIVE_ACTION, CorrectiveActionStatus, id="corrective_action"),
        pytest.param(CB_ACCEPTANCE, AcceptanceStatus, id="cb_acceptance"),
        pytest.param(SUBSCRIPTION, SubscriptionStatus, id="webhook_subscription"),
    ],
)
def test_table_states_are_the_statuses_the_database_allows(
    table: TransitionTable, choices: Any
) -> None:
    # The check constraint on each status column is built from the TextChoices.
    assert set(table.states) == set(choices.values)


@pytest.mark.parametrize(
    ("table", "code"),
    [
        (APPLICATION, "application.transition_not_allowed"),
        (ASSESSMENT, "assessment.transition_not_allowed"),
        (FINDING, "finding.transition_not_allowed"),
        (CORRECTIVE_ACTION, "corrective_action.transition_not_allowed"),
        (CERTIFICATE, "certificate.transition_not_allowed"),
        (PUBLICATION_REVIEW, "publication_review.transition_not_allowed"),
        (CB_ACCEPTANCE, "cb_acceptance.transition_not_allowed"),
        (SUBSCRIPTION, "webhook_subscription.transition_not_allowed"),
    ],
)
def test_each_table_refuses_with_its_own_code(table: TransitionTable, code: str) -> None:
    # The first (state, action) pair the table does not allow.
    state, action = next(p for p in table.pairs() if not table.allowed(*p))
    with pytest.raises(TransitionNotAllowed) as exc:
        table.next_state(state, action)
    assert exc.value.code == table.refusal_code == code


@pytest.mark.parametrize(
    ("entity", "state", "action"),
    [
        pytest.param(entity, s, a, id=f"{entity}-{s}-{a}")
        for entity, table in TABLES.items()
        for s, a in table.pairs()
    ],
)
def test_table_pair(entity: str, state: str, action: str) -> None:
    table = TABLES[entity]
    expected = EXPECTED[entity].get((state, action))

    if expected is not None:
        assert table.allowed(state, action)
        assert action in table.actions_from(state)
        assert table.next_state(state, action) == expected
    else:
        assert not table.allowed(state, action)
        assert action not in table.actions_from(state)
        with pytest.raises(TransitionNotAllowed) as exc:
            table.next_state(state, action)
        assert exc.value.code == f"{entity}.transition_not_allowed"
        assert exc.value.params == {"state": state, "action": action}


# --- (b) certificates, through the services ---------------------------------------------------


def _cert_records() -> dict[str, int]:
    return {
        "decisions": Decision.objects.count(),
        "issues": CertificateIssue.objects.count(),
        "status_changes": CertificateStatusChange.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def _last_audit_seq() -> int:
    return AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def _cert_row(pk: int) -> dict[str, Any]:
    c = Certificate.objects.get(pk=pk)
    return {
        "status": c.status,
        "status_since": c.status_since,
        "expires_on": c.expires_on,
        "issue": c.current_issue_number,
        "number": c.number,
    }


def _draft_certificate(world: World) -> Certificate:
    """A certificate in ``draft``, made directly: outside ``certificate_grant``'s
    transaction a draft exists only while the Secretariat reviews it before publication
    (tests/test_publication_review.py walks that table through its services)."""
    app = world.accepted_application()
    world.assessment(app)
    on = DAY0 + 70 * DAYS
    return Certificate.objects.create(
        number=f"IECQ-A {world.team.cb.code} 26.9001",
        number_year=2026,
        number_serial=9001,
        cb=world.team.cb,
        scheme=world.scheme,
        organization=world.org,
        application=app,
        status="draft",
        status_since=on,
        first_issued_on=on,
        initial_decision_on=on,
        expires_on=add_months(on, 36) - DAYS,
    )


def _certificate_in(world: World, state: str) -> Certificate:
    """A certificate brought into ``state`` through the services (draft excepted)."""
    if state == "draft":
        return _draft_certificate(world)
    cert = world.granted()
    dm = world.team.decision_maker
    on = cert.initial_decision_on + 10 * DAYS
    if state == "suspended":
        certificate_suspend(
            actor=dm,
            certificate=cert,
            reason_category="complaint",
            reason="Complaint under investigation",
            decided_on=on,
        )
    elif state == "withdrawn":
        certificate_withdraw(
            actor=dm,
            certificate=cert,
            reason_category="misuse",
            reason="Mark used outside the scope",
            decided_on=on,
        )
    elif state == "cancelled":
        certificate_cancel(actor=dm, certificate=cert, reason="Plant closed", decided_on=on)
    elif state == "expired":
        certificate_expire(certificate=cert, as_of=cert.expires_on + DAYS)
    cert = Certificate.objects.get(pk=cert.pk)
    assert cert.status == state
    return cert


def _reassessment(world: World, cert: Certificate) -> Assessment:
    """A re-assessment of ``cert`` with its report issued, ready for a renewal decision."""
    t = world.team
    start = cert.initial_decision_on + 20 * DAYS
    a = assessment_plan(
        actor=t.manager,
        kind="reassessment",
        certificate=cert,
        start_date=start,
        end_date=start + DAYS,
        team=[(t.lead, "lead"), (t.assessor, "member")],
    )
    assessment_start(actor=t.lead, assessment=a)
    return assessment_issue_report(actor=t.lead, assessment=a, issued_on=start + 4 * DAYS)


def _initial_assessment(cert: Certificate) -> Assessment:
    return Assessment.objects.get(application=cert.application, kind="initial")


def _apply_certificate_action(
    world: World, cert: Certificate, action: str, renewal: Assessment | None
) -> Certificate:
    dm = world.team.decision_maker
    on = cert.status_since + 5 * DAYS  # after the last status change
    if action == "grant":
        return certificate_grant(
            actor=dm,
            application=cert.application,
            assessment=_initial_assessment(cert),
            decided_on=on,
        )
    if action == "suspend":
        return certificate_suspend(
            actor=dm,
            certificate=cert,
            reason_category="unpaid_fees",
            reason="Invoice unpaid",
            decided_on=on,
        )
    if action == "restore":
        return certificate_restore(
            actor=dm, certificate=cert, reason="Cause resolved", decided_on=on
        )
    if action == "withdraw":
        return certificate_withdraw(
            actor=dm,
            certificate=cert,
            reason_category="misuse",
            reason="Mark misused",
            decided_on=on,
        )
    if action == "cancel":
        return certificate_cancel(
            actor=dm, certificate=cert, reason="Holder's request", decided_on=on
        )
    if action == "expire":
        return certificate_expire(certificate=cert, as_of=cert.expires_on + DAYS)
    if action == "reissue":
        # The re-issue for a change already recorded (the holder renamed, by the caller).
        return certificate_holder_renamed(actor=dm, certificate=cert, decided_on=on)
    if action == "renew":
        assert renewal is not None
        # Decided within validity and after the report, so only the status can refuse it.
        return certificate_renew(
            actor=dm,
            certificate=cert,
            assessment=renewal,
            rationale="Re-assessment satisfactory",
            decided_on=cert.initial_decision_on + 60 * DAYS,
        )
    raise AssertionError(action)  # pragma: no cover


def _grant_from_draft(world: World) -> None:
    """``draft`` exists only inside certificate_grant's transaction: the (draft, grant) pair
    is walked by granting an application and reading the draft -> current history."""
    # Given an accepted application whose initial assessment is resolved
    app = world.accepted_application()
    a = world.assessment(app, findings=("major", "minor"))
    world.resolve_findings(a)
    records = _cert_records()
    last_seq = _last_audit_seq()

    # When it is granted (draft -> current inside the one transaction)
    cert = certificate_grant(
        actor=world.team.decision_maker,
        application=app,
        assessment=a,
        decided_on=a.end_date + 40 * DAYS,
    )

    # Then the certificate is current with issue 1 and a draft -> current history
    cert = Certificate.objects.get(pk=cert.pk)
    assert cert.status == EXPECTED["certificate"][("draft", "grant")] == "current"
    assert cert.current_issue_number == 1
    assert list(cert.issues.values_list("issue_number", flat=True)) == [1]
    change = cert.status_changes.get()
    assert (change.from_status, change.to_status) == ("draft", "current")
    assert _cert_records() == {
        "decisions": records["decisions"] + 1,
        "issues": records["issues"] + 1,
        "status_changes": records["status_changes"] + 1,
        "audit_events": records["audit_events"] + 1,
    }
    event = AuditEvent.objects.get(seq=last_seq + 1)
    assert (event.action, event.object_id) == ("certificate.grant", str(cert.pk))
    assert audit_chain_verify().ok


@pytest.mark.parametrize(("state", "action"), _pairs(CERTIFICATE))
def test_certificate_pair_through_the_service(world: World, state: str, action: str) -> None:
    if (state, action) == ("draft", "grant"):
        _grant_from_draft(world)
        return
    # Given a certificate in `state` (and, for a renewal, a re-assessment with its report)
    cert = _certificate_in(world, state)
    renewal = _reassessment(world, cert) if action == "renew" else None
    if action == "reissue":
        organization_rename(actor=world.org_user, organization=world.org, legal_name="Renamed AG")
    before_row = _cert_row(cert.pk)
    before = _cert_records()
    last_seq = _last_audit_seq()
    expected = EXPECTED["certificate"].get((state, action))

    if expected is None:
        # When the action is applied, Then it is refused and nothing changed
        with pytest.raises(DomainError) as exc:
            _apply_certificate_action(world, cert, action, renewal)
        if action == "grant":
            # certificate_grant starts from an application, not a certificate: a second
            # grant of the same application is refused by the grant rules instead.
            assert exc.value.code == "decision.already_granted"
        else:
            assert exc.value.code == "certificate.transition_not_allowed"
            assert exc.value.params == {"state": state, "action": action}
        assert _cert_row(cert.pk) == before_row
        assert _cert_records() == before
        return

    # When the action is applied
    result = _apply_certificate_action(world, cert, action, renewal)

    # Then the status is the table's target, with exactly the records the change needs
    after_row = _cert_row(cert.pk)
    assert result.pk == cert.pk
    assert after_row["status"] == expected
    assert after_row["number"] == before_row["number"]
    status_changed = expected != state
    new_issue = action in ("reissue", "renew")
    assert _cert_records() == {
        "decisions": before["decisions"] + (0 if action == "expire" else 1),
        "issues": before["issues"] + int(new_issue),
        "status_changes": before["status_changes"] + int(status_changed),
        "audit_events": before["audit_events"] + 1,
    }
    assert after_row["issue"] == before_row["issue"] + int(new_issue)
    if new_issue:
        assert cert.issues.order_by("-issue_number").first().issue_number == after_row["issue"]
    if status_changed:
        change = CertificateStatusChange.objects.filter(certificate=cert).latest("id")
        assert (change.from_status, change.to_status) == (state, expected)
    if action == "renew":
        assert after_row["expires_on"] == add_months(before_row["expires_on"] + DAYS, 36) - DAYS
    event = AuditEvent.objects.get(seq=last_seq + 1)
    audit_action = "holder_renamed" if action == "reissue" else action
    assert (event.action, event.object_id) == (f"certificate.{audit_action}", str(cert.pk))
    assert audit_chain_verify().ok


# --- (b) applications, through the services --------------------------------------------------

APPLICATION_ACTIONS: dict[str, Callable[[World, Application], Application]] = {
    "submit": lambda w, app: application_submit(actor=w.org_user, application=app, on=DAY0),
    "accept": lambda w, app: application_accept(actor=w.team.manager, application=app),
    "reject": lambda w, app: application_reject(
        actor=w.team.manager, application=app, reason="Scope wording unclear"
    ),
    "withdraw": lambda w, app: application_withdraw(
        actor=w.org_user, application=app, reason="Plans changed"
    ),
}


def _application_in(world: World, state: str) -> Application:
    app = world.draft_application()
    if state in ("submitted", "accepted", "rejected"):
        APPLICATION_ACTIONS["submit"](world, app)
    if state in ("accepted", "rejected"):
        APPLICATION_ACTIONS["accept" if state == "accepted" else "reject"](world, app)
    if state == "withdrawn":
        APPLICATION_ACTIONS["withdraw"](world, app)
    app = Application.objects.get(pk=app.pk)
    assert app.status == state
    return app


def _application_row(pk: int) -> tuple[Any, ...]:
    app = Application.objects.get(pk=pk)
    return (app.status, app.status_reason, app.submitted_at, app.closed_at)


@pytest.mark.parametrize(("state", "action"), _pairs(APPLICATION))
def test_application_pair_through_the_service(world: World, state: str, action: str) -> None:
    # Given an application in `state`
    app = _application_in(world, state)
    before_row = _application_row(app.pk)
    events = AuditEvent.objects.count()
    expected = EXPECTED["application"].get((state, action))

    if expected is None:
        # When the action is applied, Then it is refused and nothing changed
        with pytest.raises(DomainError) as exc:
            APPLICATION_ACTIONS[action](world, app)
        assert exc.value.code == "application.transition_not_allowed"
        assert exc.value.params == {"state": state, "action": action}
        assert _application_row(app.pk) == before_row
        assert AuditEvent.objects.count() == events
        return

    # When the action is applied, Then the status is the table's target with one audit event
    APPLICATION_ACTIONS[action](world, app)
    assert Application.objects.get(pk=app.pk).status == expected
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_id) == (f"application.{action}", str(app.pk))
    assert (event.before, event.after) == ({"status": state}, {"status": expected})


# --- (b) findings, through the services ------------------------------------------------------


def _finding_in(world: World, state: str, action: str) -> Finding:
    """A minor nonconformity in ``state``. An open finding that is to be reviewed is one
    whose answer was rejected, so that there is an answer to review."""
    app = world.accepted_application()
    a = world.assessment(app, findings=("minor",))
    f = a.findings.get()
    if state == "open" and action != "answer":
        world.review(world.answer(f), "reject")
    elif state == "answered":
        world.answer(f)
    elif state == "plan_accepted":
        world.review(world.answer(f), "accept_plan")
    elif state == "closed":
        world.review(world.answer(f), "verify")
    f = Finding.objects.get(pk=f.pk)
    assert f.status == state
    return f


def _apply_finding_action(world: World, f: Finding, action: str) -> CorrectiveAction:
    if action == "answer":
        return corrective_action_submit(
            actor=world.org_user,
            finding=f,
            correction="Records completed",
            root_cause="No checklist",
            action="Checklist introduced",
            evidence="checklist-v2.pdf",
            submitted_on=f.raised_on + 30 * DAYS,
        )
    latest = f.corrective_actions.order_by("-id").first()
    assert latest is not None
    return corrective_action_review(
        actor=world.team.lead,
        corrective_action=latest,
        outcome=action,
        comment="Root cause not shown" if action == "reject" else "",
        reviewed_on=f.raised_on + 40 * DAYS,
    )


def _finding_row(pk: int) -> tuple[Any, ...]:
    f = Finding.objects.get(pk=pk)
    cas = tuple(
        f.corrective_actions.order_by("id").values_list(
            "pk", "status", "reviewed_by", "reviewed_on", "review_comment"
        )
    )
    return (f.status, f.closed_on, cas)


@pytest.mark.parametrize(("state", "action"), _pairs(FINDING))
def test_finding_pair_through_the_service(world: World, state: str, action: str) -> None:
    # Given a minor nonconformity in `state`
    f = _finding_in(world, state, action)
    before_row = _finding_row(f.pk)
    events = AuditEvent.objects.count()
    answers = CorrectiveAction.objects.count()
    expected = EXPECTED["finding"].get((state, action))

    if expected is None:
        # When the action is applied, Then it is refused and nothing changed
        with pytest.raises(DomainError) as exc:
            _apply_finding_action(world, f, action)
        assert exc.value.code == "finding.transition_not_allowed"
        assert exc.value.params == {"state": state, "action": action}
        assert _finding_row(f.pk) == before_row
        assert CorrectiveAction.objects.count() == answers
        assert AuditEvent.objects.count() == events
        return

    # When the action is applied
    ca = _apply_finding_action(world, f, action)

    # Then the finding is in the table's target, the answer is recorded or reviewed
    f = Finding.objects.get(pk=f.pk)
    ca = CorrectiveAction.objects.get(pk=ca.pk)
    assert f.status == expected
    assert CorrectiveAction.objects.count() == answers + int(action == "answer")
    if action == "answer":
        assert ca.status == "submitted"
    else:
        assert ca.status == ("rejected" if action == "reject" else "accepted")
        assert ca.reviewed_on == f.raised_on + 40 * DAYS
    assert f.closed_on == (f.raised_on + 40 * DAYS if expected == "closed" else None)
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_id) == (f"finding.{action}", str(f.pk))


# --- (b) corrective actions, through the services -------------------------------------------


def _answer_in(world: World, state: str) -> CorrectiveAction:
    """The latest answer to a minor nonconformity, in ``state``."""
    app = world.accepted_application()
    a = world.assessment(app, findings=("minor",))
    f = a.findings.get()
    ca = world.answer(f)
    if state == "accepted":
        world.review(ca, "accept_plan")
    elif state == "rejected":
        world.review(ca, "reject")
    ca = CorrectiveAction.objects.get(pk=ca.pk)
    assert ca.status == state
    return ca


@pytest.mark.parametrize(("state", "action"), _pairs(CORRECTIVE_ACTION))
def test_corrective_action_pair_through_the_service(world: World, state: str, action: str) -> None:
    # Given the latest answer to a finding, in `state`
    ca = _answer_in(world, state)
    f = ca.finding
    before_row = _finding_row(f.pk)
    events = AuditEvent.objects.count()
    expected = EXPECTED["corrective_action"].get((state, action))

    # When an assessor reviews it with `action` as the outcome
    def review() -> CorrectiveAction:
        return corrective_action_review(
            actor=world.team.lead,
            corrective_action=ca,
            outcome=action,
            comment="Root cause not shown" if action == "reject" else "",
            reviewed_on=f.raised_on + 40 * DAYS,
        )

    if expected is None:
        # Then it is refused and nothing changed. The finding's table is asked first: an
        # answer's review is refused by the finding's status where that already refuses it.
        with pytest.raises(DomainError) as exc:
            review()
        refused_by = "corrective_action" if FINDING.allowed(f.status, action) else "finding"
        assert exc.value.code == f"{refused_by}.transition_not_allowed"
        assert _finding_row(f.pk) == before_row
        assert AuditEvent.objects.count() == events
        return

    # Then the answer is in the table's target, reviewed, with one audit event
    review()
    ca = CorrectiveAction.objects.get(pk=ca.pk)
    assert ca.status == expected
    assert (ca.reviewed_by, ca.reviewed_on) == (world.team.lead, f.raised_on + 40 * DAYS)
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_id) == (f"finding.{action}", str(f.pk))


def test_corrective_action_table_refuses_what_the_finding_table_would_allow() -> None:
    # A finding that is answered may be verified; an answer already rejected may not be
    # (a rejected answer is final: the organization answers again).
    assert FINDING.allowed("answered", "verify")
    with pytest.raises(TransitionNotAllowed) as exc:
        CORRECTIVE_ACTION.next_state("rejected", "verify")
    assert exc.value.code == "corrective_action.transition_not_allowed"
    assert exc.value.params == {"state": "rejected", "action": "verify"}


# --- (b) CB acceptances, through the services --------------------------------------------------


def _acceptance_in(world: World, state: str) -> CBAcceptance:
    acceptance = CBAcceptance.objects.get(cb=world.team.cb, programme=world.programme)
    assert acceptance.status == "active"
    if state != "active":
        action = {"suspended": "suspend", "withdrawn": "withdraw"}[state]
        cb_acceptance_transition(
            actor=world.secretariat, acceptance=acceptance, action=action, reason="Peer review"
        )
    acceptance.refresh_from_db()
    assert acceptance.status == state
    return acceptance


@pytest.mark.parametrize(("state", "action"), _pairs(CB_ACCEPTANCE))
def test_cb_acceptance_pair_through_the_service(world: World, state: str, action: str) -> None:
    # Given a CB's acceptance for a programme in `state`
    acceptance = _acceptance_in(world, state)
    events = AuditEvent.objects.count()
    expected = EXPECTED["cb_acceptance"].get((state, action))

    def apply() -> CBAcceptance:
        return cb_acceptance_transition(
            actor=world.secretariat, acceptance=acceptance, action=action, reason="Board decision"
        )

    if expected is None:
        # When the action is applied, Then it is refused and nothing changed
        with pytest.raises(DomainError) as exc:
            apply()
        assert exc.value.code == "cb_acceptance.transition_not_allowed"
        assert exc.value.params == {"state": state, "action": action}
        assert CBAcceptance.objects.get(pk=acceptance.pk).status == state
        assert AuditEvent.objects.count() == events
        return

    # When the action is applied, Then the status is the table's target with one audit event
    apply()
    assert CBAcceptance.objects.get(pk=acceptance.pk).status == expected
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.latest("seq")
    assert (event.action, event.object_id) == ("cb.acceptance_status", str(acceptance.pk))
    assert (event.before, event.after, event.reason) == (
        {"status": state},
        {"status": expected},
        "Board decision",
    )


# --- service defects found while walking the tables (fixed; kept as regression tests) -------


def test_a_reassessment_supports_only_one_renewal(world: World) -> None:
    # Given a certificate renewed on a re-assessment
    cert = world.granted()
    a = _reassessment(world, cert)
    dm = world.team.decision_maker
    certificate_renew(
        actor=dm, certificate=cert, assessment=a, decided_on=cert.initial_decision_on + 60 * DAYS
    )
    before_row, before = _cert_row(cert.pk), _cert_records()

    # When the same re-assessment is offered for a second renewal
    # Then it is refused and nothing changed
    with pytest.raises(DomainError) as exc:
        certificate_renew(
            actor=dm,
            certificate=cert,
            assessment=a,
            decided_on=cert.initial_decision_on + 61 * DAYS,
        )
    assert exc.value.code == "decision.assessment_already_used"
    assert _cert_row(cert.pk) == before_row
    assert _cert_records() == before


def test_a_renewal_issue_is_not_dated_before_the_previous_issue(world: World) -> None:
    # Given a certificate re-issued on day 100 and a re-assessment reported on day 24
    cert = world.granted()
    dm = world.team.decision_maker
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Renamed AG")
    certificate_holder_renamed(
        actor=dm, certificate=cert, decided_on=cert.initial_decision_on + 100 * DAYS
    )
    a = _reassessment(world, cert)

    # When a renewal is decided on day 60 (refusal is the expected outcome)
    with contextlib.suppress(DomainError):
        certificate_renew(
            actor=dm,
            certificate=cert,
            assessment=a,
            decided_on=cert.initial_decision_on + 60 * DAYS,
        )

    # Then the issues stay in date order
    dates = list(cert.issues.order_by("issue_number").values_list("issued_on", flat=True))
    assert dates == sorted(dates)


def test_status_history_never_goes_back_in_time_around_expiry(world: World) -> None:
    # Given a current certificate whose validity has ended but which has not been expired yet
    cert = world.granted()
    dm = world.team.decision_maker
    end = cert.expires_on

    # When it is suspended and restored after its validity ended (refusals are fine),
    # and then expired
    try:
        certificate_suspend(
            actor=dm,
            certificate=cert,
            reason_category="complaint",
            reason="Complaint",
            decided_on=end + 5 * DAYS,
        )
        certificate_restore(
            actor=dm, certificate=cert, reason="Resolved", decided_on=end + 10 * DAYS
        )
    except DomainError:
        pass
    certificate_expire(certificate=cert, as_of=end + 11 * DAYS)

    # Then the status history is in date order
    dates = list(cert.status_changes.order_by("id").values_list("effective_on", flat=True))
    assert dates == sorted(dates)


def test_a_granted_application_cannot_be_withdrawn(world: World) -> None:
    # Given a granted application (it stays 'accepted')
    cert = world.granted()
    before_row = _application_row(cert.application_id)
    events = AuditEvent.objects.count()

    # When the organization withdraws it, Then it is refused and nothing changed
    with pytest.raises(DomainError) as exc:
        application_withdraw(actor=world.org_user, application=cert.application, reason="Oops")
    assert exc.value.code == "application.already_decided"
    assert _application_row(cert.application_id) == before_row
    assert AuditEvent.objects.count() == events
