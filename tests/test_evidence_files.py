"""Evidence files on corrective actions.

Uploads are kept in the database with their row (every app server reads them), limited in
size and type with a clear error past the limits, served only to those who may see them,
each with its SHA-256 recorded. Every refusal is checked to write nothing: no EvidenceFile
row, no chunk, no audit event, and no file at all under the directory uploads are received
in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import io
import os
import shutil
import struct
import unicodedata
import zipfile
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.core.signals import request_finished
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.http import Http404
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from apcert import env
from apcert.accounts.models import User
from apcert.assessments.evidence import (
    EvidenceFileDamaged,
    evidence_attach,
    evidence_open,
    evidence_root,
    evidence_visible,
    kinds,
)
from apcert.assessments.evidence import services as evidence_services
from apcert.assessments.evidence import storage as evidence_storage
from apcert.assessments.evidence.kinds import (
    NAME_MAX_CHARS,
    EvidenceRefused,
    archive_max_bytes,
    clean_name,
)
from apcert.assessments.models import CorrectiveAction, EvidenceChunk, EvidenceFile
from apcert.assessments.views_evidence import evidence_download
from apcert.audit.models import AuditEvent
from apcert.bodies.models import CBStaff
from apcert.bodies.services import cb_staff_add
from apcert.core.errors import DomainError, NotFound, PermissionDenied
from apcert.organizations.services import organization_create
from tests.factories import World, make_user
from tests.flows_support import visit

pytestmark = pytest.mark.django_db

# --- contents of each kind ----------------------------------------------------------------

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02" + bytes(20)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(20)
ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(120)
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(120)
TEXT = b"Checklist introduced on 3 March; records of lots 12 to 19 completed.\n"
# Spreadsheet programs write a byte order mark before UTF-8 CSV.
CSV = "\ufefflot,checked by,date\n12,Müller,2026-03-03\n".encode()


def _zip(parts: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for part, text in parts.items():
            package.writestr(part, text)
    return buffer.getvalue()


DOCX = _zip(
    {
        "[Content_Types].xml": "<Types/>",
        "_rels/.rels": "<Relationships/>",
        "word/document.xml": "<w:document/>",
    }
)
XLSX = _zip(
    {
        "[Content_Types].xml": "<Types/>",
        "_rels/.rels": "<Relationships/>",
        "xl/workbook.xml": "<workbook/>",
    }
)
DOCX_WITH_MACROS = _zip(
    {
        "[Content_Types].xml": "<Types/>",
        "word/document.xml": "<w:document/>",
        "word/vbaProject.bin": "Attribute VB_Name",
    }
)
OOXML = "application/vnd.openxmlformats-officedocument"
PLAIN_ZIP = _zip({"notes.txt": "not an Office document"})


# --- fixtures and helpers ------------------------------------------------------------------


@pytest.fixture
def evidence_dir(settings: Any, tmp_path: Path) -> Path:
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    return settings.EVIDENCE_DIR  # type: ignore[no-any-return]


@pytest.fixture
def answered(world: World, evidence_dir: Path) -> CorrectiveAction:
    """A major nonconformity of an initial assessment, answered by the organization."""
    a = world.assessment(world.accepted_application(), findings=("major",))
    return world.answer(a.findings.get())  # type: ignore[no-any-return]


def upload(name: str, content: bytes) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/pdf")


def streamed_upload(name: str, content: bytes, *, size: int | None) -> UploadedFile:
    """An upload read in chunks of 64 KiB (as Django's uploads kept in a temporary file are;
    those kept in memory come as one chunk), declaring ``size``."""
    return UploadedFile(io.BytesIO(content), name=name, content_type="text/plain", size=size)


def raw_upload(name: str, content: bytes) -> SimpleUploadedFile:
    """An upload whose name is exactly what a client sent. Django's UploadedFile would cut a
    '/' path to its last part (and the multipart parser does more); the service must not
    depend on every caller going through them, so its own check is tested here."""
    f = upload("placeholder", content)
    f._name = name  # type: ignore[attr-defined]
    return f


def files_under(root: Path) -> list[str]:
    """Every file under the evidence directory (uploads being received)."""
    if not root.exists():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def written() -> dict[str, int]:
    return {
        "evidence_files": EvidenceFile.objects.count(),
        "chunks": EvidenceChunk.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def stored(evidence: EvidenceFile) -> bytes:
    """The content kept in the database for ``evidence``, its chunks in order."""
    pieces = EvidenceChunk.objects.filter(evidence=evidence).order_by("index")
    return b"".join(bytes(piece) for piece in pieces.values_list("data", flat=True))


def assert_refused(call: Callable[[], Any], code: str, root: Path) -> DomainError:
    """``call`` is refused with ``code`` and writes nothing: no row, no event, no file."""
    before, files_before = written(), files_under(root)
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code, str(exc.value)
    assert written() == before
    assert files_under(root) == files_before
    return exc.value


def attach(world: World, ca: CorrectiveAction, name: str, content: bytes) -> EvidenceFile:
    return evidence_attach(actor=world.org_user, corrective_action=ca, upload=upload(name, content))


# --- accepted uploads ----------------------------------------------------------------------


def test_an_organization_user_attaches_a_pdf(
    world: World, answered: CorrectiveAction, evidence_dir: Path, settings: Any
) -> None:
    # Given a PDF of several upload chunks (64 KiB each), so that it is streamed in parts
    content = PDF + b"%" + bytes(200_000) + b"\n%%EOF\n"
    events = AuditEvent.objects.count()

    # When a user of the organization attaches it to the corrective action
    evidence = evidence_attach(
        actor=world.org_user,
        corrective_action=answered,
        upload=streamed_upload("Checklist March.pdf", content, size=len(content)),
    )

    # Then the row records the name, the detected type, the size and the content's SHA-256
    row = EvidenceFile.objects.get()
    assert row == evidence
    assert (row.corrective_action_id, row.uploaded_by_id) == (answered.pk, world.org_user.pk)
    assert (row.name, row.content_type, row.size) == (
        "Checklist March.pdf",
        "application/pdf",
        len(content),
    )
    assert row.sha256 == hashlib.sha256(content).hexdigest()
    # ... the content is kept in the database, under a key apcert made, not the client's
    # name, and nothing is left on disk
    assert stored(row) == content
    assert "Checklist" not in row.storage_key
    assert files_under(evidence_dir) == []
    # ... and exactly one audit event says so
    assert AuditEvent.objects.count() == events + 1
    event = AuditEvent.objects.get(action="evidence.attach")
    assert (event.object_type, event.object_id) == ("assessments.evidencefile", str(row.pk))
    assert event.actor_id == world.org_user.pk
    assert event.after == {
        "corrective_action": answered.pk,
        "finding": answered.finding_id,
        "name": "Checklist March.pdf",
        "content_type": "application/pdf",
        "size": len(content),
        "sha256": row.sha256,
    }


@pytest.mark.parametrize(
    ("name", "content", "content_type"),
    [
        pytest.param("photo of the rack.PNG", PNG, "image/png", id="png"),
        pytest.param("label.jpg", JPEG, "image/jpeg", id="jpg"),
        pytest.param("label.jpeg", JPEG, "image/jpeg", id="jpeg"),
        pytest.param("notes.txt", TEXT, "text/plain", id="txt"),
        pytest.param("lots.csv", CSV, "text/csv", id="csv with a byte order mark"),
        pytest.param("procedure.docx", DOCX, f"{OOXML}.wordprocessingml.document", id="docx"),
        pytest.param("records.xlsx", XLSX, f"{OOXML}.spreadsheetml.sheet", id="xlsx"),
        pytest.param("Prüfbericht №7.pdf", PDF, "application/pdf", id="pdf, non-ASCII name"),
    ],
)
def test_every_accepted_kind_is_stored_with_its_detected_type(
    world: World,
    answered: CorrectiveAction,
    evidence_dir: Path,
    name: str,
    content: bytes,
    content_type: str,
) -> None:
    evidence = attach(world, answered, name, content)

    assert (evidence.name, evidence.content_type) == (name, content_type)
    assert stored(evidence) == content


def test_a_file_of_exactly_the_limit_is_accepted(
    world: World, answered: CorrectiveAction, evidence_dir: Path, settings: Any
) -> None:
    settings.EVIDENCE_MAX_BYTES = len(PDF)

    assert attach(world, answered, "a.pdf", PDF).size == len(PDF)


def test_the_same_content_twice_is_two_files_with_one_digest(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    # Each row owns its content: nothing done to one row's chunks touches another's.
    first = attach(world, answered, "a.pdf", PDF)
    second = attach(world, answered, "b.pdf", PDF)

    assert first.sha256 == second.sha256
    assert first.storage_key != second.storage_key
    assert stored(first) == stored(second) == PDF
    assert EvidenceChunk.objects.filter(evidence=first).count() == 1
    assert EvidenceChunk.objects.filter(evidence=second).count() == 1


def test_evidence_of_an_accepted_plan_is_still_taken(world: World, evidence_dir: Path) -> None:
    # A plan once accepted is next verified on evidence.
    a = world.assessment(world.accepted_application(), findings=("minor",))
    ca = world.review(world.answer(a.findings.get()), "accept_plan")

    assert attach(world, ca, "implemented.pdf", PDF).corrective_action_id == ca.pk


def test_a_surveillance_finding_takes_evidence_from_the_certificate_holder(
    world: World, evidence_dir: Path
) -> None:
    cert = world.granted()
    a = visit(world, cert, "surveillance", findings=("minor",))
    ca = world.answer(a.findings.get())

    evidence = attach(world, ca, "a.pdf", PDF)

    assert list(evidence_visible(actor=world.org_user)) == [evidence]


# --- refused uploads: nothing written ------------------------------------------------------


def test_a_file_over_the_limit_is_refused_naming_the_limit(
    world: World, answered: CorrectiveAction, evidence_dir: Path, settings: Any
) -> None:
    settings.EVIDENCE_MAX_BYTES = 2 * 1024 * 1024
    content = PDF + bytes(2 * 1024 * 1024)

    error = assert_refused(
        lambda: attach(world, answered, "big.pdf", content), "evidence.too_large", evidence_dir
    )

    assert "2 MB" in error.message
    assert error.params == {"limit_bytes": 2 * 1024 * 1024}
    assert error.http_status == 413


def test_a_file_over_the_limit_that_understates_its_size_is_stopped_while_received(
    world: World, answered: CorrectiveAction, evidence_dir: Path, settings: Any
) -> None:
    # Given an upload that declares no size: the limit is then counted while it streams in,
    # and it is stopped at the second chunk
    settings.EVIDENCE_MAX_BYTES = 100_000
    big = streamed_upload("big.pdf", PDF + bytes(300_000), size=None)

    assert_refused(
        lambda: evidence_attach(actor=world.org_user, corrective_action=answered, upload=big),
        "evidence.too_large",
        evidence_dir,
    )
    # The temporary directory was made, and is empty again
    assert list((evidence_dir / "tmp").iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        pytest.param("checklist.pdf", ELF, id="an executable (ELF) named .pdf"),
        pytest.param("checklist.pdf", WINDOWS_EXE, id="a Windows executable named .pdf"),
        pytest.param("checklist.pdf", PNG, id="a PNG named .pdf"),
        pytest.param("photo.png", b"<html><script>alert(1)</script></html>", id="HTML as .png"),
        pytest.param("photo.jpg", PDF, id="a PDF named .jpg"),
        pytest.param("setup.exe", WINDOWS_EXE, id="an accepted-looking name of an .exe"),
        pytest.param("checklist.pdf.exe", PDF, id="a PDF whose name ends .exe"),
        pytest.param("page.html", b"<html></html>", id="HTML"),
        pytest.param("checklist", PDF, id="no extension"),
        pytest.param("notes.txt", b"abc\x00def", id="text with NUL"),
        pytest.param("notes.txt", b"abc \x1b[31m red", id="text with a terminal escape"),
        pytest.param("notes.txt", "Müller".encode("latin-1"), id="text not UTF-8"),
        pytest.param("notes.txt", ELF, id="an executable named .txt"),
        pytest.param("procedure.docx", PLAIN_ZIP, id="a plain ZIP named .docx"),
        pytest.param("records.xlsx", DOCX, id="a Word document named .xlsx"),
        pytest.param("procedure.docx", DOCX_WITH_MACROS, id="a document with macros"),
        pytest.param("procedure.docx", b"PK\x03\x04" + bytes(60), id="a broken ZIP"),
    ],
)
def test_a_type_that_is_not_accepted_or_not_what_its_name_says_is_refused(
    world: World, answered: CorrectiveAction, evidence_dir: Path, name: str, content: bytes
) -> None:
    error = assert_refused(
        lambda: attach(world, answered, name, content), "evidence.type_refused", evidence_dir
    )

    # The message lists what is accepted
    assert "Accepted: PDF (.pdf); PNG image (.png); JPEG image (.jpg, .jpeg)" in error.message
    assert error.params["accepted"] == [
        ".pdf",
        ".png",
        ".jpg",
        ".jpeg",
        ".txt",
        ".csv",
        ".docx",
        ".xlsx",
    ]


def test_the_accepted_types_come_from_the_settings(
    world: World, answered: CorrectiveAction, evidence_dir: Path, settings: Any
) -> None:
    settings.EVIDENCE_TYPES = ("pdf",)

    error = assert_refused(
        lambda: attach(world, answered, "photo.png", PNG), "evidence.type_refused", evidence_dir
    )

    assert error.message == "Files ending .png are not accepted. Accepted: PDF (.pdf)."


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: raw_upload("../../etc/passwd", TEXT), id="../../etc/passwd"),
        pytest.param(lambda: raw_upload("../../checklist.pdf", PDF), id="../ with a good type"),
        pytest.param(lambda: raw_upload("/etc/passwd.txt", TEXT), id="absolute path"),
        pytest.param(lambda: raw_upload("evidence/checklist.pdf", PDF), id="a folder"),
        # Django's own sanitising leaves these through on POSIX: only the service stops them
        pytest.param(lambda: upload("..\\..\\boot.pdf", PDF), id="backslash traversal"),
        pytest.param(lambda: upload("C:\\Windows\\x.pdf", PDF), id="Windows absolute path"),
        pytest.param(lambda: upload("C:x.pdf", PDF), id="drive-relative"),
        pytest.param(lambda: upload("check\x00list.pdf", PDF), id="NUL"),
        pytest.param(lambda: upload("checklist\n.pdf", PDF), id="line feed"),
        pytest.param(lambda: upload("check\x1b[2Jlist.pdf", PDF), id="terminal escape"),
        pytest.param(lambda: upload("invoice\u202efdp.exe", PDF), id="right-to-left override"),
        pytest.param(lambda: raw_upload("", PDF), id="empty"),
        pytest.param(lambda: raw_upload("   ", PDF), id="blank"),
        pytest.param(lambda: raw_upload("..", PDF), id=".."),
        pytest.param(lambda: upload(".pdf", PDF), id="only an extension"),
        pytest.param(lambda: upload("x" * 197 + ".pdf", PDF), id="201 characters"),
    ],
)
def test_a_bad_name_is_refused(
    world: World,
    answered: CorrectiveAction,
    evidence_dir: Path,
    make: Callable[[], SimpleUploadedFile],
) -> None:
    assert_refused(
        lambda: evidence_attach(actor=world.org_user, corrective_action=answered, upload=make()),
        "evidence.bad_name",
        evidence_dir,
    )


def test_a_name_of_the_longest_length_is_kept(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    name = "x" * (NAME_MAX_CHARS - 4) + ".pdf"

    assert attach(world, answered, name, PDF).name == name


def test_an_empty_file_is_refused(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    assert_refused(lambda: attach(world, answered, "a.pdf", b""), "evidence.empty", evidence_dir)


def test_an_empty_file_that_does_not_say_so_is_refused(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    empty = streamed_upload("a.pdf", b"", size=None)

    assert_refused(
        lambda: evidence_attach(actor=world.org_user, corrective_action=answered, upload=empty),
        "evidence.empty",
        evidence_dir,
    )


def test_only_a_user_of_the_organization_may_attach(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    outsider = make_user("outsider")
    organization_create(
        actor=outsider, legal_name="Other Works", country="FR", registration_number="RCS 9"
    )
    inactive = world.org_user
    for actor, code in (
        (world.team.lead, "permission.organization_member_required"),
        (world.team.manager, "permission.organization_member_required"),
        (world.secretariat, "permission.organization_member_required"),
        (outsider, "permission.organization_member_required"),
    ):
        assert_refused(
            lambda actor=actor: evidence_attach(
                actor=actor, corrective_action=answered, upload=upload("a.pdf", PDF)
            ),
            code,
            evidence_dir,
        )
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    inactive.refresh_from_db()
    assert_refused(
        lambda: evidence_attach(
            actor=inactive, corrective_action=answered, upload=upload("a.pdf", PDF)
        ),
        "permission.not_signed_in",
        evidence_dir,
    )


@pytest.mark.parametrize("outcome", ["verify", "reject"])
def test_a_reviewed_corrective_action_takes_no_more_evidence(
    world: World, answered: CorrectiveAction, evidence_dir: Path, outcome: str
) -> None:
    world.review(answered, outcome)

    error = assert_refused(
        lambda: attach(world, answered, "late.pdf", PDF),
        "evidence.corrective_action_closed",
        evidence_dir,
    )
    assert error.http_status == 409


def test_a_superseded_corrective_action_takes_no_more_evidence(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    world.review(answered, "reject")
    newer = world.answer(answered.finding)

    error = assert_refused(
        lambda: attach(world, answered, "late.pdf", PDF),
        "evidence.corrective_action_closed",
        evidence_dir,
    )
    assert "newer corrective action" in error.message
    assert attach(world, newer, "on time.pdf", PDF).corrective_action_id == newer.pk


def test_evidence_is_never_received_under_the_static_root(
    world: World, answered: CorrectiveAction, settings: Any
) -> None:
    # Given a misconfiguration that would put evidence where static files are served
    settings.EVIDENCE_DIR = Path(settings.STATIC_ROOT) / "evidence"
    before = written()

    # Then nothing is received at all
    with pytest.raises(ImproperlyConfigured, match="STATIC_ROOT"):
        attach(world, answered, "a.pdf", PDF)
    assert written() == before
    assert not Path(settings.EVIDENCE_DIR).exists()


def test_the_default_evidence_directory_is_beside_the_static_root_not_in_it(
    settings: Any,
) -> None:
    if os.environ.get("APCERT_EVIDENCE_DIR"):
        pytest.skip("APCERT_EVIDENCE_DIR is set")
    assert Path(settings.EVIDENCE_DIR) == env.VAR_DIR / "evidence"
    assert evidence_root() == env.VAR_DIR / "evidence"


# --- rollback after the file was stored ----------------------------------------------------


def test_a_rollback_after_the_content_was_written_leaves_nothing(
    world: World, answered: CorrectiveAction, evidence_dir: Path, monkeypatch: Any
) -> None:
    # Given a failure after the content was written, while writing the audit event
    chunks_written: list[int] = []
    real_write = evidence_services.write_chunks

    def write_and_count(**kwargs: Any) -> None:
        real_write(**kwargs)
        chunks_written.append(EvidenceChunk.objects.count())

    def failing_audit(**kwargs: Any) -> None:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(evidence_services, "write_chunks", write_and_count)
    monkeypatch.setattr(evidence_services, "audit_record", failing_audit)
    before = written()

    # When the upload is attached
    with pytest.raises(RuntimeError, match="audit trail"):
        attach(world, answered, "a.pdf", PDF)

    # Then the content had been written, and is gone with the rolled-back row, as is the
    # file it was received in
    assert chunks_written == [before["chunks"] + 1]
    assert written() == before
    assert files_under(evidence_dir) == []


def test_a_storage_key_in_use_is_refused_by_the_database(
    world: World, answered: CorrectiveAction, evidence_dir: Path, monkeypatch: Any
) -> None:
    first = attach(world, answered, "first.pdf", PDF)
    monkeypatch.setattr(evidence_services, "new_key", lambda: first.storage_key)
    before = written()

    with pytest.raises(IntegrityError):
        attach(world, answered, "second.pdf", PDF + b"% other content\n")

    assert written() == before
    assert files_under(evidence_dir) == []
    assert stored(first) == PDF


def test_attaching_inside_another_transaction_is_refused_and_leaves_no_file(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    # The service's transaction must be the outermost one: only then does "it ended without
    # an error" mean "it committed", so that the file is never left behind by a rollback
    # that happens after the service returned.
    before = written()

    with pytest.raises(RuntimeError, match="durable"), transaction.atomic():
        attach(world, answered, "a.pdf", PDF)

    assert written() == before
    assert files_under(evidence_dir) == []


@pytest.mark.django_db(transaction=True)
def test_with_real_commits_the_file_stays_and_a_failed_commit_takes_it_away(
    live_world: World, settings: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    # Given real transactions (no test transaction around the service)
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    world = live_world
    a = world.assessment(world.accepted_application(), findings=("major",))
    ca = world.answer(a.findings.get())

    # When one upload commits, and another fails before its commit
    kept = attach(world, ca, "kept.pdf", PDF)

    def failing_audit(**kwargs: Any) -> None:
        raise RuntimeError("the audit trail is unavailable")

    monkeypatch.setattr(evidence_services, "audit_record", failing_audit)
    with pytest.raises(RuntimeError, match="audit trail"):
        attach(world, ca, "lost.pdf", PDF)

    # Then only the committed one has a row and content; no file is left on disk
    assert list(EvidenceFile.objects.values_list("name", flat=True)) == ["kept.pdf"]
    assert list(EvidenceChunk.objects.values_list("evidence_id", flat=True)) == [kept.pk]
    assert stored(kept) == PDF
    assert files_under(settings.EVIDENCE_DIR) == []


# --- who may see and download --------------------------------------------------------------


def _get(user: User | AnonymousUser, evidence_id: int, method: str = "get") -> Any:
    request = getattr(RequestFactory(), method)(f"/evidence/{evidence_id}/")
    request.user = user
    return evidence_download(request, evidence_id)


def _close(response: Any) -> None:
    """Close a response as a server would, without the request_finished handler that
    closes database connections (it would end the test's transaction on PostgreSQL; the
    test client disconnects it the same way)."""
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)


def _read(response: Any) -> bytes:
    body = b"".join(response.streaming_content)
    _close(response)
    return body


def _status(user: User | AnonymousUser, evidence_id: int) -> int:
    try:
        response = _get(user, evidence_id)
    except Http404:
        return 404
    _close(response)
    return int(response.status_code)


def test_who_may_see_and_download_evidence(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    # Given one evidence file, and everyone who might ask for it
    evidence = attach(world, answered, "checklist.pdf", PDF)
    other_cb = World.make_cb(world.secretariat, "OTHER", dt.date(2020, 1, 1))
    outsider = make_user("outsider")
    organization_create(
        actor=outsider, legal_name="Other Works", country="FR", registration_number="RCS 9"
    )
    former = make_user("former")
    cb_staff_add(actor=world.secretariat, cb=world.team.cb, user=former, role="assessor")
    CBStaff.objects.filter(user=former).update(active=False)
    actors: dict[str, User | AnonymousUser] = {
        "organization user": world.org_user,
        "CB scheme manager": world.team.manager,
        "CB lead assessor": world.team.lead,
        "CB decision maker (not on the team)": world.team.decision_maker,
        "Secretariat": world.secretariat,
        "another CB's manager": other_cb.manager,
        "another CB's assessor": other_cb.lead,
        "another organization's user": outsider,
        "former CB staff": former,
        "anonymous": AnonymousUser(),
    }

    # When each asks, through the selector and through the view
    seen = {
        who: (
            evidence in evidence_visible(actor=u if isinstance(u, User) else None),
            _status(u, evidence.pk),
        )
        for who, u in actors.items()
    }

    # Then the organization, its CB's staff and the Secretariat may; nobody else learns even
    # that it exists (the same 404 as for an id that does not exist)
    assert seen == {
        "organization user": (True, 200),
        "CB scheme manager": (True, 200),
        "CB lead assessor": (True, 200),
        "CB decision maker (not on the team)": (True, 200),
        "Secretariat": (True, 200),
        "another CB's manager": (False, 404),
        "another CB's assessor": (False, 404),
        "another organization's user": (False, 404),
        "former CB staff": (False, 404),
        "anonymous": (False, 404),
    }
    assert _status(world.org_user, evidence.pk + 1000) == 404


def test_evidence_open_refuses_with_codes(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    evidence = attach(world, answered, "checklist.pdf", PDF)
    other_cb = World.make_cb(world.secretariat, "OTHER", dt.date(2020, 1, 1))

    with pytest.raises(PermissionDenied) as anonymous:
        evidence_open(actor=None, evidence=evidence)
    with pytest.raises(NotFound) as elsewhere:
        evidence_open(actor=other_cb.manager, evidence=evidence.pk)
    with pytest.raises(NotFound) as missing:
        evidence_open(actor=world.secretariat, evidence=evidence.pk + 1000)

    assert anonymous.value.code == "permission.not_signed_in"
    assert elsewhere.value.code == missing.value.code == "evidence.not_found"
    assert str(elsewhere.value) == str(missing.value)


def test_the_download_is_the_stored_bytes_as_an_attachment(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    content = PDF + bytes(100_000)
    evidence = attach(world, answered, "Prüfbericht März.pdf", content)

    response = _get(world.team.lead, evidence.pk)
    body = _read(response)

    assert response.status_code == 200
    assert body == content
    assert hashlib.sha256(body).hexdigest() == evidence.sha256
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Length"] == str(len(content))
    assert response["Content-Disposition"] == (
        "attachment; filename*=utf-8''Pr%C3%BCfbericht%20M%C3%A4rz.pdf"
    )
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'; sandbox"


def test_a_text_download_says_its_charset(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    evidence = attach(world, answered, "lots.csv", CSV)

    response = _get(world.org_user, evidence.pk)
    body = _read(response)

    assert body == CSV
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="lots.csv"'


def test_the_download_only_answers_get_and_head(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    evidence = attach(world, answered, "a.pdf", PDF)

    assert _get(world.org_user, evidence.pk, "post").status_code == 405
    head = _get(world.org_user, evidence.pk, "head")
    _close(head)
    assert head.status_code == 200


CHUNK = evidence_storage.EVIDENCE_CHUNK_BYTES


def _chunk_reads(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if "evidencechunk" in q["sql"]]


def test_a_download_reads_the_content_a_chunk_at_a_time(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    # Given a file of five chunks and a bit
    content = PDF + os.urandom(5 * CHUNK + 1000 - len(PDF))
    evidence = attach(world, answered, "scan.pdf", content)
    assert EvidenceChunk.objects.filter(evidence=evidence).count() == 6

    # When it is downloaded, piece by piece
    response = _get(world.team.lead, evidence.pk)
    sizes = []
    with CaptureQueriesContext(connection) as queries:
        for given_out, piece in enumerate(response.streaming_content, start=1):
            sizes.append(len(piece))
            # Then each piece was read from the database only when it was asked for, by a
            # query of its own for one chunk: the download never holds more than one
            reads = _chunk_reads(queries)
            assert len(reads) == given_out
            assert "LIMIT 1" in reads[-1]
    _close(response)
    assert sizes == [CHUNK] * 5 + [1000]
    assert response["Content-Length"] == str(len(content))


def test_a_file_is_served_by_another_server_that_has_no_files_at_all(
    world: World, answered: CorrectiveAction, evidence_dir: Path, settings: Any, tmp_path: Path
) -> None:
    # Given a file uploaded through one server
    content = PDF + bytes(CHUNK + 5000)
    evidence = attach(world, answered, "checklist.pdf", content)

    # When another server, whose evidence directory is empty and read-only, serves it, and
    # the first one's directory is gone
    shutil.rmtree(evidence_dir, ignore_errors=True)
    elsewhere = tmp_path / "another-server"
    elsewhere.mkdir(mode=0o500)
    settings.EVIDENCE_DIR = elsewhere
    response = _get(world.org_user, evidence.pk)

    # Then the download is the file uploaded, and nothing was written there
    assert response.status_code == 200
    assert _read(response) == content
    assert list(elsewhere.iterdir()) == []


def test_content_that_does_not_add_up_to_its_record_is_the_operators_error(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    content = PDF + bytes(3 * CHUNK)
    evidence = attach(world, answered, "a.pdf", content)
    assert EvidenceChunk.objects.filter(evidence=evidence).count() == 4
    middle = EvidenceChunk.objects.get(evidence=evidence, index=1)

    # A chunk changed, keeping its length: found by the digest, before the last chunk is
    # given out (the client, sent less than the declared length, sees a broken download)
    EvidenceChunk.objects.filter(pk=middle.pk).update(data=b"X" * CHUNK)
    response = _get(world.team.lead, evidence.pk)
    given_out = []
    with pytest.raises(EvidenceFileDamaged, match="SHA-256"):
        for piece in response.streaming_content:
            given_out.append(piece)
    _close(response)
    assert len(given_out) == 3

    # A chunk of another length: refused before the response starts
    EvidenceChunk.objects.filter(pk=middle.pk).update(data=b"X" * 10)
    with pytest.raises(EvidenceFileDamaged, match=f"is {evidence.size - CHUNK + 10} bytes stored"):
        evidence_open(actor=world.org_user, evidence=evidence)

    # A chunk deleted: refused before the response starts, through the view too
    EvidenceChunk.objects.filter(pk=middle.pk).delete()
    with pytest.raises(EvidenceFileDamaged, match=r"has 3 stored chunk\(s\) of 4"):
        evidence_open(actor=world.org_user, evidence=evidence)
    with pytest.raises(EvidenceFileDamaged):
        _get(world.team.lead, evidence.pk)


# --- the name rules, for any name ----------------------------------------------------------


@given(st.text(max_size=260))
def test_a_kept_name_is_never_a_path_nor_holds_control_characters(raw: str) -> None:
    try:
        name = clean_name(raw)
    except EvidenceRefused as exc:
        assert exc.code == "evidence.bad_name"
        return
    assert name == name.strip() and name
    assert not set(name) & set("/\\:")
    assert not name.startswith(".")
    assert len(name) <= NAME_MAX_CHARS
    assert all(unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"} for ch in name)


# --- leftovers of a crash --------------------------------------------------------------------


def _write(path: Path, content: bytes, *, age_hours: float = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    if age_hours:
        then = dt.datetime.now().timestamp() - age_hours * 3600
        os.utime(path, (then, then))
    return path.resolve()


def test_the_sweep_removes_only_old_leftovers_never_an_only_copy(
    world: World, answered: CorrectiveAction, evidence_dir: Path
) -> None:
    # given, two days old: a file kept the old way whose content is now in the database; one
    # whose record has no content in the database (its only copy), and one whose content
    # there is damaged; a half-received upload; a stored file no record names; and an
    # upload still being received
    moved = attach(world, answered, "moved.pdf", PDF)
    only = attach(world, answered, "only.pdf", PDF)
    EvidenceChunk.objects.filter(evidence=only).delete()
    damaged = attach(world, answered, "damaged.pdf", PDF)
    EvidenceChunk.objects.filter(evidence=damaged).update(data=b"%PDF-")
    moved_copy = _write(evidence_dir / moved.storage_key, PDF, age_hours=48)
    only_copy = _write(evidence_dir / only.storage_key, PDF, age_hours=48)
    damaged_copy = _write(evidence_dir / damaged.storage_key, PDF, age_hours=48)
    partial = _write(evidence_dir / "tmp" / "upload-dead.part", b"half", age_hours=48)
    orphan = _write(evidence_dir / "ab" / ("ab" + "0" * 30), b"orphan", age_hours=48)
    receiving = _write(evidence_dir / "tmp" / "upload-live.part", b"in progress")

    # when the sweep lists them, then deletes them
    listing, deleting = StringIO(), StringIO()
    call_command("evidence-sweep", stdout=listing)
    assert partial.exists() and orphan.exists() and moved_copy.exists()
    call_command("evidence-sweep", "--delete", stdout=deleting)

    # then the three old leftovers are gone; the only copy and the live upload stay
    total = 4 + 6 + len(PDF)
    assert f"evidence-sweep: 3 leftover file(s), {total} bytes, found" in listing.getvalue()
    assert f"would remove: partial upload {partial}" in listing.getvalue()
    assert f"would remove: unreferenced file {orphan}" in listing.getvalue()
    assert f"would remove: moved to the database {moved_copy}" in listing.getvalue()
    assert f"kept: {only_copy} may be an evidence record's only copy" in listing.getvalue()
    assert f"kept: {damaged_copy} may be an evidence record's only copy" in listing.getvalue()
    assert f"3 leftover file(s), {total} bytes, removed" in deleting.getvalue()
    assert not partial.exists() and not orphan.exists() and not moved_copy.exists()
    assert only_copy.read_bytes() == damaged_copy.read_bytes() == PDF and receiving.exists()
    assert stored(moved) == PDF

    # and --move copies the only copy into the database, after which it is a leftover too
    moving = StringIO()
    call_command("evidence-sweep", "--move", stdout=moving)
    assert "evidence-sweep: 1 file(s) copied into the database, 0 left out" in moving.getvalue()
    assert f"would remove: moved to the database {only_copy}" in moving.getvalue()
    assert stored(only) == PDF
    with pytest.raises(CommandError, match="at least 1"):
        call_command("evidence-sweep", "--hours", "0")


def test_the_migration_copies_files_kept_the_old_way_into_the_database(
    world: World, answered: CorrectiveAction, evidence_dir: Path, capsys: Any
) -> None:
    migration = importlib.import_module("apcert.assessments.migrations.0009_evidence_into_database")
    # given records written before content moved to the database: their files under
    # EVIDENCE_DIR and no chunks; one file missing, one changed since it was uploaded
    big_content = PDF + bytes(2 * CHUNK)
    big = attach(world, answered, "big.pdf", big_content)
    small = attach(world, answered, "small.pdf", PDF)
    missing = attach(world, answered, "missing.pdf", PDF)
    changed = attach(world, answered, "changed.pdf", PDF)
    EvidenceChunk.objects.all().delete()
    _write(evidence_dir / big.storage_key, big_content)
    _write(evidence_dir / small.storage_key, PDF)
    _write(evidence_dir / changed.storage_key, PDF.replace(b"Catalog", b"Kitchen"))
    editor = SimpleNamespace(connection=connection)
    # (the models as the migration sees them)
    state = MigrationLoader(connection).project_state(
        ("assessments", "0009_evidence_into_database")
    )

    # when the migration runs
    migration.forwards(state.apps, editor)

    # then the files that are what their records say are in the database, a chunk a row
    assert stored(big) == big_content and stored(small) == PDF
    assert EvidenceChunk.objects.filter(evidence=big).count() == 3
    # ... the others are left out, each named, and the migration went on
    assert not EvidenceChunk.objects.filter(evidence__in=[missing, changed]).exists()
    said = capsys.readouterr().err
    root = evidence_dir.resolve()
    assert f"warning: evidence file {missing.pk}: {root / missing.storage_key} cannot" in said
    assert f"evidence file {changed.pk}: {root / changed.storage_key} is not the content" in said
    assert f"evidence: 2 file(s) copied from {root} into the database, 2 left out" in said
    assert "left for you to delete" in said
    # ... the files stay where they were, and the copies are served
    assert (evidence_dir / big.storage_key).read_bytes() == big_content
    assert _read(_get(world.team.lead, big.pk)) == big_content
    with pytest.raises(EvidenceFileDamaged):
        evidence_open(actor=world.team.lead, evidence=missing)

    # and a second run copies nothing twice
    chunks = EvidenceChunk.objects.count()
    migration.forwards(state.apps, editor)
    assert EvidenceChunk.objects.count() == chunks
    assert "0 file(s) copied" in capsys.readouterr().err


# --- archives that expand past any document (zip bombs) ------------------------------------


def _bomb(expanded: int, *, parts: dict[str, str] | None = None) -> bytes:
    """A Word package with a part of ``expanded`` zero bytes, deflated to a few KB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        for part, text in (parts or {"[Content_Types].xml": "<Types/>"}).items():
            package.writestr(part, text)
        package.writestr("word/document.xml", "<w:document/>")
        with package.open("word/media/image1.bin", "w") as part_file:
            block = bytes(1024 * 1024)
            for start in range(0, expanded, len(block)):
                part_file.write(block[: expanded - start])
    return buffer.getvalue()


def _declare(package: bytes, name: str, size: int) -> bytes:
    """``package`` with the expanded size its table of contents and local header declare for
    the part ``name`` set to ``size`` (its data unchanged): a package that lies."""
    data = bytearray(package)
    info = zipfile.ZipFile(io.BytesIO(package)).getinfo(name)
    struct.pack_into("<I", data, info.header_offset + 22, size)
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_length]) == name.encode():
            struct.pack_into("<I", data, central + 24, size)
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


@pytest.fixture
def small_limit(settings: Any) -> int:
    """Uploads of at most 64 KiB: Office packages may expand to 20 times that (1.25 MiB)."""
    settings.EVIDENCE_MAX_BYTES = 64 * 1024
    assert archive_max_bytes() == 20 * 64 * 1024
    return archive_max_bytes()


def test_a_package_that_expands_within_the_bound_is_taken(
    world: World, answered: CorrectiveAction, evidence_dir: Path, small_limit: int
) -> None:
    content = _bomb(small_limit - 4096)
    assert len(content) < 64 * 1024
    assert attach(world, answered, "procedure.docx", content).size == len(content)


def test_a_zip_bomb_is_refused_whatever_its_table_of_contents_says(
    world: World, answered: CorrectiveAction, evidence_dir: Path, small_limit: int
) -> None:
    # given a package of a few KB that expands to more than the bound, as it declares ...
    bomb = _bomb(small_limit + 1)
    assert len(bomb) < 64 * 1024
    # ... and the same package declaring a few bytes for that part
    liar = _declare(bomb, "word/media/image1.bin", 10)
    assert zipfile.ZipFile(io.BytesIO(liar)).getinfo("word/media/image1.bin").file_size == 10
    for content in (bomb, liar):
        # when it is attached, then it is refused with its reason, and nothing is written
        error = assert_refused(
            lambda content=content: attach(world, answered, "procedure.docx", content),
            "evidence.archive_too_large",
            evidence_dir,
        )
        assert error.field == "file"
        assert error.message.startswith(
            "The file is an archive that expands to more than 1.25 MB, more than any Word "
            "document holds"
        )


def test_a_package_of_too_many_parts_is_refused(
    world: World, answered: CorrectiveAction, evidence_dir: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(kinds, "ARCHIVE_MAX_MEMBERS", 50)
    many = {"[Content_Types].xml": "<Types/>"} | {f"word/p{n}.xml": "" for n in range(50)}
    error = assert_refused(
        lambda: attach(world, answered, "procedure.docx", _bomb(0, parts=many)),
        "evidence.archive_too_large",
        evidence_dir,
    )
    assert "holds 53 parts (at most 50)" in error.message
