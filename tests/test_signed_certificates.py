"""Signed certificates end to end: the certificate PDF verified offline, the signed
status lists, ``apcert verify --online`` against a live register, the ``/verify`` page and the
register's signed verification receipts."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from apcert.certificates.models import Certificate, CertificateIssue
from apcert.certificates.services import (
    certificate_cancel,
    certificate_holder_renamed,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.core.dates import add_months
from apcert.credentials import selectors, services
from apcert.credentials.status import http_lookup, is_under, status_check
from apcert.credentials.verification import verify_credential
from apcert.documents import extract_credential, render_certificate_pdf, verification_url
from apcert.documents.errors import DAMAGED_PDF, NO_CREDENTIAL, NOT_A_CREDENTIAL
from apcert.organizations.services import organization_rename
from apcert.register.templatetags.register_tags import plain_day
from apcert.statuslists import bitstring
from apcert.statuslists.models import StatusListEntry
from tests.credentials_support import SITE, key_dir, verify_command
from tests.factories import World

__all__ = ["key_dir"]


# --- helpers ----------------------------------------------------------------------------------


def bundle(tmp_path: Path) -> str:
    path = tmp_path / "bundle.json"
    call_command("trust-bundle", "--out", str(path), stdout=StringIO())
    return str(path)


def write(tmp_path: Path, name: str, content: dict[str, Any] | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return str(path)


def latest_issue(cert: Certificate) -> CertificateIssue:
    cert.refresh_from_db()
    return CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme").get(
        certificate=cert, issue_number=cert.current_issue_number
    )


def credential_of(cert: Certificate) -> dict[str, Any]:
    credential = services.credential_for_issue(latest_issue(cert))
    assert credential is not None
    return credential


def pdf_url(cert: Certificate, issue: int = 1) -> str:
    return f"/certificates/{quote(cert.number)}/issues/{issue}.pdf"


def granted_with_key(world: World) -> Certificate:
    services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    return world.granted()


def suspend(world: World, cert: Certificate, on: dt.date | None = None) -> Certificate:
    return certificate_suspend(
        actor=world.team.decision_maker, certificate=cert, reason_category="complaint",
        reason="private words", decided_on=on or cert.initial_decision_on + dt.timedelta(days=30),
    )  # fmt: skip


def no_cookie(response: Any) -> None:
    assert not response.cookies
    assert "Cookie" not in response.get("Vary", "")


# --- the PDF, verified offline ------------------------------------------------------------------


@pytest.mark.django_db
def test_a_downloaded_pdf_verifies_offline_and_a_changed_byte_fails(
    world: World, key_dir: Path, tmp_path: Path, client: Client
) -> None:
    # Given a certificate granted by a CB with a key, and its PDF downloaded from the register
    cert = granted_with_key(world)
    response = client.get(pdf_url(cert))
    assert response.status_code == 200
    pdf = response.content
    trust = bundle(tmp_path)

    # When the PDF is verified with the trust bundle alone
    code, out, _ = verify_command(write(tmp_path, "c.pdf", pdf), "--trust-bundle", trust)

    # Then it is valid, naming the CB and the holder
    assert code == 0, out
    assert f"issuer: {world.team.cb.name}" in out
    holder = world.org.legal_name
    assert f"certifies: certificate {cert.number} issue 1, held by {holder} (DE)" in out

    # Given the same PDF whose embedded credential has one byte changed (re-embedded)
    credential = extract_credential(pdf)
    assert credential is not None
    name = credential["credentialSubject"]["holder"]["name"]
    credential["credentialSubject"]["holder"]["name"] = name[:-1] + chr(ord(name[-1]) ^ 1)
    issue = latest_issue(cert)
    changed = render_certificate_pdf(
        issue, credential=credential, verify_url=verification_url(cert.number, 1)
    )

    # Then it is not valid, and the report says why
    code, out, _ = verify_command(write(tmp_path, "t.pdf", changed), "--trust-bundle", trust)
    assert code == 1
    assert "signature: FAILED [proof.signature_mismatch]" in out
    assert "changed after signing" in out


@pytest.mark.django_db
def test_a_pdf_without_a_credential_says_so(world: World, key_dir: Path, tmp_path: Path) -> None:
    issue = latest_issue(world.granted())
    pdf = render_certificate_pdf(issue, credential=None, verify_url="https://x.example/verify")
    services.signing_key_generate(actor=None, cb=world.team.cb)

    code, _, err = verify_command(write(tmp_path, "n.pdf", pdf), "--trust-bundle", bundle(tmp_path))

    assert (code, err.strip()) == (3, "verify: this PDF carries no signed credential")


# --- the status lists, served signed --------------------------------------------------------------


def status_url(code: str, purpose: str) -> str:
    return f"/bodies/{code}/status/{purpose}"


@pytest.mark.django_db
def test_status_lists_are_served_signed_and_a_suspension_shows_at_once(
    world: World, key_dir: Path, client: Client
) -> None:
    # Given a published certificate of a CB with a key
    cert = granted_with_key(world)
    code = world.team.cb.code
    index = StatusListEntry.objects.get(certificate=cert).index

    def bit(purpose: str) -> bool:
        response = client.get(status_url(code, purpose))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/vc+ld+json"
        assert response["Cache-Control"].startswith("public, max-age=")
        no_cookie(response)
        document = response.json()
        # The list is signed by the CB itself, and verifies with the register's trust store
        result = verify_credential(document, trust=selectors.trust_store())
        assert result.valid, result.checks
        assert result.issuer is not None and result.issuer.code == code
        assert document["id"] == f"{SITE}{status_url(code, purpose)}"
        assert document["credentialSubject"]["statusPurpose"] == purpose
        encoded = document["credentialSubject"]["encodedList"]
        return bitstring.get(bitstring.decode(encoded), index)

    assert (bit("suspension"), bit("revocation")) == (False, False)

    # When it is suspended, the list read right after the service returns has the bit set
    suspend(world, cert)
    assert (bit("suspension"), bit("revocation")) == (True, False)

    certificate_withdraw(
        actor=world.team.decision_maker, certificate=cert, reason_category="misuse",
        reason="x", decided_on=cert.initial_decision_on + dt.timedelta(days=31),
    )  # fmt: skip
    assert (bit("suspension"), bit("revocation")) == (False, True)


@pytest.mark.django_db
def test_status_list_refusals_are_problem_json(world: World, key_dir: Path, client: Client) -> None:
    code = world.team.cb.code
    # A CB without a key cannot sign its lists: 503, said plainly
    response = client.get(status_url(code, "suspension"))
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "key.none"
    assert "keys-generate" in response.json()["message"]

    # A CB with a key but no list yet: an all-zero list
    services.signing_key_generate(actor=None, cb=world.team.cb)
    document = client.get(status_url(code, "revocation")).json()
    data = bitstring.decode(document["credentialSubject"]["encodedList"])
    assert data == bitstring.empty()
    assert verify_credential(document, trust=selectors.trust_store()).valid

    # Unknown CB, unknown purpose: 404
    for url in (status_url("NOPE", "suspension"), status_url(code, "expiry")):
        response = client.get(url)
        assert response.status_code == 404
        assert response.json()["code"] == "status_list.unknown"

    # The CB's directory page is still its own route
    assert client.get(f"/bodies/{code}").status_code == 200


# --- apcert verify --online against a live register ----------------------------------------------


@pytest.fixture
def live_site(live_world: World, live_server: Any, settings: Any, tmp_path: Path) -> dict[str, Any]:
    """Keys in a temporary directory; the register's address is the live server's."""
    settings.KEY_DIR = tmp_path / "keys"
    settings.SITE_URL = live_server.url
    return {"world": live_world, "url": live_server.url, "tmp": tmp_path}


def test_online_status_follows_suspension_restoration_and_withdrawal(
    live_site: dict[str, Any],
) -> None:
    # Given a credential of a granted certificate, and the trust bundle
    world, url, tmp = live_site["world"], live_site["url"], live_site["tmp"]
    cert = granted_with_key(world)
    path = write(tmp, "c.json", credential_of(cert))
    trust = bundle(tmp)

    def online() -> tuple[int, str]:
        code, out, err = verify_command(path, "--trust-bundle", trust, "--online", url)
        return code, out + err

    # Then it is current, suspended, current again, revoked, as the register says
    code, out = online()
    assert code == 0, out
    assert "status: ok: current" in out

    on = cert.initial_decision_on + dt.timedelta(days=30)
    suspend(world, cert, on)
    code, out = online()
    assert code == 1
    assert "status: FAILED [status.suspended]: suspended" in out

    certificate_restore(
        actor=world.team.decision_maker, certificate=cert, reason="Resolved", decided_on=on
    )
    assert online()[0] == 0

    certificate_withdraw(
        actor=world.team.decision_maker, certificate=cert, reason_category="misuse",
        reason="x", decided_on=on,
    )  # fmt: skip
    code, out = online()
    assert code == 1
    assert "status: FAILED [status.revoked]: revoked" in out


def test_online_refuses_a_list_outside_the_given_register(live_site: dict[str, Any]) -> None:
    world, url, tmp = live_site["world"], live_site["url"], live_site["tmp"]
    path = write(tmp, "c.json", credential_of(granted_with_key(world)))
    trust = bundle(tmp)

    code, out, _ = verify_command(path, "--trust-bundle", trust, "--online", url + "/elsewhere")

    assert code == 4
    assert "status: FAILED [status.refused]" in out
    assert f"is not under {url}/elsewhere" in out and "it was not fetched" in out


@pytest.mark.django_db
def test_an_unreachable_register_gives_status_unknown(
    world: World, key_dir: Path, tmp_path: Path, settings: Any
) -> None:
    # Given a credential whose lists are at a register that does not answer (a closed port)
    settings.SITE_URL = "http://127.0.0.1:9"
    path = write(tmp_path, "c.json", credential_of(granted_with_key(world)))

    code, out, err = verify_command(
        path, "--trust-bundle", bundle(tmp_path), "--online", "http://127.0.0.1:9"
    )

    assert code == 4
    assert "status: FAILED [status.unavailable]: unknown: http://127.0.0.1:9/bodies/" in out
    assert out.rstrip().endswith("result: SIGNATURE VALID, STATUS UNKNOWN")
    assert "cannot be reached" in out
    assert "Traceback" not in out + err


@pytest.mark.django_db
def test_online_wants_an_http_address(world: World, key_dir: Path, tmp_path: Path) -> None:
    path = write(tmp_path, "c.json", credential_of(granted_with_key(world)))
    code, _, err = verify_command(path, "--online", "ftp://register.example")
    assert code == 3
    assert "--online wants the register's http(s) address" in err


# --- the /verify page ------------------------------------------------------------------------


def page(client: Client, url: str, status: int = 200, **post: Any) -> str:
    response = client.post(url, post) if post else client.get(url)
    assert response.status_code == status, (url, response.status_code)
    assert response["Content-Type"] == "text/html; charset=utf-8"
    no_cookie(response)
    return " ".join(response.content.decode().split())


def ask(cert_or_number: Certificate | str, issue: int | None = None) -> str:
    number = cert_or_number if isinstance(cert_or_number, str) else cert_or_number.number
    params = {"number": number} | ({"issue": str(issue)} if issue else {})
    return "/verify?" + urlencode(params)


@pytest.mark.django_db
def test_the_verify_page_answers_each_status_in_plain_words(
    world: World, client: Client, key_dir: Path
) -> None:
    dm = world.team.decision_maker
    # An empty form first, linked from the register's navigation
    assert "Verify a certificate" in page(client, "/verify")
    assert '<a href="/verify"' in page(client, "/")

    cert = world.granted()
    html = page(client, ask(cert, 1))
    assert '<h2 id="number-answer-heading">Valid and current</h2>' in html
    assert f"It is valid until {plain_day(cert.expires_on)}." in html
    assert "Issue 1 is the current issue" in html
    # A receipt is offered once the register has a key to sign it with
    assert "Download a signed receipt" not in html
    services.signing_key_generate(actor=None, cb=None)
    html = page(client, ask(cert, 1))
    assert "Download a signed receipt" in html
    assert f'href="/verify/receipt?{urlencode({"number": cert.number})}&amp;on=' in html

    on = cert.initial_decision_on + dt.timedelta(days=30)
    # Read a few days later (the clock frozen): the maximum suspension has not run out
    soon = time_machine.travel(dt.datetime.combine(on, dt.time(12)) + dt.timedelta(5))
    suspend(world, cert, on)
    with soon:
        assert f"Valid but suspended since {plain_day(on)} (complaint)" in page(client, ask(cert))

    certificate_withdraw(
        actor=dm, certificate=cert, reason_category="misuse", reason="x", decided_on=on
    )
    assert f"Withdrawn on {plain_day(on)} (misuse of the certificate or mark)" in page(
        client, ask(cert)
    )

    other = world.granted()
    certificate_cancel(actor=dm, certificate=other, reason="Plant closed", decided_on=on)
    assert f"Cancelled on {plain_day(on)} (at the holder&#x27;s request)" in page(
        client, ask(other)
    )

    # A certificate never surveilled, read once its validity has ended with no sweep run:
    # the calendar suspended it when the window closed and withdrew it 6 months later
    # (an expiry by date alone: tests/test_verify_status_today.py)
    third = world.granted()
    third.refresh_from_db()
    assert third.surveillance_due_by is not None
    withdrawn_on = add_months(third.surveillance_due_by + dt.timedelta(1), 6)
    with time_machine.travel(dt.datetime.combine(third.expires_on, dt.time(12)) + dt.timedelta(1)):
        assert f"Withdrawn on {plain_day(withdrawn_on)} (suspended longer than allowed)" in page(
            client, ask(third)
        )
    # The private reason is never shown
    assert "private words" not in page(client, ask(cert))


@pytest.mark.django_db
def test_the_verify_page_tells_a_superseded_issue_and_an_unknown_number(
    world: World, client: Client
) -> None:
    cert = world.granted()
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Müller AG")
    renamed_on = cert.initial_decision_on + dt.timedelta(days=20)
    certificate_holder_renamed(
        actor=world.team.decision_maker, certificate=cert, decided_on=renamed_on
    )
    html = page(client, ask(cert, 1))
    assert (
        f"Issue 1 was superseded by issue 2 on {plain_day(renamed_on)}; the current issue is 2."
    ) in html
    assert "Issue 2 is the current issue" in page(client, ask(cert, 2))
    assert "This certificate has no issue 7" in page(client, ask(cert, 7))

    # A number one character off: not found, with the real one offered
    wrong = cert.number[:-1] + ("9" if cert.number[-1] != "9" else "8")
    html = page(client, ask(wrong), status=404)
    assert "No such certificate" in html
    assert f'href="/verify?{urlencode({"number": cert.number})}"' in html.replace("&amp;", "&")

    assert "The issue is a whole number" in page(client, "/verify?number=x&issue=two", status=400)


@pytest.mark.django_db
def test_the_verify_page_checks_an_uploaded_credential(
    world: World, key_dir: Path, client: Client
) -> None:
    cert = granted_with_key(world)
    pdf = client.get(pdf_url(cert)).content
    credential = extract_credential(pdf)
    assert credential is not None

    def upload(name: str, data: bytes, status: int = 200) -> str:
        return page(client, "/verify", status=status, file=_file(name, data))

    # A genuine PDF, and its credential pasted
    html = upload("c.pdf", pdf)
    assert '<h2 id="credential-answer-heading">Valid and current</h2>' in html
    assert f"Signed by {world.team.cb.name}: the signature holds" in html
    assert "Valid and current" in page(client, "/verify", credential=json.dumps(credential))

    # Changed after signing
    tampered = json.loads(json.dumps(credential))
    tampered["credentialSubject"]["certificateNumber"] += "1"
    html = upload("t.json", json.dumps(tampered).encode())
    assert "Signature invalid" in html
    assert "the credential was changed after signing" in html

    # Issued by a stranger
    stranger = json.loads(json.dumps(credential))
    stranger["issuer"] = {"id": "did:web:elsewhere.example:cbs:X"}
    html = upload("s.json", json.dumps(stranger).encode())
    assert "Unknown issuer" in html and "did:web:elsewhere.example:cbs:X" in html

    # A PDF with no credential; a file that is neither; one too large
    bare = render_certificate_pdf(
        latest_issue(cert), credential=None, verify_url=verification_url(cert.number, 1)
    )
    assert "This PDF carries no signed credential" in upload("b.pdf", bare)
    assert "neither a certificate PDF nor a credential" in upload("x.txt", b"hello")
    big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
    assert "The file is too large" in upload("big.json", big, status=413)
    assert "Choose a certificate PDF" in page(client, "/verify", status=400, credential=" ")

    # Suspended since the PDF was made: the database's status list says so
    on = cert.initial_decision_on + dt.timedelta(days=30)
    suspend(world, cert, on)
    with time_machine.travel(dt.datetime.combine(on, dt.time(12)) + dt.timedelta(5)):
        assert f"Valid but suspended since {plain_day(on)} (complaint)" in upload("c.pdf", pdf)
    certificate_withdraw(
        actor=world.team.decision_maker, certificate=cert, reason_category="misuse",
        reason="x", decided_on=on,
    )  # fmt: skip
    assert f"Withdrawn on {plain_day(on)}" in upload("c.pdf", pdf)

    # Long after its credential's validity ended it is still withdrawn on that day, as by
    # its number: the register's record answers, not the credential's own dates
    with time_machine.travel(dt.datetime(2045, 1, 1, tzinfo=dt.UTC)):
        html = upload("c.pdf", pdf)
    assert f'<h2 id="credential-answer-heading">Withdrawn on {plain_day(on)} (misuse' in html


@pytest.mark.django_db
def test_the_verify_page_names_why_a_file_holds_no_credential_to_check(
    world: World, client: Client
) -> None:
    # Given: a certificate PDF rendered without a credential (its CB had no key), a damaged
    # copy of it, and a file that is neither a PDF nor JSON
    cert = world.granted()
    bare = render_certificate_pdf(
        latest_issue(cert), credential=None, verify_url=verification_url(cert.number, 1)
    )
    files = {
        "b.pdf": (bare, NO_CREDENTIAL),
        "d.pdf": (bare[: len(bare) // 2], DAMAGED_PDF),
        "x.txt": (b"hello", NOT_A_CREDENTIAL),
    }

    # When: each is given to the page
    answers = {
        name: client.post("/verify", {"file": _file(name, data)})
        for name, (data, _) in files.items()
    }

    # Then: each is answered (not refused) with no credential checked, and the reason's code
    for name, response in answers.items():
        assert response.status_code == 200
        no_cookie(response)
        answer = response.context["credential_answer"]
        assert (answer.ok, answer.headline, answer.code, answer.result) == (
            False,
            "No signed credential to check",
            files[name][1],
            None,
        ), name


def _file(name: str, data: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data)


@pytest.mark.django_db
def test_the_verify_post_needs_no_csrf_cookie(world: World, key_dir: Path) -> None:
    client = Client(enforce_csrf_checks=True)
    credential = credential_of(granted_with_key(world))
    response = client.post("/verify", {"credential": json.dumps(credential)})
    assert response.status_code == 200
    no_cookie(response)
    assert "Valid and current" in response.content.decode()


# --- the register's signed receipts ---------------------------------------------------------


@pytest.mark.django_db
def test_a_receipt_says_current_or_not_and_verifies(
    world: World, key_dir: Path, tmp_path: Path, client: Client
) -> None:
    cert = granted_with_key(world)
    suspended_on = cert.initial_decision_on + dt.timedelta(days=30)
    suspend(world, cert, suspended_on)

    def receipt(on: dt.date, status: int = 200) -> Any:
        response = client.get("/verify/receipt?" + urlencode({"number": cert.number, "on": on}))
        assert response.status_code == status
        no_cookie(response)
        return response

    # Without a register key: a clear refusal
    assert receipt(suspended_on, 503).json()["code"] == "key.none"

    out = StringIO()
    call_command("keys-generate", "--register", stdout=out)
    assert "now signs for the register (verification receipts)" in out.getvalue()
    did = selectors.register_did_document()
    assert did["id"] == "did:web:register.example"
    assert client.get("/.well-known/did.json").json() == did
    trust = bundle(tmp_path)

    before = receipt(suspended_on - dt.timedelta(days=1))
    assert before["Content-Disposition"].startswith('attachment; filename="IECQ-A_')
    document = before.json()
    assert document["type"] == ["VerifiableCredential", "IECQVerificationReceipt"]
    assert document["issuer"]["id"] == "did:web:register.example"
    assert document["credentialSubject"]["current"] is True
    code, text, _ = verify_command(write(tmp_path, "r1.json", document), "--trust-bundle", trust)
    assert code == 0, text
    day = (suspended_on - dt.timedelta(days=1)).isoformat()
    assert f"receipt: certificate {cert.number} was current on {day}" in text

    after = receipt(suspended_on).json()
    assert (after["credentialSubject"]["current"], after["credentialSubject"]["status"]) == (
        False,
        "suspended",
    )
    assert after["credentialSubject"]["reasonCategory"] == "complaint"
    code, text, _ = verify_command(write(tmp_path, "r2.json", after), "--trust-bundle", trust)
    assert code == 0
    assert f"was not current on {suspended_on.isoformat()}" in text

    # A changed receipt fails; the verify page knows the register's receipts
    after["credentialSubject"]["current"] = True
    assert verify_command(write(tmp_path, "r3.json", after), "--trust-bundle", trust)[0] == 1
    html = page(client, "/verify", file=_file("r.json", json.dumps(document).encode()))
    assert "A genuine receipt of this register" in html

    # Unknown numbers and later days are refused plainly
    response = client.get("/verify/receipt?number=NOPE")
    assert (response.status_code, response.json()["code"]) == (404, "certificate.unknown")
    later = (dt.date.today() + dt.timedelta(days=3)).isoformat()
    response = client.get("/verify/receipt?" + urlencode({"number": cert.number, "on": later}))
    assert (response.status_code, response.json()["code"]) == (400, "invalid.date")


@pytest.mark.django_db
def test_the_public_api_hands_out_the_same_signed_receipt(
    world: World, key_dir: Path, tmp_path: Path, client: Client
) -> None:
    cert = granted_with_key(world)
    url = f"/api/public/certificates/{quote(cert.number)}/receipt"
    on = cert.initial_decision_on.isoformat()

    # Without a register key: 503 problem JSON
    response = client.get(url, {"on": on})
    assert (response.status_code, response.json()["code"]) == (503, "key.none")

    services.signing_key_generate(actor=None, cb=None)
    response = client.get(url, {"on": on})
    assert response.status_code == 200
    no_cookie(response)
    receipt = response.json()
    assert list(receipt) == [
        "@context", "id", "type", "name", "issuer", "validFrom", "credentialSubject", "proof"
    ]  # fmt: skip
    assert receipt["credentialSubject"]["date"] == on
    assert receipt["credentialSubject"]["current"] is True
    # The API's schema leaves the signed document as signed
    result = verify_credential(receipt, trust=selectors.trust_store())
    assert result.valid, result.checks
    code, text, _ = verify_command(
        write(tmp_path, "r.json", receipt), "--trust-bundle", bundle(tmp_path)
    )
    assert code == 0, text

    assert client.get("/api/public/certificates/NOPE/receipt").status_code == 404
    assert client.get(url, {"on": "2026-13-01"}).status_code == 422


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.django_db
def test_a_receipt_speaks_only_of_a_day_from_the_first_issue_to_today(
    world: World, key_dir: Path, client: Client
) -> None:
    # given a certificate and the register's key
    cert = granted_with_key(world)
    services.signing_key_generate(actor=None, cb=None)
    first, today = cert.first_issued_on, timezone.localdate()
    assert first < today
    api = f"/api/public/certificates/{quote(cert.number)}/receipt"
    page_url = "/verify/receipt"

    # the day of the first issue and today are answered, by the API and the page
    for day in (first, today):
        for response in (
            client.get(api, {"on": day.isoformat()}),
            client.get(page_url, {"number": cert.number, "on": day.isoformat()}),
        ):
            assert response.status_code == 200
            assert response.json()["credentialSubject"]["date"] == day.isoformat()
            assert response.json()["credentialSubject"]["current"] is True

    # the day before the first issue and tomorrow are refused, with a code and plain words
    refused = {
        first - dt.timedelta(days=1): (
            "receipt.before_first_issue",
            f"Certificate {cert.number} was first issued on {first.isoformat()}: a receipt "
            f"can speak only of a day from then to today, not of "
            f"{(first - dt.timedelta(days=1)).isoformat()}.",
        ),
        today + dt.timedelta(days=1): (
            "invalid.date",
            "A receipt tells what the register shows up to today, not about a later day.",
        ),
    }
    for day, (code, message) in refused.items():
        response = client.get(api, {"on": day.isoformat()})
        assert (response.status_code, response.json()) == (
            400,
            {"code": code, "message": message},
        )
        sent = {"number": cert.number, "on": day.isoformat()}
        response = client.get(page_url, sent)
        assert (response.status_code, response["Content-Type"]) == (
            400,
            "application/problem+json",
        )
        assert response.json() == {"code": code, "message": message}
        # a browser, which asks for HTML first, gets the verify page saying why
        response = client.get(page_url, sent, HTTP_ACCEPT=BROWSER_ACCEPT)
        assert response.status_code == 400
        assert response["Content-Type"] == "text/html; charset=utf-8"
        assert response["Vary"] == "Accept"
        html = response.content.decode()
        assert (
            '<div id="verify-error" class="answer answer-error" role="alert">'
            f"<p>{escape(message)}</p></div>"
        ) in html
        no_cookie(response)

    # a number where the API expects a date reads as seconds since 1970: refused, not signed
    response = client.get(api, {"on": "0"})
    assert (response.status_code, response.json()["code"]) == (400, "receipt.before_first_issue")
    assert "not of 1970-01-01." in response.json()["message"]


# --- the status check's own rules ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "under"),
    [
        ("https://register.example/bodies/XX/status/suspension", True),
        ("https://REGISTER.example/bodies/XX/status/suspension", True),
        ("http://register.example/bodies/XX/status/suspension", False),
        ("https://register.example.evil/bodies/XX/status/suspension", False),
        ("https://register.example:8443/bodies/XX/status/suspension", False),
        ("https://register.example/bodies/../admin/x", False),
        ("file:///etc/passwd", False),
    ],
)
def test_a_list_is_fetched_only_from_under_the_given_register(url: str, under: bool) -> None:
    assert is_under(url, "https://register.example/") is under
    assert is_under(url, "https://register.example") is under


def test_a_prefix_is_matched_by_whole_segments() -> None:
    assert is_under("https://r.example/reg/bodies/X/status/revocation", "https://r.example/reg")
    assert not is_under("https://r.example/register2/bodies/X", "https://r.example/reg")


@pytest.mark.django_db
def test_a_status_list_signed_by_another_cb_is_not_believed(world: World, key_dir: Path) -> None:
    # Given a credential of one CB, and another CB's (genuine, signed) revocation list
    credential = credential_of(granted_with_key(world))
    other = World.make_cb(world.secretariat, "ZZ7", dt.date(2020, 1, 1))
    services.signing_key_generate(actor=None, cb=other.cb)
    foreign = services.status_list_credential(cb_code="ZZ7", purpose="revocation")
    trust = selectors.trust_store()

    # When a lookup is handed the other CB's list for the credential's entries
    lookup = http_lookup(
        SITE, trust=trust, issuer_id=credential["issuer"]["id"], fetch=lambda url: foreign
    )
    check = status_check(credential, lookup)

    # Then the status is unknown, and says why
    assert (check.ok, check.code) == (False, "status.unavailable")
    assert (
        "issued by did:web:register.example:cbs:ZZ7, not by the credential's issuer" in check.detail
    )
