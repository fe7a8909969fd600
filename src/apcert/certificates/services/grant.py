"""Certification decisions on an application: grant and refuse."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from apcert.applications.models import Application
from apcert.assessments.choices import AssessmentStatus
from apcert.assessments.models import Assessment
from apcert.assessments.services import assessment_transition
from apcert.audit.services import audit_record
from apcert.bodies.permissions import require_cb_role
from apcert.certificates.choices import (
    CertificateStatus,
    DecisionKind,
    IssueReason,
    StatusReason,
)
from apcert.certificates.errors import DECISION_WRONG_ASSESSMENT
from apcert.certificates.models import (
    Certificate,
    Decision,
    PublicationReview,
)
from apcert.certificates.numbering import allocate_number
from apcert.certificates.selectors import (
    decision_date_problems,
    decision_maker_problems,
    decision_subject_problems,
    grant_problems,
    report_problems,
)
from apcert.certificates.snapshots import (
    application_scope,
)
from apcert.core.dates import today
from apcert.core.errors import (
    INVALID_REASON_REQUIRED,
    PERMISSION_CB_ROLE_REQUIRED,
    PermissionDenied,
    RuleViolation,
    ValidationFailed,
)
from apcert.schemes.selectors import scheme_rules

if TYPE_CHECKING:
    from apcert.accounts.models import User
from apcert.certificates.services._common import (
    _new_issue,
    _raise_first,
    _state,
    _validity_end,
)
from apcert.certificates.services.transition import certificate_transition


def _decider(
    actor: User, application: Application, assessment: Assessment, decided_by: User | None
) -> User:
    """Who takes the decision: ``actor``, or ``decided_by`` when a scheme manager records a
    decision the CB took in its own software on an assessment recorded from there. Either
    way the decision maker holds that role at the CB: a certification decision is the CB's
    act, taken by its decision maker; one on work run in apcert is taken here by them."""
    if decided_by is None or decided_by == actor:
        return require_cb_role(actor, application.cb, "decision_maker")
    require_cb_role(actor, application.cb, "scheme_manager")
    if not assessment.recorded:
        raise PermissionDenied(
            "A decision on an assessment run in apcert is taken here by its decision maker; "
            "only the decision on work recorded from the CB's own software is recorded by "
            "another person.",
            code=PERMISSION_CB_ROLE_REQUIRED,
            params={"cb": application.cb.code, "roles": ["decision_maker"]},
        )
    return require_cb_role(decided_by, application.cb, "decision_maker")


def _recorded_decider(actor: User, decider: User) -> dict[str, str]:
    """The decision maker named in the audit event when another person recorded it."""
    return {} if decider == actor else {"decided_by": decider.username}


def certificate_grant(
    *,
    actor: User,
    application: Application,
    assessment: Assessment,
    decided_on: dt.date | None = None,
    rationale: str = "",
    decided_by: User | None = None,
) -> Certificate:
    """Grant certification: check every rule, allocate the number, publish issue 1.

    When the scheme has the Secretariat review new certificates before publication, issue 1
    is made but the certificate stays a draft with a pending :class:`PublicationReview`.

    ``decided_by`` is the decision maker when the decision was taken in the CB's own
    software and ``actor`` records it (see :func:`_decider`); by default the actor decides.
    """
    decider = _decider(actor, application, assessment, decided_by)
    decided_on = decided_on or today()
    with transaction.atomic():
        app = (
            Application.objects.select_for_update(of=("self",))
            .select_related("cb", "scheme", "organization")
            .get(pk=application.pk)
        )
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        _raise_first(
            grant_problems(application=app, assessment=a, decided_by=decider, decided_on=decided_on)
        )
        rules = scheme_rules(app.scheme)
        number, serial = allocate_number(rules=rules, cb=app.cb, on=decided_on)
        decision = Decision.objects.create(
            cb=app.cb,
            kind=DecisionKind.GRANT,
            application=app,
            assessment=a,
            decided_by=decider,
            decided_on=decided_on,
            rationale=rationale,
        )
        cert = Certificate.objects.create(
            number=number,
            number_year=decided_on.year,
            number_serial=serial,
            cb=app.cb,
            scheme=app.scheme,
            organization=app.organization,
            application=app,
            status=CertificateStatus.DRAFT,
            status_since=decided_on,
            first_issued_on=decided_on,
            initial_decision_on=decided_on,
            expires_on=_validity_end(decided_on, rules.validity_months),
        )
        decision.certificate = cert
        decision.save(update_fields=["certificate"])
        programmes = [{"code": p.code, "name": p.name} for p in app.programmes.order_by("code")]
        issue = _new_issue(
            cert,
            on=decided_on,
            reason=IssueReason.INITIAL,
            decision=decision,
            scope_lines=application_scope(app),
            programmes=programmes,
        )
        # The decision closes the assessment it rests on, before the certificate's derived
        # data (its visit programme) is brought into step.
        if a.status == AssessmentStatus.REPORT_ISSUED:
            assessment_transition(actor=actor, assessment=a, action="close", within_decision=True)
        after = {
            "decision": decision.pk,
            "application": app.pk,
            "assessment": a.pk,
            "decided_on": decided_on,
            **_recorded_decider(actor, decider),
            "reason_category": StatusReason.GRANTED,
            "issue_id": issue.pk,
            "scope_lines": issue.scope_lines,
        }
        if rules.publication_review:
            # The scheme has the Secretariat review a new certificate before it is public:
            # it stays a draft, out of the register, until the review is approved
            # (certificate_publication_approve makes the status change and the index entry).
            cert.save(update_fields=["current_issue_number"])
            review = PublicationReview.objects.create(
                certificate=cert, submitted_by=actor, submitted_at=timezone.now()
            )
            audit_record(
                actor=actor,
                action="certificate.grant",
                obj=cert,
                before=None,
                after={**_state(cert), **after, "publication_review": review.pk},
                reason=rationale,
            )
        else:
            certificate_transition(
                actor=actor,
                certificate=cert,
                action="grant",
                effective_on=decided_on,
                reason_category=StatusReason.GRANTED,
                reason=rationale,
                decision=decision,
                update_fields=["current_issue_number"],
                before=None,
                after={**after, "publication_review": None},
            )
    return cert


def certificate_refuse(
    *,
    actor: User,
    application: Application,
    assessment: Assessment,
    rationale: str,
    decided_on: dt.date | None = None,
    decided_by: User | None = None,
) -> Decision:
    """Refuse certification; no certificate is made. ``decided_by`` as for a grant."""
    decider = _decider(actor, application, assessment, decided_by)
    if not rationale.strip():
        raise ValidationFailed(
            "Say why certification is refused.", code=INVALID_REASON_REQUIRED, field="rationale"
        )
    decided_on = decided_on or today()
    with transaction.atomic():
        a = Assessment.objects.select_for_update().get(pk=assessment.pk)
        app = Application.objects.select_for_update(of=("self",)).get(pk=application.pk)
        if a.application_id != app.pk:
            raise RuleViolation(
                "A refusal rests on the assessment of this application.",
                code=DECISION_WRONG_ASSESSMENT,
            )
        _raise_first(
            decision_subject_problems(application=app, assessment=a)
            + decision_maker_problems(assessment=a, decided_by=decider)
            + decision_date_problems(decided_on=decided_on)
            + report_problems(assessment=a, decided_on=decided_on)
        )
        decision = Decision.objects.create(
            cb=application.cb,
            kind=DecisionKind.REFUSE,
            application=application,
            assessment=a,
            decided_by=decider,
            decided_on=decided_on,
            rationale=rationale,
        )
        audit_record(
            actor=actor,
            action="decision.refuse",
            obj=decision,
            after={
                "application": application.pk,
                "decided_on": decided_on,
                **_recorded_decider(actor, decider),
            },
            reason=rationale,
        )
    return decision
