"""Invitations: a CB's or an organization's administrator, or the
Secretariat, adds a colleague with a role.

Each refusal is checked for its stable code and for nothing written: no invitation, no
account, no membership, no audit event, no e-mail.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Callable
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from apcert.accounts.errors import INVITATION_NOT_ALLOWED
from apcert.accounts.models import Invitation, User
from apcert.accounts.services import (
    NewInvitation,
    invitation_accept,
    invitation_create,
    token_hash,
)
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBStaff, CertificationBody
from apcert.bodies.services import cb_staff_add
from apcert.core.errors import (
    INVALID_TOO_LONG,
    DomainError,
    NotFound,
    PermissionDenied,
    RuleViolation,
)
from apcert.organizations.models import Organization, OrganizationMember
from apcert.organizations.services import organization_member_add
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Plating-line-42-blue"


@pytest.fixture
def cb_admin(world: World) -> User:
    user = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=user, role="admin")
    return user


@pytest.fixture
def other_cb(world: World) -> Any:
    return World.make_cb(world.secretariat, "OTHER", dt.date(2020, 1, 1), programmes=("AP",))


def _counts() -> dict[str, int]:
    return {
        "invitation": Invitation.objects.count(),
        "user": User.objects.count(),
        "cb_staff": CBStaff.objects.count(),
        "org_member": OrganizationMember.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def _refused(call: Callable[[], Any], capture: Any) -> DomainError:
    """Run a service call that must be refused; check that nothing was written or sent."""
    before = _counts()
    with capture(execute=True), pytest.raises(DomainError) as exc:
        call()
    assert _counts() == before
    assert mail.outbox == []
    return exc.value


def _invite_to_cb(world: World, actor: User, role: str = "assessor", **kw: Any) -> NewInvitation:
    return invitation_create(
        actor=actor, email="new.assessor@cb.example", cb=world.team.cb, cb_role=role, **kw
    )


# --- who may invite ------------------------------------------------------------------------------


def test_who_may_invite_where(
    world: World, cb_admin: User, other_cb: Any, django_capture_on_commit_callbacks: Any
) -> None:
    cb, org = world.team.cb, world.org
    org_member = make_user("orgmember")
    organization_member_add(actor=world.org_user, organization=org, user=org_member)
    people = {
        "secretariat": world.secretariat,
        "CB admin": cb_admin,
        "scheme manager": world.team.manager,
        "other CB's staff": other_cb.manager,
        "organization admin": world.org_user,
        "organization member": org_member,
    }
    expected = {
        # who: (invite to the CB, invite to the organization)
        "secretariat": ("ok", "ok"),
        "CB admin": ("ok", "invitation.organization_admin_required"),
        "scheme manager": (
            "invitation.cb_admin_required",
            "invitation.organization_admin_required",
        ),
        "other CB's staff": (
            "invitation.cb_admin_required",
            "invitation.organization_admin_required",
        ),
        "organization admin": ("invitation.cb_admin_required", "ok"),
        "organization member": (
            "invitation.cb_admin_required",
            "invitation.organization_admin_required",
        ),
    }

    seen = {}
    for who, actor in people.items():
        outcomes = []
        for target in (
            {"cb": cb, "cb_role": "assessor"},
            {"organization": org, "org_role": "member"},
        ):
            before = _counts()
            try:
                invitation_create(actor=actor, email=f"x{len(seen)}@example.org", **target)
            except PermissionDenied as exc:
                assert _counts() == before
                outcomes.append(exc.code)
            else:
                outcomes.append("ok")
        seen[who] = tuple(outcomes)

    assert seen == expected


def test_an_inactive_cb_admin_role_or_account_may_not_invite(
    world: World, cb_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    CBStaff.objects.filter(user=cb_admin).update(active=False)
    error = _refused(lambda: _invite_to_cb(world, cb_admin), django_capture_on_commit_callbacks)
    assert error.code == "invitation.cb_admin_required"

    world.secretariat.is_active = False
    world.secretariat.save(update_fields=["is_active"])
    error = _refused(
        lambda: _invite_to_cb(world, world.secretariat), django_capture_on_commit_callbacks
    )
    assert error.code == "permission.not_signed_in"


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        (
            {"cb_role": "assessor", "organization": "org", "org_role": "member"},
            "invitation.one_target",
            None,
        ),
        ({"cb": None}, "invitation.target_required", None),
        ({"cb_role": "chief"}, "invalid.choice", "cb_role"),
        ({"cb_role": ""}, "invalid.choice", "cb_role"),
        ({"org_role": "member"}, "invitation.one_target", "org_role"),
        ({"email": "not an address"}, "invalid.email", "email"),
        ({"email": ""}, "invalid.email", "email"),
    ],
)
def test_malformed_invitations_are_refused(
    world: World,
    cb_admin: User,
    django_capture_on_commit_callbacks: Any,
    kwargs: dict[str, Any],
    code: str,
    field: str | None,
) -> None:
    args: dict[str, Any] = {"email": "a@b.example", "cb": world.team.cb, "cb_role": "assessor"}
    args.update(kwargs)
    if args.get("organization") == "org":
        args["organization"] = world.org
    error = _refused(
        lambda: invitation_create(actor=world.secretariat, **args),
        django_capture_on_commit_callbacks,
    )
    assert (error.code, error.field) == (code, field)


# --- making an invitation ----------------------------------------------------------------------


def test_an_invitation_is_stored_hashed_audited_once_and_mailed_after_commit(
    world: World, cb_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given a CB administrator, when they invite a colleague as assessor
    audit_before = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        sent = invitation_create(
            actor=cb_admin,
            email=" New.Assessor@CB.Example ",
            cb=world.team.cb,
            cb_role="assessor",
            site_url="https://apcert.example.org/",
        )
        # nothing is mailed before the commit
        assert mail.outbox == []
    for callback in callbacks:
        callback()

    # then the invitation holds the hash of the token, never the token
    invitation = Invitation.objects.get()
    assert invitation == sent.invitation
    assert invitation.email == "New.Assessor@cb.example"
    assert invitation.token_hash == token_hash(sent.token)
    assert sent.token not in invitation.token_hash
    assert (invitation.cb, invitation.cb_role, invitation.organization) == (
        world.team.cb,
        "assessor",
        None,
    )
    assert invitation.expires_at - invitation.created_at == dt.timedelta(
        days=settings.INVITATION_DAYS
    )
    assert invitation.accepted_at is None

    # and exactly one audit event says who invited whom to what
    events = list(AuditEvent.objects.order_by("seq")[audit_before:])
    assert [(e.action, e.actor_id, e.object_id) for e in events] == [
        ("invitation.create", cb_admin.pk, str(invitation.pk))
    ]
    assert events[0].after["cb"] == world.team.cb.code
    assert events[0].after["cb_role"] == "assessor"
    assert sent.token not in str(events[0].after)

    # and one e-mail went to the address, with the acceptance link
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["New.Assessor@cb.example"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert sent.url == f"https://apcert.example.org/office/invitations/{sent.token}"
    assert sent.url in message.body
    assert f"assessor at {world.team.cb.code} {world.team.cb.name}" in message.body


def test_a_failing_mail_server_does_not_undo_the_invitation(
    world: World, cb_admin: User, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.EMAIL_BACKEND = "tests.test_accounts_invitations.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=True):
        _invite_to_cb(world, cb_admin)
    assert Invitation.objects.count() == 1


class BrokenBackend:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def send_messages(self, messages: Any) -> int:
        raise ConnectionRefusedError("no mail server")


# --- accepting -----------------------------------------------------------------------------------


def test_accepting_makes_the_account_with_its_cb_role(
    world: World, cb_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    sent = _invite_to_cb(world, cb_admin, role="decision_maker")
    audit_before = AuditEvent.objects.count()

    user = invitation_accept(
        token=sent.token, username="dora", full_name="Dora Decider", password=NEW_PASSWORD
    )

    assert (user.username, user.full_name, user.email) == (
        "dora",
        "Dora Decider",
        "new.assessor@cb.example",
    )
    assert user.check_password(NEW_PASSWORD)
    assert user.is_active and not user.is_staff and not user.is_secretariat
    assert list(CBStaff.objects.filter(user=user).values_list("cb", "role", "active")) == [
        (world.team.cb.pk, "decision_maker", True)
    ]
    invitation = Invitation.objects.get()
    assert invitation.accepted_user == user
    assert invitation.accepted_at is not None
    events = list(AuditEvent.objects.order_by("seq")[audit_before:])
    assert [(e.action, e.actor_id) for e in events] == [("invitation.accept", user.pk)]
    assert events[0].after == {
        "user": "dora",
        "email": "new.assessor@cb.example",
        "invited_by": cb_admin.username,
        "cb": world.team.cb.code,
        "cb_role": "decision_maker",
        "organization": None,
        "org_role": None,
    }


def test_accepting_an_organization_invitation_makes_a_member(world: World) -> None:
    sent = invitation_create(
        actor=world.org_user,
        email="colleague@plating.example",
        organization=world.org,
        org_role="member",
    )
    user = invitation_accept(
        token=sent.token, username="colleague", full_name="Col League", password=NEW_PASSWORD
    )
    member = OrganizationMember.objects.get(user=user)
    assert (member.organization, member.role) == (world.org, "member")


def test_a_used_token_is_refused(
    world: World, cb_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    sent = _invite_to_cb(world, cb_admin)
    invitation_accept(token=sent.token, username="first", full_name="First", password=NEW_PASSWORD)
    error = _refused(
        lambda: invitation_accept(
            token=sent.token, username="second", full_name="Second", password=NEW_PASSWORD
        ),
        django_capture_on_commit_callbacks,
    )
    assert isinstance(error, RuleViolation)
    assert error.code == "invitation.used"


def test_an_expired_token_is_refused(
    world: World, cb_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        sent = _invite_to_cb(world, cb_admin)
    days = dt.timedelta(days=settings.INVITATION_DAYS)
    with time_machine.travel(start + days, tick=False):
        error = _refused(
            lambda: invitation_accept(
                token=sent.token, username="late", full_name="Late", password=NEW_PASSWORD
            ),
            django_capture_on_commit_callbacks,
        )
    assert error.code == "invitation.expired"
    # a second earlier it would have been accepted
    with time_machine.travel(start + days - dt.timedelta(seconds=1), tick=False):
        invitation_accept(
            token=sent.token, username="intime", full_name="In Time", password=NEW_PASSWORD
        )


def test_an_unknown_token_is_refused(world: World, django_capture_on_commit_callbacks: Any) -> None:
    error = _refused(
        lambda: invitation_accept(
            token="not-a-token", username="x", full_name="X", password=NEW_PASSWORD
        ),
        django_capture_on_commit_callbacks,
    )
    assert isinstance(error, NotFound)
    assert error.code == "invitation.not_found"


def test_an_inviter_who_lost_the_right_to_invite_takes_the_invitation_with_them(
    world: World, cb_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    sent = _invite_to_cb(world, cb_admin)
    CBStaff.objects.filter(user=cb_admin, role="admin").update(active=False)
    error = _refused(
        lambda: invitation_accept(
            token=sent.token, username="x", full_name="X", password=NEW_PASSWORD
        ),
        django_capture_on_commit_callbacks,
    )
    assert error.code == "invitation.inviter_not_allowed"


@pytest.mark.parametrize(
    ("username", "full_name", "password", "code", "field"),
    [
        ("", "Name", NEW_PASSWORD, "invalid.required", "username"),
        ("has space", "Name", NEW_PASSWORD, "invalid.username", "username"),
        ("TAKEN", "Name", NEW_PASSWORD, "account.username_taken", "username"),
        ("fresh", "  ", NEW_PASSWORD, "invalid.required", "full_name"),
        ("fresh", "Name", "short", "invalid.password", "password"),
        ("fresh", "Name", "password123", "invalid.password", "password"),
        ("fresh", "Name", "12345678901", "invalid.password", "password"),
        ("freshperson", "Fresh Person", "freshperson", "invalid.password", "password"),
    ],
)
def test_account_details_are_checked_and_nothing_is_written(
    world: World,
    cb_admin: User,
    django_capture_on_commit_callbacks: Any,
    username: str,
    full_name: str,
    password: str,
    code: str,
    field: str,
) -> None:
    User.objects.create_user(username="taken", password=NEW_PASSWORD)
    sent = _invite_to_cb(world, cb_admin)
    error = _refused(
        lambda: invitation_accept(
            token=sent.token, username=username, full_name=full_name, password=password
        ),
        django_capture_on_commit_callbacks,
    )
    assert (error.code, error.field) == (code, field)
    assert Invitation.objects.get().accepted_at is None


def test_a_name_longer_than_an_account_holds_is_refused_and_nothing_is_written(
    world: World, cb_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    # given an invitation, and a name one character longer than the account's field
    sent = _invite_to_cb(world, cb_admin)
    longest = User._meta.get_field("full_name").max_length
    assert longest == 200

    # when it is accepted with that name
    error = _refused(
        lambda: invitation_accept(
            token=sent.token, username="fresh", full_name="N" * 201, password=NEW_PASSWORD
        ),
        django_capture_on_commit_callbacks,
    )

    # then the name is refused, next to its field, and the invitation is still open
    assert (error.code, error.field) == (INVALID_TOO_LONG, "full_name")
    assert error.message == "A name has at most 200 characters."
    assert Invitation.objects.get().accepted_at is None


# --- the pages -----------------------------------------------------------------------------------


def _text(response: Any) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def test_the_invite_page_offers_the_places_the_user_administers(
    client: Client, world: World, cb_admin: User, other_cb: Any
) -> None:
    client.force_login(cb_admin)
    response = client.get("/office/invitations/new")
    assert response.status_code == 200
    html = response.content.decode()
    # the one place offered, as a radio button chosen already
    assert re.search(
        rf'<input type="radio" name="target" value="cb:{world.team.cb.pk}"[^>]* checked>', html
    )
    assert f'value="cb:{other_cb.cb.pk}"' not in html
    assert f'value="org:{world.org.pk}"' not in html
    assert '<option value="cb:scheme_manager">scheme manager</option>' in html
    assert 'value="org:member"' not in html  # no organization to give it at
    for name in ("email", "role"):
        assert f'<label for="id_{name}">' in html
    assert "<legend>Invite them to</legend>" in html


def test_inviting_through_the_page(
    client: Client,
    world: World,
    cb_admin: User,
    django_capture_on_commit_callbacks: Any,
) -> None:
    client.force_login(cb_admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/office/invitations/new",
            {
                "email": "new.manager@cb.example",
                "target": f"cb:{world.team.cb.pk}",
                "role": "cb:scheme_manager",
            },
        )
    assert response.status_code == 302
    assert response["Location"] == "/office/invitations/"
    invitation = Invitation.objects.get()
    assert (invitation.cb, invitation.cb_role) == (world.team.cb, "scheme_manager")
    # the link in the mail is to the server the page was reached at
    assert re.search(r"http://testserver/office/invitations/[\w-]{40,}", mail.outbox[0].body)
    listing = client.get("/office/invitations/")
    assert "The invitation is on its way to new.manager@cb.example" in _text(listing)
    assert "new.manager@cb.example scheme manager" in _text(listing)


def test_a_role_that_does_not_fit_the_place_is_a_form_error(
    client: Client, world: World, cb_admin: User
) -> None:
    client.force_login(cb_admin)
    response = client.post(
        "/office/invitations/new",
        {"email": "x@cb.example", "target": f"cb:{world.team.cb.pk}", "role": "org:member"},
    )
    assert response.status_code == 400
    assert "An organization role does not apply at a CB." in _text(response)
    assert Invitation.objects.count() == 0


def test_someone_who_may_not_invite_gets_403_with_the_reason(
    client: Client, world: World, django_capture_on_commit_callbacks: Any
) -> None:
    # given a scheme manager (not an administrator), who has no "Invite" link
    client.force_login(world.team.manager)
    assert "Invite a colleague" not in _text(client.get("/office/"))
    before = _counts()

    # when they open the form, list invitations, or force a POST
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            client.get("/office/invitations/new"),
            client.get("/office/invitations/"),
            client.post(
                "/office/invitations/new",
                {
                    "email": "x@cb.example",
                    "target": f"cb:{world.team.cb.pk}",
                    "role": "cb:admin",
                },
            ),
        ]

    # then each is refused with 403 and a clear message, and nothing happens
    for response in answers:
        assert response.status_code == 403
        assert "Only the Secretariat, or an administrator of a certification body" in _text(
            response
        )
    assert _counts() == before
    assert mail.outbox == []


@pytest.mark.parametrize("who", ["scheme manager", "organization member"])
def test_the_invitation_pages_refuse_who_may_not_invite_with_its_code(
    client: Client, world: World, who: str, django_capture_on_commit_callbacks: Any
) -> None:
    # given a scheme manager, and a plain member of an organization: neither administers
    if who == "scheme manager":
        user = world.team.manager
    else:
        user = make_user("orgmember")
        organization_member_add(actor=world.org_user, organization=world.org, user=user)
    client.force_login(user)
    before = _counts()

    # when they open the invitation pages or force a POST
    with django_capture_on_commit_callbacks(execute=True):
        answers = [
            client.get("/office/invitations/"),
            client.get("/office/invitations/new"),
            client.post(
                "/office/invitations/new",
                {"email": "x@org.example", "target": f"org:{world.org.pk}", "role": "org:member"},
            ),
        ]

    # then each is refused with the code, and nothing is written or sent
    assert [(r.status_code, r.context["error"].code) for r in answers] == [
        (403, INVITATION_NOT_ALLOWED)
    ] * 3
    assert _counts() == before
    assert mail.outbox == []


@pytest.mark.parametrize("target", ["other cb", "other organization", "no such cb", "garbage"])
def test_a_forced_post_to_a_place_not_administered_reads_as_one_that_does_not_exist(
    client: Client, world: World, cb_admin: User, other_cb: Any, target: str
) -> None:
    # given a CB's administrator, and a place they may not invite to (or none at all)
    value = {
        "other cb": f"cb:{other_cb.cb.pk}",
        "other organization": f"org:{world.org.pk}",
        "no such cb": "cb:987654",
        "garbage": "org:x",
    }[target]
    client.force_login(cb_admin)

    # when they force it into the form
    response = client.post(
        "/office/invitations/new", {"email": "x@cb.example", "target": value, "role": "cb:admin"}
    )

    # then the answer is the same for each: a form error that names nothing
    assert response.status_code == 400
    page = _text(response)
    assert "Invite them to: Choose a certification body or an organization you administer." in page
    assert world.org.legal_name not in page
    assert other_cb.cb.code not in page
    assert Invitation.objects.count() == 0


def test_the_service_refusal_does_not_name_the_place(world: World, other_cb: Any) -> None:
    admin = make_user("stranger")
    cb_staff_add(actor=world.secretariat, cb=other_cb.cb, user=admin, role="admin")
    with pytest.raises(PermissionDenied) as refused:
        invitation_create(
            actor=admin, email="x@org.example", organization=world.org, org_role="member"
        )
    assert refused.value.code == "invitation.organization_admin_required"
    assert world.org.legal_name not in refused.value.message
    with pytest.raises(PermissionDenied) as refused:
        invitation_create(actor=admin, email="x@cb.example", cb=world.team.cb, cb_role="admin")
    assert refused.value.code == "invitation.cb_admin_required"
    assert world.team.cb.code not in refused.value.message


def test_pending_list_shows_what_the_viewer_administers_only(
    client: Client, world: World, cb_admin: User, other_cb: Any
) -> None:
    other_admin = make_user("otheradmin")
    cb_staff_add(actor=world.secretariat, cb=other_cb.cb, user=other_admin, role="admin")
    invitation_create(actor=cb_admin, email="mine@cb.example", cb=world.team.cb, cb_role="assessor")
    invitation_create(
        actor=other_admin, email="theirs@other.example", cb=other_cb.cb, cb_role="assessor"
    )
    used = invitation_create(
        actor=cb_admin, email="used@cb.example", cb=world.team.cb, cb_role="assessor"
    )
    invitation_accept(token=used.token, username="used", full_name="U", password=NEW_PASSWORD)

    client.force_login(cb_admin)
    page = _text(client.get("/office/invitations/"))
    assert "mine@cb.example" in page
    assert "theirs@other.example" not in page
    assert "used@cb.example" not in page

    client.force_login(world.secretariat)
    page = _text(client.get("/office/invitations/"))
    assert "mine@cb.example" in page and "theirs@other.example" in page


def test_accepting_through_the_page_then_signing_in(
    world: World, cb_admin: User, django_capture_on_commit_callbacks: Any
) -> None:
    sent = _invite_to_cb(world, cb_admin)
    client = Client()
    url = f"/office/invitations/{sent.token}"

    # the page needs no account, and says what the invitation is for
    page = client.get(url)
    assert page.status_code == 200
    assert page["Cache-Control"].startswith("max-age=0")
    assert f"as assessor at {world.team.cb.code} {world.team.cb.name}" in _text(page)

    # mismatched passwords: the form says so, nothing is made
    response = client.post(
        url,
        {
            "username": "newbie",
            "full_name": "New Bie",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD + "x",
        },
    )
    assert response.status_code == 400
    assert "The two passwords differ." in _text(response)
    # a weak password: the validators' own words, on the password field
    response = client.post(
        url,
        {
            "username": "newbie",
            "full_name": "New Bie",
            "password1": "12345678",
            "password2": "12345678",
        },
    )
    assert response.status_code == 400
    assert "This password is too common." in _text(response)
    assert not User.objects.filter(username="newbie").exists()

    # then a good one: the account is made, and its owner signs in with it
    response = client.post(
        url,
        {
            "username": "newbie",
            "full_name": "New Bie",
            "password1": NEW_PASSWORD,
            "password2": NEW_PASSWORD,
        },
        follow=True,
    )
    assert response.redirect_chain == [("/office/sign-in", 302)]
    assert "Your account newbie is ready" in _text(response)
    signed_in = client.post(
        "/office/sign-in", {"username": "newbie", "password": NEW_PASSWORD}, follow=True
    )
    assert f"{world.team.cb.code} {world.team.cb.name}: assessor" in _text(signed_in)

    # and the link is spent
    again = Client().get(url)
    assert again.status_code == 410
    assert "This invitation has already been used." in _text(again)


def test_an_expired_or_unknown_link_says_so(world: World, cb_admin: User) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        sent = _invite_to_cb(world, cb_admin)
    with time_machine.travel(start + dt.timedelta(days=settings.INVITATION_DAYS, seconds=1)):
        response = Client().get(f"/office/invitations/{sent.token}")
    assert response.status_code == 410
    assert "This invitation has expired." in _text(response)

    response = Client().get("/office/invitations/made-up-token")
    assert response.status_code == 404
    assert "This invitation link is not valid." in _text(response)


# --- two people opening the same link at once --------------------------------------------------


@pytest.mark.skipif(
    "connection.vendor != 'postgresql'",
    reason="needs concurrent connections with row locks (PostgreSQL)",
)
def test_two_acceptances_of_one_invitation_at_once_make_one_account(live_world: World) -> None:
    world = live_world
    admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="admin")
    sent = _invite_to_cb(world, admin)
    barrier = threading.Barrier(2)
    made: list[str] = []
    codes: list[str] = []

    def accept(username: str) -> None:
        try:
            barrier.wait(timeout=10)
            made.append(
                invitation_accept(
                    token=sent.token, username=username, full_name="X", password=NEW_PASSWORD
                ).username
            )
        except DomainError as exc:
            codes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(name,)) for name in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(made) == 1
    assert codes == ["invitation.used"]
    assert User.objects.filter(username__in=["one", "two"]).count() == 1
    assert CBStaff.objects.filter(user__username__in=["one", "two"]).count() == 1
    assert AuditEvent.objects.filter(action="invitation.accept").count() == 1
    assert connection.vendor == "postgresql"


@pytest.mark.parametrize("kind", ["org", "cb"])
def test_an_organization_administrator_learns_nothing_of_other_places_from_the_refusal(
    client: Client, world: World, kind: str
) -> None:
    # given an organization's administrator, another tenant, and an id no place has
    other = World.build()
    model = Organization if kind == "org" else CertificationBody
    existing = other.org.pk if kind == "org" else other.team.cb.pk
    missing = model.objects.order_by("-pk").values_list("pk", flat=True)[0] + 1000
    client.force_login(world.org_user)
    before = _counts()

    # when they force each into the form
    def post(pk: int) -> Any:
        return client.post(
            "/office/invitations/new",
            {"email": "x@org.example", "target": f"{kind}:{pk}", "role": "org:member"},
        )

    theirs, nobodys = post(existing), post(missing)

    # then the refusal is the same, word for word, and names no other tenant
    assert theirs.status_code == nobodys.status_code == 400
    assert theirs.context["form"].errors == nobodys.context["form"].errors
    assert theirs.context["form"].errors["target"] == [
        "Choose a certification body or an organization you administer."
    ]
    assert _text(theirs) == _text(nobodys)
    for response in (theirs, nobodys):
        html = response.content.decode()
        assert other.org.legal_name not in html and other.team.cb.name not in html
    assert _counts() == before
