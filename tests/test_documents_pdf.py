"""The certificate document: a PDF of each issue, read back with pypdf; its
embedded signed credential; its QR code, decoded by Debian's zbarimg; holder names in other
scripts; long scopes over several pages; damaged files; the public download."""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client
from fpdf import FPDF
from pypdf import PdfReader

from apcert.certificates.models import Certificate, CertificateIssue
from apcert.credentials.models import IssueCredential
from apcert.credentials.services import signing_key_generate
from apcert.documents import (
    CREDENTIAL_MEDIA_TYPE,
    DocumentError,
    extract_credential,
    render_certificate_pdf,
    verification_url,
)
from apcert.documents.errors import CREDENTIAL_UNREADABLE, DAMAGED_PDF, NOT_A_PDF
from apcert.documents.fonts import REPLACEMENT
from tests.factories import World

pytestmark = pytest.mark.django_db

ZBARIMG = Path("/usr/bin/zbarimg")
SITE = "https://register.example.org"
CREDENTIAL: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential", "IECQCertificateCredential"],
    "issuer": "did:web:register.example.org",
    "credentialSubject": {"name": "Zhōngguó 电子 Müller", "issue": 1, "valid": True},
    "proof": {"type": "DataIntegrityProof", "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueu"},
}  # fmt: skip


@pytest.fixture(autouse=True)
def _public_site(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SITE_URL = SITE


def first_issue(cert: Certificate) -> CertificateIssue:
    return CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme").get(
        certificate=cert, issue_number=1
    )


def variant(issue: CertificateIssue, **changes: Any) -> CertificateIssue:
    """The issue with other snapshot contents, never saved (issues are immutable)."""
    other = copy.copy(issue)
    for name, value in changes.items():
        setattr(other, name, value)
    return other


def render(issue: CertificateIssue, credential: dict[str, Any] | None = CREDENTIAL) -> bytes:
    url = verification_url(issue.certificate.number, issue.issue_number)
    return render_certificate_pdf(issue, credential=credential, verify_url=url)


def page_texts(pdf: bytes) -> list[str]:
    """Each page's text, whitespace collapsed."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


# --- the document ---------------------------------------------------------------------------


def test_the_pdf_opens_and_shows_the_issue(world: World) -> None:
    # given a granted certificate
    issue = first_issue(world.granted())
    cert = issue.certificate
    # when its first issue is rendered
    pdf = render(issue)
    # then pypdf opens an A4 document that reads like the certificate
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata is not None and reader.metadata.title == f"{cert.number} issue 1"
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    text = " ".join(page_texts(pdf))
    for expected in (
        "Certificate of Approval — IECQ Approved Process",
        cert.number,
        f"Issue 1 of {issue.issued_on.day}",
        world.org.legal_name,
        "Main plant",
        "EPL process at the main plant",
        "ISO 9001 2015",  # the standard and its edition, in the standards table
        "ISO 9001:2015",  # and on its scope line
        f"{cert.cb.name} ({cert.cb.code})",
        f"Verify at {verification_url(cert.number, 1)}",
        f"embedded in this PDF as the file {cert.number.replace(' ', '_')}-issue-1.vc.json",
    ):
        assert expected in text, expected
    # and nothing private: the holder's unpublished site, its registration number
    assert world.site2.name not in text
    assert str(world.org.registration_number) not in text


def test_the_embedded_credential_round_trips(world: World) -> None:
    issue = first_issue(world.granted())
    pdf = render(issue)
    # the credential reads back as the same dict, accents and CJK included
    assert extract_credential(pdf) == CREDENTIAL
    # as one attachment, named after the certificate and issue, with the VC media type
    [attachment] = list(PdfReader(io.BytesIO(pdf)).attachment_list)
    assert attachment.name == f"{issue.certificate.number.replace(' ', '_')}-issue-1.vc.json"
    assert attachment.subtype == "/" + CREDENTIAL_MEDIA_TYPE
    assert json.loads(attachment.content) == CREDENTIAL


def test_without_a_credential_the_pdf_says_so(world: World) -> None:
    pdf = render(first_issue(world.granted()), credential=None)
    assert extract_credential(pdf) is None
    assert list(PdfReader(io.BytesIO(pdf)).attachment_list) == []
    assert "This copy carries no signed credential." in " ".join(page_texts(pdf))


# --- the QR code ----------------------------------------------------------------------------


def _zbarimg() -> Path:
    """Debian's zbarimg; the test is skipped without it (loudly), except in CI or when the
    tools are required (APCERT_REQUIRE_BROWSER=1), where its absence fails, as for the
    browser tests (scripts/install-browser.sh installs both)."""
    if ZBARIMG.exists():
        return ZBARIMG
    reason = f"{ZBARIMG} is missing (Debian package zbar-tools)"
    if os.environ.get("CI") or os.environ.get("APCERT_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and CI needs it", pytrace=False)
    message = f"QR CODE NOT DECODED: {reason}; run scripts/install-browser.sh"
    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)


def decode_qr(pdf: bytes, tmp_path: Path) -> list[str]:
    """The QR codes zbarimg finds in the images of the PDF's first page."""
    zbarimg = _zbarimg()
    images = PdfReader(io.BytesIO(pdf)).pages[0].images
    assert len(images) == 1  # the QR code is the only picture
    png = tmp_path / "qr.png"
    images[0].image.save(png)
    result = subprocess.run(  # noqa: S603 - a fixed tool on a file this test wrote
        [str(zbarimg), "--quiet", "--raw", "-Sbinary", str(png)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return result.stdout.decode("utf-8").splitlines()


def test_verification_url_is_the_register_page_for_number_and_issue(settings) -> None:  # type: ignore[no-untyped-def]
    assert verification_url("IECQ-A XX 26.0001", 3) == (
        f"{SITE}/verify?number=IECQ-A%20XX%2026.0001&issue=3"
    )
    settings.SITE_URL = "https://register.example.org/iecq/"
    assert verification_url("A&B/1", 1) == (
        "https://register.example.org/iecq/verify?number=A%26B%2F1&issue=1"
    )


def test_the_qr_code_opens_the_verification_page(world: World, tmp_path: Path) -> None:
    # given the second issue of a certificate (its holder renamed)
    from apcert.certificates.services import certificate_holder_renamed
    from apcert.organizations.services import organization_rename

    cert = world.granted()
    organization_rename(actor=world.org_user, organization=world.org, legal_name="Müller AG")
    certificate_holder_renamed(
        actor=world.team.decision_maker, certificate=cert, decided_on=dt.date(2026, 5, 4)
    )
    issue = CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme").get(
        certificate=cert, issue_number=2
    )
    # when its PDF is rendered, then its QR code holds exactly the verification address
    assert decode_qr(render(issue), tmp_path) == [verification_url(cert.number, 2)]
    assert verification_url(cert.number, 2).startswith(f"{SITE}/verify?number=IECQ-A%20")


# --- names in other scripts, long scopes ----------------------------------------------------


def test_accented_and_cjk_holder_names_render(world: World) -> None:
    issue = first_issue(world.granted())
    # an accented name prints as it is
    german = variant(issue, holder={**issue.holder, "name": "Müller Elektronik GmbH"})
    text = " ".join(page_texts(render(german)))
    assert "Müller Elektronik GmbH" in text
    assert REPLACEMENT not in text
    # Greek and Cyrillic too
    others = variant(issue, holder={**issue.holder, "name": "Ωμέγα ΑΕ / ООО «Электрон»"})
    assert "Ωμέγα ΑΕ / ООО «Электрон»" in " ".join(page_texts(render(others)))
    # Chinese characters, which the embedded font lacks, are replaced, and the PDF says so;
    # the credential inside keeps the name whole
    chinese = variant(issue, holder={**issue.holder, "name": "Zhōngguó 电子"})
    pdf = render(chinese)
    text = " ".join(page_texts(pdf))
    assert f"Zhōngguó {REPLACEMENT}{REPLACEMENT}" in text
    assert "电子" not in text
    assert "The holder's name uses characters this document's font does not include" in text
    assert "the register gives every name and scope line in full" not in text  # said once
    assert extract_credential(pdf) == CREDENTIAL
    # such characters elsewhere (a scope line) get the closing note
    line = {**issue.scope_lines[0], "wording": "Plating for 电子 customers"}
    text = " ".join(page_texts(render(variant(issue, scope_lines=[line]))))
    assert f"Plating for {REPLACEMENT}{REPLACEMENT} customers" in text
    assert "the register gives every name and scope line in full" in text


def test_a_long_scope_flows_onto_further_pages(world: World) -> None:
    # given an issue with 60 scope lines
    issue = first_issue(world.granted())
    line = issue.scope_lines[0]
    lines = [
        {**line, "wording": f"Scope line {n:02d}: copper and tin plating of printed boards, "
                            "with pre-treatment, rinsing and waste water treatment"}
        for n in range(1, 61)
    ]  # fmt: skip
    long = variant(issue, scope_lines=lines)
    # when it is rendered
    pdf = render(long)
    texts = page_texts(pdf)
    # then the scope takes several pages, every line printed once, the headings repeated
    assert len(texts) >= 4
    joined = " ".join(texts)
    for n in range(1, 61):
        assert joined.count(f"Scope line {n:02d}:") == 1, n
    assert all("Process category Scope Site Standards" in t for t in texts[1:-1])
    assert all(f"Page {i} of {len(texts)}" in t for i, t in enumerate(texts, start=1))
    # and no text reaches into the footer: only the footer lies below the body's margin
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages, start=1):
        low: list[str] = []

        def visit(text: str, cm: Any, tm: Any, font: Any, size: Any, low: list[str] = low) -> None:
            if text.strip() and tm[5] < 26 / 25.4 * 72 - 2:  # 26 mm from the bottom, in points
                low.append(text.strip())

        page.extract_text(visitor_text=visit)
        # Spaces between words come out single or double depending on how pypdf groups the
        # text runs; what is asserted is the words.
        footer = " ".join(" ".join(low).split())
        assert footer.startswith("The register's signed credential for this issue"), footer
        assert footer.endswith(f"Page {number} of {len(texts)}"), footer
        assert "Scope line" not in footer


# --- reading damaged files ------------------------------------------------------------------


def test_extract_credential_refuses_what_is_not_a_sound_pdf(world: World) -> None:
    pdf = render(first_issue(world.granted()))
    cases = {
        NOT_A_PDF: [b"", b"hello, world", b"\x89PNG\r\n\x1a\n" + bytes(2000)],
        DAMAGED_PDF: [pdf[: len(pdf) // 2], pdf[:-200], b"%PDF-1.7\n1 0 obj garbage\n%%EOF\n"],
    }
    for code, samples in cases.items():
        for sample in samples:
            with pytest.raises(DocumentError) as caught:
                extract_credential(sample)
            assert caught.value.code == code, sample[:20]
    # a damaged attachment in a sound PDF
    start = pdf.index(b"stream", pdf.index(b"/Type /EmbeddedFile")) + len(b"stream\n")
    with pytest.raises(DocumentError) as caught:
        extract_credential(pdf[:start] + bytes(40) + pdf[start + 40 :])
    assert caught.value.code == CREDENTIAL_UNREADABLE


def test_extract_credential_refuses_an_attachment_that_is_no_credential() -> None:
    for content in (b"not json {", b"[1, 2]", b"\xff\xfe"):
        maker = FPDF()
        maker.add_page()
        maker.embed_file(bytes=content, basename="X-issue-1.vc.json")
        with pytest.raises(DocumentError) as caught:
            extract_credential(bytes(maker.output()))
        assert caught.value.code == CREDENTIAL_UNREADABLE, content


# --- the public download --------------------------------------------------------------------


def pdf_url(number: str, issue_number: int) -> str:
    return f"/certificates/{quote(number)}/issues/{issue_number}.pdf"


def test_the_certificate_page_links_the_pdf_of_the_current_issue(
    world: World, client: Client
) -> None:
    cert = world.granted()
    page = client.get(f"/certificates/{quote(cert.number)}").content.decode()
    assert f'href="{pdf_url(cert.number, 1)}"' in page
    assert "Download the certificate (PDF)" in page


def test_the_pdf_downloads_anonymously(world: World, client: Client, key_dir) -> None:  # type: ignore[no-untyped-def]
    # given a CB with a signing key, and a certificate granted since
    signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    cert = world.granted()
    stored = IssueCredential.objects.get(issue__certificate=cert, issue__issue_number=1)
    # when anyone downloads its first issue
    response = client.get(pdf_url(cert.number, 1))
    # then it is the PDF, to save under a sensible name, cacheable, and sets no cookie
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    stem = cert.number.replace(" ", "_") + "-issue-1"
    assert response["Content-Disposition"] == f'attachment; filename="{stem}.pdf"'
    assert response["Cache-Control"].startswith("public, max-age=")
    assert response.has_header("ETag")
    assert not response.cookies
    assert response.content.startswith(b"%PDF-")
    assert cert.number in page_texts(response.content)[0]
    # with the credential signed when the certificate was granted inside
    assert extract_credential(response.content) == stored.credential
    # a HEAD request is answered too; a POST is not
    assert client.head(pdf_url(cert.number, 1)).status_code == 200
    assert client.post(pdf_url(cert.number, 1)).status_code == 405


def test_the_pdf_has_no_credential_while_the_cb_has_no_key(
    world: World, client: Client, key_dir
) -> None:  # type: ignore[no-untyped-def]
    cert = world.granted()
    response = client.get(pdf_url(cert.number, 1))
    assert response.status_code == 200
    assert extract_credential(response.content) is None


def test_no_pdf_for_a_draft_an_unknown_certificate_or_issue(world: World, client: Client) -> None:
    granted = world.granted()
    issue = first_issue(granted)
    # a draft certificate, with an issue, is not public
    draft = Certificate.objects.create(
        number=f"IECQ-A {world.team.cb.code} 26.0998", number_year=26, number_serial=998,
        cb=world.team.cb, scheme=world.scheme, organization=world.org,
        application=world.accepted_application(), status="draft",
        status_since=issue.valid_from, first_issued_on=issue.valid_from,
        initial_decision_on=issue.valid_from, expires_on=issue.valid_until,
    )  # fmt: skip
    CertificateIssue.objects.create(
        certificate=draft, issue_number=1, issued_on=issue.issued_on, valid_from=issue.valid_from,
        valid_until=issue.valid_until, reason=issue.reason, holder=issue.holder,
        sites=issue.sites, programmes=issue.programmes, scope_lines=issue.scope_lines,
        standards=issue.standards,
    )  # fmt: skip
    for url in (
        pdf_url(draft.number, 1),
        pdf_url(granted.number, 2),  # no such issue yet
        pdf_url(granted.number, 0),
        pdf_url("IECQ-A ZZ 26.9999", 1),
        f"/certificates/{quote(granted.number)}/issues/1.pdf.exe",
    ):
        response = client.get(url)
        assert response.status_code == 404, url
        assert not response.cookies, url
        assert response["Content-Type"].startswith("text/html"), url
    assert client.get(pdf_url(granted.number, 1)).status_code == 200


def test_rendering_twice_gives_the_same_document(world: World) -> None:
    # The creation date is the issue's own, so the same issue gives the same file.
    issue = first_issue(world.granted())
    assert render(issue) == render(issue)


# --- the address comes from the environment, as `make demo` sets it ------------------------

#: The PDF and DID document as a process started with APCERT_SITE_URL serves them.
SERVED = """
from pathlib import Path
from django.test import Client
from apcert.certificates.models import Certificate
cert = Certificate.objects.exclude(status="draft").select_related("cb").order_by("pk").first()
client = Client(HTTP_HOST="127.0.0.1:8101")
out = Path({out!r})
pdf = client.get(f"/certificates/{{cert.number}}/issues/1.pdf")
assert pdf.status_code == 200, pdf.status_code
(out / "issue-1.pdf").write_bytes(pdf.content)
(out / "did.json").write_bytes(client.get(f"/cbs/{{cert.cb.code}}/did.json").content)
(out / "number").write_text(cert.number)
"""


@pytest.mark.own_sqlite
def test_a_pdf_made_with_site_url_on_port_8101_names_that_port(tmp_path: Path) -> None:
    # given a register set up, signed and served under APCERT_SITE_URL=http://127.0.0.1:8101
    environ = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environ |= {"APCERT_VAR_DIR": str(tmp_path / "var"), "APCERT_SITE_URL": "http://127.0.0.1:8101"}
    for command in (
        ["migrate", "--noinput", "-v0"],
        ["load-reference"],
        ["demo-data", "--certificates", "3", "--quiet"],
        ["keys-generate", "--missing"],
        ["shell", "-c", SERVED.format(out=str(tmp_path))],
    ):
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "apcert", *command],
            cwd=tmp_path, env=environ, check=True, capture_output=True, timeout=180,
        )  # fmt: skip
    pdf = (tmp_path / "issue-1.pdf").read_bytes()
    number = (tmp_path / "number").read_text()
    # then its QR code opens the verification page on port 8101
    assert decode_qr(pdf, tmp_path) == [
        f"http://127.0.0.1:8101/verify?number={quote(number, safe='')}&issue=1"
    ]
    # and its signed credential, the CB's DID and the DID document name that port
    credential = extract_credential(pdf)
    assert credential is not None
    did = f"did:web:127.0.0.1%3A8101:cbs:{number.split()[1]}"
    assert credential["issuer"]["id"] == did
    assert (
        credential["id"] == f"http://127.0.0.1:8101/certificates/{quote(number, safe='')}#issue-1"
    )
    assert credential["@context"][1] == "http://127.0.0.1:8101/ns/credentials/v1"
    assert credential["proof"]["verificationMethod"] == f"{did}#key-1"
    document = json.loads((tmp_path / "did.json").read_text())
    assert document["id"] == did
    assert [method["id"] for method in document["verificationMethod"]] == [f"{did}#key-1"]
