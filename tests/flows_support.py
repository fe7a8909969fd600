"""Helpers shared by the tests of the flows that follow a visit (tests/test_flows_*.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from apcert.accounts.models import User
from apcert.assessments.models import Assessment
from apcert.assessments.services import (
    assessment_issue_report,
    assessment_plan,
    assessment_start,
    finding_record,
)
from apcert.audit.models import AuditEvent
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateStatusChange,
    Decision,
)
from apcert.certificates.snapshots import FIRST_ISSUE, change_summary, issue_content
from apcert.core.errors import DomainError
from tests.factories import CBTeam, World, on_day

DAYS = dt.timedelta(days=1)


def records() -> dict[str, int]:
    return {
        "decisions": Decision.objects.count(),
        "certificates": Certificate.objects.count(),
        "issues": CertificateIssue.objects.count(),
        "status_changes": CertificateStatusChange.objects.count(),
        "audit_events": AuditEvent.objects.count(),
    }


def grew(before: dict[str, int], **more: int) -> dict[str, int]:
    return {k: v + more.get(k, 0) for k, v in before.items()}


def cert_row(pk: int) -> dict[str, Any]:
    c = Certificate.objects.get(pk=pk)
    return {
        "status": c.status,
        "status_since": c.status_since,
        "expires_on": c.expires_on,
        "issue": c.current_issue_number,
        "number": c.number,
        "cb": c.cb_id,
    }


def assessment_status(a: Assessment) -> str:
    return Assessment.objects.get(pk=a.pk).status


def visit(
    world: World,
    cert: Certificate,
    kind: str,
    *,
    start: dt.date | None = None,
    findings: tuple[str, ...] = (),
    report: bool = True,
    team: CBTeam | None = None,
    members: list[tuple[User, str]] | None = None,
) -> Assessment:
    """An assessment of ``cert`` (by ``team``'s CB, the certificate's by default), with its
    findings and, unless told otherwise, its report issued four days after the start."""
    t = team or world.team
    start = start or cert.status_since + 30 * DAYS
    a = assessment_plan(
        actor=t.manager,
        kind=kind,
        certificate=cert,
        start_date=start,
        end_date=start + DAYS,
        team=members or [(t.lead, "lead"), (t.assessor, "member")],
        cb=t.cb if t.cb.pk != cert.cb_id else None,
    )
    with on_day(start):
        assessment_start(actor=t.lead, assessment=a)
        for grade in findings:
            finding_record(
                actor=t.lead,
                assessment=a,
                grade=grade,
                requirement_kind="iso9001",
                requirement_ref="ISO 9001:2015 8.5.1",
                description=f"{grade} finding: records incomplete",
            )
    if report:
        with on_day(start + 4 * DAYS):
            a = assessment_issue_report(actor=t.lead, assessment=a, issued_on=start + 4 * DAYS)
    return a


def reported(a: Assessment) -> dt.date:
    """The date an assessment's report was issued (it must have been)."""
    assert a.report_issued_on is not None
    return a.report_issued_on


def decision_of(record: Any) -> Decision:
    """The decision behind an issue or a status change."""
    assert record.decision_id is not None
    return Decision.objects.get(pk=record.decision_id)


def assert_refused(call: Callable[[], Any], code: str, *certs: Certificate) -> DomainError:
    """``call`` is refused with ``code`` and writes nothing: no decision, certificate,
    issue, status change or audit event, and each certificate's row as it was."""
    before = records()
    rows = {c.pk: cert_row(c.pk) for c in certs}
    with pytest.raises(DomainError) as exc:
        call()
    assert exc.value.code == code, str(exc.value)
    assert records() == before
    assert {pk: cert_row(pk) for pk in rows} == rows
    return exc.value


def issues_not_saying_what_changed() -> list[tuple[str, int, str, str]]:
    """Every issue whose "what changed" is not the difference between its snapshot and the
    one before it (issue 1: the first issue), as (number, issue, stored, expected)."""
    wrong = []
    previous: CertificateIssue | None = None
    issues = CertificateIssue.objects.select_related("certificate").order_by(
        "certificate_id", "issue_number"
    )
    for issue in issues:
        if previous is not None and previous.certificate_id != issue.certificate_id:
            previous = None
        if issue.issue_number == 1:
            expected = FIRST_ISSUE
        else:
            assert previous is not None and previous.issue_number == issue.issue_number - 1
            expected = change_summary(issue_content(previous), issue_content(issue))
        if not expected or issue.change_summary != expected:
            wrong.append(
                (issue.certificate.number, issue.issue_number, issue.change_summary, expected)
            )
        previous = issue
    return wrong


def surveilled(world: World, cert: Certificate) -> None:
    """Carry out every surveillance of ``cert``'s current cycle on time (the day each falls
    due), so that the scheme's calendar neither suspends nor withdraws it before a decision
    dated near its expiry."""
    from apcert.cycle.programme import visits_for

    while True:
        fresh = Certificate.objects.get(pk=cert.pk)
        due = next((v for v in visits_for(fresh) if v.kind == "surveillance" and not v.done), None)
        if due is None:
            return
        visit(world, fresh, "surveillance", start=due.due_date - 4 * DAYS)
