"""The public register in a real browser: search, filter, open a certificate, read
its history, ask "was it valid on ...", mistype a number; on a desktop and on a phone.

Each test is a visitor's journey and runs once per device (the ``device`` fixture): the live
server's tests are transactional, and each one pays for emptying the database and building the
register again, so the steps of one visit share a test. The register holds three holders in
three countries, one of whose certificates was suspended for a month and restored.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_restore, certificate_suspend
from apcert.organizations.services import organization_create, site_create
from tests.factories import World

pytestmark = pytest.mark.browser

GRANTED_ON = dt.date(2026, 3, 24)  # World.granted(): assessment ends DAY0 + 31, +40 days
SUSPENDED_ON = dt.date(2026, 6, 1)
RESTORED_ON = dt.date(2026, 7, 1)
SECRET = "secret complaint text"


@dataclass
class Register:
    world: World
    plating: Certificate  # granted, suspended on SUSPENDED_ON, restored on RESTORED_ON
    nordlicht: Certificate  # SE
    lumiere: Certificate  # FR


def holder_certificate(world: World, *, name: str, country: str, city: str) -> Certificate:
    """A granted certificate, at the world's CB, for a new holder with one published site."""
    org = organization_create(
        actor=world.org_user, legal_name=name, country=country, registration_number=name[:12]
    )
    site = site_create(
        actor=world.org_user, organization=org, name="Works", city=city, country=country
    )
    world.org, world.site = org, site
    return world.granted()


@pytest.fixture
def register(live_world: World) -> Register:
    world = live_world
    plating_org, plating_site = world.org, world.site
    plating = world.granted()
    dm = world.team.decision_maker
    certificate_suspend(
        actor=dm, certificate=plating, reason_category="complaint", reason=SECRET,
        decided_on=SUSPENDED_ON,
    )  # fmt: skip
    plating = certificate_restore(
        actor=dm, certificate=plating, reason="Complaint closed", decided_on=RESTORED_ON
    )
    nordlicht = holder_certificate(
        world, name="Nordlicht Ytbehandling AB", country="SE", city="Malmö"
    )
    lumiere = holder_certificate(world, name="Lumière Circuits SA", country="FR", city="Lyon")
    world.org, world.site = plating_org, plating_site
    return Register(world, plating, nordlicht, lumiere)


def day(value: dt.date) -> str:
    """A date as the pages write it: ``24 March 2026``."""
    return f"{value.day} {value:%B} {value.year}"


def certificate_url(number: str) -> str:
    return "/certificates/" + quote(number)


def result_count(page: Page) -> int:
    """The number the result count element states."""
    text = page.locator("#result-count").inner_text()
    match = re.search(r"\d[\d,]*", text)
    assert match, f"no number in the result count {text!r}"
    return int(match.group().replace(",", ""))


def visit(page: Page, path: str, status: int = 200) -> None:
    """Open a page, checking its HTTP status first (a server error fails here, at once)."""
    response = page.goto(path)
    assert response is not None, path
    assert response.status == status, (path, response.status, page.inner_text("body")[:500])


@contextmanager
def navigation(page: Page, status: int = 200) -> Iterator[None]:
    """Wait for the navigation that the block's action starts, and check its HTTP status."""
    with page.expect_navigation() as info:
        yield
    response = info.value
    assert response is not None
    assert response.status == status, (response.url, response.status)


def search_for(page: Page, words: str) -> None:
    """Type words in the search box and press Enter, as a visitor does."""
    box = page.locator('#search input[name="q"]')
    box.fill(words)
    with navigation(page):
        box.press("Enter")


def assert_fits_the_screen(page: Page) -> None:
    """No horizontal scroll: the document is no wider than the screen.

    On a phone (``is_mobile``) Chromium widens the layout viewport to fit content that
    overflows, so ``window.innerWidth`` grows with the page and cannot be the only yardstick;
    the emulated screen width can."""
    viewport = page.viewport_size
    assert viewport is not None
    scroll_width, inner_width = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth]"
    )
    limit = min(inner_width, viewport["width"])
    assert scroll_width <= limit, (
        f"horizontal scroll on {page.url}: the page is {scroll_width}px wide, the screen "
        f"{viewport['width']}px (window.innerWidth {inner_width}px)"
    )


# --- searching -------------------------------------------------------------------------------


def test_find_a_holder_by_name_by_filter_and_page_by_page(page: Page, register: Register) -> None:
    # given the front page, which lists every certificate before any search
    visit(page, "/")
    assert result_count(page) == 3
    expect(page.locator("#results > li")).to_have_count(3)

    # when a visitor searches for part of a holder's name
    search_for(page, "Nordlicht")
    # then exactly that holder's certificate is listed, by number and name
    hits = page.locator("#results > li")
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text("Nordlicht Ytbehandling AB")
    expect(hits.first.locator("a[href^='/certificates/']")).to_have_text(register.nordlicht.number)
    assert result_count(page) == 1
    expect(page).to_have_url(re.compile(r"[?&]q=Nordlicht(&|$)"))

    # given the front page again, each country offered with its count
    visit(page, "/")
    country = page.locator('#search select[name="country"]')
    options = {o.strip() for o in country.locator("option").all_inner_texts()}
    assert {"DE (1)", "FR (1)", "SE (1)"} <= options, options
    # when the visitor keeps only Sweden and applies the filters
    country.select_option("SE")
    with navigation(page):
        page.locator('#search [type="submit"]').last.click()
    # then the count drops to one, the Swedish holder's, and the filter stays chosen
    assert result_count(page) == 1
    expect(hits).to_have_count(1)
    expect(hits.first).to_contain_text("Nordlicht Ytbehandling AB")
    expect(page).to_have_url(re.compile(r"[?&]country=SE(&|$)"))
    expect(country).to_have_value("SE")

    # given one result per page, in number order
    visit(page, "/?per_page=1&sort=number")
    pagination = page.get_by_role("navigation", name="Pagination")
    expect(pagination.locator("a[rel='prev']")).to_have_count(0)
    first = hits.first.locator("a").first.inner_text()
    # when the visitor follows "next"
    with navigation(page):
        pagination.locator("a[rel='next']").click()
    # then the second page shows another certificate, and links back
    expect(page).to_have_url(re.compile(r"[?&]page=2(&|$)"))
    expect(hits).to_have_count(1)
    assert hits.first.locator("a").first.inner_text() != first
    expect(pagination.locator("a[rel='prev']")).to_have_count(1)


# --- a certificate -----------------------------------------------------------------------------


def ask_valid_on(page: Page, on: dt.date, category: str) -> str:
    """Ask the certificate page's "was it valid on" form; the answer's text, spaces folded."""
    form = page.locator("form#valid-on")
    form.locator('[name="on"]').fill(on.isoformat())
    form.locator('select[name="category"]').select_option(category)
    with navigation(page):
        form.locator('[type="submit"]').click()
    expect(page).to_have_url(re.compile(rf"[?&]on={on.isoformat()}(&|$)"))
    expect(form.locator('[name="on"]')).to_have_value(on.isoformat())
    answer = page.locator("#valid-on-answer")
    expect(answer).to_be_visible()
    return " ".join(answer.inner_text().split())


def test_open_a_certificate_read_its_history_and_ask_if_it_was_valid(
    page: Page, register: Register
) -> None:
    number = register.plating.number
    # given a search for the holder whose certificate was suspended for June 2026
    visit(page, "/")
    search_for(page, "Plating")
    # when the visitor opens the certificate from the results
    link = page.locator("#results > li").first.get_by_role("link", name=number)
    with navigation(page):
        link.click()
    # then its page shows the number, the holder and the status now
    expect(page).to_have_url(re.compile(re.escape(certificate_url(number)) + "$"))
    expect(page.locator("h1")).to_contain_text(number)
    expect(page.locator("main")).to_contain_text(register.world.org.legal_name)
    expect(page.locator("#status")).to_contain_text("Current")

    # and its history: one issue, the initial one
    history = page.locator("#history")
    issues = history.locator("table.issues tbody tr")
    expect(issues).to_have_count(1)
    expect(issues.first).to_contain_text("initial certification")
    expect(issues.first).to_contain_text(day(GRANTED_ON))
    # and three status changes, newest first: restored, suspended for a complaint, granted
    rows = [
        " ".join(row.split())
        for row in history.locator("table.status-changes tbody tr").all_inner_texts()
    ]
    assert len(rows) == 3, rows
    assert rows[0].startswith(f"{day(RESTORED_ON)} Current"), rows
    assert rows[1].startswith(f"{day(SUSPENDED_ON)} Suspended"), rows
    assert "complaint" in rows[1], rows
    assert rows[2].startswith(f"{day(GRANTED_ON)} Current"), rows

    # when the visitor asks about a day before the suspension, for its process category
    expect(page.locator("#valid-on-answer")).to_have_count(0)
    answer = ask_valid_on(page, SUSPENDED_ON - dt.timedelta(days=17), "EPL")
    # then it was valid, and the page says why
    assert answer.startswith("Valid for Electroplating (EPL):"), answer
    assert "current (issue 1, valid until 23 March 2029)" in answer, answer
    # when the visitor asks again, on the answer's page, about a day during the suspension
    answer = ask_valid_on(page, SUSPENDED_ON + dt.timedelta(days=14), "EPL")
    # then it was not valid: it was suspended (the public reason, never the free text)
    assert answer.startswith("Not valid for Electroplating (EPL):"), answer
    assert "suspended (reason: complaint)" in answer, answer
    assert SECRET not in page.content()


def test_an_unknown_number_offers_close_numbers(page: Page, register: Register) -> None:
    # given a number one digit away from a real one
    real = register.nordlicht.number
    mistyped = real[:-1] + ("9" if real[-1] != "9" else "8")
    # when it is opened
    visit(page, certificate_url(mistyped), status=404)
    # then the page says so and suggests the real number, which leads to its page
    expect(page.locator("h1")).to_contain_text(mistyped)
    suggestion = page.locator("#suggestions").get_by_role("link", name=real)
    expect(suggestion).to_be_visible()
    with navigation(page):
        suggestion.click()
    expect(page.locator("h1")).to_contain_text(real)


# --- the layout --------------------------------------------------------------------------------


def test_pages_fit_the_screen_and_the_search_box_is_usable(
    page: Page, register: Register, device: str
) -> None:
    viewport = page.viewport_size
    assert viewport is not None
    # the front page: the search box is on screen, whole, and takes a tap and typing
    visit(page, "/")
    assert_fits_the_screen(page)
    box = page.locator('#search input[name="q"]')
    expect(box).to_be_visible()
    bounds = box.bounding_box()
    assert bounds is not None
    assert bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= viewport["width"], bounds
    assert bounds["width"] >= 0.5 * min(viewport["width"], 600), bounds
    if device == "phone":
        box.tap()
    else:
        box.click()
    expect(box).to_be_focused()
    page.keyboard.type("Plating")
    with navigation(page):
        page.keyboard.press("Enter")
    expect(page.locator("#results > li")).to_have_count(1)
    assert_fits_the_screen(page)
    # the results with every filter and pagination, a certificate with an answer, a
    # not-found page with suggestions
    visit(page, "/?per_page=1")
    assert_fits_the_screen(page)
    number = register.plating.number
    visit(page, certificate_url(number) + "?on=2026-06-15&category=EPL")
    expect(page.locator("#valid-on-answer")).to_be_visible()
    assert_fits_the_screen(page)
    visit(page, certificate_url(number[:-1] + "9"), status=404)
    expect(page.locator("#suggestions")).to_be_visible()
    assert_fits_the_screen(page)
