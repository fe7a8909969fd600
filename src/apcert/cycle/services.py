"""Status changes that a scheme rule makes on its own, with no decision maker.

A rule-driven change (a missed surveillance, a suspension run past its maximum) has no
:class:`~apcert.certificates.models.Decision`: a decision is taken by a person. It writes
the status history row with ``decision=None`` and exactly one audit event whose actor is the
system and whose reason names the rule. Callers lock the certificate and re-check the rule
inside the same transaction (see :mod:`apcert.cycle.sweep`).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

from apcert.assessments.models import Finding
from apcert.audit.services import audit_record
from apcert.certificates.models import Certificate
from apcert.certificates.services import certificate_state, certificate_transition
from apcert.cycle.models import FindingLateFlag


def _require_transaction() -> None:
    if not connection.in_atomic_block:
        raise RuntimeError("rule-driven changes run inside the sweep's locking transaction")


def certificate_change_by_rule(
    *,
    certificate: Certificate,
    action: str,
    reason_category: str,
    effective_on: dt.date,
    rule: str,
    reason: str,
) -> Certificate:
    """Apply one transition of ``CERTIFICATE`` because ``rule`` says so. ``certificate``
    must be the row locked by the caller (``select_for_update``)."""
    _require_transaction()
    return certificate_transition(
        actor=None,
        certificate=certificate,
        action=action,
        effective_on=effective_on,
        reason_category=reason_category,
        reason=reason,
        decision=None,
        before=certificate_state(certificate),
        after={
            "decision": None,
            "rule": rule,
            "reason_category": reason_category,
            "effective_on": effective_on,
        },
    )


def finding_flag_late(*, finding: Finding, as_of: dt.date, rule: str) -> FindingLateFlag:
    """Record that a nonconformity is past its due date. ``finding`` must be locked."""
    _require_transaction()
    flag = FindingLateFlag.objects.create(
        finding=finding, flagged_on=as_of, due_date=finding.due_date, rule=rule
    )
    audit_record(
        actor=None,
        action="finding.flag_late",
        obj=finding,
        before={"status": finding.status},
        after={
            "status": finding.status,
            "due_date": finding.due_date,
            "flagged_on": as_of,
            "rule": rule,
        },
        reason=(
            f"rule {rule}: {finding.get_grade_display()} due {finding.due_date.isoformat()}, "
            f"still {finding.get_status_display()} on {as_of.isoformat()}"
        ),
    )
    return flag
