"""Choosers: a search box among the CBs and organizations a form may name, in place of a
drop-down of hundreds.

The endpoints answer at most 20 matches as radio buttons, among the places the viewer may
choose only: no other organization's name ever reaches the page. Without JavaScript, the
search box's "Find" button sends the form back, which shows the matches, keeps the answers
and saves nothing.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client

from apcert.accounts.models import Invitation, User
from apcert.applications.models import Application
from apcert.audit.models import AuditEvent
from apcert.bodies.services import cb_staff_add
from apcert.organizations.models import Organization
from apcert.organizations.services import organization_create
from tests.factories import DAY0, World, make_user

pytestmark = pytest.mark.django_db

TARGETS = "/office/choosers/invitation-targets"
CBS = "/office/choosers/certification-bodies"
INVITE = "/office/invitations/new"


def radios(response: Any, name: str) -> dict[str, str]:
    """Each radio button of field ``name``: its value and its label's text."""
    page = response.content.decode()
    found = {}
    for value, id_ in re.findall(
        rf'<input type="radio" name="{name}" value="([^"]+)" id="([^"]+)"', page
    ):
        label = re.search(rf'<label for="{id_}">(.*?)</label>', page)
        assert label is not None, id_
        found[value] = html.unescape(label.group(1))
    return found


def count_text(response: Any) -> str:
    found = re.search(r'class="hint chooser-count"[^>]*>(.*?)</p>', response.content.decode())
    assert found is not None
    return html.unescape(found.group(1))


@pytest.fixture
def many(world: World) -> list[Organization]:
    """30 more organizations: 25 named "Copper ..." (one in Japan), 5 "Zinc ..."."""
    made = []
    for i in range(30):
        made.append(
            organization_create(
                actor=world.secretariat,
                legal_name=f"Copper Foil {i:02d} Ltd" if i < 25 else f"Zinc Works {i}",
                country="JP" if i == 3 else "GB",
            )
        )
    return made


@pytest.fixture
def cb_admin(world: World) -> User:
    admin = make_user("cbadmin")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=admin, role="admin")
    return admin


# --- the invitation form's chooser ------------------------------------------------------------


def test_the_secretariat_searches_every_place_and_gets_at_most_20(
    client: Client, world: World, many: list[Organization]
) -> None:
    client.force_login(world.secretariat)
    response = client.get(TARGETS, {"target_q": "copper"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    found = radios(response, "target")
    assert len(found) == 20
    assert set(found.values()) == {
        f"Copper Foil {i:02d} Ltd (JP)" if i == 3 else f"Copper Foil {i:02d} Ltd (GB)"
        for i in range(20)
    }
    assert count_text(response) == (
        "25 found for “copper”; the first 20 are shown: type more of the name to narrow the search."
    )
    # the count goes to its own place on the page (a live region), out of band
    assert 'id="id_target_count" role="status" hx-swap-oob="true"' in response.content.decode()


def test_every_word_must_match_and_a_country_code_matches_too(
    client: Client, world: World, many: list[Organization]
) -> None:
    client.force_login(world.secretariat)
    response = client.get(TARGETS, {"target_q": "copper jp"})
    assert radios(response, "target") == {f"org:{many[3].pk}": "Copper Foil 03 Ltd (JP)"}
    response = client.get(TARGETS, {"target_q": world.team.cb.code.lower()})
    assert radios(response, "target") == {
        f"cb:{world.team.cb.pk}": f"{world.team.cb.code} {world.team.cb.name}"
    }


def test_a_cb_administrator_finds_no_other_place_whatever_the_search(
    client: Client, world: World, cb_admin: User, many: list[Organization]
) -> None:
    client.force_login(cb_admin)
    for query in ("", "copper", world.org.legal_name, "Plating", "a"):
        response = client.get(TARGETS, {"target_q": query})
        assert response.status_code == 200
        assert set(radios(response, "target")) <= {f"cb:{world.team.cb.pk}"}, query
        page = response.content.decode()
        assert "Copper Foil" not in page
        if query != world.org.legal_name:  # the search itself is said back
            assert world.org.legal_name not in page


def test_the_choice_made_stays_on_offer_when_the_search_does_not_match_it(
    client: Client, world: World, many: list[Organization]
) -> None:
    client.force_login(world.secretariat)
    chosen = f"org:{many[27].pk}"  # Zinc Works 27
    response = client.get(TARGETS, {"target_q": "copper", "target": chosen})
    found = radios(response, "target")
    # first among the organizations, before the 20 matches
    assert next(iter(found)) == chosen
    assert len(found) == 21
    assert re.search(rf'value="{chosen}"[^>]* checked', response.content.decode())


def test_a_choice_the_user_may_not_make_is_not_kept(
    client: Client, world: World, cb_admin: User
) -> None:
    client.force_login(cb_admin)
    response = client.get(TARGETS, {"target_q": "", "target": f"org:{world.org.pk}"})
    assert f"org:{world.org.pk}" not in radios(response, "target")
    assert world.org.legal_name not in response.content.decode()


def test_someone_who_may_not_invite_is_refused_the_matches(client: Client, world: World) -> None:
    client.force_login(world.team.manager)
    response = client.get(TARGETS, {"target_q": "a"})
    assert response.status_code == 403
    assert response.context["error"].code == "invitation.not_allowed"


def test_the_matches_cost_the_same_few_queries_however_many_places(
    client: Client,
    world: World,
    many: list[Organization],
    django_assert_max_num_queries: Any,
) -> None:
    client.force_login(world.secretariat)
    client.get(TARGETS, {"target_q": "o"})  # the session is read once and kept
    with django_assert_max_num_queries(12):
        response = client.get(TARGETS, {"target_q": "o", "target": f"org:{many[0].pk}"})
    assert len(radios(response, "target")) == 20


def test_the_invitation_form_shows_a_search_when_there_are_many_places(
    client: Client, world: World, many: list[Organization]
) -> None:
    client.force_login(world.secretariat)
    response = client.get(INVITE)
    page = response.content.decode()
    assert '<label for="id_target_q">Search by name or code</label>' in page
    assert f'hx-get="{TARGETS}"' in page
    assert len(radios(response, "target")) == 20
    total = 1 + Organization.objects.count()  # the world's one CB and every organization
    assert count_text(response) == (
        f"{total} places you may invite to; the first 20 are shown: search to find the others."
    )


def test_without_javascript_find_shows_the_matches_and_keeps_the_answers(
    client: Client, world: World, many: list[Organization]
) -> None:
    client.force_login(world.secretariat)
    before = AuditEvent.objects.count()
    response = client.post(
        INVITE,
        {
            "email": "someone@example.org",
            "role": "org:member",
            "target_q": "zinc",
            "target_find": "1",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert set(radios(response, "target").values()) == {
        f"Zinc Works {i} (GB)" for i in range(25, 30)
    }
    assert 'value="someone@example.org"' in page
    assert re.search(r'<option value="org:member" selected>', page)
    assert "Please correct this" not in page  # nothing is marked wrong
    assert (AuditEvent.objects.count(), Invitation.objects.count()) == (before, 0)


def test_inviting_through_the_chooser(
    client: Client, world: World, many: list[Organization]
) -> None:
    client.force_login(world.secretariat)
    response = client.post(
        INVITE,
        {"email": "new@zinc.example", "role": "org:admin", "target": f"org:{many[26].pk}"},
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.organization, invitation.org_role) == (many[26], "admin")


def test_no_place_chosen_is_a_form_error_on_the_chooser(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    response = client.post(INVITE, {"email": "new@zinc.example", "role": "org:admin"})
    assert response.status_code == 400
    page = response.content.decode()
    assert (
        '<a href="#id_target">Invite them to: Choose a certification body or an organization '
        "you administer.</a>" in page
    )
    assert '<fieldset class="field chooser field-error" id="id_target"' in page


# --- the application form's chooser -----------------------------------------------------------


def test_the_cb_matches_are_the_cbs_accepted_for_the_scheme(client: Client, world: World) -> None:
    not_accepted = World.make_cb(world.secretariat, "NAX", DAY0, programmes=())
    other = World.make_cb(world.secretariat, "ZZQ", DAY0)
    client.force_login(world.org_user)
    response = client.get(CBS, {"cb_q": ""})
    assert response.status_code == 200
    assert set(radios(response, "cb")) == {str(world.team.cb.pk), str(other.cb.pk)}
    assert not_accepted.cb.code not in response.content.decode()
    response = client.get(CBS, {"cb_q": "zzq"})
    assert radios(response, "cb") == {str(other.cb.pk): f"ZZQ {other.cb.name}"}


def test_the_application_form_finds_a_cb_without_javascript(client: Client, world: World) -> None:
    World.make_cb(world.secretariat, "ZZQ", DAY0)
    client.force_login(world.org_user)
    url = f"/office/org/{world.org.pk}/applications/new"
    response = client.post(
        url,
        {
            "cb_q": world.team.cb.code,
            "cb_find": "1",
            "scheme": world.scheme.pk,
            "programmes": [world.programme.pk],
            "design_claimed": "on",
        },
    )
    assert response.status_code == 200
    assert set(radios(response, "cb")) == {str(world.team.cb.pk)}
    page = response.content.decode()
    assert re.search(rf'value="{world.programme.pk}"[^>]*checked', page)
    assert re.search(r'name="design_claimed"[^>]*checked', page)
    assert Application.objects.count() == 0
