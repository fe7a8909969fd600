"""The Secretariat's review of a new certificate before publication (an optional
gate, on when the scheme's rules say ``publication_review``).

``certificate_grant`` leaves such a certificate a draft with a pending review. The
Secretariat approves it (the certificate becomes current and enters the register) or
returns it with a reason; the certification body then answers with a new submission.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from apcert.audit.services import audit_record
from apcert.bodies.permissions import require_cb_role
from apcert.certificates.choices import (
    CertificateStatus,
    DecisionKind,
    PublicationReviewStatus,
    StatusReason,
)
from apcert.certificates.errors import PUBLICATION_NOT_PENDING, PUBLICATION_NOT_RETURNED
from apcert.certificates.lifecycle import PUBLICATION_REVIEW
from apcert.certificates.models import Certificate, Decision, PublicationReview
from apcert.certificates.services._common import _lock, _state
from apcert.certificates.services.transition import (
    certificate_transition,
    certificate_transition_check,
)
from apcert.core.errors import INVALID_REASON_REQUIRED, RuleViolation, ValidationFailed
from apcert.core.permissions import require_secretariat

if TYPE_CHECKING:
    from apcert.accounts.models import User


def _pending(cert: Certificate) -> PublicationReview:
    review = (
        PublicationReview.objects.select_for_update()
        .filter(certificate=cert, status=PublicationReviewStatus.PENDING)
        .first()
    )
    if review is None:
        raise RuleViolation(
            f"{cert.number} is not awaiting the Secretariat's review.",
            code=PUBLICATION_NOT_PENDING,
            params={"certificate": cert.number},
        )
    return review


def _required(text: str, field: str, message: str) -> str:
    text = text.strip()
    if not text:
        raise ValidationFailed(message, code=INVALID_REASON_REQUIRED, field=field)
    return text


def publication_review_transition(
    *, actor: User, review: PublicationReview, action: str, note: str, audit: bool = True
) -> PublicationReview:
    """The one road for a review's status: apply ``action`` of
    ``lifecycle.PUBLICATION_REVIEW`` to the locked ``review``, record the Secretariat's
    answer on it and write the one audit event ``certificate.publication_<action>`` on its
    certificate. An approval publishes the certificate, whose transition records both
    (``audit=False``)."""
    before = review.status
    review.status = PUBLICATION_REVIEW.next_state(before, action)
    review.reviewed_by = actor
    review.reviewed_at = timezone.now()
    review.review_note = note.strip()
    review.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_note"])
    if audit:
        audit_record(
            actor=actor,
            action=f"certificate.publication_{action}",
            obj=review.certificate,
            before={"publication_review": review.pk, "status": before},
            after={"publication_review": review.pk, "status": review.status},
            reason=review.review_note,
        )
    return review


def certificate_publication_approve(
    *, actor: User, certificate: Certificate, note: str = "", on: dt.date | None = None
) -> Certificate:
    """Approve the pending review: the certificate becomes current on ``on`` (today by
    default) and enters the public register, in one transaction."""
    require_secretariat(actor)
    on = on or timezone.localdate()
    with transaction.atomic():
        cert = _lock(certificate)
        review = _pending(cert)
        before = _state(cert)
        certificate_transition_check(cert, "grant")
        publication_review_transition(
            actor=actor, review=review, action="approve", note=note, audit=False
        )
        grant = Decision.objects.filter(certificate=cert, kind=DecisionKind.GRANT).first()
        certificate_transition(
            actor=actor,
            certificate=cert,
            action="grant",
            effective_on=on,
            reason_category=StatusReason.GRANTED,
            reason=note.strip(),
            decision=grant,
            before=before,
            after={"publication_review": review.pk, "effective_on": on},
            audit_action="certificate.publish",
        )
    return cert


def certificate_publication_return(
    *, actor: User, certificate: Certificate, reason: str
) -> PublicationReview:
    """Return the pending review to the certification body with ``reason``; the
    certificate stays a draft, out of the register."""
    require_secretariat(actor)
    reason = _required(reason, "reason", "Say why the certificate is returned.")
    with transaction.atomic():
        cert = _lock(certificate)
        review = _pending(cert)
        publication_review_transition(actor=actor, review=review, action="return", note=reason)
    return review


def certificate_publication_resubmit(
    *, actor: User, certificate: Certificate, note: str
) -> PublicationReview:
    """Submit a returned certificate for review again, saying what was done about the
    Secretariat's reason (a decision maker of the certificate's CB)."""
    require_cb_role(actor, certificate.cb, "decision_maker")
    note = _required(note, "note", "Say what was done about the Secretariat's reason.")
    with transaction.atomic():
        cert = _lock(certificate)
        last = (
            PublicationReview.objects.select_for_update()
            .filter(certificate=cert)
            .order_by("-submitted_at", "-id")
            .first()
        )
        if (
            cert.status != CertificateStatus.DRAFT
            or last is None
            or last.status != PublicationReviewStatus.RETURNED
        ):
            raise RuleViolation(
                f"{cert.number} has not been returned by the Secretariat: there is nothing "
                "to submit again.",
                code=PUBLICATION_NOT_RETURNED,
                params={"certificate": cert.number},
            )
        review = PublicationReview.objects.create(
            certificate=cert, submitted_by=actor, submitted_at=timezone.now(), submission_note=note
        )
        audit_record(
            actor=actor,
            action="certificate.publication_resubmit",
            obj=cert,
            before={"publication_review": last.pk, "status": last.status},
            after={"publication_review": review.pk, "status": review.status},
            reason=note,
        )
    return review
