"""The API token pages of the back office.

An administrator of a CB or an organization, and the Secretariat, issue a token for their
place and see its secret once; the token then answers ``GET /api/v1/token``. The list shows
the tokens a person may see, and revoking one there makes the API refuse it. Who administers
no place is offered none and a forged one is refused; bad input answers 400 and writes
nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any
from urllib.parse import quote

import pytest
from django.http import HttpResponse
from django.test import Client

from apcert.accounts.api_tokens import EXPIRY_DAYS_DEFAULT, api_token_issue
from apcert.accounts.errors import API_TOKEN_NOT_ALLOWED
from apcert.accounts.models import ApiToken, User
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CertificationBody
from apcert.bodies.services import cb_staff_add
from apcert.organizations.services import organization_member_add
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db

LIST = "/office/account/api-tokens/"
NEW = "/office/account/api-tokens/new"
SIGN_IN = "/office/sign-in"


def text(response: HttpResponse) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def secret_of(response: HttpResponse) -> str:
    found = re.search(
        r'<code id="api-token-secret">(apcert_[A-Za-z0-9]+)</code>', response.content.decode()
    )
    assert found, "the secret is shown"
    return found.group(1)


def api_token(secret: str) -> Any:
    """``GET /api/v1/token`` with the token, from a client that is not signed in."""
    return Client().get("/api/v1/token", HTTP_AUTHORIZATION=f"Bearer {secret}")


def form(place: str, **changes: Any) -> dict[str, Any]:
    return {
        "name": "ERP export",
        "place": place,
        "scope": "read",
        "expires_in_days": str(EXPIRY_DAYS_DEFAULT),
        **changes,
    }


def cb_admin_of(world: World, cb: CertificationBody | None = None) -> User:
    user = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=cb or world.team.cb, user=user, role="admin")
    return user


@pytest.fixture
def cb_admin(world: World) -> User:
    return cb_admin_of(world)


# --- issuing -------------------------------------------------------------------------------


def test_a_cb_admin_issues_a_token_and_sees_its_secret_once(
    client: Client, world: World, cb_admin: User
) -> None:
    cb = world.team.cb
    client.force_login(cb_admin)

    # the form offers their CB only, read by default, 90 days
    page = client.get(NEW)
    assert page.status_code == 200
    offered = page.context["form"].fields["place"].choices
    assert offered == [(f"cb:{cb.pk}", f"{cb.code} {cb.name}")]
    assert page.context["form"]["scope"].value() == "read"
    assert page.context["form"]["expires_in_days"].value() == EXPIRY_DAYS_DEFAULT

    response = client.post(NEW, form(f"cb:{cb.pk}"))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = secret_of(response)
    page_text = text(response)
    assert "it will not be shown again" in page_text
    assert "Copy it now" in page_text
    assert f'curl -H "Authorization: Bearer {secret}" http://testserver/api/v1/token' in page_text
    token = ApiToken.objects.get()
    assert (token.cb, token.organization, token.scope, token.issued_by) == (
        cb,
        None,
        "read",
        cb_admin,
    )
    assert token.token_hash and token.token_hash != secret
    assert secret.startswith(token.hint)
    # the secret is nowhere in the database (hashed, and not in the audit trail)
    for row in ApiToken.objects.values_list(flat=False):
        assert secret not in " ".join(map(str, row))
    for event in AuditEvent.objects.all():
        assert secret not in str(event.__dict__)

    # the list afterwards shows the token by its hint, never its secret
    listing = client.get(LIST)
    assert listing.status_code == 200
    assert secret not in listing.content.decode()
    assert f"{token.hint}…" in text(listing)
    assert "ERP export" in text(listing)
    assert "never" in text(listing)

    # and the secret works
    answer = api_token(secret)
    assert answer.status_code == 200
    assert answer.json()["place"] == {"kind": "cb", "id": cb.pk, "code": cb.code, "name": cb.name}
    assert answer.json()["scope"] == "read"


def test_the_list_shows_when_and_from_where_a_token_was_last_used(
    client: Client, world: World, cb_admin: User
) -> None:
    issued = api_token_issue(actor=cb_admin, name="Sync", place=world.team.cb, scope="write")
    assert api_token(issued.secret).status_code == 200
    client.force_login(cb_admin)
    listing = text(client.get(LIST))
    assert "from 127.0.0.1" in listing
    assert "Read and write" in listing
    assert "active" in listing


def test_an_organization_admin_issues_for_their_organization(client: Client, world: World) -> None:
    client.force_login(world.org_user)
    page = client.get(NEW)
    assert page.context["form"].fields["place"].choices == [
        (f"org:{world.org.pk}", world.org.legal_name)
    ]
    response = client.post(NEW, form(f"org:{world.org.pk}", scope="write"))
    assert response.status_code == 200
    answer = api_token(secret_of(response))
    assert answer.status_code == 200
    assert answer.json()["place"]["kind"] == "organization"
    assert answer.json()["place"]["id"] == world.org.pk
    assert answer.json()["scope"] == "write"


def test_the_secretariat_issues_for_the_secretariat(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    page = client.get(NEW)
    assert page.context["form"].fields["place"].choices == [("secretariat", "The Secretariat")]
    response = client.post(NEW, form("secretariat"))
    assert response.status_code == 200
    answer = api_token(secret_of(response))
    assert answer.status_code == 200
    assert answer.json()["place"]["kind"] == "secretariat"
    assert ApiToken.objects.get().cb is None
    assert ApiToken.objects.get().organization is None


def test_no_one_issues_for_a_place_they_do_not_administer(
    client: Client, world: World, cb_admin: User
) -> None:
    other = World.make_cb(world.secretariat, "OTHER", dt.date(2020, 1, 1), programmes=("AP",))
    client.force_login(cb_admin)

    # the other CB and the organization are not offered
    offered = client.get(NEW).context["form"].fields["place"].choices
    assert [value for value, _ in offered] == [f"cb:{world.team.cb.pk}"]

    # and a forged POST naming them is refused, nothing written
    before = AuditEvent.objects.count()
    for place in (f"cb:{other.cb.pk}", f"org:{world.org.pk}", "secretariat", "cb:987654"):
        response = client.post(NEW, form(place))
        assert response.status_code == 400, place
        assert "Acts for: Choose a place you administer." in text(response)
        assert other.cb.name not in text(response)
    assert ApiToken.objects.count() == 0
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("who", ["scheme manager", "organization member"])
def test_who_administers_nothing_is_refused_both_pages(
    client: Client, world: World, who: str
) -> None:
    if who == "scheme manager":
        user = world.team.manager
    else:
        user = make_user("orgmember")
        organization_member_add(actor=world.org_user, organization=world.org, user=user)
    client.force_login(user)
    answers = [
        client.get(LIST),
        client.get(NEW),
        client.post(NEW, form(f"org:{world.org.pk}")),
    ]
    assert [(r.status_code, r.context["error"].code) for r in answers] == [
        (403, API_TOKEN_NOT_ALLOWED)
    ] * 3
    assert "may issue API tokens" in text(answers[0])
    assert ApiToken.objects.count() == 0
    # and neither the navigation nor the home page links to them
    home = client.get("/office/").content.decode()
    assert LIST not in home


def test_the_navigation_and_home_link_to_the_tokens_for_an_administrator(
    client: Client, world: World, cb_admin: User
) -> None:
    client.force_login(cb_admin)
    home = client.get("/office/").content.decode()
    assert home.count(f'href="{LIST}"') == 2  # the navigation and the home page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "x" * 101}, "name", "at most 100 characters"),
        ({"expires_in_days": "0"}, "expires_in_days", "greater than or equal to 1"),
        ({"expires_in_days": "400"}, "expires_in_days", "less than or equal to 366"),
        ({"expires_in_days": "soon"}, "expires_in_days", "Enter a whole number."),
        ({"scope": "admin"}, "scope", "Select a valid choice."),
    ],
)
def test_bad_input_answers_400_with_the_error_and_writes_nothing(
    client: Client, world: World, cb_admin: User, changes: dict[str, str], field: str, message: str
) -> None:
    client.force_login(cb_admin)
    before = AuditEvent.objects.count()
    response = client.post(NEW, form(f"cb:{world.team.cb.pk}", **changes))
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert "Please correct this" in text(response)
    assert ApiToken.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_a_refusal_of_the_service_is_shown_above_the_form(
    client: Client, world: World, cb_admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service checks the right to issue again (it may have been lost meanwhile): its
    # refusal names no field, so it is shown above the form.
    monkeypatch.setattr("apcert.accounts.api_tokens.may_issue_for", lambda actor, place: False)
    client.force_login(cb_admin)
    response = client.post(NEW, form(f"cb:{world.team.cb.pk}"))
    assert response.status_code == 400
    assert response.context["form"].non_field_errors() == [
        f"Only an administrator of {world.team.cb} may issue its API tokens."
    ]
    assert ApiToken.objects.count() == 0


# --- the list and revoking -----------------------------------------------------------------


def test_revoking_from_the_list_makes_the_api_refuse_the_token(
    client: Client, world: World, cb_admin: User
) -> None:
    issued = api_token_issue(actor=cb_admin, name="Sync", place=world.team.cb, scope="read")
    assert api_token(issued.secret).status_code == 200
    client.force_login(cb_admin)

    listing = client.get(LIST)
    action = f"/office/account/api-tokens/{issued.token.pk}/revoke"
    assert f'action="{action}"' in listing.content.decode()
    response = client.post(action, follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    page = text(response)
    assert f"The API token Sync ({issued.token.hint}…) is revoked" in page
    assert "revoked " in page and f"by {cb_admin}" in page
    assert f'action="{action}"' not in response.content.decode()  # no button any more
    token = ApiToken.objects.get()
    assert token.revoked_by == cb_admin
    assert api_token(issued.secret).status_code == 401
    # revoking again is refused with the reason
    again = client.post(action)
    assert again.status_code == 400
    assert "revoked already" in text(again)


def test_revoke_takes_a_post_only(client: Client, world: World, cb_admin: User) -> None:
    issued = api_token_issue(actor=cb_admin, name="Sync", place=world.team.cb, scope="read")
    client.force_login(cb_admin)
    response = client.get(f"/office/account/api-tokens/{issued.token.pk}/revoke")
    assert response.status_code == 405
    assert ApiToken.objects.get().revoked_at is None


def test_who_may_not_revoke_a_token_gets_404_and_it_stays_active(
    client: Client, world: World, cb_admin: User
) -> None:
    issued = api_token_issue(actor=cb_admin, name="Sync", place=world.team.cb, scope="read")
    other = World.make_cb(world.secretariat, "OTHER", dt.date(2020, 1, 1), programmes=("AP",))
    other_admin = cb_admin_of(world, other.cb)
    action = f"/office/account/api-tokens/{issued.token.pk}/revoke"
    for user in (other_admin, world.org_user, world.team.manager):
        client.force_login(user)
        assert client.post(action).status_code == 404
    client.force_login(other_admin)
    assert client.post("/office/account/api-tokens/987654/revoke").status_code == 404
    assert ApiToken.objects.get().revoked_at is None
    assert api_token(issued.secret).status_code == 200


def test_the_list_shows_only_the_tokens_the_user_may_see(
    client: Client, world: World, cb_admin: User
) -> None:
    other = World.make_cb(world.secretariat, "OTHER", dt.date(2020, 1, 1), programmes=("AP",))
    other_admin = cb_admin_of(world, other.cb)
    api_token_issue(actor=cb_admin, name="Ours", place=world.team.cb, scope="read")
    api_token_issue(actor=other_admin, name="Theirs", place=other.cb, scope="read")
    api_token_issue(actor=world.org_user, name="Plating", place=world.org, scope="read")

    def names(user: User) -> list[str]:
        client.force_login(user)
        response = client.get(LIST)
        assert response.status_code == 200
        return sorted(token.name for token, _ in response.context["rows"])

    assert names(cb_admin) == ["Ours"]
    assert names(other_admin) == ["Theirs"]
    assert names(world.org_user) == ["Plating"]
    assert names(world.secretariat) == ["Ours", "Plating", "Theirs"]
    client.force_login(cb_admin)
    page = text(client.get(LIST))
    assert "Theirs" not in page and other.cb.name not in page
    # the Secretariat may revoke any of them
    client.force_login(world.secretariat)
    assert all(revocable for _, revocable in client.get(LIST).context["rows"])


def test_the_list_says_when_there_is_no_token(client: Client, world: World, cb_admin: User) -> None:
    client.force_login(cb_admin)
    response = client.get(LIST)
    assert response.status_code == 200
    assert "No API token has been issued for a place you administer yet." in text(response)
    assert f'href="{NEW}"' in response.content.decode()


def test_who_lost_the_right_to_issue_still_sees_and_revokes_their_token(
    client: Client, world: World, cb_admin: User
) -> None:
    from apcert.bodies.models import CBStaff

    issued = api_token_issue(actor=cb_admin, name="Sync", place=world.team.cb, scope="read")
    CBStaff.objects.filter(user=cb_admin).update(active=False)
    client.force_login(cb_admin)
    listing = client.get(LIST)
    assert listing.status_code == 200
    assert f'href="{NEW}"' not in listing.content.decode()
    assert client.get(NEW).status_code == 403
    # the token no longer works (its issuer no longer administers the CB), and it may be
    # revoked by its issuer all the same
    assert api_token(issued.secret).status_code == 401
    response = client.post(f"/office/account/api-tokens/{issued.token.pk}/revoke")
    assert response.status_code == 302


# --- signing in ----------------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST, NEW])
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{SIGN_IN}?next={quote(url)}"


def test_an_anonymous_post_is_sent_to_sign_in_and_writes_nothing(
    client: Client, world: World
) -> None:
    issued = api_token_issue(actor=world.secretariat, name="Sync", place=None, scope="read")
    for url in (NEW, f"/office/account/api-tokens/{issued.token.pk}/revoke"):
        response = client.post(url, form("secretariat"))
        assert response.status_code == 302
        assert response["Location"].startswith(SIGN_IN)
    assert ApiToken.objects.count() == 1
    assert ApiToken.objects.get().revoked_at is None
