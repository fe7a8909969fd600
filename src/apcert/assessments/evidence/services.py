"""Attaching evidence files to corrective actions, and their removal by their uploader. The
only writers of EvidenceFile rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from apcert.assessments.choices import CorrectiveActionStatus, FindingStatus
from apcert.assessments.errors import (
    EVIDENCE_ALREADY_REMOVED,
    EVIDENCE_ALREADY_REVIEWED,
    EVIDENCE_CORRECTIVE_ACTION_CLOSED,
    EVIDENCE_NOT_UPLOADER,
)
from apcert.assessments.evidence.kinds import (
    ContentCheck,
    allowed_kinds,
    clean_name,
    kind_for_name,
)
from apcert.assessments.evidence.storage import (
    check_declared_size,
    evidence_root,
    new_key,
    receive,
    write_chunks,
)
from apcert.assessments.models import Assessment, CorrectiveAction, EvidenceFile, Finding
from apcert.audit.services import audit_record
from apcert.core.errors import (
    INVALID_REASON_REQUIRED,
    PermissionDenied,
    RuleViolation,
    ValidationFailed,
)
from apcert.organizations.permissions import require_org_member

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.organizations.models import Organization


def assessed_organization(assessment: Assessment) -> Organization:
    """The organization an assessment concerns: the applicant, or the certificate holder."""
    if assessment.application_id is not None:
        return assessment.application.organization  # type: ignore[union-attr]
    return assessment.certificate.organization  # type: ignore[union-attr]


# A corrective action takes evidence while its finding waits on it: answered (awaiting the
# assessor's review) or with its plan accepted (a plan once accepted is next verified on
# evidence). Once verified (closed) or rejected (open, to be answered
# again), or superseded by a newer answer, its evidence is what the assessor judged.
_TAKES_EVIDENCE = (FindingStatus.ANSWERED, FindingStatus.PLAN_ACCEPTED)


def _require_open(corrective_action: CorrectiveAction, finding: Finding) -> None:
    latest = finding.corrective_actions.order_by("-id").values_list("pk", flat=True).first()
    if corrective_action.pk != latest:
        message = "A newer corrective action answers this finding; attach the evidence to that one."
    elif finding.status == FindingStatus.CLOSED:
        message = (
            "The finding is closed: this corrective action was verified, and the evidence "
            "it was verified on can no longer change."
        )
    elif finding.status not in _TAKES_EVIDENCE:
        message = (
            "This corrective action was rejected; answer the finding again and attach the "
            "evidence to the new answer."
        )
    else:
        return
    raise RuleViolation(
        message,
        code=EVIDENCE_CORRECTIVE_ACTION_CLOSED,
        params={"corrective_action": corrective_action.pk, "finding_status": finding.status},
    )


def evidence_attach(
    *, actor: User, corrective_action: CorrectiveAction, upload: UploadedFile
) -> EvidenceFile:
    """A user of the organization attaches a file to its corrective action as evidence.

    Refused, with nothing written (no row, no content, no temporary file, no audit
    event): a user who is not of the organization; a corrective action that no longer takes
    evidence (``evidence.corrective_action_closed``); a bad name (``evidence.bad_name``); a
    type outside settings.EVIDENCE_TYPES or content that is not what the name says
    (``evidence.type_refused``); more than settings.EVIDENCE_MAX_BYTES
    (``evidence.too_large``); an empty file (``evidence.empty``).

    The upload is streamed into a temporary file under EVIDENCE_DIR while it is hashed and
    checked, outside any transaction (a slow upload never holds a database lock). Then, in
    one transaction that must be the outermost (``durable``: when it ends without an error,
    it has committed), the corrective action is locked and checked again, and the row, its
    content (copied from the temporary file a chunk at a time) and its audit event are
    written: all of them commit, or none. The temporary file is removed either way. Each
    upload is stored with content of its own, even when the same content was uploaded
    before."""
    ca = CorrectiveAction.objects.select_related(
        "finding__assessment__application__organization",
        "finding__assessment__certificate__organization",
    ).get(pk=corrective_action.pk)
    require_org_member(actor, assessed_organization(ca.finding.assessment))
    kinds = allowed_kinds()
    name = clean_name(upload.name)
    kind = kind_for_name(name, kinds)
    limit = int(settings.EVIDENCE_MAX_BYTES)
    check_declared_size(upload, limit)
    # Checked again under the lock below; checked here so that a refused upload is not
    # received for nothing.
    _require_open(ca, ca.finding)

    received = receive(upload, root=evidence_root(), limit=limit, check=ContentCheck(kind, kinds))
    try:
        with transaction.atomic(durable=True):
            ca = CorrectiveAction.objects.select_for_update().get(pk=ca.pk)
            finding = Finding.objects.select_for_update().get(pk=ca.finding_id)
            _require_open(ca, finding)
            evidence = EvidenceFile.objects.create(
                corrective_action=ca,
                name=name,
                content_type=kind.content_type,
                size=received.size,
                sha256=received.sha256,
                storage_key=new_key(),
                uploaded_by=actor,
            )
            write_chunks(evidence=evidence, received=received)
            audit_record(
                actor=actor,
                action="evidence.attach",
                obj=evidence,
                after={
                    "corrective_action": ca.pk,
                    "finding": finding.pk,
                    "name": name,
                    "content_type": kind.content_type,
                    "size": received.size,
                    "sha256": received.sha256,
                },
            )
    finally:
        received.temp.unlink(missing_ok=True)
    return evidence


def evidence_remove(*, actor: User, evidence: EvidenceFile, reason: str) -> EvidenceFile:
    """The user who uploaded an evidence file takes it back, saying why, while its
    corrective action still awaits the assessor's review.

    Nothing is deleted: the row and its content are kept for the record, marked removed
    by whom and when, and the lists of evidence no longer offer it (CB staff may still
    download it). Refused, with nothing written: a reason left empty; a user who is not
    the uploader (``evidence.not_uploader``), or no longer a user of the organization; a
    corrective action already reviewed, accepted or rejected (``evidence.already_reviewed``):
    its evidence is what the assessor judged; a file removed already
    (``evidence.already_removed``)."""
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why the evidence file is taken back.",
            code=INVALID_REASON_REQUIRED,
            field="reason",
        )
    row = EvidenceFile.objects.select_related(
        "corrective_action__finding__assessment__application__organization",
        "corrective_action__finding__assessment__certificate__organization",
    ).get(pk=evidence.pk)
    require_org_member(actor, assessed_organization(row.corrective_action.finding.assessment))
    if row.uploaded_by_id != actor.pk:
        raise PermissionDenied(
            "Only the user who uploaded an evidence file may remove it.",
            code=EVIDENCE_NOT_UPLOADER,
        )
    with transaction.atomic():
        # The corrective action before its files, as when evidence is attached.
        ca = CorrectiveAction.objects.select_for_update().get(pk=row.corrective_action_id)
        row = EvidenceFile.objects.select_for_update().get(pk=row.pk)
        if row.removed_at is not None:
            raise RuleViolation(
                "This evidence file has been removed already.", code=EVIDENCE_ALREADY_REMOVED
            )
        if ca.status != CorrectiveActionStatus.SUBMITTED:
            raise RuleViolation(
                f"The corrective action has been reviewed ({ca.get_status_display()}): the "
                "evidence the assessor judged can no longer be removed.",
                code=EVIDENCE_ALREADY_REVIEWED,
                params={"corrective_action": ca.pk, "status": ca.status},
            )
        row.removed_at = timezone.now()
        row.removed_by = actor
        row.removal_reason = reason.strip()
        row.save(update_fields=["removed_at", "removed_by", "removal_reason"])
        audit_record(
            actor=actor,
            action="evidence.remove",
            obj=row,
            before={"removed": False},
            after={
                "removed": True,
                "corrective_action": ca.pk,
                "name": row.name,
                "sha256": row.sha256,
            },
            reason=row.removal_reason,
        )
    return row
