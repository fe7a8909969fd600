"""A certificate PDF downloaded while the certificate is not current carries its status today
across every page ("WITHDRAWN on 24 June 2022: not valid"), whether or not the sweep has
recorded it; a current certificate's PDF carries no mark. The embedded credential and the
QR code stay as they are."""

from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from django.test import Client
from pypdf import PdfReader

from apcert.certificates.models import CertificateIssue
from apcert.credentials import services
from apcert.documents import extract_credential, render_certificate_pdf, verification_url
from tests.credentials_support import key_dir
from tests.factories import World
from tests.status_today_support import CASES, build, on_day

__all__ = ["key_dir"]

pytestmark = pytest.mark.django_db


def page_texts(pdf: bytes) -> list[str]:
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages]


def marks_in(text: str) -> list[str]:
    return re.findall(r"[A-Z]{7,9} (?:on|since) \d{1,2} [A-Z][a-z]+ \d{4}: not valid", text)


@pytest.mark.parametrize("name", CASES)
def test_the_downloaded_pdf_carries_the_status_today(
    name: str, world: World, key_dir: Path, client: Client
) -> None:
    # Given a certificate of a CB with a key, in the case's status on the case's day
    services.signing_key_generate(actor=world.secretariat, cb=world.team.cb)
    case = build(world, name)

    # When its PDF is downloaded that day
    with on_day(case.today):
        response = client.get(f"/certificates/{quote(case.cert.number)}/issues/1.pdf")

    # Then every page carries the mark twice (the band and the diagonal), or none at all
    assert response.status_code == 200
    texts = page_texts(response.content)
    expected = [case.mark, case.mark] if case.mark else []
    assert [marks_in(text) for text in texts] == [expected] * len(texts)
    # And the credential it embeds and the QR code's address are those of an unmarked copy
    credential = extract_credential(response.content)
    assert credential is not None
    assert credential["credentialSubject"]["certificateNumber"] == case.cert.number
    assert verification_url(case.cert.number, 1) in texts[0].replace(" ", "")


def test_every_page_of_a_long_certificate_is_marked(world: World) -> None:
    # Given an issue whose scope runs over several pages
    cert = world.granted()
    issue = CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme").get(
        certificate=cert
    )
    line = issue.scope_lines[0]
    issue.scope_lines = [{**line, "wording": f"Line {n}: " + "plating " * 40} for n in range(60)]
    mark = "WITHDRAWN on 24 June 2022: not valid"

    # When it is rendered with a mark, and without
    url = "https://x.example/verify"
    marked = render_certificate_pdf(issue, credential=None, verify_url=url, mark=mark)
    plain = render_certificate_pdf(issue, credential=None, verify_url=url)

    # Then each of its pages has the mark (the band pushes the continued pages' text down),
    # and none of the unmarked copy's
    texts = page_texts(marked)
    assert len(texts) >= 3
    assert [marks_in(text) for text in texts] == [[mark, mark]] * len(texts)
    assert [marks_in(text) for text in page_texts(plain)] == [[]] * len(page_texts(plain))


def test_the_mark_leaves_the_printed_qr_code_readable(world: World, tmp_path: Path) -> None:
    # Given a withdrawn certificate's first page as it prints (rasterised at 150 dpi)
    tools = [Path("/usr/bin/pdftoppm"), Path("/usr/bin/zbarimg")]
    if not all(tool.exists() for tool in tools):
        pytest.skip("pdftoppm (poppler-utils) and zbarimg (zbar-tools) are needed")
    cert = world.granted()
    issue = CertificateIssue.objects.select_related("certificate__cb", "certificate__scheme").get(
        certificate=cert
    )
    url = verification_url(cert.number, 1)
    pdf = tmp_path / "marked.pdf"
    pdf.write_bytes(
        render_certificate_pdf(
            issue, credential=None, verify_url=url, mark="WITHDRAWN on 24 June 2022: not valid"
        )
    )
    subprocess.run(  # noqa: S603 - fixed tools on files this test wrote
        [str(tools[0]), "-r", "150", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "p")],
        check=True,
        timeout=60,
    )
    (page,) = tmp_path.glob("p*.png")

    # When the page image is scanned, then the QR code reads the verification address
    scanned = subprocess.run(  # noqa: S603
        [str(tools[1]), "--quiet", "--raw", "-Sbinary", str(page)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert scanned.stdout.decode().splitlines() == [url]
