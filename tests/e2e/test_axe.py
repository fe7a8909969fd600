"""Accessibility in a real browser: axe-core finds no violation on the main pages of each
section, read by each role, nor on the public register's.

The app runs on pytest-django's live server with a world that has data in every state the
pages show (tests/pages_support.py: add a row to ``PAGES`` to check a new screen). Each role
signs in on the sign-in page in Debian's Chromium, driven by Playwright; axe-core (vendored
in tests/e2e/vendor/, MPL-2.0) is injected into each page and run with its default rules:
WCAG 2.x levels A and AA and its best practices. A violation fails the test with the rule,
its help text and the elements it found.

Skipped, with the reason, when Playwright or Chromium is missing; ``APCERT_REQUIRE_BROWSER=1``
makes that a failure instead (as CI should).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")

from playwright.sync_api import Browser, Page, Route

from tests.browser.conftest import LOOPBACK, TIMEOUT_MS, Chromium, csp_refusals
from tests.pages_support import (
    ERROR_PAGES,
    PAGES,
    PUBLIC,
    TODAY,
    PagesWorld,
    build_pages_world,
)

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
PASSWORD = "x-Long-password-1"  # tests.factories.make_user

#: What each violation is reported with: the rule, its impact, what it asks, and up to five
#: of the elements that break it (as CSS selectors), each with its HTML cut short.
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({
    rule: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + "  " + n.html.slice(0, 160)),
  }));
}"""


def _missing(reason: str) -> None:
    if os.environ.get("APCERT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (APCERT_REQUIRE_BROWSER=1)", pytrace=False)
    message = f"ACCESSIBILITY TESTS NOT RUN: {reason}; run scripts/install-browser.sh"
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="module")
def axe_browser() -> Iterator[Browser]:
    """Chromium for this module's tests, stopped after them (with it, the permission it
    gives Django's ORM to run beside Playwright's event loop)."""
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is not installed")
    chromium = Chromium()
    try:
        browser = chromium.browser
    except Exception as exc:  # the binary is there but does not start
        chromium.stop()
        _missing(f"{CHROMIUM} did not start: {exc}")
    yield browser
    chromium.stop()


def violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it stands. The script is evaluated, not added
    as a <script> element, so that a Content-Security-Policy does not stop it."""
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return found


def sign_in(page: Page, username: str) -> None:
    page.goto("/office/sign-in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    assert page.url.endswith("/office/"), page.url


ROLES = sorted({page.role for page in PAGES})


@pytest.mark.parametrize("role", ROLES)
def test_axe_finds_no_violation_on_the_pages_of(
    role: str,
    axe_browser: Browser,
    live_server: Any,
    live_db: None,
    settings: Any,
    time_machine: Any,
) -> None:
    # given a world with data, and a browser whose session outlives the test's travel in time
    time_machine.move_to(TODAY)
    settings.SESSION_EXPIRE_AT_BROWSER_CLOSE = True
    pages: PagesWorld = build_pages_world()
    context = axe_browser.new_context(
        base_url=live_server.url, locale="en-GB", viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(TIMEOUT_MS)
    elsewhere: list[str] = []

    def refuse(route: Route) -> None:
        elsewhere.append(route.request.url)
        route.abort()

    context.route(lambda url: not LOOPBACK.match(url), refuse)
    refused = csp_refusals(context)
    page = context.new_page()
    try:
        # when ``role`` signs in and reads each of its pages
        if role != PUBLIC:
            sign_in(page, pages.users[role].username)
        statuses = {p.id: 200 for p in PAGES if p.role == role}
        statuses.update({p.id: status for p, status in ERROR_PAGES if p.role == role})
        found: dict[str, list[dict[str, Any]]] = {}
        for entry in [p for p in PAGES if p.role == role] + [
            p for p, _ in ERROR_PAGES if p.role == role
        ]:
            response = page.goto(entry.address(pages))
            assert response is not None and response.status == statuses[entry.id], entry.id
            if entry.act is not None:
                entry.act(page)
            found[entry.id] = violations(page)
    finally:
        context.close()

    # then axe-core finds nothing to fix, and nothing was asked of another site
    assert {name: v for name, v in found.items() if v} == {}
    assert elsewhere == []
    # and the pages' Content-Security-Policy refused nothing they hold
    assert refused == []
