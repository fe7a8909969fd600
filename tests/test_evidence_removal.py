"""An evidence file taken back by the user who uploaded it, while its corrective action
awaits review.

Nothing is deleted: the row and its content stay for the record, marked removed. The
lists of evidence leave it out, the organization is told it was removed, and the CB's staff
and the Secretariat may still download it. Each refusal checks its stable code and that
nothing was written: the row as it was, its content in place, no audit event.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished
from django.db import close_old_connections
from django.http import Http404
from django.test import RequestFactory

from apcert.accounts.models import User
from apcert.assessments.evidence import (
    evidence_attach,
    evidence_open,
    evidence_remove,
    evidence_visible,
)
from apcert.assessments.models import CorrectiveAction, EvidenceChunk, EvidenceFile
from apcert.assessments.views_evidence import evidence_download
from apcert.audit.models import AuditEvent
from apcert.core.errors import DomainError, NotFound
from apcert.organizations.services import organization_member_add
from tests.factories import World, make_user

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


@pytest.fixture
def evidence_dir(settings: Any, tmp_path: Path) -> Path:
    settings.EVIDENCE_DIR = tmp_path / "evidence"
    return settings.EVIDENCE_DIR  # type: ignore[no-any-return]


@pytest.fixture
def answered(world: World, evidence_dir: Path) -> CorrectiveAction:
    """A major nonconformity of an initial assessment, answered by the organization."""
    a = world.assessment(world.accepted_application(), findings=("major",))
    return world.answer(a.findings.get())  # type: ignore[no-any-return]


@pytest.fixture
def evidence(world: World, answered: CorrectiveAction) -> EvidenceFile:
    upload = SimpleUploadedFile("checklist.pdf", PDF, content_type="application/pdf")
    return evidence_attach(actor=world.org_user, corrective_action=answered, upload=upload)


def _row(evidence: EvidenceFile) -> dict[str, Any]:
    return EvidenceFile.objects.filter(pk=evidence.pk).values().get()  # type: ignore[no-any-return]


def _stored(evidence: EvidenceFile) -> bytes:
    pieces = EvidenceChunk.objects.filter(evidence=evidence).order_by("index")
    return b"".join(bytes(piece) for piece in pieces.values_list("data", flat=True))


def _refused(call: Callable[[], Any], code: str, evidence: EvidenceFile, root: Path) -> DomainError:
    row, events = _row(evidence), AuditEvent.objects.count()
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code, str(exc.value)
    assert _row(evidence) == row
    assert AuditEvent.objects.count() == events
    assert _stored(evidence) == PDF
    return exc.value


def _status(user: User | AnonymousUser, evidence_id: int) -> int:
    request = RequestFactory().get(f"/evidence/{evidence_id}/")
    request.user = user
    try:
        response = evidence_download(request, evidence_id)
    except Http404:
        return 404
    # Closed as a server would, without the handler that closes database connections.
    request_finished.disconnect(close_old_connections)
    try:
        response.close()
    finally:
        request_finished.connect(close_old_connections)
    return int(response.status_code)


def test_the_uploader_removes_a_file_which_is_kept_for_the_record(
    world: World, evidence: EvidenceFile, evidence_dir: Path
) -> None:
    # When the uploader takes the file back
    removed = evidence_remove(
        actor=world.org_user, evidence=evidence, reason=" Wrong lot's checklist "
    )

    # Then the row and its content are kept, marked removed by whom, when and why
    row = _row(removed)
    assert row["removed_by_id"] == world.org_user.pk
    assert row["removed_at"] is not None
    assert row["removal_reason"] == "Wrong lot's checklist"
    assert removed.removed
    assert _stored(evidence) == PDF
    # And one audit event records it
    event = AuditEvent.objects.filter(action="evidence.remove").get()
    assert (event.object_type, event.object_id) == ("assessments.evidencefile", str(evidence.pk))
    assert event.before == {"removed": False}
    assert event.after == {
        "removed": True,
        "corrective_action": evidence.corrective_action_id,
        "name": "checklist.pdf",
        "sha256": evidence.sha256,
    }
    assert event.reason == "Wrong lot's checklist"


def test_a_removed_file_leaves_the_lists_and_only_those_who_keep_the_record_download_it(
    world: World, evidence: EvidenceFile
) -> None:
    # Given the file removed by its uploader
    evidence_remove(actor=world.org_user, evidence=evidence, reason="Wrong file")

    # Then the lists of evidence leave it out; the record's history still has it
    for user in (world.org_user, world.team.lead, world.secretariat):
        assert not evidence_visible(actor=user).filter(pk=evidence.pk).exists()
        assert evidence_visible(actor=user, include_removed=True).filter(pk=evidence.pk).exists()
    assert EvidenceFile.objects.kept().filter(pk=evidence.pk).count() == 0
    # And the organization is told it was removed; the CB's staff and the Secretariat
    # still download it; anybody else learns nothing
    other_cb = World.make_cb(world.secretariat, "ELSE", dt.date(2020, 1, 1))
    assert {
        "organization user": _status(world.org_user, evidence.pk),
        "CB lead assessor": _status(world.team.lead, evidence.pk),
        "CB decision maker (not on the team)": _status(world.team.decision_maker, evidence.pk),
        "Secretariat": _status(world.secretariat, evidence.pk),
        "another CB's manager": _status(other_cb.manager, evidence.pk),
        "anonymous": _status(AnonymousUser(), evidence.pk),
    } == {
        "organization user": 410,
        "CB lead assessor": 200,
        "CB decision maker (not on the team)": 200,
        "Secretariat": 200,
        "another CB's manager": 404,
        "anonymous": 404,
    }
    with pytest.raises(NotFound) as gone:
        evidence_open(actor=world.org_user, evidence=evidence.pk)
    assert gone.value.code == "evidence.removed"


def test_another_user_of_the_organization_may_not_remove_the_file(
    world: World, evidence: EvidenceFile, evidence_dir: Path
) -> None:
    colleague = make_user("colleague")
    organization_member_add(actor=world.org_user, organization=world.org, user=colleague)
    _refused(
        lambda: evidence_remove(actor=colleague, evidence=evidence, reason="Not needed"),
        "evidence.not_uploader",
        evidence,
        evidence_dir,
    )


@pytest.mark.parametrize("who", ["CB lead assessor", "Secretariat"])
def test_the_cb_and_the_secretariat_may_not_remove_the_file(
    world: World, evidence: EvidenceFile, evidence_dir: Path, who: str
) -> None:
    actor = world.team.lead if who == "CB lead assessor" else world.secretariat
    _refused(
        lambda: evidence_remove(actor=actor, evidence=evidence, reason="Not needed"),
        "permission.organization_member_required",
        evidence,
        evidence_dir,
    )


@pytest.mark.parametrize("outcome", ["accept_plan", "verify", "reject"])
def test_once_the_corrective_action_is_reviewed_its_evidence_stays(
    world: World,
    answered: CorrectiveAction,
    evidence: EvidenceFile,
    evidence_dir: Path,
    outcome: str,
) -> None:
    world.review(answered, outcome)
    err = _refused(
        lambda: evidence_remove(actor=world.org_user, evidence=evidence, reason="Wrong file"),
        "evidence.already_reviewed",
        evidence,
        evidence_dir,
    )
    assert err.params["status"] == ("rejected" if outcome == "reject" else "accepted")


def test_a_file_is_removed_once(world: World, evidence: EvidenceFile, evidence_dir: Path) -> None:
    evidence_remove(actor=world.org_user, evidence=evidence, reason="Wrong file")
    _refused(
        lambda: evidence_remove(actor=world.org_user, evidence=evidence, reason="Again"),
        "evidence.already_removed",
        evidence,
        evidence_dir,
    )


def test_a_removal_says_why(world: World, evidence: EvidenceFile, evidence_dir: Path) -> None:
    _refused(
        lambda: evidence_remove(actor=world.org_user, evidence=evidence, reason="  "),
        "invalid.reason_required",
        evidence,
        evidence_dir,
    )
