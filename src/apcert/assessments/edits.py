"""Correcting a finding while its assessment's report is still to be issued.

The team may correct what it recorded (the grade, the requirement, the wording, the due date)
until the lead assessor issues the report: the report is what the organization answers and
what the certification decision rests on, so from then on the findings it lists stay as they
are. Each correction is one audit event that names the fields changed, before and after.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction

from apcert.assessments.choices import (
    AssessmentStatus,
    FindingGrade,
    RequirementKind,
)
from apcert.assessments.errors import (
    FINDING_GRADE_CHANGE_NOT_ALLOWED,
    FINDING_NOT_EDITABLE,
    FINDING_STANDARD_NOT_DECLARED,
    FINDING_STANDARD_REQUIRED,
)
from apcert.assessments.models import Finding
from apcert.assessments.services import _declared_standards, _lock, _require_team
from apcert.audit.services import audit_record
from apcert.core.errors import (
    INVALID_CHOICE,
    INVALID_DATE_ORDER,
    INVALID_REQUIRED,
    RuleViolation,
    ValidationFailed,
)

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.assessments.models import Assessment
    from apcert.schemes.models import Standard

#: The fields a correction may change, in the order the audit event lists them.
EDITABLE_FIELDS = (
    "grade",
    "requirement_kind",
    "requirement_ref",
    "standard",
    "description",
    "due_date",
)


def _check_input(
    *, grade: str, requirement_kind: str, requirement_ref: str, description: str, standard: Any
) -> None:
    """The checks of :func:`~apcert.assessments.services.finding_record` on what is typed."""
    if grade not in FindingGrade.values:
        raise ValidationFailed(f"Unknown grade '{grade}'.", code=INVALID_CHOICE, field="grade")
    if requirement_kind not in RequirementKind.values:
        raise ValidationFailed(
            f"Unknown requirement kind '{requirement_kind}'.",
            code=INVALID_CHOICE,
            field="requirement_kind",
        )
    if not (requirement_ref or "").strip() or not (description or "").strip():
        raise ValidationFailed(
            "A finding names its requirement and describes what was found.",
            code=INVALID_REQUIRED,
            field="description",
        )
    if requirement_kind == RequirementKind.STANDARD and standard is None:
        raise ValidationFailed(
            "Name the declared standard whose clause is not met.",
            code=FINDING_STANDARD_REQUIRED,
            field="standard",
        )


def _require_editable(assessment: Assessment) -> None:
    if assessment.status == AssessmentStatus.IN_PROGRESS:
        return
    if assessment.status == AssessmentStatus.CANCELLED:
        message = "The assessment was cancelled: its findings can no longer be edited."
    else:
        message = (
            "The assessment report has been issued: the findings it lists can no longer be edited."
        )
    raise RuleViolation(
        message, code=FINDING_NOT_EDITABLE, params={"assessment_status": assessment.status}
    )


def _audit_value(field: str, value: Any) -> Any:
    if field == "standard":
        return value.reference if value is not None else None
    return value


def finding_update(
    *,
    actor: User,
    finding: Finding,
    requirement_kind: str,
    requirement_ref: str,
    description: str,
    standard: Standard | None = None,
    due_date: dt.date | None = None,
    grade: str | None = None,
    reason: str = "",
) -> Finding:
    """A member of the assessment team corrects a finding while the assessment is in
    progress (``finding.not_editable`` once the report is issued, the assessment closed or
    cancelled), with the checks of ``finding_record``.

    ``grade`` left out keeps the grade. A nonconformity may be regraded major or minor; a
    nonconformity cannot become an observation nor the reverse
    (``finding.grade_change_not_allowed``): one needs an answer and the other is recorded
    closed, so that is a finding to record anew. ``due_date`` left out keeps a
    nonconformity's due date; an observation is due the day it was raised, as recorded.

    Writes the fields that changed and one audit event ``finding.update`` listing each of
    them before and after; a correction that changes nothing writes nothing."""
    current = Finding.objects.select_related("assessment").get(pk=finding.pk)
    _require_team(actor, current.assessment)
    grade = current.grade if grade is None else grade
    _check_input(
        grade=grade,
        requirement_kind=requirement_kind,
        requirement_ref=requirement_ref,
        description=description,
        standard=standard,
    )
    with transaction.atomic():
        # The assessment before the finding, as when findings are recorded.
        a = _lock(current.assessment)
        f = (
            Finding.objects.select_for_update(of=("self",))
            .select_related("standard")
            .get(pk=finding.pk)
        )
        _require_editable(a)
        observation = FindingGrade.OBSERVATION
        if (grade == observation) != (f.grade == observation):
            raise RuleViolation(
                f"A {f.get_grade_display()} cannot be regraded as {FindingGrade(grade).label}: "
                "record the finding anew.",
                code=FINDING_GRADE_CHANGE_NOT_ALLOWED,
                field="grade",
            )
        # A standard kept as it was recorded was declared then; a new one must be now.
        if (
            standard is not None
            and standard.pk != f.standard_id
            and standard.reference not in _declared_standards(a)
        ):
            raise RuleViolation(
                f"{standard.reference} is not among the standards declared in the scope; a "
                "finding is raised against a clause of a declared standard.",
                code=FINDING_STANDARD_NOT_DECLARED,
                field="standard",
            )
        due = f.raised_on if grade == observation else (due_date or f.due_date)
        if due < f.raised_on:
            raise ValidationFailed(
                "The due date cannot be before the finding is raised.",
                code=INVALID_DATE_ORDER,
                field="due_date",
            )
        wanted: dict[str, Any] = {
            "grade": grade,
            "requirement_kind": requirement_kind,
            "requirement_ref": requirement_ref.strip(),
            "standard": standard,
            "description": description.strip(),
            "due_date": due,
        }
        changed = [name for name in EDITABLE_FIELDS if getattr(f, name) != wanted[name]]
        if not changed:
            return f
        before = {name: _audit_value(name, getattr(f, name)) for name in changed}
        for name in changed:
            setattr(f, name, wanted[name])
        f.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="finding.update",
            obj=f,
            before=before,
            after={name: _audit_value(name, wanted[name]) for name in changed},
            reason=reason.strip(),
        )
    return f
