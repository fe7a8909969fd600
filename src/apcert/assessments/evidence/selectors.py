"""Reading evidence files: who may see which, and reading one out to serve it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from apcert.assessments.errors import EVIDENCE_NOT_FOUND, EVIDENCE_REMOVED
from apcert.assessments.evidence.storage import check_stored, read_chunks
from apcert.assessments.models import EvidenceFile
from apcert.bodies.models import CBStaff
from apcert.core.errors import PERMISSION_NOT_SIGNED_IN, NotFound, PermissionDenied
from apcert.core.permissions import is_secretariat
from apcert.organizations.models import OrganizationMember

if TYPE_CHECKING:
    from apcert.accounts.models import User

_ASSESSMENT = "corrective_action__finding__assessment__"


def evidence_visible(
    *, actor: User | None, include_removed: bool = False
) -> QuerySet[EvidenceFile]:
    """The evidence files ``actor`` may see: the Secretariat all; the users of an
    organization those of its own assessments; the active staff (any role) of a CB those of
    the assessments it carries out. Nobody else any.

    Files their uploader removed are left out, as no longer offered as evidence, unless
    ``include_removed`` asks for them (the record's history shows them, marked removed)."""
    qs = EvidenceFile.objects.select_related(f"{_ASSESSMENT}cb")
    if not include_removed:
        qs = qs.kept()
    if actor is None or not actor.is_active:
        return qs.none()
    if is_secretariat(actor):
        return qs
    cbs = CBStaff.objects.filter(user=actor, active=True).values("cb_id")
    organizations = OrganizationMember.objects.filter(user=actor).values("organization_id")
    return qs.filter(
        Q(**{f"{_ASSESSMENT}cb_id__in": cbs})
        # An initial assessment concerns an application, the others a certificate.
        | Q(**{f"{_ASSESSMENT}application__organization_id__in": organizations})
        | Q(
            **{
                f"{_ASSESSMENT}application__isnull": True,
                f"{_ASSESSMENT}certificate__organization_id__in": organizations,
            }
        )
    )


def _keeps_the_record(actor: User, row: EvidenceFile) -> bool:
    """A removed file is still served to those who keep the record: the Secretariat and
    the active staff of the CB that carries out the assessment. The organization sees it
    removed."""
    cb_id = row.corrective_action.finding.assessment.cb_id
    return (
        is_secretariat(actor)
        or CBStaff.objects.filter(user=actor, cb_id=cb_id, active=True).exists()
    )


@dataclass(frozen=True)
class EvidenceDownload:
    """An evidence file opened for reading, with what serving it needs: ``chunks`` gives
    its content a piece at a time, each read from the database when it is asked for."""

    chunks: Iterator[bytes]
    content_type: str
    download_name: str
    size: int
    sha256: str


def evidence_open(*, actor: User | None, evidence: EvidenceFile | int) -> EvidenceDownload:
    """Open an evidence file for ``actor``. One the actor may not see is ``evidence.not_found``,
    exactly as one that does not exist: the answer never tells that it exists. One its
    uploader removed is ``evidence.removed`` to the organization; the CB's staff and the
    Secretariat, who keep the record, may still open it."""
    if actor is None or not actor.is_active:
        raise PermissionDenied(
            "You need to be signed in with an active account to do this.",
            code=PERMISSION_NOT_SIGNED_IN,
        )
    pk = evidence.pk if isinstance(evidence, EvidenceFile) else evidence
    row = evidence_visible(actor=actor, include_removed=True).filter(pk=pk).first()
    if row is None:
        raise NotFound(
            "There is no such evidence file, or you may not see it.", code=EVIDENCE_NOT_FOUND
        )
    if row.removed_at is not None and not _keeps_the_record(actor, row):
        raise NotFound(
            f"This evidence file was removed on {row.removed_at.date().isoformat()} and is "
            "no longer offered as evidence.",
            code=EVIDENCE_REMOVED,
        )
    # A file whose content went missing answers the operator's error now, before the
    # response starts; one whose content changed, once its digest is known at the end.
    check_stored(row)
    content_type = row.content_type
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"  # text evidence is checked to be UTF-8
    return EvidenceDownload(
        chunks=read_chunks(row),
        content_type=content_type,
        download_name=row.name,
        size=row.size,
        sha256=row.sha256,
    )
