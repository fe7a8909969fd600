"""Work done in the CB's own software: the outcome of an initial assessment carried out
there (its dates and team, its findings with their closure dates, its report) and the
certification decision taken on it, recorded in apcert in one step.

The record is held to the rules an assessment and a decision run in apcert meet, by the
same checks and with the same codes: the application accepted and not yet assessed or
decided; the dates in order (first day, last day, report, decision) and none after today;
the team with one lead, nobody twice, and each member who has an account here qualified;
each finding raised during the assessment and closed after it was raised; the decision
maker a decision maker of the CB who was not on the team (as a user or by name); and, for a
grant, no major nonconformity open on the decision's day, an accepted plan for every minor
one, the scope inside the CB's acceptance and every declared standard current. Every
problem is found before anything is written, and all are reported together.

Then, in one transaction, the assessment is written marked as recorded, with its team and
findings, and the decision goes through the very service the decision screens use
(``certificate_grant`` or ``certificate_refuse``): the certificate is numbered, issued,
published and audited as usual, and its decision rests on the recorded assessment, which
stays its basis.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction

from apcert.applications.choices import ApplicationStatus
from apcert.applications.models import Application
from apcert.assessments.choices import (
    AssessmentKind,
    AssessmentOrigin,
    AssessmentStatus,
    FindingGrade,
    FindingStatus,
    RequirementKind,
)
from apcert.assessments.errors import (
    ASSESSMENT_APPLICATION_NOT_ACCEPTED,
    ASSESSMENT_SUBJECT_REQUIRED,
    FINDING_CLOSED_IN_FUTURE,
    FINDING_STANDARD_NOT_DECLARED,
    FINDING_STANDARD_REQUIRED,
)
from apcert.assessments.lifecycle import ASSESSMENT, FINDING
from apcert.assessments.models import Assessment, Finding, TeamMember
from apcert.assessments.services import (
    check_assessment_length,
    check_raised_on,
    check_report_date,
    refuse_closing_before_raised,
    refuse_second_initial_assessment,
    team_problems,
)
from apcert.audit.services import audit_record
from apcert.bodies.permissions import require_cb_role
from apcert.certificates.choices import DecisionKind
from apcert.certificates.errors import DECISION_ALREADY_GRANTED
from apcert.certificates.models import Certificate, Decision
from apcert.certificates.selectors import (
    decision_date_problems,
    decision_maker_team_problems,
    findings_problems,
    grant_scope_problems,
    report_problems,
)
from apcert.certificates.services.grant import certificate_grant, certificate_refuse
from apcert.core.dates import format_date, today
from apcert.core.errors import (
    INVALID_CHOICE,
    INVALID_DATE_ORDER,
    INVALID_REASON_REQUIRED,
    INVALID_REQUIRED,
    INVALID_TOO_LONG,
    DomainError,
    RuleViolation,
    ValidationFailed,
)
from apcert.schemes.selectors import scheme_rules

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.bodies.models import CertificationBody
    from apcert.schemes.models import Standard

#: The decisions a recorded initial assessment may carry.
RECORDED_DECISIONS = (DecisionKind.GRANT, DecisionKind.REFUSE)


@dataclass(frozen=True)
class RecordedMember:
    """A member of the team as the CB's software names them, with their role on the team,
    and the user they are when they have an account in apcert."""

    name: str
    role: str
    user: User | None = None


@dataclass(frozen=True)
class RecordedFinding:
    """A finding as the CB's software recorded it. ``closed_on``: the day it was closed
    (a nonconformity verified as corrected; an observation is closed when raised);
    ``plan_accepted_on``: the day the corrective action plan of a nonconformity still open
    was accepted. ``standard``: for a clause of a declared standard, its reference
    (``IEC 61340-5-1:2016``)."""

    grade: str
    requirement_kind: str
    requirement_ref: str
    description: str
    raised_on: dt.date
    closed_on: dt.date | None = None
    plan_accepted_on: dt.date | None = None
    standard: str = ""


@dataclass(frozen=True)
class RecordedOutcome:
    """What recording wrote: the assessment, the decision resting on it and, for a grant,
    the certificate."""

    assessment: Assessment
    decision: Decision
    certificate: Certificate | None


def _caught(check: Callable[[], object], **params: Any) -> list[DomainError]:
    """The refusal a rule's check raises, as a list (empty when it passes)."""
    try:
        check()
    except DomainError as exc:
        exc.params.update(params)
        return [exc]
    return []


def _raise_all(problems: Sequence[DomainError]) -> None:
    """Refuse with the first problem, its message followed by every other's and its
    ``also`` the codes of the others: the CB corrects its record once."""
    if not problems:
        return
    first, rest = problems[0], list(problems[1:])
    if rest:
        first.params["also"] = [p.code for p in rest]
        first.message = " ".join([first.message, *(f"Also ({p.code}): {p.message}" for p in rest)])
    raise first


def _chain(status: str, *actions: str) -> str:
    """The status the finding lifecycle's ``actions`` lead to from ``status``."""
    for action in actions:
        status = FINDING.next_state(status, action)
    return status


def _finding_status(f: RecordedFinding, on: dt.date) -> str:
    """The finding's status on ``on``, through the finding lifecycle: an observation needs
    no answer and is closed; a nonconformity closed by then was answered and verified; one
    whose plan was accepted by then was answered and its plan accepted; else it is open."""
    if f.grade == FindingGrade.OBSERVATION:
        return FindingStatus.CLOSED
    if f.closed_on is not None and f.closed_on <= on:
        return _chain(FindingStatus.OPEN, "answer", "verify")
    if f.plan_accepted_on is not None and f.plan_accepted_on <= on:
        return _chain(FindingStatus.OPEN, "answer", "accept_plan")
    return FindingStatus.OPEN


def _closed_on(f: RecordedFinding) -> dt.date | None:
    return f.raised_on if f.grade == FindingGrade.OBSERVATION else f.closed_on


#: The longest name and requirement reference kept (the columns' length).
NAME_MAX = 200


def _input_problems(
    *,
    kind: str,
    decision: str,
    rationale: str,
    team: Sequence[RecordedMember],
    findings: Sequence[RecordedFinding],
) -> list[DomainError]:
    """What is malformed in the record, whatever the rules."""
    problems: list[DomainError] = []
    too_long = [m.name for m in team if len(m.name.strip()) > NAME_MAX] + [
        f.requirement_ref for f in findings if len(f.requirement_ref.strip()) > NAME_MAX
    ]
    if too_long:
        problems.append(
            ValidationFailed(
                f"A name or a requirement is at most {NAME_MAX} characters long.",
                code=INVALID_TOO_LONG,
                field="team",
            )
        )
    if kind != AssessmentKind.INITIAL:
        problems.append(
            ValidationFailed(
                "A grant or refusal rests on the initial assessment of an application: the "
                "outcome of another kind of assessment is of a certificate.",
                code=ASSESSMENT_SUBJECT_REQUIRED,
                field="kind",
            )
        )
    if decision not in RECORDED_DECISIONS:
        problems.append(
            ValidationFailed(
                f"The decision is one of {', '.join(RECORDED_DECISIONS)}.",
                code=INVALID_CHOICE,
                field="decision",
            )
        )
    elif decision == DecisionKind.REFUSE and not rationale.strip():
        problems.append(
            ValidationFailed(
                "Say why certification is refused.",
                code=INVALID_REASON_REQUIRED,
                field="rationale",
            )
        )
    for n, f in enumerate(findings, start=1):
        where = {"finding": n}
        if f.grade not in FindingGrade.values:
            problems.append(
                ValidationFailed(
                    f"Finding {n}: unknown grade '{f.grade}'.",
                    code=INVALID_CHOICE,
                    field="findings",
                    params=where,
                )
            )
        if f.requirement_kind not in RequirementKind.values:
            problems.append(
                ValidationFailed(
                    f"Finding {n}: unknown requirement kind '{f.requirement_kind}'.",
                    code=INVALID_CHOICE,
                    field="findings",
                    params=where,
                )
            )
        if not f.requirement_ref.strip() or not f.description.strip():
            problems.append(
                ValidationFailed(
                    f"Finding {n}: a finding names its requirement and describes what was found.",
                    code=INVALID_REQUIRED,
                    field="findings",
                    params=where,
                )
            )
    return problems


def _declared_standards(application: Application) -> dict[str, Standard]:
    return {
        std.reference: std
        for line in application.scope_lines.prefetch_related("standards")
        for std in line.standards.all()
    }


def _finding_problems(
    n: int,
    f: RecordedFinding,
    assessed: Assessment,
    declared: dict[str, Standard],
) -> list[DomainError]:
    """The rules a finding run in apcert meets, on a finding recorded: raised during the
    assessment and not after today, against a declared standard if a standard's clause,
    closed (or its plan accepted) after it was raised and not after today."""
    where = {"finding": n}
    problems = _caught(lambda: check_raised_on(assessed, f.raised_on), **where)
    if f.requirement_kind == RequirementKind.STANDARD:
        if not f.standard.strip():
            problems.append(
                ValidationFailed(
                    f"Finding {n}: name the declared standard whose clause is not met.",
                    code=FINDING_STANDARD_REQUIRED,
                    field="findings",
                    params=where,
                )
            )
        elif f.standard.strip() not in declared:
            problems.append(
                RuleViolation(
                    f"Finding {n}: {f.standard.strip()} is not among the standards declared in "
                    "the scope; a finding is raised against a clause of a declared standard.",
                    code=FINDING_STANDARD_NOT_DECLARED,
                    field="findings",
                    params=where,
                )
            )
    day = today()
    closed_on = _closed_on(f)
    if closed_on is not None:
        raised = Finding(raised_on=f.raised_on)
        problems += _caught(lambda: refuse_closing_before_raised(raised, closed_on), **where)
        if closed_on > day:
            problems.append(
                RuleViolation(
                    f"Finding {n} cannot be closed on {format_date(closed_on)}, after today "
                    f"({format_date(day)}).",
                    code=FINDING_CLOSED_IN_FUTURE,
                    field="findings",
                    params={**where, "closed_on": closed_on, "today": day},
                )
            )
    accepted = f.plan_accepted_on
    if accepted is not None and (accepted < f.raised_on or accepted > day):
        problems.append(
            ValidationFailed(
                f"Finding {n}: its plan cannot be accepted on {format_date(accepted)}, before "
                "it was raised or after today.",
                code=INVALID_DATE_ORDER,
                field="findings",
                params=where,
            )
        )
    return problems


def _application_problems(app: Application, start_date: dt.date) -> list[DomainError]:
    """The application is accepted, not yet granted, and has no initial assessment that
    still counts, nor a decision (the rules of planning an initial assessment)."""
    problems: list[DomainError] = []
    if app.status != ApplicationStatus.ACCEPTED:
        problems.append(
            RuleViolation(
                f"The application is {app.get_status_display()}: the outcome of an initial "
                "assessment is recorded once the application is accepted.",
                code=ASSESSMENT_APPLICATION_NOT_ACCEPTED,
            )
        )
    if app.certificates.exists():
        problems.append(
            RuleViolation(
                "This application has already been granted.", code=DECISION_ALREADY_GRANTED
            )
        )
    else:
        problems += _caught(lambda: refuse_second_initial_assessment(app, start_date))
    return problems


def _record_problems(
    *,
    app: Application,
    start_date: dt.date,
    end_date: dt.date,
    team: Sequence[RecordedMember],
    findings: Sequence[RecordedFinding],
    report_issued_on: dt.date,
    decision: str,
    decided_by: User,
    decided_on: dt.date,
) -> list[DomainError]:
    """Every rule the record breaks, in the order of the work: the application, the
    assessment's dates and team, its findings, then the decision."""
    cb: CertificationBody = app.cb
    problems = _application_problems(app, start_date)
    if end_date < start_date:
        problems.append(
            ValidationFailed(
                f"The assessment cannot end on {format_date(end_date)}, before it starts on "
                f"{format_date(start_date)}.",
                code=INVALID_DATE_ORDER,
                field="end_date",
            )
        )
    else:
        problems += _caught(lambda: check_assessment_length(start_date, end_date))
    # The assessment as it will be written, to ask the rules about it before it is.
    assessed = Assessment(
        cb=cb,
        application=app,
        kind=AssessmentKind.INITIAL,
        start_date=start_date,
        end_date=end_date,
        status=ASSESSMENT.next_state(
            ASSESSMENT.next_state(AssessmentStatus.PLANNED, "start"), "issue_report"
        ),
        report_issued_on=report_issued_on,
        origin=AssessmentOrigin.RECORDED,
    )
    problems += _caught(lambda: check_report_date(assessed, report_issued_on))
    problems += team_problems(cb, [(m.user, m.name, m.role) for m in team])
    declared = _declared_standards(app)
    for n, f in enumerate(findings, start=1):
        problems += _finding_problems(n, f, assessed, declared)
    problems += _caught(lambda: require_cb_role(decided_by, cb, "decision_maker"))
    problems += decision_maker_team_problems(
        team=[(m.user.pk if m.user is not None else None, m.name) for m in team],
        decided_by=decided_by,
    )
    problems += decision_date_problems(decided_on=decided_on)
    problems += report_problems(assessment=assessed, decided_on=decided_on)
    # (An assessment that ends after today is refused above, through its report's date,
    # and the scheme's months after its last day may lie past the calendar's end.)
    if decision == DecisionKind.GRANT and end_date <= today():
        # Each finding as it stood on the decision's day: a major closed after the
        # decision was open when it was taken.
        on_the_day = []
        for n, f in enumerate(findings, start=1):
            status = _finding_status(f, decided_on)
            closed = _closed_on(f) if status == FindingStatus.CLOSED else None
            on_the_day.append(
                Finding(
                    number=n, grade=f.grade, raised_on=f.raised_on, status=status, closed_on=closed
                )
            )
        problems += findings_problems(
            assessment=assessed,
            decided_on=decided_on,
            initial_six_month_rule=True,
            findings=on_the_day,
        )
        problems += grant_scope_problems(application=app, decided_on=decided_on)
    return problems


def assessment_outcome_record(
    *,
    actor: User,
    application: Application,
    kind: str,
    start_date: dt.date,
    end_date: dt.date,
    team: Sequence[RecordedMember],
    findings: Sequence[RecordedFinding],
    report_issued_on: dt.date,
    decision: str,
    decided_by: User,
    decided_on: dt.date,
    rationale: str = "",
    summary: str = "",
) -> RecordedOutcome:
    """Record the outcome of an initial assessment carried out in the CB's own software
    and the decision taken on it (module docstring). ``actor``, a scheme manager of the CB,
    records; ``decided_by``, a decision maker of the CB, took the decision. Refused, with
    every problem, before anything is written."""
    cb = application.cb
    require_cb_role(actor, cb, "scheme_manager")
    _raise_all(
        _input_problems(
            kind=kind, decision=decision, rationale=rationale, team=team, findings=findings
        )
    )
    with transaction.atomic():
        app = (
            Application.objects.select_for_update(of=("self",))
            .select_related("cb", "scheme", "organization")
            .get(pk=application.pk)
        )
        _raise_all(
            _record_problems(
                app=app,
                start_date=start_date,
                end_date=end_date,
                team=team,
                findings=findings,
                report_issued_on=report_issued_on,
                decision=decision,
                decided_by=decided_by,
                decided_on=decided_on,
            )
        )
        assessment = _write(
            actor=actor,
            app=app,
            start_date=start_date,
            end_date=end_date,
            team=team,
            findings=findings,
            report_issued_on=report_issued_on,
            summary=summary,
        )
        # The decision through the decision screens' own services: they check every rule
        # again under their locks, and issue, publish and audit as usual.
        certificate: Certificate | None = None
        if decision == DecisionKind.GRANT:
            certificate = certificate_grant(
                actor=actor,
                application=app,
                assessment=assessment,
                decided_on=decided_on,
                rationale=rationale,
                decided_by=decided_by,
            )
            taken = Decision.objects.get(certificate=certificate, kind=DecisionKind.GRANT)
        else:
            taken = certificate_refuse(
                actor=actor,
                application=app,
                assessment=assessment,
                rationale=rationale,
                decided_on=decided_on,
                decided_by=decided_by,
            )
    assessment.refresh_from_db()
    return RecordedOutcome(assessment=assessment, decision=taken, certificate=certificate)


def _write(
    *,
    actor: User,
    app: Application,
    start_date: dt.date,
    end_date: dt.date,
    team: Sequence[RecordedMember],
    findings: Sequence[RecordedFinding],
    report_issued_on: dt.date,
    summary: str,
) -> Assessment:
    """The assessment, marked recorded, with its team and findings (as they stand today),
    and its one audit event ``assessment.record``."""
    assessment = Assessment.objects.create(
        cb=app.cb,
        application=app,
        kind=AssessmentKind.INITIAL,
        start_date=start_date,
        end_date=end_date,
        status=ASSESSMENT.next_state(
            ASSESSMENT.next_state(AssessmentStatus.PLANNED, "start"), "issue_report"
        ),
        report_issued_on=report_issued_on,
        summary=summary.strip(),
        origin=AssessmentOrigin.RECORDED,
    )
    TeamMember.objects.bulk_create(
        [
            TeamMember(assessment=assessment, user=m.user, name=m.name.strip(), role=m.role)
            for m in team
        ]
    )
    declared = _declared_standards(app)
    due_days = scheme_rules(app.scheme).nonconformity_due_days
    day = today()
    Finding.objects.bulk_create(
        [
            Finding(
                assessment=assessment,
                number=n,
                grade=f.grade,
                requirement_kind=f.requirement_kind,
                requirement_ref=f.requirement_ref.strip(),
                standard=declared.get(f.standard.strip()) if f.standard.strip() else None,
                description=f.description.strip(),
                status=_finding_status(f, day),
                raised_on=f.raised_on,
                due_date=(
                    f.raised_on
                    if f.grade == FindingGrade.OBSERVATION
                    else f.raised_on + dt.timedelta(days=due_days)
                ),
                closed_on=_closed_on(f),
            )
            for n, f in enumerate(findings, start=1)
        ]
    )
    audit_record(
        actor=actor,
        action="assessment.record",
        obj=assessment,
        after={
            "origin": AssessmentOrigin.RECORDED,
            "kind": AssessmentKind.INITIAL,
            "application": app.pk,
            "start_date": start_date,
            "end_date": end_date,
            "report_issued_on": report_issued_on,
            "team": [
                [m.name.strip(), m.role, m.user.username if m.user is not None else None]
                for m in team
            ],
            "findings": [
                {
                    "number": n,
                    "grade": f.grade,
                    "requirement": f.requirement_ref.strip(),
                    "raised_on": f.raised_on,
                    "closed_on": _closed_on(f),
                    "plan_accepted_on": f.plan_accepted_on,
                }
                for n, f in enumerate(findings, start=1)
            ],
        },
    )
    return assessment
