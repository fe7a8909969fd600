"""The back office's messages: the home panel, the list, opening a message (marks it read and
goes to the reader's page of the record), mark read, and the mail preferences."""

from __future__ import annotations

import re
from itertools import count

import pytest
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.applications.services import application_submit
from apcert.assessments.models import Assessment
from apcert.notifications.choices import MessageGroup
from apcert.notifications.models import Message
from apcert.notifications.selectors import notification_preferences, unread_count
from apcert.notifications.services import notifications_dispatch
from apcert.organizations.services import organization_member_add
from tests.factories import DAY0, World, make_user

pytestmark = pytest.mark.django_db

_seq = count(900_000)


def text(response: HttpResponse) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def submitted(w: World) -> Application:
    """An application submitted by the organization: the CB's scheme manager is told."""
    app = w.draft_application()
    application_submit(actor=w.org_user, application=app, on=DAY0)
    return app


def message(user: User, target: tuple[str, int], subject: str = "Something to do") -> Message:
    return Message.objects.create(
        user=user,
        kind="application_submitted",
        group=MessageGroup.APPLICATIONS,
        subject=subject,
        body="What happened, and what to do next.",
        target_type=target[0],
        target_id=target[1],
        audit_seq=next(_seq),
        event_on=DAY0,
    )


def test_a_workflow_step_shows_on_the_recipients_home_page_and_list_only(world: World) -> None:
    app = submitted(world)
    manager = world.team.manager
    [told] = Message.objects.filter(user=manager, kind="application_submitted")
    home = signed_in(manager).get(reverse("web:home"))
    assert home.status_code == 200
    assert told.subject in text(home)
    assert "Messages (1" in text(home)  # the navigation's count
    assert reverse("web:messages") in home.content.decode()
    listed = signed_in(manager).get(reverse("web:messages"))
    assert told.subject in text(listed)
    assert reverse("web:message-open", args=[told.pk]) in listed.content.decode()
    # Not to anyone else: the organization's user who submitted, another CB's staff
    other = World.build().team.manager
    for person in (world.org_user, other, world.team.assessor):
        for name in ("web:home", "web:messages"):
            assert told.subject not in text(signed_in(person).get(reverse(name)))
    assert app.pk == told.target_id


def test_the_home_page_shows_five_unread_and_the_count(world: World) -> None:
    user = world.org_user
    app = world.draft_application()
    for n in range(7):
        message(user, ("application", app.pk), subject=f"Message number {n}")
    already = message(user, ("application", app.pk), subject="Already read")
    Message.objects.filter(pk=already.pk).update(read_at=timezone.now())
    page = text(signed_in(user).get(reverse("web:home")))
    shown = re.findall(r"Message number \d", page)
    assert shown == [f"Message number {n}" for n in (6, 5, 4, 3, 2)]
    assert "Already read" not in page
    assert "7 unread" in page and "Messages (7" in page


def test_opening_marks_read_and_goes_to_the_cb_page_for_cb_staff(world: World) -> None:
    app = submitted(world)
    manager = world.team.manager
    told = Message.objects.get(user=manager, kind="application_submitted")
    response = signed_in(manager).post(reverse("web:message-open", args=[told.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("web:cb:application", args=[app.pk])
    told.refresh_from_db()
    assert told.read_at is not None
    assert unread_count(manager) == 0


def test_opening_goes_to_the_organization_page_for_its_users(world: World) -> None:
    app = world.accepted_application()
    told = Message.objects.get(user=world.org_user, kind="application_accepted")
    response = signed_in(world.org_user).post(reverse("web:message-open", args=[told.pk]))
    assert response["Location"] == reverse("web:org:application", args=[world.org.pk, app.pk])
    assert signed_in(world.org_user).get(response["Location"]).status_code == 200
    told.refresh_from_db()
    assert not told.unread


def test_a_finding_opens_the_organization_finding_or_the_cb_assessment(world: World) -> None:
    app = world.accepted_application()
    a = world.assessment(app, findings=("minor",))
    finding = a.findings.get()
    org_told = Message.objects.get(user=world.org_user, kind="finding_recorded")
    response = signed_in(world.org_user).post(reverse("web:message-open", args=[org_told.pk]))
    assert response["Location"] == reverse("web:org:finding", args=[world.org.pk, finding.pk])
    lead_message = message(world.team.lead, ("finding", finding.pk))
    response = signed_in(world.team.lead).post(reverse("web:message-open", args=[lead_message.pk]))
    assert (
        response["Location"] == reverse("web:cb:assessment", args=[a.pk]) + f"#finding-{finding.pk}"
    )
    assessment_message = message(world.team.lead, ("assessment", a.pk))
    response = signed_in(world.team.lead).post(
        reverse("web:message-open", args=[assessment_message.pk])
    )
    assert response["Location"] == reverse("web:cb:assessment", args=[a.pk])


def test_a_certificate_opens_the_cb_or_the_organization_certificate_page(world: World) -> None:
    cert = world.granted()
    for user, url in (
        (world.team.manager, reverse("web:cb:certificate", args=[cert.pk])),
        (world.org_user, reverse("web:org:certificate", args=[world.org.pk, cert.pk])),
    ):
        m = message(user, ("certificate", cert.pk))
        response = signed_in(user).post(reverse("web:message-open", args=[m.pk]))
        assert response["Location"] == url


def test_a_message_without_a_page_is_marked_read_and_shown_without_link(world: World) -> None:
    app = world.draft_application()
    stranger = make_user("stranger")  # no role anywhere: nothing to open
    m = message(stranger, ("application", app.pk))
    gone = message(stranger, ("certificate", 987654))
    client = signed_in(stranger)
    page = client.get(reverse("web:messages")).content.decode()
    assert reverse("web:message-open", args=[m.pk]) not in page
    assert reverse("web:message-open", args=[gone.pk]) not in page
    assert "No page to open" in page
    response = client.post(reverse("web:message-open", args=[m.pk]))
    assert response["Location"] == reverse("web:messages")
    m.refresh_from_db()
    assert not m.unread


def test_another_persons_message_is_a_404_and_stays_unread(world: World) -> None:
    submitted(world)
    told = Message.objects.get(user=world.team.manager, kind="application_submitted")
    for name in ("web:message-open", "web:message-read"):
        response = signed_in(world.org_user).post(reverse(name, args=[told.pk]))
        assert response.status_code == 404
    assert (
        signed_in(world.org_user).get(reverse("web:message-open", args=[told.pk])).status_code
        == 405
    )
    told.refresh_from_db()
    assert told.unread


def test_mark_one_read_then_all_read(world: World) -> None:
    user = world.org_user
    app = world.draft_application()
    first, _, _ = (message(user, ("application", app.pk), f"Note {n}") for n in range(3))
    client = signed_in(user)
    back = reverse("web:messages") + "?state=unread"
    response = client.post(reverse("web:message-read", args=[first.pk]), {"next": back})
    assert response["Location"] == back
    assert unread_count(user) == 2
    page = text(client.get(back))
    assert "Note 0" not in page and "Note 1" in page
    read_page = text(client.get(reverse("web:messages") + "?state=read"))
    assert "Note 0" in read_page and "Note 1" not in read_page
    # An address elsewhere is not followed
    response = client.post(reverse("web:messages-read-all"), {"next": "https://elsewhere.example/"})
    assert response["Location"] == reverse("web:messages")
    assert unread_count(user) == 0
    assert "2 messages marked as read" in text(client.get(response["Location"]))
    assert "Messages (" not in text(client.get(reverse("web:home")))


def test_the_list_searches_subject_and_text(world: World) -> None:
    user = world.org_user
    app = world.draft_application()
    message(user, ("application", app.pk), "Plating line audit")
    other = message(user, ("application", app.pk), "Something else")
    Message.objects.filter(pk=other.pk).update(body="The galvanic bath needs a look.")
    client = signed_in(user)
    assert "Plating line audit" in text(client.get(reverse("web:messages") + "?q=plating"))
    found = text(client.get(reverse("web:messages") + "?q=galvanic"))
    assert "Something else" in found and "Plating line audit" not in found


def test_mail_preferences_are_saved_and_honoured(world: World, mailoutbox: list[object]) -> None:
    user = world.org_user
    client = signed_in(user)
    page = client.get(reverse("web:mail-preferences"))
    assert page.status_code == 200
    assert page.content.decode().count("checked") == len(MessageGroup.values)
    response = client.post(
        reverse("web:mail-preferences"), {"assessments": "on", "decisions": "on", "reminders": "on"}
    )
    assert response.status_code == 302
    assert notification_preferences(user) == {
        "applications": False,
        "assessments": True,
        "decisions": True,
        "reminders": True,
    }
    assert "Your mail preferences are saved" in text(client.get(response["Location"]))
    # Honoured: the application's acceptance stays in-app, not mailed to this person
    colleague = make_user("colleague", email="colleague@plating.example")
    organization_member_add(actor=user, organization=world.org, user=colleague)
    User.objects.filter(pk=user.pk).update(email="owner@plating.example")
    world.accepted_application()
    notifications_dispatch(as_of=timezone.localdate())
    mine = Message.objects.get(user=user, kind="application_accepted")
    assert (mine.mail, mine.mail_skipped) == ("skipped", "preference")
    assert "owner@plating.example" not in {a for m in mailoutbox for a in m.to}  # type: ignore[attr-defined]
    assert mine.subject in text(client.get(reverse("web:messages")))


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_list_and_home_cost_the_same_for_3_or_30_messages(world: World) -> None:
    cert = world.granted()
    a = Assessment.objects.filter(application=cert.application_id).get()
    finding = a.findings.order_by("pk")[0]
    user = world.team.manager
    # Three kinds of record (one query each to find their pages, whatever the number).
    targets = [("certificate", cert.pk), ("assessment", a.pk), ("finding", finding.pk)]
    client = signed_in(user)
    Message.objects.filter(user=user).delete()
    for n in range(3):
        message(user, targets[n % 3], f"Listed {n}")
    client.get(reverse("web:messages"))  # the session's renewal out of the way
    few = {name: _queries(client, reverse(name)) for name in ("web:messages", "web:home")}
    for n in range(3, 30):
        message(user, targets[n % 3], f"Listed {n}")
    many = {name: _queries(client, reverse(name)) for name in ("web:messages", "web:home")}
    assert many == few
    assert few["web:messages"] <= 18
    assert "Listed 29" in text(client.get(reverse("web:messages")))
