"""Assessments: planned by the CB, carried out by a team, findings answered and reviewed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from django.db import transaction
from django.db.models import Max, Model, Q

from apcert.applications.choices import ApplicationStatus
from apcert.assessments.choices import (
    AssessmentKind,
    AssessmentStatus,
    FindingGrade,
    FindingStatus,
    RequirementKind,
    TeamRole,
)
from apcert.assessments.derived import certificate_visits_changed
from apcert.assessments.errors import (
    ASSESSMENT_APPLICATION_DECIDED,
    ASSESSMENT_APPLICATION_NOT_ACCEPTED,
    ASSESSMENT_CB_NOT_ALLOWED,
    ASSESSMENT_DUPLICATE_MEMBER,
    ASSESSMENT_INITIAL_ALREADY_PLANNED,
    ASSESSMENT_LEAD_REQUIRED,
    ASSESSMENT_NOT_IN_PROGRESS,
    ASSESSMENT_NOTHING_CHANGED,
    ASSESSMENT_REPORT_BEFORE_END,
    ASSESSMENT_REPORT_DECIDED_ON,
    ASSESSMENT_REPORT_IN_FUTURE,
    ASSESSMENT_START_BEFORE_PLANNED,
    ASSESSMENT_SUBJECT_REQUIRED,
    ASSESSMENT_TEAM_MEMBER_NOT_QUALIFIED,
    ASSESSMENT_TOO_LONG,
    CORRECTIVE_ACTION_SUPERSEDED,
    FINDING_CLOSED_BEFORE_RAISED,
    FINDING_RAISED_IN_FUTURE,
    FINDING_RAISED_OUTSIDE_ASSESSMENT,
    FINDING_STANDARD_NOT_DECLARED,
    FINDING_STANDARD_REQUIRED,
)
from apcert.assessments.lifecycle import ASSESSMENT, CORRECTIVE_ACTION, FINDING
from apcert.assessments.models import (
    MAX_ASSESSMENT_DAYS,
    Assessment,
    CorrectiveAction,
    Finding,
    TeamMember,
)
from apcert.assessments.selectors import person_key
from apcert.audit.services import audit_record
from apcert.bodies.models import CBStaff
from apcert.bodies.permissions import require_cb_role
from apcert.core.dates import add_months, format_date, today
from apcert.core.errors import (
    INVALID_CHOICE,
    INVALID_DATE_ORDER,
    INVALID_REASON_REQUIRED,
    INVALID_REQUIRED,
    PERMISSION_ASSESSOR_REQUIRED,
    PERMISSION_TEAM_MEMBER_REQUIRED,
    DomainError,
    PermissionDenied,
    RuleViolation,
    ValidationFailed,
)
from apcert.organizations.permissions import require_org_member
from apcert.schemes.selectors import scheme_rules

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.applications.models import Application
    from apcert.bodies.models import CertificationBody
    from apcert.certificates.models import Certificate
    from apcert.schemes.models import Standard


def _lock(assessment: Assessment) -> Assessment:
    return (
        Assessment.objects.select_for_update(of=("self",))
        .select_related("cb")
        .get(pk=assessment.pk)
    )


def _lock_certificate(certificate_id: int) -> None:
    # Reached through the assessment's own foreign key: the certificates app sits above
    # this one and is not imported here.
    certificate = cast("type[Model]", Assessment._meta.get_field("certificate").related_model)
    list(
        certificate._default_manager.select_for_update().filter(pk=certificate_id).values_list("pk")
    )


def _declared_standards(assessment: Assessment) -> set[str]:
    """The ``DESIGNATION:EDITION`` references the assessed scope declares."""
    if assessment.certificate_id is not None:
        issue = (
            assessment.certificate.issues.order_by("-issue_number").first()  # type: ignore[union-attr]
        )
        if issue is not None:
            return {ref for line in issue.scope_lines for ref in line["standards"]}
    if assessment.application_id is not None:
        return {
            std.reference
            for line in assessment.application.scope_lines.prefetch_related("standards")  # type: ignore[union-attr]
            for std in line.standards.all()
        }
    return set()


def _require_assessor(actor: User, assessment: Assessment) -> None:
    """The lead or a team member, not a technical expert: the assessors judge answers."""
    if (
        not actor.is_active
        or not TeamMember.objects.filter(
            assessment=assessment, user=actor, role__in=(TeamRole.LEAD, TeamRole.MEMBER)
        ).exists()
    ):
        raise PermissionDenied(
            "Only an assessor of the assessment team (the lead or a team member, not a "
            "technical expert) may review corrective actions.",
            code=PERMISSION_ASSESSOR_REQUIRED,
        )


def _require_team(actor: User, assessment: Assessment, *, lead: bool = False) -> None:
    qs = TeamMember.objects.filter(assessment=assessment, user=actor)
    if lead:
        qs = qs.filter(role=TeamRole.LEAD)
    if not actor.is_active or not qs.exists():
        raise PermissionDenied(
            f"Only {'the lead assessor' if lead else 'a member of the assessment team'} may "
            "do this.",
            code=PERMISSION_TEAM_MEMBER_REQUIRED,
        )


def initial_assessment_void_on(assessment: Assessment, day: dt.date) -> bool:
    """Whether an initial assessment no longer counts on ``day``: a major nonconformity it
    raised was not verified within the scheme's months of its last day, and that limit is
    behind ``day``. The initial assessment must then be repeated."""
    scheme = assessment.application.scheme  # type: ignore[union-attr]
    limit = add_months(assessment.end_date, scheme_rules(scheme).initial_major_verification_months)
    if day <= limit:
        return False
    return (
        assessment.findings.filter(grade=FindingGrade.MAJOR)
        .filter(Q(closed_on__isnull=True) | Q(closed_on__gt=limit))
        .exists()
    )


def refuse_second_initial_assessment(application: Application, start_date: dt.date) -> None:
    """An application has one initial assessment: none once a certification decision (grant
    or refusal) was taken on it, and none while an earlier one that was not cancelled still
    counts. One whose majors were not verified in time is repeated, so it no longer counts
    from its limit on. ``application`` is the row the caller has locked."""
    # The decisions are read through their foreign key to the application: the certificates
    # app sits above this one.
    if application.decision_set.exists():
        raise RuleViolation(
            "A certification decision has been taken on this application; its initial "
            "assessment cannot be planned again.",
            code=ASSESSMENT_APPLICATION_DECIDED,
        )
    earlier = (
        Assessment.objects.filter(application=application, kind=AssessmentKind.INITIAL)
        .exclude(status=AssessmentStatus.CANCELLED)
        .select_related("application__scheme")
        .order_by("id")
    )
    for assessment in earlier:
        if not initial_assessment_void_on(assessment, start_date):
            raise RuleViolation(
                "This application already has its initial assessment "
                f"({format_date(assessment.start_date)}, {assessment.get_status_display()}). "
                "Another is planned only once that one is cancelled, or once a major it "
                "raised has gone unverified past the scheme's limit.",
                code=ASSESSMENT_INITIAL_ALREADY_PLANNED,
                params={"assessment": assessment.pk},
            )


def check_assessment_length(start_date: dt.date, end_date: dt.date) -> None:
    days = (end_date - start_date).days + 1
    if days > MAX_ASSESSMENT_DAYS:
        raise ValidationFailed(
            f"An assessment lasts at most {MAX_ASSESSMENT_DAYS} days; from "
            f"{format_date(start_date)} to {format_date(end_date)} is {days}. Plan a longer "
            "visit as two assessments.",
            code=ASSESSMENT_TOO_LONG,
            field="end_date",
        )


def team_problems(
    cb: CertificationBody, team: Sequence[tuple[User | None, str, str]]
) -> list[DomainError]:
    """What is wrong with a team of (user, name, role): exactly one lead assessor, nobody
    twice, each role one of the scheme's, and each member who is a user an active assessor
    of the CB (a technical expert: on its staff in any role). A member known by a name only
    (a team recorded from the CB's own software) has no account here to check."""
    problems: list[DomainError] = []
    if len([role for _, _, role in team if role == TeamRole.LEAD]) != 1:
        problems.append(
            RuleViolation(
                "The team needs exactly one lead assessor.",
                code=ASSESSMENT_LEAD_REQUIRED,
                field="team",
            )
        )
    users = [u.pk for u, _, _ in team if u is not None]
    names = [person_key(n) for u, n, _ in team if u is None]
    if len(set(users)) != len(users) or len(set(names)) != len(names):
        problems.append(
            ValidationFailed(
                "A person is listed twice in the team.",
                code=ASSESSMENT_DUPLICATE_MEMBER,
                field="team",
            )
        )
    for user, name, role in team:
        if role not in TeamRole.values:
            problems.append(
                ValidationFailed(f"Unknown team role '{role}'.", code=INVALID_CHOICE, field="team")
            )
            continue
        if user is None:
            if not name.strip():
                problems.append(
                    ValidationFailed(
                        "Each member of the team is named.", code=INVALID_REQUIRED, field="team"
                    )
                )
            continue
        roles = set(
            CBStaff.objects.filter(cb=cb, user=user, active=True).values_list("role", flat=True)
        )
        expert = role == TeamRole.TECHNICAL_EXPERT
        if not (bool(roles) if expert else "assessor" in roles):
            what = "on the staff" if expert else "a qualified assessor"
            problems.append(
                RuleViolation(
                    f"{user} is not {what} of {cb.code}.",
                    code=ASSESSMENT_TEAM_MEMBER_NOT_QUALIFIED,
                    field="team",
                    params={"user": user.username},
                )
            )
    return problems


def assessment_plan(
    *,
    actor: User,
    kind: str,
    start_date: dt.date,
    end_date: dt.date,
    team: Sequence[tuple[User, str]],
    application: Application | None = None,
    certificate: Certificate | None = None,
    stage1_document_review: bool = False,
    cb: CertificationBody | None = None,
) -> Assessment:
    """Plan an assessment with its team: exactly one lead, each an active assessor of the CB
    (a technical expert may hold any role there).

    A transfer review is carried out by the CB that takes the certificate over, so only for
    that kind may ``cb`` name another CB than the certificate's."""
    if kind not in AssessmentKind.values:
        raise ValidationFailed(
            f"Unknown assessment kind '{kind}'.", code=INVALID_CHOICE, field="kind"
        )
    if cb is not None and kind != AssessmentKind.TRANSFER_REVIEW:
        raise ValidationFailed(
            "Only a transfer review is planned by another CB than the subject's.",
            code=ASSESSMENT_CB_NOT_ALLOWED,
            field="cb",
        )
    if kind == AssessmentKind.INITIAL:
        if application is None:
            raise ValidationFailed(
                "An initial assessment is of an application.",
                code=ASSESSMENT_SUBJECT_REQUIRED,
                field="application",
            )
        cb = application.cb
    else:
        if certificate is None:
            raise ValidationFailed(
                "This kind of assessment is of a certificate.",
                code=ASSESSMENT_SUBJECT_REQUIRED,
                field="certificate",
            )
        if cb is None:
            cb = certificate.cb
    require_cb_role(actor, cb, "scheme_manager")
    if end_date < start_date:
        raise ValidationFailed(
            "The assessment cannot end before it starts.",
            code=INVALID_DATE_ORDER,
            field="end_date",
        )
    check_assessment_length(start_date, end_date)
    problems = team_problems(cb, [(u, "", role) for u, role in team])
    if problems:
        raise problems[0]
    with transaction.atomic():
        if application is not None:
            from apcert.applications.models import Application as App

            app = App.objects.select_for_update().get(pk=application.pk)
            if app.status != ApplicationStatus.ACCEPTED:
                raise RuleViolation(
                    "An initial assessment can be planned once the application is accepted.",
                    code=ASSESSMENT_APPLICATION_NOT_ACCEPTED,
                )
            refuse_second_initial_assessment(app, start_date)
        assessment = Assessment.objects.create(
            cb=cb,
            application=application,
            certificate=certificate,
            kind=kind,
            start_date=start_date,
            end_date=end_date,
            stage1_document_review=stage1_document_review,
        )
        TeamMember.objects.bulk_create(
            [TeamMember(assessment=assessment, user=u, role=r) for u, r in team]
        )
        if certificate is not None:
            certificate_visits_changed([certificate.pk])
        audit_record(
            actor=actor,
            action="assessment.plan",
            obj=assessment,
            after={
                "kind": kind,
                "application": application.pk if application else None,
                "certificate": certificate.number if certificate else None,
                "start_date": start_date,
                "end_date": end_date,
                "team": [[u.username, r] for u, r in team],
            },
        )
    return assessment


def assessment_transition(
    *,
    actor: User | None,
    assessment: Assessment,
    action: str,
    within_decision: bool = False,
    **changes: object,
) -> Assessment:
    """The one road for an assessment's status: apply ``action`` of ``lifecycle.ASSESSMENT``,
    save ``changes`` with it, announce that its certificate's visits moved and write the one
    audit event ``assessment.<action>``.

    ``within_decision`` is for the certification decision that closes the assessment it
    rests on: the decision's service holds the locks (the certificate, then the assessment),
    passes the locked row, keeps the certificate's derived data in step and records the
    assessment in its own audit event, so nothing more is written here."""
    if within_decision:
        a = assessment
        a.status = ASSESSMENT.next_state(a.status, action)
        for k, v in changes.items():
            setattr(a, k, v)
        a.save(update_fields=["status", *changes.keys()])
        return a
    with transaction.atomic():
        if assessment.certificate_id is not None:
            # The certificate before the assessment, in the certificate services' order: its
            # visit schedule is recomputed below.
            _lock_certificate(assessment.certificate_id)
        a = _lock(assessment)
        before = a.status
        a.status = ASSESSMENT.next_state(before, action)
        for k, v in changes.items():
            setattr(a, k, v)
        a.save(update_fields=["status", *changes.keys()])
        if a.certificate_id is not None:  # a report issued or withdrawn moves the programme
            certificate_visits_changed([a.certificate_id])
        audit_record(
            actor=actor,
            action=f"assessment.{action}",
            obj=a,
            before={"status": before},
            after={"status": a.status, **changes},
        )
    return a


def assessment_start(*, actor: User, assessment: Assessment) -> Assessment:
    """The lead assessor starts the assessment, not before the day it is planned to start."""
    _require_team(actor, assessment, lead=True)
    with transaction.atomic():
        if assessment.certificate_id is not None:
            _lock_certificate(assessment.certificate_id)
        _refuse_start_before_planned(_lock(assessment))
        return assessment_transition(actor=actor, assessment=assessment, action="start")


def _refuse_start_before_planned(a: Assessment) -> None:
    """An assessment starts on or after its planned first day: one that really starts
    earlier is rescheduled first, so that its dates say when it took place."""
    day = today()
    if ASSESSMENT.allowed(a.status, "start") and day < a.start_date:
        raise RuleViolation(
            f"The assessment is planned to start on {format_date(a.start_date)}; today is "
            f"{format_date(day)}. It cannot be started before its planned start date: if it "
            "starts earlier, the scheme manager re-plans its dates first.",
            code=ASSESSMENT_START_BEFORE_PLANNED,
            params={"start_date": a.start_date, "today": day},
        )


def assessment_cancel(*, actor: User, assessment: Assessment, reason: str) -> Assessment:
    require_cb_role(actor, assessment.cb, "scheme_manager")
    return assessment_transition(
        actor=actor, assessment=assessment, action="cancel", summary=reason
    )


def assessment_issue_report(
    *, actor: User, assessment: Assessment, issued_on: dt.date | None = None, summary: str = ""
) -> Assessment:
    """The lead assessor issues the report; the on-site part must be over."""
    _require_team(actor, assessment, lead=True)
    issued_on = issued_on or today()
    check_report_date(assessment, issued_on)
    return assessment_transition(
        actor=actor,
        assessment=assessment,
        action="issue_report",
        report_issued_on=issued_on,
        summary=summary,
    )


def next_finding_number(assessment: Assessment) -> int:
    """The number the next finding of ``assessment`` takes: one more than the highest so
    far. The caller holds the assessment's lock, so two findings recorded at once cannot
    take the same number (and the database refuses it if they did)."""
    highest = assessment.findings.aggregate(highest=Max("number"))["highest"]
    return (highest or 0) + 1


def check_report_date(a: Assessment, issued_on: dt.date) -> None:
    """A report is dated on or after the assessment's last day (so never before its first),
    and not after today: it records what has happened."""
    if issued_on < a.end_date:
        raise RuleViolation(
            f"The report cannot be issued before the assessment's last day "
            f"({format_date(a.end_date)}); it is dated {format_date(issued_on)}.",
            code=ASSESSMENT_REPORT_BEFORE_END,
            field="issued_on",
            params={"issued_on": issued_on, "end_date": a.end_date},
        )
    day = today()
    if issued_on > day:
        raise RuleViolation(
            f"The report cannot be dated {format_date(issued_on)}, after today "
            f"({format_date(day)}).",
            code=ASSESSMENT_REPORT_IN_FUTURE,
            field="issued_on",
            params={"issued_on": issued_on, "today": day},
        )


def assessment_reschedule(
    *,
    actor: User,
    assessment: Assessment,
    start_date: dt.date,
    end_date: dt.date,
    reason: str,
) -> Assessment:
    """The scheme manager moves the dates of an assessment not yet started, saying why;
    the visit schedule of its certificate follows."""
    require_cb_role(actor, assessment.cb, "scheme_manager")
    if end_date < start_date:
        raise ValidationFailed(
            f"The assessment cannot end on {format_date(end_date)}, before it starts on "
            f"{format_date(start_date)}.",
            code=INVALID_DATE_ORDER,
            field="end_date",
        )
    check_assessment_length(start_date, end_date)
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why the assessment is rescheduled.",
            code=INVALID_REASON_REQUIRED,
            field="reason",
        )
    with transaction.atomic():
        if assessment.certificate_id is not None:
            # The certificate before the assessment, as in assessment_transition.
            _lock_certificate(assessment.certificate_id)
        a = _lock(assessment)
        ASSESSMENT.next_state(a.status, "reschedule")
        before = {"start_date": a.start_date, "end_date": a.end_date}
        after = {"start_date": start_date, "end_date": end_date}
        if before == after:
            raise RuleViolation(
                f"The assessment is already planned from {format_date(start_date)} to "
                f"{format_date(end_date)}.",
                code=ASSESSMENT_NOTHING_CHANGED,
                field="start_date",
            )
        a.start_date, a.end_date = start_date, end_date
        a.save(update_fields=["start_date", "end_date"])
        if a.certificate_id is not None:
            certificate_visits_changed([a.certificate_id])
        audit_record(
            actor=actor,
            action="assessment.reschedule",
            obj=a,
            before=before,
            after=after,
            reason=reason.strip(),
        )
    return a


def assessment_report_correct(
    *,
    actor: User,
    assessment: Assessment,
    reason: str,
    issued_on: dt.date | None = None,
    summary: str | None = None,
) -> Assessment:
    """The lead assessor corrects the date or the summary of an issued report (``None``
    keeps what the report says), saying why, as long as no decision rests on it: a
    decision was taken on the report as it then read."""
    _require_team(actor, assessment, lead=True)
    if not (reason or "").strip():
        raise ValidationFailed(
            "Say why the report is corrected.", code=INVALID_REASON_REQUIRED, field="reason"
        )
    with transaction.atomic():
        if assessment.certificate_id is not None:
            _lock_certificate(assessment.certificate_id)
        a = _lock(assessment)
        ASSESSMENT.next_state(a.status, "correct_report")
        # The decision services lock the assessment before deciding on it.
        if Assessment.objects.filter(pk=a.pk, decision__isnull=False).exists():
            raise RuleViolation(
                "A decision rests on this report, so it can no longer be corrected.",
                code=ASSESSMENT_REPORT_DECIDED_ON,
            )
        # An issued report has its date.
        new_date = cast(dt.date, a.report_issued_on if issued_on is None else issued_on)
        new_summary = a.summary if summary is None else summary
        check_report_date(a, new_date)
        before = {"report_issued_on": a.report_issued_on, "summary": a.summary}
        after = {"report_issued_on": new_date, "summary": new_summary}
        if before == after:
            raise RuleViolation(
                "The report already reads so: nothing to correct.",
                code=ASSESSMENT_NOTHING_CHANGED,
                field="issued_on",
            )
        a.report_issued_on, a.summary = new_date, new_summary
        a.save(update_fields=["report_issued_on", "summary"])
        if a.certificate_id is not None:  # the report's date places the visit
            certificate_visits_changed([a.certificate_id])
        audit_record(
            actor=actor,
            action="assessment.correct_report",
            obj=a,
            before=before,
            after=after,
            reason=reason.strip(),
        )
    return a


def finding_record(
    *,
    actor: User,
    assessment: Assessment,
    grade: str,
    requirement_kind: str,
    requirement_ref: str,
    description: str,
    raised_on: dt.date | None = None,
    due_date: dt.date | None = None,
    standard: Standard | None = None,
) -> Finding:
    """Record a finding. A nonconformity is due the scheme's number of days after it is
    raised unless a date is given; an observation needs no answer and is recorded closed."""
    _require_team(actor, assessment)
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
    raised_on = raised_on or assessment.start_date
    with transaction.atomic():
        a = _lock(assessment)
        if a.status != AssessmentStatus.IN_PROGRESS:
            raise RuleViolation(
                "Findings are recorded while the assessment is in progress.",
                code=ASSESSMENT_NOT_IN_PROGRESS,
            )
        check_raised_on(a, raised_on)
        if standard is not None and standard.reference not in _declared_standards(a):
            raise RuleViolation(
                f"{standard.reference} is not among the standards declared in the scope; a "
                "finding is raised against a clause of a declared standard.",
                code=FINDING_STANDARD_NOT_DECLARED,
                field="standard",
            )
        scheme = a.application.scheme if a.application_id else a.certificate.scheme  # type: ignore[union-attr]
        rules = scheme_rules(scheme)
        if grade == FindingGrade.OBSERVATION:
            status, due = FindingStatus.CLOSED, raised_on
        else:
            status = FindingStatus.OPEN
            due = due_date or raised_on + dt.timedelta(days=rules.nonconformity_due_days)
            if due < raised_on:
                raise ValidationFailed(
                    f"The due date cannot be {format_date(due)}, before the finding is raised "
                    f"on {format_date(raised_on)}.",
                    code=INVALID_DATE_ORDER,
                    field="due_date",
                )
        finding = Finding.objects.create(
            assessment=a,
            number=next_finding_number(a),
            grade=grade,
            requirement_kind=requirement_kind,
            requirement_ref=requirement_ref.strip(),
            standard=standard,
            description=description.strip(),
            status=status,
            raised_on=raised_on,
            due_date=due,
            closed_on=raised_on if status == FindingStatus.CLOSED else None,
        )
        audit_record(
            actor=actor,
            action="finding.record",
            obj=finding,
            after={
                "assessment": a.pk,
                "number": finding.number,
                "grade": grade,
                "requirement": requirement_ref,
                "due_date": due,
                "status": status,
            },
        )
    return finding


def check_raised_on(a: Assessment, raised_on: dt.date) -> None:
    """A finding is raised during the assessment's dates, and not after today."""
    if raised_on < a.start_date:
        raise RuleViolation(
            f"A finding cannot be raised on {format_date(raised_on)}, before the assessment "
            f"started on {format_date(a.start_date)}.",
            code=FINDING_RAISED_OUTSIDE_ASSESSMENT,
            field="raised_on",
            params={"raised_on": raised_on, "start_date": a.start_date},
        )
    if raised_on > a.end_date:
        raise RuleViolation(
            f"A finding cannot be raised on {format_date(raised_on)}, after the assessment's "
            f"last day ({format_date(a.end_date)}).",
            code=FINDING_RAISED_OUTSIDE_ASSESSMENT,
            field="raised_on",
            params={"raised_on": raised_on, "end_date": a.end_date},
        )
    day = today()
    if raised_on > day:
        raise RuleViolation(
            f"A finding cannot be raised on {format_date(raised_on)}, after today "
            f"({format_date(day)}).",
            code=FINDING_RAISED_IN_FUTURE,
            field="raised_on",
            params={"raised_on": raised_on, "today": day},
        )


def corrective_action_submit(
    *,
    actor: User,
    finding: Finding,
    correction: str,
    root_cause: str,
    action: str,
    evidence: str = "",
    submitted_on: dt.date | None = None,
) -> CorrectiveAction:
    """The organization answers a nonconformity: correction, root cause, action, evidence."""
    f = Finding.objects.select_related(
        "assessment__application__organization", "assessment__certificate__organization"
    ).get(pk=finding.pk)
    a = f.assessment
    org = a.application.organization if a.application_id else a.certificate.organization  # type: ignore[union-attr]
    require_org_member(actor, org)
    for name, value in (("correction", correction), ("root_cause", root_cause), ("action", action)):
        if not (value or "").strip():
            raise ValidationFailed(
                "A corrective action gives the correction, the root cause and the action taken.",
                code=INVALID_REQUIRED,
                field=name,
            )
    submitted_on = submitted_on or today()
    with transaction.atomic():
        f = Finding.objects.select_for_update().get(pk=finding.pk)
        finding_transition_check(f, "answer")
        ca = CorrectiveAction.objects.create(
            finding=f,
            correction=correction.strip(),
            root_cause=root_cause.strip(),
            action=action.strip(),
            evidence=evidence.strip(),
            submitted_by=actor,
            submitted_on=submitted_on,
        )
        finding_transition(actor=actor, finding=f, action="answer", answer=ca)
    return ca


REVIEW_OUTCOMES = ("accept_plan", "verify", "reject")


def corrective_action_review(
    *,
    actor: User,
    corrective_action: CorrectiveAction,
    outcome: str,
    comment: str = "",
    reviewed_on: dt.date | None = None,
) -> CorrectiveAction:
    """An assessor of the team reviews the answer: accept the plan, verify the action as
    effective (closes the finding) or reject it (the finding is open again)."""
    if outcome not in REVIEW_OUTCOMES:
        raise ValidationFailed(
            f"The outcome is one of {', '.join(REVIEW_OUTCOMES)}.",
            code=INVALID_CHOICE,
            field="outcome",
        )
    ca = CorrectiveAction.objects.select_related("finding__assessment").get(pk=corrective_action.pk)
    _require_assessor(actor, ca.finding.assessment)
    if outcome == "reject" and not comment.strip():
        raise ValidationFailed(
            "Say why the corrective action is rejected.",
            code=INVALID_REASON_REQUIRED,
            field="comment",
        )
    reviewed_on = reviewed_on or today()
    with transaction.atomic():
        ca = CorrectiveAction.objects.select_for_update().get(pk=corrective_action.pk)
        f = Finding.objects.select_for_update().get(pk=ca.finding_id)
        if ca.pk != f.corrective_actions.order_by("-id").values_list("pk", flat=True).first():
            raise RuleViolation(
                "Only the latest answer to a finding can be reviewed.",
                code=CORRECTIVE_ACTION_SUPERSEDED,
            )
        if reviewed_on < ca.submitted_on:
            raise ValidationFailed(
                "The review cannot be dated before the answer.",
                code=INVALID_DATE_ORDER,
                field="reviewed_on",
            )
        if outcome == "verify" and FINDING.allowed(f.status, outcome):
            refuse_closing_before_raised(f, reviewed_on)
        finding_transition(
            actor=actor,
            finding=f,
            action=outcome,
            answer=ca,
            on=reviewed_on,
            reason=comment,
            review={"reviewed_by": actor, "reviewed_on": reviewed_on, "review_comment": comment},
        )
    return ca


def refuse_closing_before_raised(f: Finding, closed_on: dt.date) -> None:
    """Verifying a finding closes it on the review's date, which cannot precede the day it
    was raised."""
    if closed_on < f.raised_on:
        raise RuleViolation(
            f"The finding cannot be closed on {format_date(closed_on)}, before it was raised on "
            f"{format_date(f.raised_on)}.",
            code=FINDING_CLOSED_BEFORE_RAISED,
            field="reviewed_on",
            params={"closed_on": closed_on, "raised_on": f.raised_on},
        )


def finding_transition_check(finding: Finding, action: str) -> str:
    """The status ``action`` leads the finding to, or the table's refusal, for a service
    that refuses before it writes anything else."""
    return FINDING.next_state(finding.status, action)


def finding_transition(
    *,
    actor: User,
    finding: Finding,
    action: str,
    answer: CorrectiveAction,
    on: dt.date | None = None,
    reason: str = "",
    review: dict[str, object] | None = None,
) -> Finding:
    """The one road for a finding's status and its corrective action's: apply ``action``
    of ``lifecycle.FINDING`` to the locked ``finding`` and, when the answer is reviewed, the
    same action of ``lifecycle.CORRECTIVE_ACTION`` to ``answer`` (its locked latest answer,
    with ``review``'s reviewer, date and comment); then write the one audit event
    ``finding.<action>``. A finding verified closes on ``on``."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("finding_transition() runs inside the service's transaction")
    before = finding.status
    finding.status = FINDING.next_state(before, action)
    answer_status = (
        CORRECTIVE_ACTION.next_state(answer.status, action) if review is not None else None
    )
    if finding.status == FindingStatus.CLOSED:
        finding.closed_on = on
    finding.save(update_fields=["status", "closed_on"])
    if answer_status is not None and review is not None:
        answer.status = answer_status
        for k, v in review.items():
            setattr(answer, k, v)
        answer.save(update_fields=["status", *review.keys()])
    after: dict[str, object] = {"status": finding.status, "corrective_action": answer.pk}
    if review is not None:
        after["closed_on"] = finding.closed_on
    audit_record(
        actor=actor,
        action=f"finding.{action}",
        obj=finding,
        before={"status": before},
        after=after,
        reason=reason,
    )
    return finding
