"""Reading assessments, their findings and corrective actions, limited to who may see them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery

from apcert.assessments.choices import (
    REPORT_ISSUED_STATUSES,
    AssessmentStatus,
    FindingGrade,
    FindingStatus,
)
from apcert.assessments.models import (
    MAX_ASSESSMENT_DAYS,
    Assessment,
    CorrectiveAction,
    EvidenceFile,
    Finding,
    TeamMember,
)
from apcert.audit.selectors import HistoryEntry, record_history
from apcert.bodies.selectors import staff_cb_ids
from apcert.core.permissions import is_secretariat
from apcert.organizations.models import OrganizationMember

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.organizations.models import Organization


#: The nonconformities whose corrective action is still awaited: majors and minors that are
#: open or answered but not yet verified.
AWAITED_GRADES = (FindingGrade.MAJOR, FindingGrade.MINOR)
AWAITED_STATUSES = (FindingStatus.OPEN, FindingStatus.ANSWERED)


def person_key(name: str) -> str:
    """A person's name as names are compared (a team recorded by names, the decision maker
    who may not be on it): letter case and spacing aside."""
    return " ".join(name.split()).casefold()


def findings_late_on(day: dt.date) -> Q:
    """A corrective action is late from the day after its due date while it is still
    awaited: the one rule that the sweep flags with and that every screen reads by, so a
    finding reads late whether or not the sweep has flagged it."""
    return Q(grade__in=AWAITED_GRADES, status__in=AWAITED_STATUSES, due_date__lt=day)


def assessments_for_cb_staff(actor: User) -> QuerySet[Assessment]:
    """The assessments carried out by the CBs where ``actor`` is active staff, in any role
    (the back office's CB section); the Secretariat sees all."""
    qs = Assessment.objects.select_related(
        "cb", "application__organization", "certificate__organization"
    )
    if is_secretariat(actor):
        return qs
    if not actor.is_active:
        return qs.none()
    return qs.filter(cb_id__in=staff_cb_ids(actor))


def assessments_on_team_of(actor: User) -> QuerySet[Assessment]:
    """The assessments of :func:`assessments_for_cb_staff` whose team ``actor`` is on, in
    any role (an assessor's own work)."""
    # EXISTS rather than IN: a page of the list then walks the CB's assessments in the
    # list's order and checks each against the team, stopping when the page is full,
    # instead of reading every assessment of the person's and sorting them.
    return assessments_for_cb_staff(actor).filter(
        Exists(TeamMember.objects.filter(assessment=OuterRef("pk"), user=actor))
    )


def team_places_of(actor: User, assessments: QuerySet[Assessment]) -> QuerySet[TeamMember]:
    """``actor``'s places on the teams of ``assessments``: one per assessment (a person
    holds one place on a team), read from the person's own rows. A count of
    :func:`assessments_on_team_of` made from these stops after as many of the person's
    places as it counts, whatever the number of the CB's assessments; made from the
    assessments, it reads the CB's until enough are the person's."""
    # A subquery run for each place, not EXISTS: PostgreSQL makes an EXISTS a join, and
    # joined it read all of the CB's assessments and all of the person's places (250 ms at a
    # million certificates) before the count's limit could stop it; run place by place, the
    # count stops after the places it counts (30 ms).
    listed = assessments.order_by().filter(pk=OuterRef("assessment_id")).values("pk")[:1]
    return (
        TeamMember.objects.filter(user=actor)
        .alias(listed=Subquery(listed))
        .filter(listed__isnull=False)
    )


def assessments_with_team(assessments: QuerySet[Assessment]) -> QuerySet[Assessment]:
    """``assessments`` with each one's team and its people fetched (one query for a page
    or a chunk of rows, whatever its size), lead first."""
    from django.db.models import Prefetch

    return assessments.prefetch_related(
        Prefetch("team", queryset=TeamMember.objects.select_related("user").order_by("role", "id"))
    )


def assessments_in_period(
    assessments: QuerySet[Assessment], *, first: dt.date, last: dt.date
) -> QuerySet[Assessment]:
    """Those of ``assessments`` that are not cancelled and take place, at least one day of
    them, from ``first`` to ``last`` (both included), by first day. None lasts more than
    ``MAX_ASSESSMENT_DAYS``, so their first days lie in a bounded range: read along the
    index of first days, whatever the CB's history."""
    earliest = first - dt.timedelta(days=MAX_ASSESSMENT_DAYS - 1)
    return (
        assessments.exclude(status=AssessmentStatus.CANCELLED)
        .filter(start_date__gte=earliest, start_date__lte=last, end_date__gte=first)
        .order_by("start_date", "pk")
    )


def corrective_actions_for_cb_staff(actor: User) -> QuerySet[CorrectiveAction]:
    """The corrective actions answering findings of the assessments
    :func:`assessments_for_cb_staff` gives ``actor``."""
    return CorrectiveAction.objects.select_related("finding__assessment__cb").filter(
        finding__assessment__in=assessments_for_cb_staff(actor).values("pk")
    )


if TYPE_CHECKING:  # the organization section's selector, below
    from typing import Any

    from apcert.assessments.models import Finding


def findings_for_organization_users(
    actor: User, *, organization_id: int | None = None
) -> QuerySet[Finding]:
    """The findings of the assessments of the organizations whose users include ``actor``
    (the back office's organization section), of one of them if ``organization_id`` is
    given: an initial assessment concerns the applicant, the others the certificate holder.
    The Secretariat sees all."""
    from django.db.models import Q

    from apcert.assessments.models import Finding
    from apcert.organizations.models import OrganizationMember

    def concerning(organizations: Any) -> Q:
        # The assessments concerning these organizations, as a union of two indexed id
        # lists (through the application; through the certificate when there is none), so
        # that the findings are reached by their assessment: an OR over two outer joins
        # was tested against every finding of the register.
        by_application = Assessment.objects.filter(
            application__organization_id__in=organizations
        ).values("pk")
        # "No application" through the join (an application always has an organization):
        # tested on the holder's few assessments, where ``application_id IS NULL`` would
        # let SQLite walk every assessment without one.
        by_certificate = Assessment.objects.filter(
            certificate__organization_id__in=organizations,
            application__organization_id__isnull=True,
        ).values("pk")
        return Q(assessment_id__in=by_application.order_by().union(by_certificate.order_by()))

    qs = Finding.objects.select_related(
        "assessment__cb", "assessment__application", "assessment__certificate"
    )
    if not actor.is_active:
        return qs.none()
    if not is_secretariat(actor):
        qs = qs.filter(
            concerning(OrganizationMember.objects.filter(user=actor).values("organization_id"))
        )
    if organization_id is not None:
        qs = qs.filter(concerning([organization_id]))
    return qs


def _assessments_concerning(organization_id: int) -> QuerySet[Any]:
    """The ids of the assessments concerning one organization: through the application
    (an initial assessment), else through the certificate (the others); a union of two
    indexed id lists rather than an OR over two outer joins."""
    by_application = Assessment.objects.filter(application__organization_id=organization_id)
    by_certificate = Assessment.objects.filter(
        certificate__organization_id=organization_id,
        application__organization_id__isnull=True,
    )
    return by_application.values("pk").order_by().union(by_certificate.values("pk").order_by())


def assessment_reports_for_organization_users(
    actor: User, organization: Organization
) -> QuerySet[Assessment]:
    """The assessments of ``organization`` whose report has been issued, for its users and
    the Secretariat (nobody else sees any): the organization receives the report when it is
    issued, not before. Each with its CB and subject, newest report first."""
    qs = (
        Assessment.objects.select_related("cb", "application", "certificate")
        .filter(
            status__in=REPORT_ISSUED_STATUSES,
            report_issued_on__isnull=False,
            pk__in=_assessments_concerning(organization.pk),
        )
        .order_by("-report_issued_on", "-pk")
    )
    if not actor.is_active:
        return qs.none()
    if is_secretariat(actor):
        return qs
    member = OrganizationMember.objects.filter(organization_id=organization.pk, user_id=actor.pk)
    return qs.filter(Exists(member))


def assessments_of_application(application_id: int) -> QuerySet[Assessment]:
    """The assessments of an application, in the order they were planned to start."""
    return Assessment.objects.filter(application_id=application_id).order_by("start_date", "pk")


def assessment_team(assessment: Assessment) -> QuerySet[TeamMember]:
    """The team of ``assessment`` with its people, lead first."""
    return TeamMember.objects.filter(assessment=assessment).select_related("user").order_by("role")


def assessment_findings(assessment: Assessment) -> QuerySet[Finding]:
    """The findings of ``assessment``, each with its answers and their evidence files: the
    files still offered as ``evidence_files``, those their uploader removed as
    ``removed_files`` (with who removed them), kept for the record."""
    from django.db.models import Prefetch

    answers = CorrectiveAction.objects.prefetch_related(
        Prefetch("evidence_files", queryset=EvidenceFile.objects.kept().order_by("id")),
        Prefetch(
            "evidence_files",
            queryset=EvidenceFile.objects.filter(removed_at__isnull=False)
            .select_related("removed_by")
            .order_by("id"),
            to_attr="removed_files",
        ),
    ).order_by("id")
    return (
        Finding.objects.filter(assessment=assessment)
        .select_related("standard")
        .prefetch_related(Prefetch("corrective_actions", queryset=answers))
        .order_by("number", "id")
    )


def finding_answers(finding: Finding) -> QuerySet[CorrectiveAction]:
    """The answers to ``finding``, newest first, with who submitted and reviewed them and
    their evidence files still offered (not those their uploader removed)."""
    from django.db.models import Prefetch

    return (
        finding.corrective_actions.select_related("submitted_by", "reviewed_by")
        .prefetch_related(
            Prefetch(
                "evidence_files",
                queryset=EvidenceFile.objects.kept().select_related("uploaded_by").order_by("id"),
            )
        )
        .order_by("-id")
    )


def latest_answer(finding: Finding) -> CorrectiveAction | None:
    """The latest answer to ``finding``, if any."""
    return CorrectiveAction.objects.filter(finding=finding).order_by("-id").first()


# --- the assessment's history ---------------------------------------------------------------

#: How the actions on an assessment and what belongs to it read in its history (the others
#: read as the audit trail's generic wording makes them: "finding.record" is "Finding
#: recorded"). A corrective action is audited on its finding: submitted ("answer"), then
#: reviewed.
ASSESSMENT_HISTORY_WORDS = {
    "assessment.issue_report": "Report issued",
    "finding.update": "Finding corrected",
    "finding.answer": "Corrective action submitted",
    "finding.reject": "Corrective action rejected",
    "finding.accept_plan": "Corrective action plan accepted",
    "finding.verify": "Corrective action verified, finding closed",
    "finding.flag_late": "Corrective action late",
    "evidence.attach": "Evidence file attached",
    "evidence.remove": "Evidence file removed by its uploader",
}


def assessment_history(assessment: Assessment) -> list[HistoryEntry]:
    """Every audited change of ``assessment``, of its findings (with their corrective
    actions, audited on the finding) and of their evidence files, removed ones included,
    newest first, for a viewer the caller has already let see the assessment. Two
    queries: the ids of the findings and evidence files, then their events."""
    finding_ids: set[int] = set()
    evidence_ids: set[int] = set()
    rows = Finding.objects.filter(assessment=assessment).values_list(
        "pk", "corrective_actions__evidence_files__pk"
    )
    for finding_id, evidence_id in rows.order_by():
        finding_ids.add(finding_id)
        if evidence_id is not None:
            evidence_ids.add(evidence_id)
    return record_history(
        records={
            Assessment._meta.label_lower: [assessment.pk],
            Finding._meta.label_lower: finding_ids,
            EvidenceFile._meta.label_lower: evidence_ids,
        },
        words=ASSESSMENT_HISTORY_WORDS,
    )


def findings_of_assessments(assessments: QuerySet[Assessment]) -> QuerySet[Finding]:
    """The findings of ``assessments`` (a selector's queryset, already narrowed to what the
    viewer sees), each with its assessment and standard."""
    from apcert.assessments.models import Finding

    return Finding.objects.select_related("assessment__cb", "standard").filter(
        assessment__in=assessments.order_by().values("pk")
    )
