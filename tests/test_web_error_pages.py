"""The pages shown when no page can be: an unknown address or a record the visitor may not
see (404), a refusal (403), a server error (500) and a form sent with an expired CSRF token.

Each one says what happened and offers a way back; under /office/ in the back office's
layout, elsewhere in the public register's, which reads no session and sets no cookie.
"""

from __future__ import annotations

import html
import re

import pytest
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.test import Client, RequestFactory
from django.urls import path

from apcert.accounts.services import invitation_accept, invitation_create
from apcert.core.errors import NotFound, PermissionDenied, RuleViolation
from apcert.web.errors import error_page
from apcert.web.views_errors import csrf_failure
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db

PASSWORD = "x-Long-password-1"  # tests.factories.make_user


def text(response: HttpResponse) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split()))


def h1(response: HttpResponse) -> str:
    found = re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S)
    assert found is not None
    return found.group(1).strip()


def links(response: HttpResponse) -> dict[str, str]:
    """Each link's text and address."""
    return {
        html.unescape(" ".join(re.sub(r"<[^>]+>", "", label).split())): html.unescape(href)
        for href, label in re.findall(
            r'<a [^>]*href="([^"]*)"[^>]*>(.*?)</a>', response.content.decode(), re.S
        )
    }


# --- 404 --------------------------------------------------------------------------------------


def test_an_unknown_office_address_has_the_office_layout_and_a_way_home(
    client: Client, world: World
) -> None:
    client.force_login(world.team.manager)
    response = client.get("/office/no-such-page")
    assert response.status_code == 404
    assert h1(response) == "Page not found"
    assert "There is no page at /office/no-such-page that you may see." in text(response)
    assert 'aria-label="Back office"' in response.content.decode()  # the office navigation
    assert links(response)["Back office home"] == "/office/"


def test_a_record_of_another_cb_is_the_same_404_with_a_way_back_to_the_section(
    client: Client, world: World
) -> None:
    # given the staff of another CB, and an address naming a record they may not see
    other = World.make_cb(world.secretariat, "OTH", world.team.cb.acceptances.first().accepted_on)
    client.force_login(other.manager)
    response = client.get(
        "/office/cb/applications/987654/", HTTP_REFERER="http://testserver/office/"
    )
    assert response.status_code == 404
    assert h1(response) == "Page not found"
    found = links(response)
    assert found["Back to the certification body's pages"] == "/office/cb/applications/"
    assert found["Back to the page you came from"] == "http://testserver/office/"
    assert found["Back office home"] == "/office/"


def test_a_referer_from_another_site_is_not_offered_as_the_way_back(
    client: Client, world: World
) -> None:
    client.force_login(world.org_user)
    response = client.get("/office/nowhere", HTTP_REFERER="https://elsewhere.example/page")
    assert "Back to the page you came from" not in links(response)


def test_an_unknown_office_address_signed_out_offers_to_sign_in(client: Client) -> None:
    response = client.get("/office/zzz")
    assert response.status_code == 404
    assert h1(response) == "Page not found"
    assert links(response)["Sign in"] == "/office/sign-in"
    assert "Back office home" not in links(response)


def test_an_unknown_public_address_has_the_register_layout_and_sets_no_cookie(
    client: Client,
) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert h1(response) == "Page not found"
    assert "IECQ Approved Process register" in text(response)
    assert links(response)["Search the register"] == "/"
    assert response.cookies == {}
    assert "Cookie" not in response.get("Vary", "")


# --- 403 and other refusals -------------------------------------------------------------------


def test_a_refused_section_is_headed_not_allowed_and_names_the_page_tried(
    client: Client, world: World
) -> None:
    client.force_login(world.org_user)
    response = client.get("/office/secretariat/")
    assert response.status_code == 403
    assert h1(response) == "Not allowed"
    page = text(response)
    assert "You tried to open “Certification bodies”." in page
    assert "Error code: permission.secretariat_required" in page
    # the section refused is not offered as the way back
    assert "Back to the Secretariat's pages" not in links(response)
    assert links(response)["Back office home"] == "/office/"


def test_a_refused_form_says_it_was_sent(client: Client, world: World) -> None:
    client.force_login(world.team.manager)  # not an administrator: may not invite
    response = client.post(
        "/office/invitations/new",
        {"email": "x@cb.example", "target": f"cb:{world.team.cb.pk}", "role": "cb:admin"},
    )
    assert response.status_code == 403
    assert h1(response) == "Not allowed"
    assert "You tried to send the form “Invite a colleague”." in text(response)


def test_a_rule_refusal_is_headed_this_is_not_possible(client: Client, world: World) -> None:
    sent = invitation_create(
        actor=world.secretariat, email="a@cb.example", cb=world.team.cb, cb_role="assessor"
    )
    invitation_accept(token=sent.token, username="newbie", full_name="N", password=PASSWORD)
    response = client.get(f"/office/invitations/{sent.token}")
    assert response.status_code == 410
    assert h1(response) == "This is not possible"
    assert "Error code: invitation.used" in text(response)


@pytest.mark.parametrize(
    ("error", "heading"),
    [
        (PermissionDenied("No.", code="permission.x"), "Not allowed"),
        (RuleViolation("Too late.", code="rule.x"), "This is not possible"),
        (NotFound("Gone.", code="thing.not_found"), "Not found"),
    ],
)
def test_the_refusal_heading_says_what_happened(
    rf: RequestFactory, error: PermissionDenied, heading: str
) -> None:
    request = rf.get("/office/cb/applications/1/")
    request.user = make_user("viewer")
    response = error_page(request, error, title="Application 1")
    assert response.status_code == error.http_status
    assert h1(response) == heading
    assert f"Error code: {error.code}" in text(response)
    assert error.message in text(response)


# --- 500 --------------------------------------------------------------------------------------


@login_not_required
def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("broken on purpose")


urlpatterns = [path("boom", _boom)]


@pytest.mark.urls(__name__)
def test_a_server_error_shows_the_static_500_page(client: Client) -> None:
    client.raise_request_exception = False
    response = client.get("/boom")
    assert response.status_code == 500
    assert h1(response) == "Something went wrong on our side"
    assert links(response) == {
        "apcert": "/",
        "Back office home": "/office/",
        "Public register": "/",
    }
    assert "/static/web/web.css" in response.content.decode()


def test_the_500_page_needs_no_context_and_no_database(
    django_assert_num_queries: object,
) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        html = loader.get_template("500.html").render()
    assert "Something went wrong on our side" in html


# --- an expired form --------------------------------------------------------------------------


def test_a_form_sent_without_its_csrf_token_says_to_reload_it(world: World) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/office/sign-in",
        {"username": "x", "password": "y"},
        HTTP_REFERER="http://testserver/office/sign-in?next=/office/",
    )
    assert response.status_code == 403
    assert h1(response) == "The form has expired"
    assert "Reload the form and send it again" in text(response)
    assert (
        links(response)["open the form again"] == "http://testserver/office/sign-in?next=/office/"
    )


def test_a_public_form_sent_without_its_csrf_token_has_the_register_layout() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/bodies/", {})
    assert response.status_code == 403
    assert h1(response) == "The form has expired"
    assert "Reload the page and send the form again." in text(response)
    assert response.cookies == {}


def test_the_csrf_failure_view_is_the_one_django_calls(settings: object) -> None:
    from django.middleware.csrf import _get_failure_view

    assert _get_failure_view() is csrf_failure
