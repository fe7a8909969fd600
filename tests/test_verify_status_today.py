"""The verification page tells the certificate's status today from the register, by number
and by its PDF or credential alike, whether or not the daily sweep has recorded what the
calendar did; and the register's signed receipt states the same status."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.test import Client

from apcert.credentials import services
from apcert.credentials.models import IssueCredential
from apcert.documents import extract_credential
from tests.credentials_support import key_dir
from tests.factories import World
from tests.status_today_support import CASES, build, on_day

__all__ = ["key_dir"]

pytestmark = pytest.mark.django_db


def heading(response_html: str, section: str) -> str:
    match = re.search(rf'<h2 id="{section}-answer-heading">(.*?)</h2>', response_html)
    assert match is not None, response_html[:2000]
    return html.unescape(match.group(1))


def text_of(response_html: str) -> str:
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", response_html).split()))


@pytest.mark.parametrize("name", CASES)
def test_by_number_and_by_pdf_the_page_tells_the_status_today(
    name: str, world: World, key_dir: Path, client: Client
) -> None:
    # Given a certificate of a CB with a key, and its PDF downloaded on its first day
    services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    case = build(world, name)
    credential = services.credential_for_issue(
        case.cert.issues.select_related("certificate__cb", "certificate__scheme").get(
            issue_number=1
        )
    )
    assert credential is not None
    assert IssueCredential.objects.filter(issue__certificate=case.cert).count() == 1

    with on_day(case.today):
        # When it is checked by number and by the credential the PDF embeds
        by_number = client.get("/verify?" + urlencode({"number": case.cert.number, "issue": "1"}))
        pdf = client.get(f"/certificates/{quote(case.cert.number)}/issues/1.pdf").content
        embedded = extract_credential(pdf)
        by_pdf = client.post("/verify", {"credential": json.dumps(embedded)})

    # Then both answer the status today, in the same words
    assert embedded == credential
    assert by_number.status_code == 200 and by_pdf.status_code == 200
    number_html, pdf_html = by_number.content.decode(), by_pdf.content.decode()
    assert heading(number_html, "number") == case.headline
    assert heading(pdf_html, "credential") == case.headline
    valid = case.state == "current"
    assert ('class="answer answer-valid"' in number_html) is valid
    assert ('class="answer answer-valid"' in pdf_html) is valid
    assert "Signed by Cert Body" in text_of(pdf_html)
    # The private reason of a decision is never shown
    assert "private words" not in number_html + pdf_html


def test_a_withdrawn_certificate_whose_credential_has_run_out_reads_withdrawn(
    world: World, key_dir: Path, client: Client
) -> None:
    # Given a certificate withdrawn in its first year, checked after its validity would have
    # ended (its credential's validUntil is long past)
    services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    case = build(world, "withdrawn")
    pdf = client.get(f"/certificates/{quote(case.cert.number)}/issues/1.pdf").content
    later = case.cert.expires_on.replace(year=case.cert.expires_on.year + 2)

    with on_day(later):
        by_number = client.get("/verify?" + urlencode({"number": case.cert.number}))
        by_pdf = client.post("/verify", {"file": _upload(pdf)})

    # Then it is withdrawn on the day of the withdrawal both ways, not "expired"
    assert heading(by_number.content.decode(), "number") == case.headline
    assert heading(by_pdf.content.decode(), "credential") == case.headline


def test_a_genuine_credential_of_one_cb_over_another_cbs_number_is_refused(
    world: World, key_dir: Path, client: Client
) -> None:
    # Given two CBs with keys, and a credential that CB 2 signs over CB 1's certificate
    services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    cert = world.granted()
    other = World.build()
    services.signing_key_generate(actor=other.secretariat, cb=other.team.cb)
    theirs = other.granted()
    credential = services.credential_for_issue(
        theirs.issues.select_related("certificate__cb", "certificate__scheme").get()
    )
    assert credential is not None
    # (re-signed by CB 2's key after the number is changed: a forgery by a real CB)
    from apcert.credentials.selectors import current_key
    from apcert.credentials.services import _proof

    unsigned = {k: v for k, v in credential.items() if k != "proof"}
    unsigned["credentialSubject"] = {
        **unsigned["credentialSubject"],
        "certificateNumber": cert.number,
    }
    key = current_key(other.team.cb)
    assert key is not None
    forged = _proof(unsigned, key)

    html_text = client.post("/verify", {"credential": json.dumps(forged)}).content.decode()

    assert heading(html_text, "credential") == "Not valid"
    assert (
        f"But certificate {cert.number} was issued by {world.team.cb.code}, not by the signer"
        in text_of(html_text)
    )


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("expired_unrecorded", "expired", "validity_ended"),
        ("suspended_unrecorded", "suspended", "missed_surveillance"),
        ("withdrawn", "withdrawn", "misuse"),
        ("current", "current", "granted"),
    ],
)
def test_the_receipt_states_the_status_on_its_day(
    name: str, status: str, reason: str, world: World, key_dir: Path, client: Client
) -> None:
    # Given the register's key and a certificate in the case's status on the case's day
    services.signing_key_generate(actor=None, cb=None)
    case = build(world, name)

    with on_day(case.today):
        response = client.get(
            "/verify/receipt?" + urlencode({"number": case.cert.number, "on": case.today})
        )

    assert response.status_code == 200
    subject = json.loads(response.content)["credentialSubject"]
    assert (subject["status"], subject["current"], subject["reasonCategory"]) == (
        status,
        status == "current",
        reason,
    )


def _upload(data: bytes):  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("certificate.pdf", data)
