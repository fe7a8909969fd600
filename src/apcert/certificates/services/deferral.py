"""A certification decision deferred: recorded, audited, no status changed."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from apcert.assessments.choices import AssessmentStatus
from apcert.assessments.models import Assessment
from apcert.audit.services import audit_record
from apcert.bodies.permissions import require_cb_role
from apcert.certificates.errors import DECISION_NOT_AWAITED
from apcert.certificates.models import Decision, DecisionDeferral
from apcert.core.dates import format_date
from apcert.core.errors import (
    INVALID_DATE_ORDER,
    INVALID_REASON_REQUIRED,
    RuleViolation,
    ValidationFailed,
)

if TYPE_CHECKING:
    from apcert.accounts.models import User


def assessment_decision_defer(
    *,
    actor: User,
    assessment: Assessment,
    reason: str,
    until: dt.date,
    deferred_on: dt.date | None = None,
) -> DecisionDeferral:
    """Put off the decision on a reported assessment until ``until``, saying why.

    A decision maker of the assessment's CB defers; the decision must be awaited (the report
    issued, no decision resting on it yet). Nothing changes status: the deferral is a record
    on the assessment's file, and its one audit event is the assessment's."""
    require_cb_role(actor, assessment.cb, "decision_maker")
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why the decision is deferred, for the record.",
            code=INVALID_REASON_REQUIRED,
            field="reason",
        )
    deferred_on = deferred_on or timezone.localdate()
    if until <= deferred_on:
        raise ValidationFailed(
            f"A decision deferred on {format_date(deferred_on)} is deferred to a later day "
            f"than that, not {format_date(until)}.",
            code=INVALID_DATE_ORDER,
            field="until",
            params={"deferred_on": deferred_on, "until": until},
        )
    with transaction.atomic():
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        if (
            a.status != AssessmentStatus.REPORT_ISSUED
            or Decision.objects.filter(assessment=a).exists()
        ):
            raise RuleViolation(
                f"No decision is awaited on this {a.get_kind_display()}: a decision is "
                "deferred once its report is issued and before a decision rests on it "
                f"(it is {a.get_status_display()}).",
                code=DECISION_NOT_AWAITED,
                params={"state": a.status},
            )
        deferral = DecisionDeferral.objects.create(
            assessment=a,
            deferred_by=actor,
            deferred_on=deferred_on,
            until=until,
            reason=reason.strip(),
        )
        audit_record(
            actor=actor,
            action="assessment.decision_defer",
            obj=a,
            after={
                "deferral": deferral.pk,
                "deferred_on": deferred_on,
                "until": until,
                "status": a.status,
            },
            reason=deferral.reason,
        )
    return deferral
