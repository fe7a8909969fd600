"""Random sequences of lifecycle actions, through the services (Hypothesis
for state machines).

The machine opens applications with random findings, works those findings (answer, reject,
accept the plan, verify), grants, and then suspends, restores, withdraws, cancels, re-issues,
renews and expires the certificates it got. A simulated "today" only moves forward, so
decision dates move forward too; the clock follows it, so that each step is taken on the
day it is dated. A refusal is tolerated when it is a ``DomainError``: it must
be the table's ``transition_not_allowed`` when the table refuses, one of the named rules when
the table allows, and nothing may have changed. After every step the invariants of
the scheme's rules are checked against the database.

Each example runs inside its own savepoint, rolled back in ``teardown()``, on top of one
``world`` built by the fixture for the whole test.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import time_machine
from django.db import connection, transaction
from django.db.models import Count
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from apcert.applications.models import Application
from apcert.applications.services import application_accept, application_submit
from apcert.assessments.lifecycle import FINDING
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
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateStatusChange,
    Decision,
)
from apcert.certificates.selectors import certificate_status_on
from apcert.certificates.services import (
    SUSPEND_REASONS,
    WITHDRAW_REASONS,
    certificate_cancel,
    certificate_expire,
    certificate_grant,
    certificate_holder_renamed,
    certificate_renew,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.certificates.tallies import status_tallies_problems
from apcert.core.errors import DomainError
from apcert.organizations.services import organization_rename
from tests.factories import DAY0, World

DAYS = dt.timedelta(days=1)
STEP_DAYS = st.integers(min_value=0, max_value=45)
MAX_APPLICATIONS = 6

# Refusals that a rule of the scheme (not the table) may give, by action.
GRANT_RULES = frozenset(
    {
        "decision.already_granted",
        "decision.open_major",
        "decision.minor_without_plan",
        "decision.initial_assessment_expired",
    }
)
RENEW_RULES = frozenset({"certificate.renewal_too_late", "certificate.ended_by_calendar"})
EXPIRE_RULES = frozenset({"certificate.not_yet_expired"})
# A decision on a certificate is refused once its validity has ended (it must be expired).
#: Refusals that follow from dates alone: the validity ended, the maximum suspension ran out,
#: or the calendar ended the certificate before the sweep recorded it.
DATED_RULES = frozenset(
    {
        "certificate.validity_ended",
        "certificate.suspension_exceeded",
        "certificate.ended_by_calendar",
    }
)


def _snapshot() -> dict[str, Any]:
    """Everything a refused action must leave as it was."""
    return {
        "decisions": Decision.objects.count(),
        "issues": CertificateIssue.objects.count(),
        "status_changes": CertificateStatusChange.objects.count(),
        "audit_events": AuditEvent.objects.count(),
        "assessments": list(Assessment.objects.order_by("pk").values_list("pk", "status")),
        "findings": list(Finding.objects.order_by("pk").values_list("pk", "status", "closed_on")),
        "corrective_actions": list(
            CorrectiveAction.objects.order_by("pk").values_list("pk", "status", "reviewed_on")
        ),
        "certificates": list(
            Certificate.objects.order_by("pk").values_list(
                "pk", "status", "status_since", "expires_on", "current_issue_number"
            )
        ),
    }


def _calendar_suspended(cert: Certificate, day: dt.date) -> bool:
    """Whether every read says ``cert`` is suspended on ``day`` by the calendar alone (a
    suspension nobody recorded, and no end of the certificate by then)."""
    on = certificate_status_on(cert, day)
    changes = [c.to_status for c in on.unrecorded if c.to_status is not None]
    return changes == ["suspended"]


def _noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


class CertificateLifecycle(RuleBasedStateMachine):
    applications = Bundle("applications")
    certificates = Bundle("certificates")

    def __init__(self, world: World) -> None:
        super().__init__()
        self.world = world
        self._clock = time_machine.travel(_noon(DAY0 + 60 * DAYS), tick=False)
        self._coordinates = self._clock.start()
        self.today = DAY0 + 60 * DAYS
        self.opened = 0
        self.renames = 0
        self.expected_status: dict[int, str] = {}
        # One savepoint per example, rolled back in teardown(): each example starts clean.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)
        self._clock.stop()

    @property
    def today(self) -> dt.date:
        return self._today

    @today.setter
    def today(self, day: dt.date) -> None:
        self._today = day
        self._coordinates.move_to(_noon(day))

    # --- helpers ---------------------------------------------------------------------------

    def _tick(self, days: int) -> None:
        self.today += days * DAYS

    def _attempt(
        self,
        cert: Certificate,
        action: str,
        call: Callable[[], object],
        rule_codes: frozenset[str] = frozenset(),
    ) -> None:
        stored = Certificate.objects.get(pk=cert.pk)
        # A suspension that the calendar made (a missed surveillance window) and that no
        # sweep has recorded: a decision records it first, dated when it happened, and is
        # then taken from the suspended status; a second suspension is refused.
        by_calendar = _calendar_suspended(stored, self.today)
        status = "suspended" if by_calendar else stored.status
        before = _snapshot()
        try:
            call()
        except DomainError as exc:
            assert _snapshot() == before, f"{action} was refused ({exc.code}) but wrote"
            if by_calendar and action == "suspend":
                assert exc.code == "certificate.suspended_by_calendar", exc
            elif CERTIFICATE.allowed(status, action):
                assert exc.code in rule_codes, f"unexpected refusal of {action}: {exc}"
                self._check_dated_refusal(cert, exc)
            else:
                assert exc.code == "certificate.transition_not_allowed", exc
                assert exc.params == {"state": status, "action": action}
            return
        assert CERTIFICATE.allowed(status, action), f"{status} + {action} was not refused"
        target = CERTIFICATE.next_state(status, action)
        row = Certificate.objects.get(pk=cert.pk)
        assert row.status == target
        self.expected_status[cert.pk] = target
        after = _snapshot()
        recorded = int(by_calendar)  # the calendar's suspension, recorded before the decision
        assert after["audit_events"] == before["audit_events"] + 1 + recorded
        assert after["status_changes"] == before["status_changes"] + recorded + int(
            target != status
        )
        if by_calendar:
            first = CertificateStatusChange.objects.filter(certificate=cert).order_by("-id")[
                int(target != status)
            ]
            assert (first.to_status, first.decision_id) == ("suspended", None)
            assert first.effective_on < self.today or first.effective_on == self.today
        new_issue = action in ("reissue", "renew")
        assert after["issues"] == before["issues"] + int(new_issue)
        issue_before = {pk: n for pk, *_, n in before["certificates"]}[cert.pk]
        assert row.current_issue_number == issue_before + int(new_issue)

    def _check_dated_refusal(self, cert: Certificate, exc: DomainError) -> None:
        """A refusal by the calendar agrees with the status of the day that every read shows."""
        row = Certificate.objects.get(pk=cert.pk)
        on = certificate_status_on(row, self.today)
        if exc.code == "certificate.ended_by_calendar":
            assert on.status in ("withdrawn", "expired") and not on.recorded, (on, exc)
        elif exc.code == "certificate.suspension_exceeded":
            assert row.status == "suspended" and on.status != "suspended", (on, exc)

    # --- applications, findings and grants --------------------------------------------------

    def _open(self, findings: tuple[str, ...]) -> Application:
        w = self.world
        app = w.draft_application()
        application_submit(actor=w.org_user, application=app, on=self.today)
        app = application_accept(actor=w.team.manager, application=app)
        a = w.assessment(app, start=self.today, findings=findings)
        assert a.report_issued_on is not None
        self.today = a.report_issued_on
        self.opened += 1
        return app

    def _grant_clean(self) -> Certificate:
        """Open an application, resolve its findings and grant it, dated today."""
        w = self.world
        app = self._open(("major", "minor", "observation"))
        a = Assessment.objects.get(application=app, kind="initial")
        for f in a.findings.exclude(grade="observation"):
            ca = w.answer(f, on=self.today)
            w.review(ca, "verify" if f.grade == "major" else "accept_plan", on=self.today)
        cert = certificate_grant(
            actor=w.team.decision_maker, application=app, assessment=a, decided_on=self.today
        )
        assert cert.status == "current"
        self.expected_status[cert.pk] = cert.status
        return cert

    @initialize(target=certificates)
    def a_granted_certificate(self) -> Certificate:
        # Every walk starts with one current certificate.
        return self._grant_clean()

    @rule(target=certificates, days=STEP_DAYS)
    def grant_new(self, days: int) -> Any:
        if self.opened >= MAX_APPLICATIONS:
            return multiple()
        self._tick(days)
        return self._grant_clean()

    @rule(
        target=applications,
        days=STEP_DAYS,
        findings=st.lists(st.sampled_from(["major", "minor", "observation"]), max_size=3),
    )
    def open_application(self, days: int, findings: list[str]) -> Any:
        if self.opened >= MAX_APPLICATIONS:
            return multiple()
        self._tick(days)
        return self._open(tuple(findings))

    @rule(
        app=applications,
        index=st.integers(min_value=0, max_value=5),
        action=st.sampled_from(FINDING.actions),
        days=STEP_DAYS,
    )
    def work_finding(self, app: Application, index: int, action: str, days: int) -> None:
        self._tick(days)
        findings = list(Finding.objects.filter(assessment__application=app).order_by("pk"))
        if not findings:
            return
        f = findings[index % len(findings)]
        w = self.world
        latest = f.corrective_actions.order_by("-id").first()
        if latest is None:  # nothing to review yet: answer instead
            action = "answer"
        if action == "answer":

            def call() -> object:
                return corrective_action_submit(
                    actor=w.org_user,
                    finding=f,
                    correction="Corrected",
                    root_cause="Cause found",
                    action="Action taken",
                    submitted_on=self.today,
                )
        else:
            assert latest is not None

            def call() -> object:
                return corrective_action_review(
                    actor=w.team.lead,
                    corrective_action=latest,
                    outcome=action,
                    comment="Not convincing" if action == "reject" else "",
                    reviewed_on=self.today,
                )

        before = _snapshot()
        try:
            call()
        except DomainError as exc:
            assert _snapshot() == before
            assert not FINDING.allowed(f.status, action), exc
            assert exc.code == "finding.transition_not_allowed"
            return
        assert FINDING.allowed(f.status, action)
        assert Finding.objects.get(pk=f.pk).status == FINDING.next_state(f.status, action)
        assert AuditEvent.objects.count() == before["audit_events"] + 1

    @rule(target=certificates, app=applications, days=STEP_DAYS)
    def grant(self, app: Application, days: int) -> Any:
        self._tick(days)
        a = Assessment.objects.get(application=app, kind="initial")
        before = _snapshot()
        try:
            cert = certificate_grant(
                actor=self.world.team.decision_maker,
                application=app,
                assessment=a,
                decided_on=self.today,
            )
        except DomainError as exc:
            assert _snapshot() == before
            assert exc.code in GRANT_RULES, exc
            return multiple()
        assert cert.status == CERTIFICATE.next_state("draft", "grant")
        assert AuditEvent.objects.count() == before["audit_events"] + 1
        self.expected_status[cert.pk] = cert.status
        return cert

    # --- the certificate lifecycle -----------------------------------------------------------

    @rule(cert=certificates, reason=st.sampled_from(SUSPEND_REASONS), days=STEP_DAYS)
    def suspend(self, cert: Certificate, reason: str, days: int) -> None:
        self._tick(days)
        self._attempt(
            cert,
            "suspend",
            lambda: certificate_suspend(
                actor=self.world.team.decision_maker,
                certificate=cert,
                reason_category=reason,
                reason="Suspended in a random walk",
                decided_on=self.today,
            ),
            DATED_RULES,
        )

    @rule(cert=certificates, days=STEP_DAYS)
    def restore(self, cert: Certificate, days: int) -> None:
        self._tick(days)
        self._attempt(
            cert,
            "restore",
            lambda: certificate_restore(
                actor=self.world.team.decision_maker,
                certificate=cert,
                reason="Cause resolved",
                decided_on=self.today,
            ),
            DATED_RULES,
        )

    @rule(cert=certificates, reason=st.sampled_from(WITHDRAW_REASONS), days=STEP_DAYS)
    def withdraw(self, cert: Certificate, reason: str, days: int) -> None:
        self._tick(days)
        self._attempt(
            cert,
            "withdraw",
            lambda: certificate_withdraw(
                actor=self.world.team.decision_maker,
                certificate=cert,
                reason_category=reason,
                reason="Withdrawn in a random walk",
                decided_on=self.today,
            ),
            DATED_RULES,
        )

    @rule(cert=certificates, days=STEP_DAYS)
    def cancel(self, cert: Certificate, days: int) -> None:
        self._tick(days)
        self._attempt(
            cert,
            "cancel",
            lambda: certificate_cancel(
                actor=self.world.team.decision_maker,
                certificate=cert,
                reason="Holder's request",
                decided_on=self.today,
            ),
            DATED_RULES,
        )

    @rule(cert=certificates, days=STEP_DAYS)
    def reissue(self, cert: Certificate, days: int) -> None:
        self._tick(days)
        # The re-issue for a change already recorded: the holder renamed, each time anew.
        w = self.world
        self.renames += 1
        organization_rename(
            actor=w.org_user, organization=w.org, legal_name=f"Renamed {self.renames} AG"
        )
        self._attempt(
            cert,
            "reissue",
            lambda: certificate_holder_renamed(
                actor=w.team.decision_maker, certificate=cert, decided_on=self.today
            ),
            DATED_RULES,
        )

    @rule(cert=certificates, days=STEP_DAYS)
    def renew(self, cert: Certificate, days: int) -> None:
        self._tick(days)
        t = self.world.team
        a = assessment_plan(
            actor=t.manager,
            kind="reassessment",
            certificate=cert,
            start_date=self.today,
            end_date=self.today + DAYS,
            team=[(t.lead, "lead"), (t.assessor, "member")],
        )
        assessment_start(actor=t.lead, assessment=a)
        self.today += 2 * DAYS
        a = assessment_issue_report(actor=t.lead, assessment=a, issued_on=self.today)
        self._attempt(
            cert,
            "renew",
            lambda: certificate_renew(
                actor=t.decision_maker,
                certificate=cert,
                assessment=a,
                rationale="Re-assessment satisfactory",
                decided_on=self.today,
            ),
            RENEW_RULES,
        )

    @rule(
        cert=certificates,
        # Mostly "is it due yet?" (refused while valid); sometimes time runs past validity.
        jump=st.sampled_from([False, False, True]),
        extra=st.integers(min_value=0, max_value=60),
    )
    def expire(self, cert: Certificate, jump: bool, extra: int) -> None:
        if jump:
            # Let time run past this certificate's validity.
            expires_on = Certificate.objects.get(pk=cert.pk).expires_on
            self.today = max(self.today, expires_on + (1 + extra) * DAYS)
        as_of = self.today
        self._attempt(
            cert,
            "expire",
            lambda: certificate_expire(certificate=cert, as_of=as_of),
            EXPIRE_RULES,
        )

    @rule(days=st.integers(min_value=30, max_value=400))
    def let_time_pass(self, days: int) -> None:
        self._tick(days)

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def kept_counts_agree_with_a_count_from_scratch(self) -> None:
        assert status_tallies_problems() == []

    @invariant()
    def certificate_numbers_are_unique(self) -> None:
        dupes = Certificate.objects.values("number").annotate(n=Count("id")).filter(n__gt=1)
        assert not dupes.exists(), list(dupes)

    @invariant()
    def statuses_are_what_the_table_says(self) -> None:
        actual = dict(Certificate.objects.values_list("pk", "status"))
        assert actual == self.expected_status

    @invariant()
    def issues_are_numbered_without_gaps(self) -> None:
        for cert in Certificate.objects.all():
            numbers = list(
                cert.issues.order_by("issue_number").values_list("issue_number", flat=True)
            )
            assert numbers == list(range(1, cert.current_issue_number + 1)), cert.number

    @invariant()
    def no_certificate_is_current_with_an_open_initial_major(self) -> None:
        open_majors = Finding.objects.filter(
            assessment__kind="initial",
            assessment__application__certificates__status="current",
            grade="major",
        ).exclude(status="closed")
        assert not open_majors.exists(), list(open_majors.values("pk", "status"))

    @invariant()
    def status_history_chains(self) -> None:
        for cert in Certificate.objects.all():
            changes = list(
                cert.status_changes.order_by("id").values_list("from_status", "to_status")
            )
            assert changes, cert.number
            assert changes[0][0] == "draft"
            for (_, prev_to), (next_from, _) in itertools.pairwise(changes):
                assert next_from == prev_to, (cert.number, changes)
            assert changes[-1][1] == cert.status, (cert.number, changes)

    @invariant()
    def decisions_on_a_certificate_are_dated_in_order(self) -> None:
        for cert in Certificate.objects.all():
            dates = list(cert.decisions.order_by("id").values_list("decided_on", flat=True))
            assert dates == sorted(dates), (cert.number, dates)

    @invariant()
    def audit_chain_verifies(self) -> None:
        report = audit_chain_verify()
        assert report.ok, report


MACHINE_SETTINGS = hypothesis_settings(
    # Every step verifies the whole audit chain; on PostgreSQL each of its queries is a round
    # trip, and the same walks take several times as long: fewer of them there.
    max_examples=25 if connection.vendor == "sqlite" else 10,
    stateful_step_count=15,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the project tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_certificate_lifecycle_random_walks(world: World) -> None:
    run_state_machine_as_test(lambda: CertificateLifecycle(world), settings=MACHINE_SETTINGS)
