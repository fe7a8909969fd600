"""Transfer of a certificate to another certification body."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction

from apcert.applications.models import ScopeLine
from apcert.applications.selectors import acceptance_problems
from apcert.assessments.choices import AssessmentKind, AssessmentStatus
from apcert.assessments.models import Assessment
from apcert.assessments.services import assessment_transition
from apcert.bodies.permissions import require_cb_role
from apcert.certificates.choices import (
    CertificateStatus,
    DecisionKind,
    IssueReason,
    StatusReason,
)
from apcert.certificates.derived import certificate_changed
from apcert.certificates.errors import (
    CERTIFICATE_TRANSFER_NOT_CURRENT,
    CERTIFICATE_TRANSFER_SAME_CB,
)
from apcert.certificates.models import (
    Certificate,
    Decision,
)
from apcert.certificates.numbering import allocate_number
from apcert.certificates.selectors import (
    followup_assessment_problems,
)
from apcert.core.errors import RuleViolation
from apcert.schemes.models import ProcessCategory
from apcert.schemes.selectors import scheme_rules

if TYPE_CHECKING:
    from apcert.accounts.models import User
from apcert.certificates.services._common import (
    _check_decision_date,
    _last_issue,
    _lock,
    _new_issue,
    _programme_ids,
    _raise_first,
    _record_calendar,
    _state,
)
from apcert.certificates.services.transition import (
    certificate_transition,
    certificate_transition_check,
)


def transfer_subject_problems(old: Certificate, assessment: Assessment) -> list[RuleViolation]:
    """A transfer takes a current certificate to the CB that carried out the transfer
    review, which is another CB than the certificate's."""
    if old.cb_id == assessment.cb_id:
        return [
            RuleViolation(
                f"{old.number} is already certified by {old.cb.code}.",
                code=CERTIFICATE_TRANSFER_SAME_CB,
            )
        ]
    if old.status != CertificateStatus.CURRENT:
        return [
            RuleViolation(
                f"{old.number} is {old.status}; only a current certificate can be transferred.",
                code=CERTIFICATE_TRANSFER_NOT_CURRENT,
                params={"state": old.status},
            )
        ]
    return []


def certificate_transfer(
    *,
    actor: User,
    certificate: Certificate,
    assessment: Assessment,
    decided_on: dt.date,
    rationale: str = "",
) -> Certificate:
    """Transfer a current certificate to another CB after that CB's transfer review.

    The new CB's decision maker decides. A new certificate under the new CB takes a new
    number, issue 1 (reason transfer) with the old scope and the old expiry, and keeps the
    certification cycle (its initial decision date). The old certificate ends withdrawn with
    the reason "transferred", under the same decision; both are linked.
    One audit event names both numbers.
    """
    new_cb = assessment.cb
    require_cb_role(actor, new_cb, "decision_maker")
    with transaction.atomic():
        old = _lock(certificate)
        _record_calendar(old, decided_on)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        before = _state(old)
        _raise_first(transfer_subject_problems(old, a))
        certificate_transition_check(old, "withdraw")
        _check_decision_date(old, decided_on)
        last = _last_issue(old)
        problems = followup_assessment_problems(
            certificate=old,
            assessment=a,
            kind=AssessmentKind.TRANSFER_REVIEW,
            cb_id=new_cb.pk,
            decided_by=actor,
            decided_on=decided_on,
        )
        category_codes = {line["category"] for line in last.scope_lines}
        categories = {c.code: c for c in ProcessCategory.objects.filter(code__in=category_codes)}
        problems += acceptance_problems(
            cb_id=new_cb.pk,
            programme_ids=_programme_ids(last),
            scope_lines=[ScopeLine(category=categories[code]) for code in sorted(category_codes)],
            on=decided_on,
            code_prefix="decision",
        )
        _raise_first(problems)

        rules = scheme_rules(old.scheme)
        number, serial = allocate_number(rules=rules, cb=new_cb, on=decided_on)
        decision = Decision.objects.create(
            cb=new_cb,
            kind=DecisionKind.GRANT,
            assessment=a,
            decided_by=actor,
            decided_on=decided_on,
            rationale=rationale,
        )
        new = Certificate.objects.create(
            number=number,
            number_year=decided_on.year,
            number_serial=serial,
            cb=new_cb,
            scheme=old.scheme,
            organization=old.organization,
            application=old.application,
            status=CertificateStatus.DRAFT,
            status_since=decided_on,
            first_issued_on=decided_on,
            initial_decision_on=old.initial_decision_on,
            expires_on=old.expires_on,
            transferred_from=old,
        )
        decision.certificate = new
        decision.save(update_fields=["certificate"])
        issue = _new_issue(
            new,
            on=decided_on,
            reason=IssueReason.TRANSFER,
            decision=decision,
            scope_lines=last.scope_lines,
            programmes=last.programmes,
            valid_from=decided_on,
        )
        # The old certificate ends first, under the same decision; the new one's grant
        # writes the transfer's one audit event, naming both.
        certificate_transition(
            actor=actor,
            certificate=old,
            action="withdraw",
            effective_on=decided_on,
            reason_category=StatusReason.TRANSFERRED,
            reason=f"transferred to {new_cb.code} as {new.number}",
            decision=decision,
            before=before,
            audit=False,
        )
        if a.status == AssessmentStatus.REPORT_ISSUED:
            assessment_transition(actor=actor, assessment=a, action="close", within_decision=True)
        certificate_transition(
            actor=actor,
            certificate=new,
            action="grant",
            effective_on=decided_on,
            reason_category=StatusReason.GRANTED,
            reason=f"transferred from {old.number}",
            decision=decision,
            update_fields=["current_issue_number"],
            before={"transferred_from": before},
            after={
                "cb": new_cb.code,
                "transferred_from": old.number,
                "old_status": old.status,
                "decision": decision.pk,
                "assessment": a.pk,
                "decided_on": decided_on,
                "issue_id": issue.pk,
            },
            audit_action="certificate.transfer",
            audit_reason=rationale,
        )
        # The old certificate's derived data was refreshed while its successor was still a
        # draft, which nothing public names; refresh it again now that the successor is
        # public, so the old certificate's register entry links to it.
        certificate_changed(old)
    return new
