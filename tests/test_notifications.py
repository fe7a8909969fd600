"""Notifications: the right e-mails at the right horizons, never twice."""

from __future__ import annotations

import datetime as dt
import email
import importlib
import smtplib
import socket
from collections.abc import Iterator
from email import policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command

from apcert.assessments.models import Finding
from apcert.bodies.models import CBStaff
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_suspend
from apcert.core.dates import format_date
from apcert.core.errors import TransitionNotAllowed
from apcert.notifications.lifecycle import DELIVERY
from apcert.notifications.models import NotificationSent, NotificationsStart
from apcert.notifications.selectors import horizon_reached
from apcert.notifications.services import notification_preferences_set, notifications_dispatch
from apcert.notifications.tasks import dispatch_notifications
from apcert.organizations.services import organization_member_add
from tests.factories import World, make_user

DAY = dt.timedelta(days=1)
WORKFLOW_MAILS_OFF = {"applications": False, "assessments": False}


def _has_programme() -> bool:
    try:
        module = importlib.import_module("apcert.cycle.programme")
    except ImportError:
        return False
    return hasattr(module, "visits_for")


needs_programme = pytest.mark.skipif(
    not _has_programme(),
    reason="apcert.cycle.programme.visits_for (the audit programme) has not landed yet",
)


@pytest.fixture
def people(world: World) -> World:
    """Give the people who should hear about a certificate an address, and one who should not.

    These tests are about the certificate notices and reminders: the three turn off the
    e-mails of the application and assessment steps on the way to a grant (the workflow
    messages have their own tests)."""
    world.org_user.email = "quality@plating.example"
    world.org_user.save(update_fields=["email"])
    world.team.manager.email = "manager@cb.example"
    world.team.manager.save(update_fields=["email"])
    # An assessor is not told directly, even with an address.
    world.team.lead.email = "lead@cb.example"
    world.team.lead.save(update_fields=["email"])
    for user in (world.org_user, world.team.manager, world.team.lead):
        notification_preferences_set(actor=user, mail=WORKFLOW_MAILS_OFF)
    # Notifications were on before this world's history began: its steps are taken on the
    # days they are dated (the clock moved there), and what they record is news.
    NotificationsStart.objects.update_or_create(
        id=1,
        defaults={
            "started_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC),
            "started_on": dt.date(2020, 1, 1),
            "finding_floor": 0,
        },
    )
    return world


@pytest.fixture
def granted(people: World) -> Certificate:
    return people.granted()


def _to(messages: list[Any]) -> list[str]:
    return sorted(addr for m in messages for addr in m.to)


def _kind(kind: str) -> list[NotificationSent]:
    return list(NotificationSent.objects.filter(kind=kind).order_by("subject_key", "recipient"))


# --- status changes --------------------------------------------------------------------


def test_grant_is_told_to_holder_and_cb_with_a_readable_body(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    # Given a freshly granted certificate
    cert = granted
    # When the dispatcher runs on the decision day
    report = notifications_dispatch(as_of=cert.initial_decision_on)
    # Then the holder's user and the CB's scheme manager get one mail each, the assessor none
    assert _to(mailoutbox) == ["manager@cb.example", "quality@plating.example"]
    assert all(len(m.to) == 1 for m in mailoutbox)
    assert report.sent == 2 and report.failed == 0 and report.events == 1
    message = mailoutbox[0]
    assert message.subject == f"{cert.number}: certificate current"
    org, cb = people.org, people.team.cb
    assert message.body == (
        f"Certificate: {cert.number}\n"
        f"Holder: {org.legal_name} (DE)\n"
        f"Certification body: {cb.name} ({cb.code})\n"
        "\n"
        "The certificate was granted and became current on "
        f"{format_date(cert.initial_decision_on)}.\n"
        "Reason: certification granted.\n"
        f"Valid until: {format_date(cert.expires_on)}.\n"
        "\n"
        "What to do: nothing. The certificate is current and shown as such in the public "
        "IECQ register; keep the surveillance visits agreed with the certification body.\n"
        "\n"
        "-- \n"
        "This message was sent by apcert for the IECQ Approved Process scheme (IECQ 03-2).\n"
        "You receive it as a person named for the holder or as the certification body's "
        "scheme manager or administrator."
    )
    rows = _kind("status_change")
    assert [(r.recipient, r.status, r.attempts) for r in rows] == [
        ("manager@cb.example", "sent", 1),
        ("quality@plating.example", "sent", 1),
    ]
    assert all(r.sent_at is not None and r.body == message.body for r in rows)


def test_status_change_before_its_date_waits_and_dispatch_twice_sends_nothing_more(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    cert = granted
    # Before the decision takes effect: nothing
    assert notifications_dispatch(as_of=cert.initial_decision_on - DAY).sent == 0
    assert mailoutbox == []
    assert notifications_dispatch(as_of=cert.initial_decision_on).sent == 2
    # Again, the same day and later: nothing more
    assert notifications_dispatch(as_of=cert.initial_decision_on).sent == 0
    assert notifications_dispatch(as_of=cert.initial_decision_on + 5 * DAY).sent == 0
    assert len(mailoutbox) == 2
    assert NotificationSent.objects.count() == 2


def test_suspension_is_told_with_reason_and_advice(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    cert = granted
    notifications_dispatch(as_of=cert.initial_decision_on)
    mailoutbox.clear()
    on = cert.initial_decision_on + 100 * DAY
    certificate_suspend(
        actor=people.team.decision_maker,
        certificate=cert,
        reason_category="misuse",
        reason="mark on uncertified products",
        decided_on=on,
    )
    report = notifications_dispatch(as_of=on)
    assert report.sent == 2
    message = mailoutbox[0]
    assert message.subject == f"{cert.number}: certificate suspended"
    assert f"changed from current to suspended on {format_date(on)}." in message.body
    assert "Reason: misuse of the certificate or mark." in message.body
    assert "must not be used to claim conformity" in message.body
    # The private free-text reason stays out of the mail
    assert "uncertified products" not in message.body


def test_someone_joining_later_is_not_sent_old_news(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    notifications_dispatch(as_of=granted.initial_decision_on)
    newcomer = make_user("newcomer", email="new@plating.example")
    organization_member_add(actor=people.org_user, organization=people.org, user=newcomer)
    assert notifications_dispatch(as_of=granted.initial_decision_on + DAY).sent == 0
    assert len(mailoutbox) == 2


# --- recipients --------------------------------------------------------------------------


def test_recipients_without_email_inactive_or_duplicate_are_skipped(
    people: World, mailoutbox: list[Any]
) -> None:
    # A holder user with no address, one inactive, and the CB admin sharing the manager's
    # address (in other case); an inactive CB staff role.
    silent = make_user("silent")
    organization_member_add(actor=people.org_user, organization=people.org, user=silent)
    gone = make_user("gone", email="gone@plating.example", is_active=False)
    organization_member_add(actor=people.org_user, organization=people.org, user=gone)
    admin = make_user("admin", email="Manager@CB.example")
    CBStaff.objects.create(cb=people.team.cb, user=admin, role="admin")
    retired = make_user("retired", email="retired@cb.example")
    CBStaff.objects.create(cb=people.team.cb, user=retired, role="scheme_manager", active=False)
    cert = people.granted()
    notifications_dispatch(as_of=cert.initial_decision_on)
    assert _to(mailoutbox) == ["manager@cb.example", "quality@plating.example"]


def test_event_with_nobody_to_tell_sends_nothing(world: World, mailoutbox: list[Any]) -> None:
    # World users have no e-mail address at all
    cert = world.granted()
    report = notifications_dispatch(as_of=cert.initial_decision_on)
    assert report.sent == 0 and mailoutbox == []
    assert NotificationSent.objects.count() == 0


# --- expiry horizons ---------------------------------------------------------------------


def _expiry_mails(messages: list[Any]) -> list[str]:
    return [m.subject for m in messages if "expires on" in m.subject]


def test_expiry_reminders_at_90_30_7_days_exactly_once_each(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    cert = granted
    expires = cert.expires_on
    notifications_dispatch(as_of=cert.initial_decision_on)
    sent_on: dict[int, list[str]] = {}
    # Walk every day from 120 days before expiry to the expiry date
    for days_left in range(120, -1, -1):
        before = len(_expiry_mails(mailoutbox))
        notifications_dispatch(as_of=expires - days_left * DAY)
        new = _expiry_mails(mailoutbox)[before:]
        if new:
            sent_on[days_left] = new
    subject = f"{cert.number}: certificate expires on {format_date(expires)}"
    assert sent_on == {90: [subject] * 2, 30: [subject] * 2, 7: [subject] * 2}
    keys = sorted({r.subject_key for r in _kind("expiry")})
    assert keys == [
        f"expiry:cert {cert.pk}:until {expires}:horizon 30",
        f"expiry:cert {cert.pk}:until {expires}:horizon 7",
        f"expiry:cert {cert.pk}:until {expires}:horizon 90",
    ]
    body = next(m.body for m in mailoutbox if m.subject == subject and "7 days" in m.body)
    assert f"The certificate expires on {format_date(expires)}, in 7 days." in body
    assert "Agree the re-assessment dates with the certification body now." in body


def test_a_late_first_run_sends_only_the_nearest_horizon(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    cert = granted
    notifications_dispatch(as_of=cert.initial_decision_on)
    notifications_dispatch(as_of=cert.expires_on - 5 * DAY)
    assert len(_expiry_mails(mailoutbox)) == 2
    assert {r.subject_key.rsplit(":", 1)[1] for r in _kind("expiry")} == {"horizon 7"}


def test_horizons_come_from_settings(
    people: World, granted: Certificate, mailoutbox: list[Any], settings: Any
) -> None:
    settings.NOTIFICATION_HORIZON_DAYS = [14]
    cert = granted
    notifications_dispatch(as_of=cert.initial_decision_on)
    notifications_dispatch(as_of=cert.expires_on - 90 * DAY)
    notifications_dispatch(as_of=cert.expires_on - 15 * DAY)
    assert _expiry_mails(mailoutbox) == []
    notifications_dispatch(as_of=cert.expires_on - 14 * DAY)
    assert len(_expiry_mails(mailoutbox)) == 2


def test_no_expiry_reminder_for_a_certificate_that_has_ended(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    cert = granted
    notifications_dispatch(as_of=cert.initial_decision_on)
    Certificate.objects.filter(pk=cert.pk).update(status="withdrawn")
    notifications_dispatch(as_of=cert.expires_on - 30 * DAY)
    assert _expiry_mails(mailoutbox) == []


@pytest.mark.parametrize(
    ("days_left", "expected"),
    [(91, None), (90, 90), (31, 90), (30, 30), (8, 30), (7, 7), (0, 7), (-1, None)],
)
def test_horizon_reached(days_left: int, expected: int | None) -> None:
    assert horizon_reached(days_left, (90, 30, 7)) == expected


# --- late findings -----------------------------------------------------------------------


def test_late_nonconformity_is_told_once_the_day_after_its_due_date(
    people: World, mailoutbox: list[Any]
) -> None:
    app = people.accepted_application()
    a = people.assessment(app, findings=("major", "minor", "observation"))
    major = a.findings.get(grade="major")
    minor = a.findings.get(grade="minor")
    # The minor one gets an accepted plan: no longer late
    people.review(people.answer(minor), "accept_plan")
    due = major.due_date
    assert notifications_dispatch(as_of=due).sent == 0
    report = notifications_dispatch(as_of=due + DAY)
    assert report.sent == 2
    assert _to(mailoutbox) == ["manager@cb.example", "quality@plating.example"]
    message = mailoutbox[0]
    assert message.subject == (
        f"{people.org.legal_name}: major nonconformity past its due date {format_date(due)}"
    )
    body = message.body
    assert body.startswith(f"Holder: {people.org.legal_name} (DE)\n")
    assert "A major nonconformity is past its due date." in body
    assert "Requirement: ISO 9001:2015 8.5.1" in body
    assert "Finding: major finding: records incomplete" in body
    assert f"Corrective action due: {format_date(due)} (1 day late)" in body
    assert "Status: open" in body
    assert "can lead to suspension" in body
    # Never again for the same finding, even when it is answered and still late
    people.answer(Finding.objects.get(pk=major.pk))
    assert notifications_dispatch(as_of=due + 10 * DAY).sent == 0
    assert [r.subject_key for r in _kind("finding_late")] == [f"finding_late:{major.pk}"] * 2


# --- failures and retries ----------------------------------------------------------------


class RefusingBackend(BaseEmailBackend):
    def send_messages(self, email_messages: Any) -> int:
        raise smtplib.SMTPServerDisconnected("mail relay down")


def test_failed_send_is_recorded_and_retried_later(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    cert = granted
    # When the mail server refuses
    report = notifications_dispatch(as_of=cert.initial_decision_on, connection=RefusingBackend())
    # Then the rows stay, marked failed with the error, and nothing went
    assert (report.sent, report.failed) == (0, 2)
    rows = _kind("status_change")
    assert [(r.status, r.attempts, r.failed) for r in rows] == [("failed", 1, True)] * 2
    assert rows[0].last_error == "SMTPServerDisconnected: mail relay down"
    assert rows[0].sent_at is None
    assert mailoutbox == []
    # A failing run again: still failed, one more attempt
    notifications_dispatch(as_of=cert.initial_decision_on, connection=RefusingBackend())
    assert [r.attempts for r in _kind("status_change")] == [2, 2]
    # When the server is back, the next dispatch retries them
    report = notifications_dispatch(as_of=cert.initial_decision_on + DAY)
    assert (report.sent, report.retried, report.failed) == (2, 2, 0)
    assert _to(mailoutbox) == ["manager@cb.example", "quality@plating.example"]
    assert [(r.status, r.attempts, r.last_error) for r in _kind("status_change")] == [
        ("sent", 3, "")
    ] * 2
    # And never again
    assert notifications_dispatch(as_of=cert.initial_decision_on + 2 * DAY).sent == 0
    assert len(mailoutbox) == 2


def test_delivery_transitions_walk_every_pair() -> None:
    allowed = {("pending", "deliver"): "sent", ("pending", "fail"): "failed"}
    allowed[("failed", "retry")] = "pending"
    for state, action in DELIVERY.pairs():
        if (state, action) in allowed:
            assert DELIVERY.next_state(state, action) == allowed[(state, action)]
        else:
            with pytest.raises(TransitionNotAllowed) as exc:
                DELIVERY.next_state(state, action)
            assert exc.value.code == "notification.transition_not_allowed"


# --- through a real SMTP server ----------------------------------------------------------


class Collector:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[Collector]:
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=_free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "apcert@register.example"
    try:
        yield collector
    finally:
        controller.stop()


def test_mail_goes_through_a_real_smtp_server(
    people: World, granted: Certificate, smtp_server: Collector
) -> None:
    cert = granted
    report = notifications_dispatch(as_of=cert.initial_decision_on)
    assert report.sent == 2
    received = sorted(
        (
            email.message_from_bytes(e.original_content, policy=policy.default)
            for e in smtp_server.envelopes
        ),
        key=lambda m: str(m["To"]),
    )
    assert [str(m["To"]) for m in received] == ["manager@cb.example", "quality@plating.example"]
    assert {str(m["Subject"]) for m in received} == {f"{cert.number}: certificate current"}
    assert {str(m["From"]) for m in received} == {"apcert@register.example"}
    text = received[0].get_content()
    assert f"Certificate: {cert.number}" in text
    assert received[0].get_content_type() == "text/plain"
    assert sorted(e.rcpt_tos[0] for e in smtp_server.envelopes) == [
        "manager@cb.example",
        "quality@plating.example",
    ]


# --- command and task --------------------------------------------------------------------


def test_notify_command_prints_the_count(
    people: World, granted: Certificate, capsys: Any, mailoutbox: list[Any]
) -> None:
    call_command("notify", "--as-of", granted.initial_decision_on.isoformat())
    out = capsys.readouterr().out
    assert out.startswith(f"2 notification(s) sent as of {granted.initial_decision_on}")
    assert len(mailoutbox) == 2


@pytest.mark.parametrize("bad", ["2026-02-30", "tomorrow", "31/03/2026"])
def test_notify_command_refuses_a_bad_date(db: None, bad: str) -> None:
    with pytest.raises(CommandError, match=r"is not a date: write it as YYYY-MM-DD"):
        call_command("notify", "--as-of", bad)


def test_task_dispatches(people: World, granted: Certificate, mailoutbox: list[Any]) -> None:
    result = dispatch_notifications.call(as_of=granted.initial_decision_on.isoformat())
    assert result["sent"] == 2 and result["failed"] == 0
    assert result["as_of"] == granted.initial_decision_on.isoformat()
    assert len(mail.outbox) == 2


# --- surveillance horizons (need the audit programme) ------------------------------------


@needs_programme
def test_surveillance_reminders_at_each_horizon_once(
    people: World, granted: Certificate, mailoutbox: list[Any]
) -> None:
    from apcert.cycle.programme import visits_for

    cert = granted
    notifications_dispatch(as_of=cert.initial_decision_on)
    first = next(v for v in visits_for(cert) if v.kind == "surveillance")
    subject = f"{cert.number}: surveillance {first.sequence} due on {format_date(first.due_date)}"

    def mails() -> list[str]:
        return [m.subject for m in mailoutbox if m.subject == subject]

    sent_on: dict[int, int] = {}
    for days_left in range(100, -1, -1):
        before = len(mails())
        notifications_dispatch(as_of=first.due_date - days_left * DAY)
        if len(mails()) > before:
            sent_on[days_left] = len(mails()) - before
    assert sent_on == {90: 2, 30: 2, 7: 2}
    body = next(m.body for m in mailoutbox if m.subject == subject)
    assert (
        f"Surveillance visit {first.sequence} is due on {format_date(first.due_date)}, in 90 days."
        in body
    )
    assert f"Window: {format_date(first.window_start)} to {format_date(first.window_end)}." in body
