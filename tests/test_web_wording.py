"""What the pages say: headings that fit the role of the reader, and one way of writing dates.

Dates read "7 December 2026" and moments "7 December 2026, 14:05 UTC" on every page (the
``|day`` and ``|moment`` filters); nowhere Django's default "Dec. 7, 2026", "2 p.m." or a bare
ISO date, except inside ``<time datetime>`` attributes, form values and the hint that says a
date may be typed as 2026-12-07.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from django.test import Client

from apcert.bodies.services import cb_staff_add
from apcert.organizations.services import organization_create
from apcert.web.fields import DATE_HINT, DateField
from tests.factories import DAY0, World
from tests.pages_support import ERROR_PAGES, PAGES, PUBLIC, TODAY, build_pages_world

pytestmark = pytest.mark.django_db


def page_text(response: Any) -> str:
    """What a reader sees: the text between the tags, without scripts and styles."""
    page = response.content.decode()
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


def h1(response: Any) -> str:
    found = re.search(r"<h1>(.*?)</h1>", response.content.decode(), re.S)
    assert found is not None
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)).strip())


# --- dates --------------------------------------------------------------------------------

MONTH = (
    r"(Jan(uary)?|Feb(ruary)?|Mar(ch)?|Apr(il)?|May|June?|July?|Aug(ust)?|Sep(t(ember)?)?"
    r"|Oct(ober)?|Nov(ember)?|Dec(ember)?)"
)
OTHER_DATE_FORMATS = {
    "Django's default date": re.compile(rf"\b{MONTH}\.? \d{{1,2}}, \d{{4}}"),
    "an ISO date": re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
    "a.m. or p.m.": re.compile(r"\b[ap]\.m\.|\b\d{1,2} ?[AaPp][Mm]\b|\bnoon\b|\bmidnight\b"),
    "a numeric date": re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"),
}
#: The hints that show how a date may be typed: the only ISO dates a reader is meant to see.
DATE_HINTS = (DATE_HINT, str(DateField.default_error_messages["invalid"]))


def stray_dates(text: str) -> list[str]:
    for hint in DATE_HINTS:
        text = text.replace(hint, "")
    return [
        f"{what}: {m.group(0)!r} in …{text[max(m.start() - 60, 0) : m.end() + 20]}…"
        for what, pattern in OTHER_DATE_FORMATS.items()
        for m in pattern.finditer(text)
    ]


def test_the_check_finds_each_stray_format() -> None:
    assert len(stray_dates("Dec. 6, 2026 · 2026-12-06 · 2 p.m. · 6/12/2026 · June 1, 2026")) == 5
    assert stray_dates(f"6 December 2026, 14:05 UTC. {DATE_HINT}") == []


ROLES = sorted({page.role for page in PAGES})


@pytest.mark.parametrize("role", ROLES)
def test_every_main_page_writes_dates_one_way(
    client: Client, reference: None, time_machine: Any, role: str
) -> None:
    # given a world with data in every state the pages show, read by ``role``
    time_machine.move_to(TODAY)
    pages = build_pages_world()
    if role != PUBLIC:
        client.force_login(pages.users[role])

    # when each of the role's pages is read
    found = {}
    for page in [p for p in PAGES if p.role == role] + [
        p for p, _ in ERROR_PAGES if p.role == role
    ]:
        response = client.get(page.address(pages))
        expected = dict((p.id, s) for p, s in ERROR_PAGES).get(page.id, 200)
        assert response.status_code == expected, page.id
        found[page.id] = stray_dates(page_text(response))

    # then no date is written in another format than "7 December 2026"
    assert {k: v for k, v in found.items() if v} == {}


# --- headings that fit the reader -----------------------------------------------------------


CB_LISTS = {
    "/office/cb/applications/": "Applications to {}",
    "/office/cb/assessments/": "Assessments by {}",
    "/office/cb/certificates/": "Certificates issued by {}",
}


def test_the_secretariat_reads_the_cb_lists_as_every_cbs(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    for url, heading in CB_LISTS.items():
        assert h1(client.get(url)) == heading.format("every certification body")


def test_the_staff_of_one_cb_read_its_code(client: Client, world: World) -> None:
    client.force_login(world.team.manager)
    for url, heading in CB_LISTS.items():
        assert h1(client.get(url)) == heading.format(world.team.cb.code)


def test_the_staff_of_two_cbs_read_both(client: Client, world: World) -> None:
    other = World.make_cb(world.secretariat, "ZZB", DAY0)
    cb_staff_add(actor=world.secretariat, cb=other.cb, user=world.team.manager, role="assessor")
    client.force_login(world.team.manager)
    both = f"your certification bodies ({world.team.cb.code}, ZZB)"
    for url, heading in CB_LISTS.items():
        assert h1(client.get(url)) == heading.format(both)


def test_the_organization_list_is_every_one_or_yours(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    assert h1(client.get("/office/org/")) == "Every organization"
    organization_create(actor=world.org_user, legal_name="Second Works", country="FR")
    client.force_login(world.org_user)
    assert h1(client.get("/office/org/")) == "Your organizations"


def test_a_draft_says_who_submits_it(client: Client, world: World) -> None:
    draft = world.draft_application()
    url = f"/office/org/{world.org.pk}/applications/{draft.pk}/"
    client.force_login(world.org_user)
    assert "the certification body sees the application once you submit it" in page_text(
        client.get(url)
    )
    client.force_login(world.secretariat)
    assert "once the organization submits it" in page_text(client.get(url))


def test_the_invitation_pages_say_whose_invitations_they_list(client: Client, world: World) -> None:
    client.force_login(world.secretariat)
    home = page_text(client.get("/office/"))
    assert "Invite a colleague to any certification body or organization" in home
    client.post(
        "/office/invitations/new",
        {"email": "a@b.example", "target": f"org:{world.org.pk}", "role": "org:member"},
    )
    assert "Every invitation neither accepted nor expired" in page_text(
        client.get("/office/invitations/")
    )
    client.force_login(world.org_user)
    assert "a certification body or an organization you administer" in page_text(
        client.get("/office/")
    )
    assert "Invitations you sent, or to a place you administer, neither accepted" in page_text(
        client.get("/office/invitations/")
    )
