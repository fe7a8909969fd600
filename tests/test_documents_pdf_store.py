"""A certificate PDF is drawn once for the same facts and kept in the database: a second
download reads the kept PDF, also one another server kept; a new status, a new
credential or a renamed CB draws it anew and replaces the kept one; a PDF that cannot be kept
never stops a download."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from django.db import OperationalError
from django.db.models import QuerySet
from django.test import Client

from apcert.bodies.models import CertificationBody
from apcert.certificates.services import certificate_suspend
from apcert.documents import certificate_pdf
from apcert.register.models import KeptCertificatePdf
from tests.factories import World

pytestmark = pytest.mark.django_db


def pdf_url(number: str, issue: int) -> str:
    return f"/certificates/{quote(number)}/issues/{issue}.pdf"


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Each PDF drawn, by its mark."""
    calls: list[str] = []
    draw = certificate_pdf.render_certificate_pdf

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(kwargs.get("mark", ""))
        return draw(*args, **kwargs)

    monkeypatch.setattr(certificate_pdf, "render_certificate_pdf", counted)
    return calls


def kept() -> list[tuple[int, str, bytes]]:
    return [
        (issue, digest, bytes(content))
        for issue, digest, content in KeptCertificatePdf.objects.order_by("issue").values_list(
            "issue", "digest", "content"
        )
    ]


def test_a_second_download_reads_the_kept_pdf(
    world: World, client: Client, drawn: list[str]
) -> None:
    cert = world.granted()
    first = client.get(pdf_url(cert.number, 1))
    second = client.get(pdf_url(cert.number, 1))
    assert first.status_code == second.status_code == 200
    assert second.content == first.content
    assert len(drawn) == 1
    [(issue, _digest, content)] = kept()
    assert (issue, content) == (cert.issues.get().pk, first.content)


def test_a_new_status_or_a_renamed_cb_draws_it_anew_and_replaces_the_kept_one(
    world: World, client: Client, drawn: list[str]
) -> None:
    cert = world.granted()
    granted = client.get(pdf_url(cert.number, 1)).content
    [(_issue, first_digest, _content)] = kept()
    certificate_suspend(
        actor=world.team.decision_maker, certificate=cert, reason_category="complaint",
        reason="Complaint", decided_on=cert.status_since,
    )  # fmt: skip
    suspended = client.get(pdf_url(cert.number, 1))
    assert suspended.status_code == 200
    assert drawn[0] == "" and drawn[1] != ""  # now marked (suspended, then withdrawn by date)
    [(_issue, second_digest, content)] = kept()
    assert second_digest != first_digest
    assert content == suspended.content != granted
    CertificationBody.objects.filter(pk=world.team.cb.pk).update(name="Renamed Body GmbH")
    renamed = client.get(pdf_url(cert.number, 1)).content
    assert len(drawn) == 3
    [(_issue, third_digest, content)] = kept()
    assert third_digest not in (first_digest, second_digest)
    assert content == renamed


def test_a_pdf_kept_by_another_process_is_what_is_served(
    world: World, client: Client, drawn: list[str]
) -> None:
    # Given the PDF kept in the database as another server wrote it (told apart here by a
    # comment at its end), and nothing of it in this process but the row
    cert = world.granted()
    first = client.get(pdf_url(cert.number, 1)).content
    elsewhere = first + b"%kept by another server\n"
    KeptCertificatePdf.objects.update(content=elsewhere)
    # When this server is asked for it
    second = client.get(pdf_url(cert.number, 1))
    # Then it serves the kept row, not a PDF of its own
    assert second.status_code == 200 and second.content == elsewhere
    assert len(drawn) == 1


def test_a_pdf_that_cannot_be_kept_is_still_served(
    world: World, client: Client, drawn: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a database that refuses to keep the PDF (a read-only copy, a full disk)
    cert = world.granted()
    update_or_create = QuerySet.update_or_create

    def refused(self: QuerySet[Any], **kwargs: Any) -> Any:
        if self.model is KeptCertificatePdf:
            raise OperationalError("attempt to write a readonly database")
        return update_or_create(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update_or_create", refused)
    for _ in range(2):
        response = client.get(pdf_url(cert.number, 1))
        assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    assert len(drawn) == 2
    assert kept() == []
