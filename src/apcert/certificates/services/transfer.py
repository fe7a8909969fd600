"""Transfer of a certificate to another certification body."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction

from apcert.applications.models import ScopeLine
from apcert.applications.selectors import acceptance_problems
from apcert.assessments.choices import AssessmentKind
from apcert.assessments.models import Assessment
from apcert.audit.services import audit_record
from apcert.certificates.choices import DecisionKind, IssueReason, StatusReason
from apcert.certificates.lifecycle import CERTIFICATE
from apcert.certificates.models import (
    Certificate,
    Decision,
)
from apcert.certificates.numbering import allocate_number
from apcert.certificates.selectors import (
    followup_assessment_problems,
)
from apcert.core.errors import RuleViolation
from apcert.core.permissions import require_cb_role
from apcert.schemes.models import ProcessCategory
from apcert.schemes.selectors import scheme_rules

if TYPE_CHECKING:
    from apcert.accounts.models import User
from apcert.certificates.services._common import (
    _check_decision_date,
    _close_assessment,
    _keep_derived,
    _last_issue,
    _lock,
    _new_issue,
    _programme_ids,
    _raise_first,
    _state,
    _status_record,
)


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
    the reason "transferred", under the same decision; both are linked (DOMAIN.md section 4).
    One audit event names both numbers.
    """
    new_cb = assessment.cb
    require_cb_role(actor, new_cb, "decision_maker")
    with transaction.atomic():
        old = _lock(certificate)
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        before = _state(old)
        if old.cb_id == a.cb_id:
            raise RuleViolation(
                f"{old.number} is already certified by {old.cb.code}.",
                code="certificate.transfer_same_cb",
            )
        if old.status != "current":
            raise RuleViolation(
                f"{old.number} is {old.status}; only a current certificate can be transferred.",
                code="certificate.transfer_not_current",
                params={"state": old.status},
            )
        withdrawn = CERTIFICATE.next_state(old.status, "withdraw")
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
            status="draft",
            status_since=decided_on,
            first_issued_on=decided_on,
            initial_decision_on=old.initial_decision_on,
            expires_on=old.expires_on,
            transferred_from=old,
        )
        decision.certificate = new
        decision.save(update_fields=["certificate"])
        new.status = CERTIFICATE.next_state("draft", "grant")
        issue = _new_issue(
            new,
            on=decided_on,
            reason=IssueReason.TRANSFER,
            decision=decision,
            scope_lines=last.scope_lines,
            programmes=last.programmes,
            valid_from=decided_on,
        )
        new.save(update_fields=["status", "current_issue_number"])
        _status_record(
            new,
            before="draft",
            on=decided_on,
            reason_category=StatusReason.GRANTED,
            reason=f"transferred from {old.number}",
            decision=decision,
        )
        old.status = withdrawn
        old.status_since = decided_on
        old.save(update_fields=["status", "status_since"])
        _status_record(
            old,
            before=before["status"],
            on=decided_on,
            reason_category=StatusReason.TRANSFERRED,
            reason=f"transferred to {new_cb.code} as {new.number}",
            decision=decision,
        )
        _close_assessment(a)
        _keep_derived(old)
        _keep_derived(new)
        audit_record(
            actor=actor,
            action="certificate.transfer",
            obj=new,
            before={"transferred_from": before},
            after={
                **_state(new),
                "cb": new_cb.code,
                "transferred_from": old.number,
                "old_status": old.status,
                "decision": decision.pk,
                "assessment": a.pk,
                "decided_on": decided_on,
                "issue_id": issue.pk,
            },
            reason=rationale,
        )
    return new
