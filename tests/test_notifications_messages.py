"""Workflow messages: each step tells the people who act next, in-app and by one e-mail.

Every step is checked for exactly who is told: the people who act next, not the one who
acted, not another organization's users, not another CB's staff. Then the e-mails: each once,
preferences honoured, nothing about the past on a first run, and the listener's queries do
not grow with the number of people told.
"""

from __future__ import annotations

import datetime as dt
import importlib
import smtplib
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.applications.services import (
    application_accept,
    application_reject,
    application_submit,
    application_withdraw,
)
from apcert.assessments.models import Assessment, Finding
from apcert.assessments.services import (
    assessment_cancel,
    assessment_issue_report,
    assessment_plan,
    finding_record,
)
from apcert.audit import listeners
from apcert.audit.models import AuditEvent
from apcert.bodies.services import cb_staff_add
from apcert.certificates.models import Certificate
from apcert.certificates.services import (
    certificate_grant,
    certificate_maintain,
    certificate_publication_approve,
    certificate_publication_resubmit,
    certificate_publication_return,
    certificate_refuse,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.dates import format_date
from apcert.core.errors import (
    INVALID_CHOICE,
    PermissionDenied,
    TransitionNotAllowed,
    ValidationFailed,
)
from apcert.notifications import workflow
from apcert.notifications.choices import MessageGroup
from apcert.notifications.errors import (
    MESSAGE_MAIL_TRANSITION_NOT_ALLOWED,
    MESSAGE_NOT_OWN,
    PREFERENCE_GROUP_UNKNOWN,
)
from apcert.notifications.lifecycle import MESSAGE_MAIL
from apcert.notifications.models import (
    Message,
    NotificationPreference,
    NotificationSent,
    NotificationsStart,
)
from apcert.notifications.selectors import (
    message_target,
    messages_for,
    notification_preferences,
    unread_count,
    unread_messages,
)
from apcert.notifications.services import (
    message_mark_read,
    messages_mark_all_read,
    notification_preferences_set,
    notifications_dispatch,
    notifications_start_record,
)
from apcert.notifications.tasks import dispatch_notifications
from apcert.organizations.services import organization_create, organization_member_add
from apcert.schemes.services import scheme_publication_review_set
from tests.factories import DAY0, CBTeam, World, make_user
from tests.flows_support import visit

DAY = dt.timedelta(days=1)


@dataclass
class Cast:
    """The world's people with addresses, a colleague of the holder's user, a CB
    administrator, and people who must never hear of this organization's work."""

    world: World
    colleague: User
    cb_admin: User
    stranger: User
    other_cb: CBTeam

    @property
    def t(self) -> CBTeam:
        return self.world.team

    def everyone(self) -> list[User]:
        w, t, o = self.world, self.world.team, self.other_cb
        return [
            w.secretariat,
            w.org_user,
            self.colleague,
            t.manager,
            t.lead,
            t.assessor,
            t.decision_maker,
            t.decision_maker2,
            self.cb_admin,
            self.stranger,
            o.manager,
            o.lead,
            o.decision_maker,
        ]


@pytest.fixture
def cast(world: World) -> Cast:
    for user in (world.secretariat, world.org_user, *vars(world.team).values()):
        if isinstance(user, User):
            user.email = f"{user.username}@example.test"
            user.save(update_fields=["email"])
    colleague = make_user("colleague", email="colleague@example.test")
    organization_member_add(actor=world.org_user, organization=world.org, user=colleague)
    cb_admin = make_user("cbadmin", email="cbadmin@example.test")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=cb_admin, role="admin")
    stranger = make_user("stranger", email="stranger@example.test")
    organization_create(
        actor=stranger, legal_name="Other Works", country="FR", registration_number="RCS 1"
    )
    other_cb = World.make_cb(world.secretariat, "OTH", dt.date(2020, 1, 1))
    for user in vars(other_cb).values():
        if isinstance(user, User):
            user.email = f"{user.username}@example.test"
            user.save(update_fields=["email"])
    return Cast(world, colleague, cb_admin, stranger, other_cb)


def told(kind: str, **filters: Any) -> set[User]:
    ids = Message.objects.filter(kind=kind, **filters).values_list("user_id", flat=True)
    return set(User.objects.filter(pk__in=list(ids)))


def last_messages(kind: str) -> list[Message]:
    """The messages of the latest event that wrote messages of ``kind``."""
    seq = Message.objects.filter(kind=kind).order_by("-audit_seq").values("audit_seq")[:1]
    return list(Message.objects.filter(kind=kind, audit_seq__in=seq).order_by("user_id"))


def users_of(rows: list[Message]) -> set[User]:
    return {m.user for m in rows}


def submitted(cast: Cast) -> Application:
    app = cast.world.draft_application()
    return application_submit(actor=cast.world.org_user, application=app, on=DAY0)


def in_progress(cast: Cast, **kwargs: Any) -> Assessment:
    app = submitted(cast)
    application_accept(actor=cast.t.manager, application=app)
    return cast.world.assessment(app, report=False, **kwargs)


# --- who is told, step by step -------------------------------------------------------------


def test_a_submitted_application_tells_the_cbs_scheme_managers(cast: Cast) -> None:
    # When the holder submits an application
    app = submitted(cast)
    # Then only the scheme manager of the chosen CB hears of it
    rows = last_messages("application_submitted")
    assert users_of(rows) == {cast.t.manager}
    message = rows[0]
    assert message.group == "applications"
    assert message_target(message) == ("application", app.pk)
    assert message.target == f"application:{app.pk}"
    assert message.subject == f"Application {app.pk} from {cast.world.org.legal_name} submitted"
    assert "What to do: review the application and accept it" in message.body
    assert message.read_at is None and message.mail == "due"
    assert message.audit_seq == AuditEvent.objects.get(action="application.submit").seq


def test_an_accepted_application_tells_the_organizations_users(cast: Cast) -> None:
    app = submitted(cast)
    application_accept(actor=cast.t.manager, application=app)
    rows = last_messages("application_accepted")
    # The holder's two users; not the manager who accepted, not the stranger
    assert users_of(rows) == {cast.world.org_user, cast.colleague}
    assert rows[0].subject == f"Application {app.pk} accepted by {cast.t.cb.code}"
    assert "plans the assessment" in rows[0].body


def test_a_rejected_application_tells_the_organization_why(cast: Cast) -> None:
    app = submitted(cast)
    application_reject(actor=cast.t.manager, application=app, reason="Scope outside AP")
    rows = last_messages("application_rejected")
    assert users_of(rows) == {cast.world.org_user, cast.colleague}
    assert "Reason: Scope outside AP" in rows[0].body


def test_a_withdrawn_application_tells_the_scheme_managers(cast: Cast) -> None:
    app = submitted(cast)
    application_withdraw(actor=cast.colleague, application=app, reason="Not now")
    # The other holder user did not act, but a withdrawal is for the CB to act on
    assert told("application_withdrawn") == {cast.t.manager}


def test_a_planned_assessment_tells_the_team_and_the_organization(cast: Cast) -> None:
    t = cast.t
    app = submitted(cast)
    application_accept(actor=t.manager, application=app)
    a = assessment_plan(
        actor=t.manager,
        kind="initial",
        application=app,
        start_date=DAY0 + 30 * DAY,
        end_date=DAY0 + 31 * DAY,
        team=[(t.lead, "lead"), (t.assessor, "member"), (t.decision_maker2, "technical_expert")],
    )
    rows = last_messages("assessment_planned")
    # The whole team (the technical expert too) and the holder's users; not the decision
    # maker who was left off the team, not the other CB, not the stranger
    assert users_of(rows) == {
        t.lead,
        t.assessor,
        t.decision_maker2,
        cast.world.org_user,
        cast.colleague,
    }
    assert {m.target for m in rows} == {f"assessment:{a.pk}"}
    assert "planned from 11 February 2026 to 12 February 2026" in rows[0].body
    assert "lead assessor" in rows[0].body and "technical expert" in rows[0].body


def test_a_cancelled_assessment_tells_the_team_and_the_organization(cast: Cast) -> None:
    a = in_progress(cast)
    assessment_cancel(actor=cast.t.manager, assessment=a, reason="Site closed by flood")
    rows = last_messages("assessment_cancelled")
    assert users_of(rows) == {cast.t.lead, cast.t.assessor, cast.world.org_user, cast.colleague}
    assert "Reason: Site closed by flood" in rows[0].body


def test_a_recorded_finding_tells_the_organization_what_to_answer_by_when(cast: Cast) -> None:
    a = in_progress(cast)
    finding_record(
        actor=cast.t.lead,
        assessment=a,
        grade="major",
        requirement_kind="iso9001",
        requirement_ref="ISO 9001:2015 7.1.5",
        description="Calibration overdue",
    )
    f = Finding.objects.get(assessment=a)
    rows = last_messages("finding_recorded")
    # The holder's users; not the lead who recorded it, not the rest of the team
    assert users_of(rows) == {cast.world.org_user, cast.colleague}
    message = rows[0]
    assert message.group == "assessments"
    assert message.target == f"finding:{f.pk}"
    assert message.event_on == f.raised_on
    assert message.subject == (
        f"{cast.world.org.legal_name}: major nonconformity recorded (ISO 9001:2015 7.1.5)"
    )
    assert "Finding: Calibration overdue" in message.body
    assert "submit a corrective action (correction, root cause, action and evidence) by " in (
        message.body
    )
    assert format_date(f.due_date) in message.body


def test_an_observation_needs_no_answer(cast: Cast) -> None:
    a = in_progress(cast, findings=("observation",))
    rows = last_messages("finding_recorded")
    assert users_of(rows) == {cast.world.org_user, cast.colleague}
    assert "no answer is needed" in rows[0].body
    assert a.findings.get().status == "closed"


def test_an_answer_tells_the_teams_assessors_not_the_technical_expert(cast: Cast) -> None:
    t = cast.t
    a = in_progress(
        cast,
        findings=("major",),
        team=[(t.lead, "lead"), (t.assessor, "member"), (t.decision_maker2, "technical_expert")],
    )
    cast.world.answer(a.findings.get())
    rows = last_messages("corrective_action_submitted")
    # The lead and the member judge answers; the expert, the org and the manager do not
    assert users_of(rows) == {t.lead, t.assessor}
    assert "What to do: review the corrective action" in rows[0].body


def test_a_review_tells_the_organization_with_the_assessors_comment(cast: Cast) -> None:
    a = in_progress(cast, findings=("major",))
    ca = cast.world.answer(a.findings.get())
    cast.world.review(ca, "reject")
    rows = last_messages("corrective_action_reviewed")
    assert users_of(rows) == {cast.world.org_user, cast.colleague}
    assert "the assessor rejected the corrective action." in rows[0].body
    assert "Assessor's comment: Root cause not shown" in rows[0].body
    assert "submit a new corrective action" in rows[0].body
    # The second answer, verified: the organization hears it is closed
    ca2 = cast.world.answer(Finding.objects.get(pk=ca.finding_id))
    cast.world.review(ca2, "verify")
    assert "the finding is closed" in last_messages("corrective_action_reviewed")[0].body


def test_an_issued_report_tells_the_organization_and_the_decision_makers_off_the_team(
    cast: Cast,
) -> None:
    t = cast.t
    a = in_progress(
        cast,
        findings=("minor",),
        team=[(t.lead, "lead"), (t.decision_maker2, "member")],
    )
    assessment_issue_report(actor=t.lead, assessment=a, issued_on=a.end_date + 3 * DAY)
    rows = last_messages("report_issued")
    # decision_maker2 was on the team and may not decide: not told; the other CB's decision
    # maker is not told either
    assert users_of(rows) == {t.decision_maker, cast.world.org_user, cast.colleague}
    assert rows[0].event_on == a.end_date + 3 * DAY
    assert "Nonconformities still to be answered or reviewed: 1." in rows[0].body
    assert "who was not on the assessment team takes the certification decision" in rows[0].body


def test_a_grant_tells_the_organization_and_its_mail_is_the_status_notice(cast: Cast) -> None:
    cert = cast.world.granted()
    rows = last_messages("decision")
    assert users_of(rows) == {cast.world.org_user, cast.colleague}
    message = rows[0]
    assert message.target == f"certificate:{cert.pk}"
    assert (
        message.subject
        == f"{cert.number}: grant decided on {format_date(cert.initial_decision_on)}"
    )
    assert "the certification body granted certification." in message.body
    # The status change (draft -> current) is mailed by the status notice, to the same people
    # and the CB: the message itself is not mailed a second time
    assert {(m.mail, m.mail_skipped) for m in rows} == {("skipped", "told_by_notice")}


def test_a_refusal_tells_the_organization(cast: Cast) -> None:
    w = cast.world
    app = w.accepted_application()
    a = w.assessment(app, findings=("major",))
    certificate_refuse(
        actor=w.team.decision_maker,
        application=app,
        assessment=a,
        rationale="Major nonconformity not resolved",
        decided_on=a.end_date + 40 * DAY,
    )
    rows = last_messages("decision")
    assert users_of(rows) == {w.org_user, cast.colleague}
    assert rows[0].target == f"application:{app.pk}"
    assert "refused certification" in rows[0].body
    # The decision record's rationale stays out of the text
    assert "not resolved" not in rows[0].body
    assert rows[0].mail == "due"


def test_a_maintenance_decision_tells_the_organization_and_is_mailed_itself(cast: Cast) -> None:
    w = cast.world
    cert = w.granted()
    a = visit(w, cert, "surveillance")
    certificate_maintain(
        actor=w.team.decision_maker,
        certificate=cert,
        assessment=a,
        decided_on=a.end_date + 10 * DAY,
    )
    rows = last_messages("decision")
    assert users_of(rows) == {w.org_user, cast.colleague}
    assert "maintained certification after the surveillance assessment" in rows[0].body
    # No status change: no status notice, so the message is mailed
    assert {m.mail for m in rows} == {"due"}


@pytest.mark.parametrize("step", ["suspend", "restore", "withdraw"])
def test_a_status_decision_tells_the_organization_and_the_cb(cast: Cast, step: str) -> None:
    w, t = cast.world, cast.t
    cert = w.granted()
    on = cert.status_since + 20 * DAY
    certificate_suspend(
        actor=t.decision_maker,
        certificate=cert,
        reason_category="misuse",
        reason="Mark on uncertified goods",
        decided_on=on,
    )
    if step == "restore":
        certificate_restore(
            actor=t.decision_maker,
            certificate=cert,
            reason="Corrected",
            decided_on=on + 10 * DAY,
        )
    elif step == "withdraw":
        certificate_withdraw(
            actor=t.decision_maker,
            certificate=cert,
            reason_category="misuse",
            reason="Not corrected",
            decided_on=on + 10 * DAY,
        )
    rows = last_messages("certificate_status")
    # The holder's users and the CB's scheme manager and administrator; not the decision
    # maker who decided, not the other CB, not the stranger
    assert users_of(rows) == {w.org_user, cast.colleague, t.manager, cast.cb_admin}
    target = {"suspend": "suspended", "restore": "current", "withdraw": "withdrawn"}[step]
    assert rows[0].subject == f"{cert.number}: certificate {target}"
    assert rows[0].group == "decisions"
    # The free-text reason stays out, as in the status notice; the notice mails it
    assert "goods" not in rows[0].body and "Corrected" not in rows[0].body
    assert {m.mail_skipped for m in rows} == {"told_by_notice"}


def test_the_publication_review_tells_the_secretariat_then_the_cb_then_the_holder(
    cast: Cast,
) -> None:
    w, t = cast.world, cast.t
    scheme_publication_review_set(actor=w.secretariat, scheme=w.scheme, enabled=True)
    cert = w.granted()
    assert told("publication_review") == {w.secretariat}
    assert "entered" not in last_messages("decision")[0].body
    assert "once the Secretariat has reviewed it" in last_messages("decision")[0].body
    # A draft has no status change yet: the grant message is mailed itself
    assert {m.mail for m in last_messages("decision")} == {"due"}
    certificate_publication_return(actor=w.secretariat, certificate=cert, reason="Scope typo")
    rows = last_messages("publication_review")
    assert users_of(rows) == {t.manager, t.decision_maker, t.decision_maker2}
    assert "Reason: Scope typo" in rows[0].body
    certificate_publication_resubmit(actor=t.decision_maker, certificate=cert, note="Fixed")
    assert users_of(last_messages("publication_review")) == {w.secretariat}
    certificate_publication_approve(actor=w.secretariat, certificate=cert)
    rows = last_messages("certificate_status")
    assert users_of(rows) == {w.org_user, cast.colleague, t.manager, cast.cb_admin}


def test_no_message_for_steps_nobody_acts_on(cast: Cast) -> None:
    # Creating a draft and adding a scope line tell nobody
    before = Message.objects.count()
    cast.world.draft_application()
    assert Message.objects.count() == before


def test_inactive_accounts_and_other_organizations_hear_nothing(cast: Cast) -> None:
    cast.colleague.is_active = False
    cast.colleague.save(update_fields=["is_active"])
    app = submitted(cast)
    application_accept(actor=cast.t.manager, application=app)
    assert told("application_accepted") == {cast.world.org_user}
    everyone_told = set(Message.objects.values_list("user_id", flat=True))
    assert cast.stranger.pk not in everyone_told
    assert not everyone_told & {u.pk for u in vars(cast.other_cb).values() if isinstance(u, User)}


# --- the listener's cost -----------------------------------------------------------------------


def _queries_to_tell(event: AuditEvent) -> int:
    with transaction.atomic():
        Message.objects.filter(audit_seq=event.seq).delete()
        with CaptureQueriesContext(connection) as ctx:
            workflow.event_recorded(event)
    return len(ctx.captured_queries)


def test_the_listeners_queries_do_not_grow_with_the_people_told(cast: Cast) -> None:
    w, t = cast.world, cast.t
    a = in_progress(cast, findings=("major",))
    assessment_issue_report(actor=t.lead, assessment=a, issued_on=a.end_date + 3 * DAY)
    events = [
        AuditEvent.objects.get(action=action)
        for action in ("assessment.plan", "finding.record", "assessment.issue_report")
    ]
    few = [_queries_to_tell(e) for e in events]
    for n in range(12):
        user = make_user(f"many{n}", email=f"many{n}@example.test")
        organization_member_add(actor=w.org_user, organization=w.org, user=user)
    many = [_queries_to_tell(e) for e in events]
    assert few == many
    assert max(many) <= 5
    # The holder's 2 + 12 users and the CB's two decision makers (neither was on the team)
    assert Message.objects.filter(audit_seq=events[2].seq).count() == 2 + 12 + 2


def test_an_action_nobody_listens_to_costs_no_query(cast: Cast) -> None:
    event = AuditEvent.objects.filter(action="organization.create").last()
    assert event is not None
    with CaptureQueriesContext(connection) as ctx:
        workflow.event_recorded(event)
    assert len(ctx.captured_queries) == 0


def test_the_listener_is_registered_with_the_audit_trail() -> None:
    assert workflow.event_recorded in listeners.listeners()


# --- e-mails: each once, preferences, retries --------------------------------------------------


def _mails_to(outbox: list[Any]) -> list[str]:
    return sorted(addr for m in outbox for addr in m.to)


def test_each_message_is_mailed_once_to_each_person(cast: Cast, mailoutbox: list[Any]) -> None:
    app = submitted(cast)
    today = timezone.localdate()
    report = notifications_dispatch(as_of=today)
    # One mail to the scheme manager, with the message's text and a footer about preferences
    assert _mails_to(mailoutbox) == [cast.t.manager.email]
    assert report.messages == 1 and report.sent == 1
    mail = mailoutbox[0]
    assert mail.subject == f"Application {app.pk} from {cast.world.org.legal_name} submitted"
    assert mail.body.startswith(Message.objects.get(kind="application_submitted").body)
    assert "change your notification preferences in your apcert account" in mail.body
    assert Message.objects.get(kind="application_submitted").mail == "outbox"
    row = NotificationSent.objects.get(kind="message")
    assert (row.recipient, row.status, row.attempts) == (cast.t.manager.email, "sent", 1)
    # Again: nothing more
    assert notifications_dispatch(as_of=today).sent == 0
    assert notifications_dispatch(as_of=today + DAY).sent == 0
    assert len(mailoutbox) == 1
    # The next step: one mail to each of the holder's users
    application_accept(actor=cast.t.manager, application=app)
    notifications_dispatch(as_of=today)
    assert _mails_to(mailoutbox[1:]) == sorted([cast.world.org_user.email, cast.colleague.email])


def test_two_people_sharing_an_address_get_one_mail(cast: Cast, mailoutbox: list[Any]) -> None:
    cast.colleague.email = cast.world.org_user.email.upper()
    cast.colleague.save(update_fields=["email"])
    app = submitted(cast)
    application_accept(actor=cast.t.manager, application=app)
    mailoutbox.clear()
    notifications_dispatch(as_of=timezone.localdate())
    accepted = [m for m in mailoutbox if "accepted" in m.subject]
    assert len(accepted) == 1
    # Both keep their in-app message
    assert told("application_accepted") == {cast.world.org_user, cast.colleague}


def test_no_address_means_in_app_only(cast: Cast, mailoutbox: list[Any]) -> None:
    cast.t.manager.email = ""
    cast.t.manager.save(update_fields=["email"])
    submitted(cast)
    assert notifications_dispatch(as_of=timezone.localdate()).sent == 0
    message = Message.objects.get(kind="application_submitted")
    assert (message.mail, message.mail_skipped) == ("skipped", "no_address")


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("mail relay down")


def test_a_failed_message_mail_is_retried_once_the_relay_is_back(
    cast: Cast, mailoutbox: list[Any]
) -> None:
    submitted(cast)
    today = timezone.localdate()
    report = notifications_dispatch(as_of=today, connection=RefusingBackend())
    assert (report.sent, report.failed) == (0, 1)
    assert NotificationSent.objects.get(kind="message").status == "failed"
    report = notifications_dispatch(as_of=today)
    assert (report.sent, report.retried) == (1, 1)
    assert _mails_to(mailoutbox) == [cast.t.manager.email]
    assert notifications_dispatch(as_of=today).sent == 0


def test_the_task_mails_messages_too(cast: Cast, mailoutbox: list[Any]) -> None:
    submitted(cast)
    result = dispatch_notifications.call(as_of=timezone.localdate().isoformat())
    assert (result["sent"], result["messages"]) == (1, 1)


def test_preferences_default_on_and_set_per_group(cast: Cast) -> None:
    user = cast.world.org_user
    assert notification_preferences(user) == dict.fromkeys(MessageGroup.values, True)
    chosen = notification_preferences_set(actor=user, mail={"reminders": False})
    assert chosen == {**dict.fromkeys(MessageGroup.values, True), "reminders": False}
    chosen = notification_preferences_set(
        actor=user, mail={"reminders": True, "applications": False}
    )
    assert chosen == {**dict.fromkeys(MessageGroup.values, True), "applications": False}
    assert NotificationPreference.objects.filter(user=user).count() == 2
    # Someone else's choice is their own
    assert notification_preferences(cast.colleague) == dict.fromkeys(MessageGroup.values, True)


def test_preferences_refuse_an_unknown_group_or_a_non_answer(cast: Cast) -> None:
    user = cast.world.org_user
    with pytest.raises(ValidationFailed) as exc:
        notification_preferences_set(actor=user, mail={"newsletter": False, "reminders": False})
    assert exc.value.code == PREFERENCE_GROUP_UNKNOWN == "preference.group_unknown"
    assert exc.value.params["groups"] == ["newsletter"]
    with pytest.raises(ValidationFailed) as exc:
        notification_preferences_set(actor=user, mail={"reminders": "no"})  # type: ignore[dict-item]
    assert exc.value.code == INVALID_CHOICE
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_a_group_turned_off_keeps_the_message_in_app_but_sends_no_mail(
    cast: Cast, mailoutbox: list[Any]
) -> None:
    w = cast.world
    notification_preferences_set(actor=w.org_user, mail={"applications": False})
    app = submitted(cast)
    application_accept(actor=cast.t.manager, application=app)
    mailoutbox.clear()
    notifications_dispatch(as_of=timezone.localdate())
    accepted = [m for m in mailoutbox if "accepted" in m.subject]
    assert _mails_to(accepted) == [cast.colleague.email]
    mine = Message.objects.get(kind="application_accepted", user=w.org_user)
    assert (mine.mail, mine.mail_skipped) == ("skipped", "preference")
    assert mine in unread_messages(w.org_user)


def test_the_status_notice_and_reminders_honour_the_preferences_too(
    cast: Cast, mailoutbox: list[Any]
) -> None:
    w, t = cast.world, cast.t
    for user in cast.everyone():
        notification_preferences_set(actor=user, mail={"applications": False, "assessments": False})
    notification_preferences_set(actor=w.org_user, mail={"decisions": False})
    notification_preferences_set(actor=t.manager, mail={"reminders": False})
    cert = w.granted()
    notifications_dispatch(as_of=cert.initial_decision_on)
    # The grant notice: not to the holder's user who turned decisions off
    assert _mails_to(mailoutbox) == sorted(
        [cast.colleague.email, t.manager.email, cast.cb_admin.email]
    )
    mailoutbox.clear()
    notifications_dispatch(as_of=cert.expires_on - 90 * DAY)
    expiry = [m for m in mailoutbox if "expires on" in m.subject]
    # The expiry reminder: not to the manager who turned reminders off
    assert _mails_to(expiry) == sorted(
        [w.org_user.email, cast.colleague.email, cast.cb_admin.email]
    )


# --- nothing about the past ----------------------------------------------------------------------


#: No expiry or visit falls due within a reminder's horizon of this day.
HISTORY_TODAY = dt.date(2023, 11, 28)


def _history(world: World) -> Certificate:
    """Years of history up to HISTORY_TODAY: a major nonconformity left late since 2019; a
    certificate granted in 2022, maintained after its surveillance visit, then suspended and
    restored 8 days ago; a major nonconformity late since 12 days ago."""
    t = world.team
    old = world.accepted_application()
    world.assessment(old, start=dt.date(2019, 3, 4), findings=("major",))
    app = world.accepted_application()
    a = world.assessment(app, start=dt.date(2022, 3, 7), findings=("minor",))
    world.resolve_findings(a)
    cert = certificate_grant(
        actor=t.decision_maker, application=app, assessment=a, decided_on=dt.date(2022, 5, 2)
    )
    surveillance = visit(world, cert, "surveillance", start=dt.date(2023, 3, 6))
    certificate_maintain(
        actor=t.decision_maker,
        certificate=cert,
        assessment=surveillance,
        decided_on=dt.date(2023, 3, 20),
    )
    certificate_suspend(
        actor=t.decision_maker,
        certificate=cert,
        reason_category="unpaid_fees",
        reason="Invoice 17",
        decided_on=dt.date(2023, 10, 16),
    )
    certificate_restore(
        actor=t.decision_maker, certificate=cert, reason="Paid", decided_on=dt.date(2023, 11, 20)
    )
    recent = world.accepted_application()
    late = world.assessment(recent, start=dt.date(2023, 8, 17), findings=("major",))
    assert late.findings.get().due_date == dt.date(2023, 11, 15)
    return Certificate.objects.get(pk=cert.pk)


@pytest.fixture
def enabled_late(world: World) -> World:
    """A database whose history predates notifications: everyone has an address."""
    NotificationsStart.objects.all().delete()
    for user in (world.org_user, world.team.manager, world.team.lead, world.team.assessor):
        user.email = f"{user.username}@example.test"
        user.save(update_fields=["email"])
    return world


def test_the_first_dispatch_sends_nothing_about_the_past_then_news_once(
    enabled_late: World, mailoutbox: list[Any]
) -> None:
    world = enabled_late
    cert = _history(world)
    as_of = HISTORY_TODAY
    assert Message.objects.exists()  # the history has its in-app messages
    # When notifications are dispatched for the first time
    report = notifications_dispatch(as_of=as_of)
    # Then nothing is mailed about any of it: not the grant, the suspension or the restoration
    # of 8 days ago, not the findings late since 2019 or since 12 days ago, not a single
    # workflow step
    assert report.sent == 0 and mailoutbox == []
    assert not NotificationSent.objects.exists()
    assert set(Message.objects.values_list("mail", "mail_skipped")) <= {
        ("skipped", "before_start"),
        ("skipped", "told_by_notice"),
    }
    assert (
        NotificationsStart.objects.get().started_at
        >= Message.objects.latest("created_at").created_at
    )
    # When something new happens
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="misuse",
        reason="Mark misused",
        decided_on=as_of,
    )
    report = notifications_dispatch(as_of=as_of)
    # Then exactly one mail to each person told: the holder's user and the scheme manager
    assert _mails_to(mailoutbox) == sorted([world.org_user.email, world.team.manager.email])
    assert {m.subject for m in mailoutbox} == {f"{cert.number}: certificate suspended"}
    # And again: no duplicate
    assert notifications_dispatch(as_of=as_of).sent == 0
    assert notifications_dispatch(as_of=as_of + DAY).sent == 0
    assert len(mailoutbox) == 2


def test_the_start_recorded_by_the_migration_keeps_the_first_run_silent_too(
    enabled_late: World, mailoutbox: list[Any]
) -> None:
    _history(enabled_late)
    start = notifications_start_record()  # what the migration records on an existing database
    assert notifications_start_record() == start  # once
    assert notifications_dispatch(as_of=HISTORY_TODAY).sent == 0
    assert mailoutbox == []


def test_without_the_start_the_recent_history_would_have_been_mailed(
    world: World, mailoutbox: list[Any]
) -> None:
    # The control: notifications enabled before the history (a fresh install), the same day
    for user in (world.org_user, world.team.manager):
        user.email = f"{user.username}@example.test"
        user.save(update_fields=["email"])
    _history(world)
    notifications_dispatch(as_of=HISTORY_TODAY)
    notices = NotificationSent.objects.exclude(kind="message")
    # The restoration of 8 days ago and the major late since 12 days ago are news; the
    # older changes and the finding late since 2019 are not
    assert sorted({(n.kind, n.subject.split(": ", 1)[1]) for n in notices}) == [
        ("finding_late", "major nonconformity past its due date 15 November 2023"),
        ("status_change", "certificate current"),
    ]
    assert NotificationSent.objects.filter(kind="status_change").count() == 2


@pytest.fixture
def people_with_addresses(world: World) -> World:
    world.org_user.email = "quality@plating.example"
    world.org_user.save(update_fields=["email"])
    world.team.manager.email = "manager@cb.example"
    world.team.manager.save(update_fields=["email"])
    for user in (world.org_user, world.team.manager):
        notification_preferences_set(actor=user, mail={"applications": False, "assessments": False})
    return world


def test_a_change_recorded_late_about_an_old_date_is_not_news(
    people_with_addresses: World, mailoutbox: list[Any]
) -> None:
    world = people_with_addresses
    cert = world.granted()
    first = notifications_dispatch(as_of=cert.initial_decision_on)
    assert first.sent > 0
    mailoutbox.clear()
    # A suspension recorded now, 31 days after its date: kept, in-app, not mailed as news
    on = cert.initial_decision_on + 10 * DAY
    certificate_suspend(
        actor=world.team.decision_maker,
        certificate=cert,
        reason_category="misuse",
        reason="Found in an old file",
        decided_on=on,
    )
    assert notifications_dispatch(as_of=on + 31 * DAY).sent == 0
    assert mailoutbox == []
    assert Message.objects.filter(kind="certificate_status").count() == 2


def test_the_news_window_comes_from_settings(
    people_with_addresses: World, mailoutbox: list[Any], settings: Any
) -> None:
    world = people_with_addresses
    cert = world.granted()
    settings.NOTIFICATION_RECENT_DAYS = 5
    assert notifications_dispatch(as_of=cert.initial_decision_on + 6 * DAY).sent == 0
    settings.NOTIFICATION_RECENT_DAYS = 6
    assert notifications_dispatch(as_of=cert.initial_decision_on + 6 * DAY).sent == 2


def test_an_old_workflow_step_is_kept_in_app_but_not_mailed(
    people_with_addresses: World, mailoutbox: list[Any]
) -> None:
    world = people_with_addresses
    app = world.accepted_application()
    a = world.assessment(app, findings=("major",))
    finding = a.findings.get()
    notifications_dispatch(as_of=finding.raised_on + 31 * DAY)
    message = Message.objects.get(kind="finding_recorded", user=world.org_user)
    assert (message.mail, message.mail_skipped) == ("skipped", "old_news")
    assert not [m for m in mailoutbox if "recorded" in m.subject]


# --- reading messages ----------------------------------------------------------------------------


def test_messages_newest_first_unread_and_marked_read_by_their_addressee_only(
    cast: Cast,
) -> None:
    w = cast.world
    a = in_progress(cast, findings=("major", "minor"))
    mine = list(messages_for(w.org_user))
    assert [m.kind for m in mine] == [
        "finding_recorded",
        "finding_recorded",
        "assessment_planned",
        "application_accepted",
    ]
    assert [m.pk for m in mine] == sorted((m.pk for m in mine), reverse=True)  # as written
    assert unread_count(w.org_user) == 4
    assert unread_messages(w.org_user, limit=2) == mine[:2]
    # Someone else cannot mark them
    with pytest.raises(PermissionDenied) as exc:
        message_mark_read(actor=cast.colleague, message=mine[0])
    assert exc.value.code == MESSAGE_NOT_OWN == "message.not_own"
    assert Message.objects.get(pk=mine[0].pk).read_at is None
    # Their addressee can, once
    read = message_mark_read(actor=w.org_user, message=mine[0])
    assert read.read_at is not None
    assert message_mark_read(actor=w.org_user, message=mine[0]).read_at == read.read_at
    assert unread_count(w.org_user) == 3
    # All at once: only their own
    assert messages_mark_all_read(actor=w.org_user) == 3
    assert unread_messages(w.org_user) == []
    assert unread_count(cast.colleague) == 4
    assert a.pk in {m.target_id for m in mine if m.target_type == "assessment"}


def test_message_mail_transitions_walk_every_pair() -> None:
    allowed = {("due", "claim"): "outbox", ("due", "skip"): "skipped"}
    for state, action in MESSAGE_MAIL.pairs():
        if (state, action) in allowed:
            assert MESSAGE_MAIL.next_state(state, action) == allowed[(state, action)]
        else:
            with pytest.raises(TransitionNotAllowed) as exc:
                MESSAGE_MAIL.next_state(state, action)
            assert exc.value.code == MESSAGE_MAIL_TRANSITION_NOT_ALLOWED


def test_the_first_dispatch_on_demo_data_mails_no_history(
    reference: None, mailoutbox: list[Any]
) -> None:
    # Nine years of demo history (grants, re-issues, suspensions, withdrawals, expiries,
    # late findings), on a database where notifications were not yet enabled
    from apcert.demo.generate import demo_data_generate

    NotificationsStart.objects.all().delete()
    on = dt.date(2026, 6, 30)
    demo_data_generate(certificates=60, seed=7, reference_date=on)
    assert User.objects.exclude(email="").count() > 10
    notifications_dispatch(as_of=on)
    # Only reminders of what lies ahead (an expiry or a visit within its horizon) may go
    kinds = set(NotificationSent.objects.values_list("kind", flat=True))
    assert kinds <= {"expiry", "surveillance"}
    assert not [m for m in mailoutbox if "past its due date" in m.subject]
    assert not [
        m for m in mailoutbox if "expires on" not in m.subject and "due on" not in m.subject
    ]


def test_the_preferences_command_shows_and_changes_a_persons_choice(
    cast: Cast, capsys: Any
) -> None:
    user = cast.world.org_user
    call_command("notify-preferences", user.username)
    assert capsys.readouterr().out.splitlines() == [
        "on   applications: applications",
        "on   assessments: assessments and findings",
        "on   decisions: decisions and certificate status",
        "on   reminders: reminders (expiry, visits due, late findings)",
    ]
    call_command("notify-preferences", user.username, "--off", "reminders", "applications")
    out = capsys.readouterr().out
    assert "off  reminders:" in out and "off  applications:" in out
    assert notification_preferences(user)["reminders"] is False
    call_command("notify-preferences", user.username, "--on", "reminders")
    assert notification_preferences(user)["reminders"] is True
    with pytest.raises(CommandError, match="Unknown group of e-mails: newsletter"):
        call_command("notify-preferences", user.username, "--off", "newsletter")
    with pytest.raises(CommandError, match="No user is called 'nobody'"):
        call_command("notify-preferences", "nobody")


def test_where_a_dispatcher_ran_before_its_first_mail_is_the_start(
    people_with_addresses: World, mailoutbox: list[Any]
) -> None:
    # An earlier dispatcher sent its first mail before the world's steps (taken on the days
    # they are dated); since then a certificate was granted, and the notifications start is
    # not recorded yet
    earlier = NotificationSent.objects.create(
        kind="expiry", subject_key="expiry:earlier", recipient="x@example.test", subject="s"
    )
    an_hour_ago = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    NotificationSent.objects.filter(pk=earlier.pk).update(created_at=an_hour_ago)
    cert = people_with_addresses.granted()
    NotificationsStart.objects.all().delete()
    # The first dispatch since starts from that mail: the grant is still told
    assert notifications_dispatch(as_of=cert.initial_decision_on).sent == 2
    assert NotificationsStart.objects.get().started_at == an_hour_ago


def test_the_migration_records_the_start_once(world: World) -> None:
    from django.apps import apps

    migration = importlib.import_module("apcert.notifications.migrations.0003_notifications_start")
    NotificationsStart.objects.all().delete()
    app = world.accepted_application()
    world.assessment(app, findings=("major",))
    before = timezone.now()
    migration.forwards(apps, None)
    start = NotificationsStart.objects.get()
    assert start.started_at >= before
    assert start.started_on == timezone.localdate(start.started_at)
    assert start.finding_floor == Finding.objects.latest("id").pk
    migration.forwards(apps, None)  # again: the row stays as it was
    assert NotificationsStart.objects.get() == start
    assert NotificationsStart.objects.get().started_at == start.started_at


def test_the_notify_command_counts_the_message_mails(cast: Cast, capsys: Any) -> None:
    submitted(cast)
    call_command("notify", "--as-of", timezone.localdate().isoformat())
    assert capsys.readouterr().out.strip() == (
        f"1 notification(s) sent as of {timezone.localdate()}, 1 of them for in-app messages"
    )
