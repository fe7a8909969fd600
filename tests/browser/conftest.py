"""Fixtures for the browser tests: Debian's headless Chromium driven by Playwright.

The browser is launched once per session from ``/usr/bin/chromium`` (scripts/install-browser.sh
installs it); Playwright's own browser download is never used. Each test gets a fresh browser
context, on a desktop or a phone viewport, pointed at pytest-django's ``live_server`` on the
loopback interface. Without Chromium the tests are skipped, loudly, unless
``APCERT_REQUIRE_BROWSER=1`` asks for a failure instead (as CI should).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Route,
    sync_playwright,
)

CHROMIUM = Path("/usr/bin/chromium")
# Chromium reaches for the network on its own (updates, sync, QUIC probes); the network is
# closed here, and a test must not depend on it anyway. --no-sandbox: the tests run as root.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RESULTS_DIR = Path(__file__).resolve().parents[2] / "var" / "test-results" / "browser"
TIMEOUT_MS = 10_000
ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

#: The two viewports every register test runs on.
DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 3,
        "is_mobile": True,
        "has_touch": True,
    },
}


def _browser_missing(reason: str) -> NoReturn:
    """Skip (with a warning that shows in the summary), or fail when the browser is required."""
    if os.environ.get("APCERT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (APCERT_REQUIRE_BROWSER=1)", pytrace=False)
    message = f"BROWSER TESTS NOT RUN: {reason}; run scripts/install-browser.sh"
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)


class Chromium:
    """Playwright and the one Chromium it drives, started on first use.

    While Playwright's sync API is alive it marks an event loop as running in this thread, and
    Django then refuses every ORM call (SynchronousOnlyOperation) unless
    ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set. That is safe here: the loop only waits on the
    browser while the test's own code runs between calls. To keep both the marker and the
    setting away from every other test, :func:`pytest_runtest_teardown` stops the browser
    as soon as the next test does not use it; a later browser test starts it again.
    """

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._saved_env: str | None = None

    @property
    def browser(self) -> Browser:
        if self._browser is None:
            self._saved_env = os.environ.get(ASYNC_UNSAFE)
            os.environ[ASYNC_UNSAFE] = "true"
            self._playwright = sync_playwright().start()
            try:
                self._browser = self._playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
                )
            except Exception:
                self.stop()
                raise
        return self._browser

    def stop(self) -> None:
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None
            if self._saved_env is None:
                os.environ.pop(ASYNC_UNSAFE, None)
            else:
                os.environ[ASYNC_UNSAFE] = self._saved_env


_chromium = Chromium()


@pytest.fixture(scope="session")
def chromium() -> Chromium:
    """The session's Chromium, or a skip (a failure when required) when it is not installed."""
    if not CHROMIUM.exists():
        _browser_missing(f"{CHROMIUM} is not installed")
    return _chromium


@pytest.fixture
def browser(chromium: Chromium) -> Browser:
    """The running browser (launched by the first test that needs it)."""
    try:
        return chromium.browser
    except Exception as exc:  # the binary is there but does not start
        if os.environ.get("APCERT_REQUIRE_BROWSER") == "1":
            raise
        _browser_missing(f"{CHROMIUM} did not start: {exc}")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    # trylast: after pytest has torn down the test's own fixtures (its page and context).
    if nextitem is None or "browser" not in getattr(nextitem, "fixturenames", ()):
        _chromium.stop()


@pytest.fixture(params=list(DEVICES))
def device(request: pytest.FixtureRequest) -> str:
    """The viewport a test runs on: each test using it runs once per device."""
    return str(request.param)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    # Keep each phase's report on the test item, so that the page fixture can tell at
    # teardown whether the test failed and take a screenshot.
    report = yield
    setattr(item, f"_browser_report_{report.when}", report)
    return report


@pytest.fixture
def base_url(live_server: Any) -> str:
    url = str(live_server.url)
    assert re.match(r"^http://(127\.0\.0\.1|localhost|\[::1\]):\d+$", url), url
    return url


LOOPBACK = re.compile(r"^https?://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)")


@pytest.fixture
def browser_context(browser: Browser, device: str, base_url: str) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=base_url, locale="en-GB", **DEVICES[device])
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


#: Chromium's console message when a page's Content-Security-Policy refuses something.
CSP_REFUSAL = "Content Security Policy"


def csp_refusals(context: BrowserContext) -> list[str]:
    """The list that gathers, from now on, what the Content-Security-Policy of any page of
    ``context`` refuses (Chromium says so on the console, as an error)."""
    refused: list[str] = []

    def heard(message: ConsoleMessage) -> None:
        if message.type == "error" and CSP_REFUSAL in message.text:
            refused.append(f"{message.location.get('url', '')}: {message.text}")

    context.on("console", heard)
    return refused


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser_context: BrowserContext, live_db: None
) -> Iterator[Page]:
    """A page in a fresh context on ``device``, its relative URLs going to the live server.

    ``live_db`` makes the test transactional (the server thread reads committed rows only)
    and empties the append-only tables afterwards. The test fails if a page raised a
    JavaScript error, if its Content-Security-Policy refused something the page holds (an
    inline script or style the policy does not run), or if it asked for anything beyond the
    loopback interface (a script or font from elsewhere would tell a third party who checks
    a certificate); such requests are refused rather than left to hang on the closed network.
    On failure a screenshot goes to var/test-results/browser/.
    """
    errors: list[str] = []
    elsewhere: list[str] = []
    refused = csp_refusals(browser_context)

    def refuse(route: Route) -> None:
        elsewhere.append(route.request.url)
        route.abort()

    browser_context.route(lambda url: not LOOPBACK.match(url), refuse)
    page = browser_context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    report = getattr(request.node, "_browser_report_call", None)
    if report is not None and report.failed:
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(RESULTS_DIR / f"{name}.png"), full_page=True)
        except Exception as exc:  # a screenshot is a help, never a second failure
            warnings.warn(f"no screenshot for {name}: {exc}", pytest.PytestWarning, stacklevel=1)
    page.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert not refused, f"the Content-Security-Policy refused: {refused}"
    assert not elsewhere, f"the pages asked for resources beyond the loopback: {elsewhere}"
