"""The public API's browsable documentation, ``/api/public/docs``, in a real browser: Swagger UI
from the server's own static files (nothing from elsewhere: the page fixture refuses and
reports any request beyond the loopback), reading the OpenAPI document without an error, with
every operation and its refusals listed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, Response, expect

from tests.browser.conftest import RESULTS_DIR

pytestmark = pytest.mark.browser

OPERATIONS = [
    "GET/api/public/certificates/{number}",
    "GET/api/public/certificates/{number}/history",
    "GET/api/public/certificates/{number}/as-of",
    "GET/api/public/certificates/{number}/receipt",
    "GET/api/public/search",
    "GET/api/public/organizations/{organization_id}",
    "GET/api/public/bodies",
    "GET/api/public/bodies/{code}",
]


def test_the_api_docs_render_every_operation_from_local_assets(
    page: Page, live_db: None, device: str
) -> None:
    answers: list[tuple[int, str]] = []

    def seen(response: Response) -> None:
        answers.append((response.status, response.url))

    page.on("response", seen)
    # when the docs page is opened
    response = page.goto("/api/public/docs")
    assert response is not None and response.status == 200
    # then Swagger UI lists every operation of the document, and no error reading it
    operations = page.locator(".opblock-summary")
    expect(operations).to_have_count(len(OPERATIONS))
    shown = [
        re.sub(r"\s+", "", text)
        for text in page.locator(".opblock-summary-method, .opblock-summary-path").all_inner_texts()
    ]
    assert ["".join(shown[i : i + 2]) for i in range(0, len(shown), 2)] == OPERATIONS
    expect(page.locator(".errors-wrapper")).to_have_count(0)
    expect(page.locator(".info .title")).to_contain_text("apcert public register API")
    # its scripts and styles came from this server, each found
    assets = [(status, url) for status, url in answers if "/static/ninja/" in url]
    loaded = {url.rsplit("/", 1)[1] for status, url in assets if status == 200}
    assert {"swagger-ui-bundle.js", "swagger-ui-init.js", "swagger-ui.css"} <= loaded
    assert [status for status, _ in answers if status >= 400] == []

    # and an operation opens with its refusals: status, meaning and the problem schema
    page.locator(".opblock-summary", has_text="/receipt").first.click()
    responses = page.locator(".opblock.is-open .responses-table .response")
    expect(responses).to_have_count(6)
    codes = [
        c.strip()
        for c in page.locator(".opblock.is-open .response .response-col_status").all_inner_texts()
    ]
    assert codes == ["200", "400", "404", "422", "429", "503"]
    expect(page.locator(".opblock.is-open")).to_contain_text("receipt.before_first_issue")

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS_DIR / f"api-docs-{device}.png"), full_page=True)
