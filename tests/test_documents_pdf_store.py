"""A certificate PDF is drawn once for the same facts and kept: a second download reads the
kept file; a new status, a new credential or a renamed CB draws it anew and the old file
goes; a store that cannot be written, or a half-written file, never stops a download."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.test import Client

from apcert.bodies.models import CertificationBody
from apcert.certificates.services import certificate_suspend
from apcert.documents import downloads
from tests.factories import World

pytestmark = pytest.mark.django_db


def pdf_url(number: str, issue: int) -> str:
    return f"/certificates/{quote(number)}/issues/{issue}.pdf"


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each PDF drawn, by its mark."""
    calls: list[str] = []
    draw = downloads.render_certificate_pdf

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(kwargs.get("mark", ""))
        return draw(*args, **kwargs)

    monkeypatch.setattr(downloads, "render_certificate_pdf", counted)
    return calls


def kept_files(settings: Any) -> list[Path]:
    return sorted(Path(settings.DOCUMENT_PDF_DIR).rglob("*.pdf"))


def test_a_second_download_reads_the_kept_pdf(
    world: World, client: Client, drawn: list[str], settings: Any
) -> None:
    cert = world.granted()
    first = client.get(pdf_url(cert.number, 1))
    second = client.get(pdf_url(cert.number, 1))
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert len(drawn) == 1
    assert len(kept_files(settings)) == 1


def test_a_new_status_or_a_renamed_cb_draws_it_anew_and_the_old_file_goes(
    world: World, client: Client, drawn: list[str], settings: Any
) -> None:
    cert = world.granted()
    client.get(pdf_url(cert.number, 1))
    certificate_suspend(
        actor=world.team.decision_maker, certificate=cert, reason_category="complaint",
        reason="Complaint", decided_on=cert.status_since,
    )  # fmt: skip
    suspended = client.get(pdf_url(cert.number, 1))
    assert suspended.status_code == 200
    assert drawn[0] == "" and drawn[1] != ""  # now marked (suspended, then withdrawn by date)
    assert len(kept_files(settings)) == 1
    CertificationBody.objects.filter(pk=world.team.cb.pk).update(name="Renamed Body GmbH")
    client.get(pdf_url(cert.number, 1))
    assert len(drawn) == 3
    assert len(kept_files(settings)) == 1


def test_a_store_that_cannot_be_written_still_serves_the_pdf(
    world: World, client: Client, drawn: list[str], settings: Any, tmp_path: Path
) -> None:
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the store's folder would be")
    settings.DOCUMENT_PDF_DIR = blocked
    cert = world.granted()
    for _ in range(2):
        response = client.get(pdf_url(cert.number, 1))
        assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert len(drawn) == 2


def test_a_half_written_file_is_never_served(
    world: World, client: Client, drawn: list[str], settings: Any
) -> None:
    cert = world.granted()
    good = client.get(pdf_url(cert.number, 1)).content
    [kept] = kept_files(settings)
    # A process died while writing the next one: its partial file lies beside the kept one
    (kept.parent / f".{kept.name}.123.abc.part").write_bytes(b"%PDF-1.7 trunc")
    assert client.get(pdf_url(cert.number, 1)).content == good
    assert len(drawn) == 1
