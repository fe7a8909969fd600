"""Accounts and sign-in in the back office.

Sign-in and sign-out, the sign-in requirement on every page but the public register, the
home page's roles, password change and reset by e-mail, the lockout after repeated failed
sign-ins and its expiry, sessions that end when idle, and Argon2id as the password hasher.
"""

from __future__ import annotations

import datetime as dt
import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import time_machine
from django.conf import settings
from django.contrib.auth.hashers import identify_hasher, make_password
from django.core import mail
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.utils import timezone

from apcert import env
from apcert.accounts.models import User
from apcert.bodies.services import cb_staff_add
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "x-Long-password-1"  # what tests.factories.make_user gives everyone
SIGN_IN = "/office/sign-in"
HOME = "/office/"


def sign_in(client: Client, username: str, password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(SIGN_IN, {"username": username, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def text(response: HttpResponse) -> str:
    """The page's text with tags dropped and white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


@pytest.fixture
def person() -> User:
    return make_user("person", email="person@cb.example")


# --- sign-in and sign-out ----------------------------------------------------------------------


def test_sign_in_page_is_open_and_labels_its_fields(client: Client) -> None:
    response = client.get(SIGN_IN)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label for="id_username">Username</label>' in html
    assert '<label for="id_password">Password</label>' in html
    assert 'href="/office/password/reset"' in html


def test_sign_in_then_home_then_sign_out(client: Client, person: User) -> None:
    # given a person with an account, when they sign in
    response = sign_in(client, person.username)

    # then they land on the back office home, signed in
    assert response.status_code == 302
    assert response["Location"] == HOME
    assert signed_in(client)
    home = client.get(HOME)
    assert home.status_code == 200
    assert f"Signed in as {person.full_name} ({person.username})" in text(home)

    # when they sign out (a POST), they are back on the sign-in page, and signed out
    out = client.post("/office/sign-out", follow=True)
    assert out.redirect_chain == [(SIGN_IN, 302)]
    assert "You are signed out." in text(out)
    assert not signed_in(client)
    assert client.get(HOME)["Location"] == f"{SIGN_IN}?next=/office/"


def test_sign_out_is_a_post_only(client: Client, person: User) -> None:
    client.force_login(person)
    assert client.get("/office/sign-out").status_code == 405
    assert signed_in(client)


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: Client, person: User
) -> None:
    response = sign_in(client, person.username, "not-the-password")
    assert response.status_code == 200
    assert "Please enter a correct username and password" in text(response)
    assert not signed_in(client)


def test_sign_in_goes_back_to_the_page_asked_for(client: Client, person: User) -> None:
    response = client.get("/office/password/change")
    assert response["Location"] == f"{SIGN_IN}?next={quote('/office/password/change')}"
    response = client.post(
        SIGN_IN,
        {"username": person.username, "password": PASSWORD, "next": "/office/password/change"},
    )
    assert response["Location"] == "/office/password/change"


def test_an_inactive_account_cannot_sign_in(client: Client, person: User) -> None:
    person.is_active = False
    person.save(update_fields=["is_active"])
    assert sign_in(client, person.username).status_code == 200
    assert not signed_in(client)


# --- what needs an account ---------------------------------------------------------------------

BACK_OFFICE = [
    "/office/",
    "/office/invitations/",
    "/office/invitations/new",
    "/office/password/change",
    "/office/password/change/done",
]


@pytest.mark.parametrize("url", BACK_OFFICE)
def test_back_office_pages_send_anonymous_visitors_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{SIGN_IN}?next={quote(url)}"


def test_a_post_without_an_account_is_sent_to_sign_in_and_does_nothing(client: Client) -> None:
    response = client.post("/office/invitations/new", {"email": "x@example.org"})
    assert response.status_code == 302
    assert response["Location"].startswith(SIGN_IN)


PUBLIC = [
    "/",
    "/?q=plating",
    "/bodies/",
    "/certificates/IECQ-A%20XX%2099.0001",
    "/register/feed.atom",
    "/register/export.csv",
    "/api/public/openapi.json",
    "/api/public/certificates/IECQ-A%20XX%2099.0001",
]


@pytest.mark.parametrize("url", PUBLIC)
def test_public_register_stays_open_and_sets_no_cookie(
    client: Client, world: World, url: str
) -> None:
    response = client.get(url)
    assert response.status_code in (200, 404), (url, response.status_code)
    assert "Location" not in response
    assert not response.cookies, url
    assert "Cookie" not in response.get("Vary", ""), url


@pytest.mark.parametrize("url", ["/", "/bodies/", "/register/feed.json"])
def test_public_register_sets_no_cookie_for_a_signed_in_user_either(
    client: Client, world: World, person: User, url: str
) -> None:
    # given a signed-in user, when they read the public register
    client.force_login(person)
    response = client.get(url)

    # then the page neither reads nor renews the session
    assert response.status_code == 200
    assert not response.cookies, url
    assert "Cookie" not in response.get("Vary", ""), url


@pytest.mark.parametrize("url", [SIGN_IN, "/office/password/reset", "/office/password/reset/sent"])
def test_sign_in_and_password_reset_pages_need_no_account(client: Client, url: str) -> None:
    assert client.get(url).status_code == 200


def test_unknown_paths_answer_404_not_a_redirect(client: Client) -> None:
    assert client.get("/no-such-page").status_code == 404


def test_the_django_admin_keeps_its_own_sign_in(client: Client) -> None:
    # Anonymous: the admin's own login page, not the back office's
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    # A staff account signs in there, through django-axes's check
    staff = make_user("staff", is_staff=True, is_secretariat=True)
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": staff.username, "password": PASSWORD, "next": "/admin/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_test_client_signs_in_with_force_login_or_with_login_given_a_request(
    client: Client, person: User
) -> None:
    # django-axes checks every authenticate() and needs the request to count by address:
    # Client.login() must pass one; Client.force_login() skips authenticate() altogether.
    client.force_login(person)
    assert client.get(HOME).status_code == 200
    other = Client()
    assert other.login(request=HttpRequest(), username=person.username, password=PASSWORD)
    assert other.get(HOME).status_code == 200
    with pytest.raises(ValueError, match="requires a request"):
        Client().login(username=person.username, password=PASSWORD)


# --- the home page -----------------------------------------------------------------------------


def test_home_lists_cb_roles_per_cb_organizations_and_the_secretariat(
    client: Client, world: World
) -> None:
    # given a person who is decision maker and assessor at one CB, admin of another,
    # an organization's administrator, and Secretariat staff
    person = world.team.decision_maker2  # decision maker and assessor at the world's CB
    other = World.make_cb(world.secretariat, "HOME2", dt.date(2020, 1, 1), programmes=("AP",))
    cb_staff_add(actor=world.secretariat, cb=other.cb, user=person, role="admin")
    from apcert.organizations.services import organization_member_add

    organization_member_add(actor=world.org_user, organization=world.org, user=person, role="admin")
    person.is_secretariat = True
    person.save(update_fields=["is_secretariat"])

    client.force_login(person)
    page = text(client.get(HOME))

    cb = world.team.cb
    assert f"{cb.code} {cb.name}: assessor, decision maker" in page
    assert f"HOME2 {other.cb.name}: CB administrator" in page
    assert f"{world.org.legal_name} (DE): organization administrator" in page
    assert "IECQ Secretariat" in page
    assert "Invite a colleague" in page


def test_home_of_someone_without_a_role_says_so(client: Client, person: User) -> None:
    client.force_login(person)
    page = text(client.get(HOME))
    assert "You hold no role yet" in page
    assert "Invite a colleague" not in page


def test_home_leaves_out_a_cb_role_that_is_no_longer_active(client: Client, world: World) -> None:
    from apcert.bodies.models import CBStaff

    manager = world.team.manager
    CBStaff.objects.filter(user=manager).update(active=False)
    client.force_login(manager)
    page = text(client.get(HOME))
    assert world.team.cb.code not in page
    assert "You hold no role yet" in page


# --- password change and reset -----------------------------------------------------------------


def test_password_change(client: Client, person: User) -> None:
    client.force_login(person)
    new = "a-Fresh-passphrase-42"
    response = client.post(
        "/office/password/change",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert response["Location"] == "/office/password/change/done"
    # still signed in here (the session follows the new password) ...
    assert client.get(HOME).status_code == 200
    # ... and from now on only the new password works
    other = Client()
    assert sign_in(other, person.username, PASSWORD).status_code == 200
    assert sign_in(other, person.username, new).status_code == 302


def test_password_change_applies_the_password_validators(client: Client, person: User) -> None:
    client.force_login(person)
    response = client.post(
        "/office/password/change",
        {"old_password": PASSWORD, "new_password1": "12345678", "new_password2": "12345678"},
    )
    assert response.status_code == 200
    assert "This password is too common." in text(response)
    person.refresh_from_db()
    assert person.check_password(PASSWORD)


def test_password_reset_by_email(client: Client, person: User) -> None:
    # given a person who forgot their password, when they ask for a reset link
    response = client.post("/office/password/reset", {"email": "person@cb.example"})
    assert response["Location"] == "/office/password/reset/sent"

    # then one e-mail goes to their address, through the configured backend, with a link
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["person@cb.example"]
    assert message.subject == "apcert: set a new password"
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    link = re.search(r"http://testserver(/office/password/reset/\S+)", message.body)
    assert link is not None

    # when they follow it and choose a new password
    form = client.get(link.group(1), follow=True)
    assert form.status_code == 200
    assert "Choose a new password" in text(form)
    set_password_url = form.redirect_chain[-1][0]
    new = "a-Fresh-passphrase-42"
    done = client.post(set_password_url, {"new_password1": new, "new_password2": new})
    assert done["Location"] == "/office/password/reset/done"

    # then they sign in with it, and no longer with the old one
    assert sign_in(Client(), person.username, PASSWORD).status_code == 200
    assert sign_in(client, person.username, new)["Location"] == HOME
    # and the link works once only
    assert "This link does not work" in text(client.get(link.group(1), follow=True))


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    client: Client,
) -> None:
    response = client.post("/office/password/reset", {"email": "nobody@nowhere.example"})
    assert response["Location"] == "/office/password/reset/sent"
    assert mail.outbox == []


# --- lockout after repeated failures -----------------------------------------------------------


def _fail(client: Client, username: str, times: int, **extra: Any) -> list[Any]:
    return [sign_in(client, username, "wrong-password", **extra) for _ in range(times)]


def test_the_shipped_lockout_is_5_failures_and_15_minutes() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert dt.timedelta(minutes=15) == settings.AXES_COOLOFF_TIME
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_lockout_after_repeated_failed_sign_ins(client: Client, person: User) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    # given limit - 1 failures, the sign-in page still answers with its form
    answers = _fail(client, person.username, limit - 1)
    assert [r.status_code for r in answers] == [200] * (limit - 1)

    # when the limit is reached
    locked = _fail(client, person.username, 1)[0]

    # then the answer is the lockout page (429): clear, and no stack trace
    assert locked.status_code == 429
    assert locked["Content-Type"] == "text/html; charset=utf-8"
    page = text(locked)
    assert "Signing in is locked for a while" in page
    assert f"There were {limit} failed attempts to sign in as {person.username}" in page
    assert "locked for 15 minutes from the last failed attempt. It unlocks by itself" in page
    assert "Traceback" not in page

    # and even the right password is refused while the lock lasts
    assert sign_in(client, person.username).status_code == 429
    assert not signed_in(client)


def test_lockout_is_per_username_and_address(client: Client, person: User) -> None:
    other = make_user("other")
    _fail(client, person.username, settings.AXES_FAILURE_LIMIT)
    assert sign_in(client, person.username).status_code == 429
    # the same username from another address, and another username from this one, sign in
    assert sign_in(Client(), person.username, REMOTE_ADDR="192.0.2.7").status_code == 302
    assert sign_in(Client(), other.username).status_code == 302


def test_lockout_expires_by_itself_after_the_cool_off(client: Client, person: User) -> None:
    cool_off = settings.AXES_COOLOFF_TIME
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        _fail(client, person.username, settings.AXES_FAILURE_LIMIT)
    # a minute before the cool-off ends, still locked (and that attempt does not prolong it)
    with time_machine.travel(start + cool_off - dt.timedelta(minutes=1), tick=False):
        assert sign_in(client, person.username).status_code == 429
    # once it has passed, the right password signs in, with nobody having done anything
    with time_machine.travel(start + cool_off + dt.timedelta(seconds=1), tick=False):
        response = sign_in(client, person.username)
        assert response.status_code == 302
        assert response["Location"] == HOME
        assert signed_in(client)


def test_a_successful_sign_in_starts_the_count_again(client: Client, person: User) -> None:
    limit = settings.AXES_FAILURE_LIMIT
    _fail(client, person.username, limit - 1)
    assert sign_in(client, person.username).status_code == 302
    client.post("/office/sign-out")
    answers = _fail(client, person.username, limit - 1)
    assert [r.status_code for r in answers] == [200] * (limit - 1)


def test_the_admin_login_is_locked_the_same_way(client: Client) -> None:
    staff = make_user("staff", is_staff=True, is_secretariat=True)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/admin/login/", {"username": staff.username, "password": "wrong"})
    response = client.post("/admin/login/", {"username": staff.username, "password": PASSWORD})
    assert response.status_code == 429
    assert "Signing in is locked for a while" in text(response)


def test_lockout_counts_the_address_a_trusted_proxy_gives(
    client: Client, person: User, settings: Any
) -> None:
    settings.TRUSTED_PROXY_HEADER = "X-Forwarded-For"
    behind = {"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.9"}
    _fail(client, person.username, settings.AXES_FAILURE_LIMIT, **behind)
    assert sign_in(client, person.username, **behind).status_code == 429
    elsewhere = {"HTTP_X_FORWARDED_FOR": "203.0.113.10"}
    assert sign_in(Client(), person.username, **elsewhere).status_code == 302


# --- sessions ----------------------------------------------------------------------------------


def test_the_shipped_session_lasts_8_hours_without_use() -> None:
    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is False  # renewed by back-office requests only


def test_a_session_ends_after_the_idle_time(client: Client, person: User) -> None:
    age = dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        assert sign_in(client, person.username).status_code == 302
    with time_machine.travel(start + age - dt.timedelta(minutes=1), tick=False):
        assert client.get(HOME).status_code == 200
    # each back-office request renewed it: 8 hours after the last one, it has ended
    last = start + age - dt.timedelta(minutes=1)
    with time_machine.travel(last + age - dt.timedelta(minutes=1), tick=False):
        assert client.get(HOME).status_code == 200
    with time_machine.travel(last + 2 * age, tick=False):
        response = client.get(HOME)
        assert response.status_code == 302
        assert response["Location"].startswith(SIGN_IN)


def test_each_back_office_request_renews_the_session_cookie(client: Client, person: User) -> None:
    client.force_login(person)
    response = client.get(HOME)
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["max-age"] == settings.SESSION_COOKIE_AGE
    assert cookie["httponly"]


def test_reading_the_public_register_does_not_keep_a_session_alive(
    client: Client, world: World, person: User
) -> None:
    age = dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.force_login(person)
        client.get(HOME)
    with time_machine.travel(start + age / 2, tick=False):
        assert client.get("/").status_code == 200
    with time_machine.travel(start + age + dt.timedelta(minutes=1), tick=False):
        assert client.get(HOME).status_code == 302


# --- passwords are hashed with Argon2id ----------------------------------------------------------


@pytest.fixture
def shipped_hashers(settings: Any) -> None:
    from apcert import settings as shipped

    settings.PASSWORD_HASHERS = shipped.PASSWORD_HASHERS


def test_argon2id_is_the_first_hasher_and_hashes_new_passwords(shipped_hashers: None) -> None:
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    user = User.objects.create_user(username="hashed", password="correct horse battery")
    assert user.password.startswith("argon2$argon2id$")
    assert identify_hasher(user.password).algorithm == "argon2"


def test_an_older_hash_becomes_argon2id_at_the_next_sign_in(
    shipped_hashers: None, client: Client
) -> None:
    user = User.objects.create(
        username="legacy",
        password=make_password(PASSWORD, hasher="pbkdf2_sha256"),
    )
    assert sign_in(client, user.username).status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$")


# --- settings from the environment ---------------------------------------------------------------


@pytest.fixture
def reload_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    monkeypatch.setenv("APCERT_VAR_DIR", str(tmp_path / "var"))

    def load(**values: str) -> Any:
        for key, value in values.items():
            monkeypatch.setenv(key, value)
        return importlib.reload(env)

    yield load
    monkeypatch.undo()
    importlib.reload(env)


def test_sign_in_settings_come_from_the_environment(reload_env: Any) -> None:
    e = reload_env(
        APCERT_LOGIN_FAILURE_LIMIT="3",
        APCERT_LOGIN_COOLOFF_MINUTES="30",
        APCERT_SESSION_AGE="3600",
        APCERT_INVITATION_DAYS="14",
        APCERT_SITE_URL="https://apcert.example.org/",
    )
    assert (e.LOGIN_FAILURE_LIMIT, e.LOGIN_COOLOFF_MINUTES) == (3, 30)
    assert (e.SESSION_AGE_SECONDS, e.INVITATION_DAYS) == (3600, 14)
    assert e.SITE_URL == "https://apcert.example.org"


@pytest.mark.parametrize(
    "name", ["APCERT_LOGIN_FAILURE_LIMIT", "APCERT_LOGIN_COOLOFF_MINUTES", "APCERT_SESSION_AGE"]
)
def test_a_zero_or_a_word_is_a_configuration_error(reload_env: Any, name: str) -> None:
    # (each reload defines ConfigurationError anew: match it by name)
    with pytest.raises(Exception, match=f"{name} must be 1 or more") as zero:
        reload_env(**{name: "0"})
    with pytest.raises(Exception, match=f"{name} must be a whole number") as word:
        reload_env(**{name: "many"})
    assert type(zero.value).__name__ == type(word.value).__name__ == "ConfigurationError"


def test_back_office_pages_use_no_external_assets(client: Client, person: User) -> None:
    for page in (client.get(SIGN_IN), client.get("/office/password/reset")):
        html = page.content.decode()
        assert not re.search(r"""(src|href)=["']https?://""", html)
        assert '<link rel="stylesheet" href="/static/web/web.css">' in html
    client.force_login(person)
    html = client.get(HOME).content.decode()
    assert not re.search(r"""(src|href)=["']https?://""", html)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
