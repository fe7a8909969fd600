"""The verification page in a real browser, on a desktop and on a phone: what the QR
code of a certificate PDF opens, the PDF itself checked by upload, and a changed credential
pasted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, expect

from apcert.credentials import services
from apcert.documents import extract_credential
from tests.browser.test_register_browser import assert_fits_the_screen, navigation, visit
from tests.factories import World

pytestmark = pytest.mark.browser


def test_check_a_certificate_by_its_qr_code_its_pdf_and_a_pasted_credential(
    page: Page, live_world: World, live_server: Any, settings: Any, tmp_path: Path
) -> None:
    # given a certificate of a CB with a key, on a register at the live server's address
    settings.KEY_DIR = tmp_path / "keys"
    settings.SITE_URL = live_server.url
    world = live_world
    services.signing_key_generate(actor=None, cb=world.team.cb)
    services.signing_key_generate(actor=None, cb=None)  # the register's, for receipts
    cert = world.granted()
    pdf_path = f"/certificates/{quote(cert.number)}/issues/1.pdf"
    response = page.request.get(pdf_path)
    assert response.status == 200
    pdf = response.body()

    # when the QR code's address is opened
    visit(page, f"/verify?number={quote(cert.number)}&issue=1")
    # then the answer is in plain words, on screen
    expect(page.locator("#number-answer h2")).to_have_text("Valid and current")
    expect(page.locator("#issue-note")).to_contain_text("Issue 1 is the current issue")
    expect(page.locator("#receipt")).to_be_visible()
    assert_fits_the_screen(page)
    # and the signed receipt downloads as a JSON file
    with page.expect_download() as download:
        page.locator("#receipt").click()
    receipt = json.loads(Path(download.value.path()).read_text())
    assert receipt["credentialSubject"]["certificateNumber"] == cert.number
    assert receipt["credentialSubject"]["current"] is True

    # when the PDF itself is chosen and sent
    (tmp_path / "certificate.pdf").write_bytes(pdf)
    page.locator("#verify-file-input").set_input_files(str(tmp_path / "certificate.pdf"))
    with navigation(page):
        page.locator("#verify-file button[type=submit]").click()
    expect(page.locator("#credential-answer h2")).to_have_text("Valid and current")
    assert_fits_the_screen(page)

    # when its credential, changed, is pasted
    credential = extract_credential(pdf)
    assert credential is not None
    credential["validUntil"] = "2099-12-31T23:59:59Z"
    page.locator("#verify-paste-input").fill(json.dumps(credential))
    with navigation(page):
        page.locator("#verify-file button[type=submit]").click()
    expect(page.locator("#credential-answer h2")).to_have_text("Signature invalid")
    expect(page.locator("#credential-answer")).to_contain_text("changed after signing")
    assert_fits_the_screen(page)
