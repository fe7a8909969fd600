"""Reading certificates, and the rules a decision must meet before it is taken."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from apcert.applications.selectors import acceptance_problems
from apcert.assessments.choices import AssessmentKind, FindingGrade, FindingStatus
from apcert.assessments.models import Assessment, Finding, TeamMember
from apcert.assessments.selectors import person_key
from apcert.audit.selectors import HistoryEntry, record_history
from apcert.certificates.choices import CertificateStatus, DecisionKind
from apcert.certificates.errors import (
    DECISION_ALREADY_GRANTED,
    DECISION_APPLICATION_NOT_ACCEPTED,
    DECISION_ASSESSMENT_ALREADY_USED,
    DECISION_BEFORE_REPORT,
    DECISION_IN_FUTURE,
    DECISION_INITIAL_ASSESSMENT_EXPIRED,
    DECISION_MAKER_ON_TEAM,
    DECISION_MINOR_WITHOUT_PLAN,
    DECISION_OPEN_MAJOR,
    DECISION_REPORT_NOT_ISSUED,
    DECISION_WRONG_ASSESSMENT,
)
from apcert.certificates.lifecycle import TERMINAL
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    Decision,
    PublicationReview,
)
from apcert.certificates.snapshots import place, site_snapshot
from apcert.certificates.timeline import SUSPEND, DatedChange, StatusFacts, StatusOnDay, status_on
from apcert.core.dates import add_months, format_date, today
from apcert.core.errors import DomainError, RuleViolation
from apcert.core.permissions import is_secretariat
from apcert.organizations.models import Site
from apcert.schemes.models import SchemeRules, Standard
from apcert.schemes.selectors import scheme_rules, standard_current_edition, standard_problem

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.applications.models import Application, ScopeLine


def certificates_visible_to(actor: User) -> QuerySet[Certificate]:
    qs = Certificate.objects.select_related("cb", "organization", "scheme")
    if is_secretariat(actor):
        return qs
    return qs.filter(
        Q(cb__staff__user=actor, cb__staff__active=True) | Q(organization__members__user=actor)
    ).distinct()


def nonconformities(n: int, verb_one: str, verb_many: str, grade: str = "major") -> str:
    """``1 major nonconformity is`` / ``2 major nonconformities are``."""
    return f"{n} {grade} nonconformit{'y ' + verb_one if n == 1 else 'ies ' + verb_many}"


def decision_maker_team_problems(
    *, team: Iterable[tuple[int | None, str]], decided_by: User
) -> list[RuleViolation]:
    """The independence rule on a team given as (user id or None, name recorded) pairs: the
    decision maker is none of them, whether the member is that user or, on a team recorded
    from the CB's own software, is named as that person (by full name or user name)."""
    # IECQ 03-1 / ISO/IEC 17021-1 9.5: the decision is taken by someone not on the team.
    names = {person_key(n) for n in (decided_by.full_name, decided_by.username) if n.strip()}
    if any(
        user_id == decided_by.pk or (name.strip() and person_key(name) in names)
        for user_id, name in team
    ):
        return [
            RuleViolation(
                f"{decided_by} was on the assessment team and may not take the certification "
                "decision. Another decision maker of the CB must decide.",
                code=DECISION_MAKER_ON_TEAM,
            )
        ]
    return []


def decision_maker_problems(*, assessment: Assessment, decided_by: User) -> list[RuleViolation]:
    """The independence rule on the assessment's team as stored: the members who are
    ``decided_by`` and those known by a name only (one query, as before names were kept)."""
    team = TeamMember.objects.filter(assessment=assessment).filter(Q(user=decided_by) | ~Q(name=""))
    return decision_maker_team_problems(
        team=team.values_list("user_id", "name"), decided_by=decided_by
    )


def findings_problems(
    *,
    assessment: Assessment,
    decided_on: dt.date,
    initial_six_month_rule: bool,
    findings: list[Finding] | None = None,
) -> list[RuleViolation]:
    """Open majors block; each minor needs an accepted plan; and for an initial assessment,
    majors not verified within the scheme's months of its last day void the assessment.

    ``findings``, when given, are those to judge instead of the assessment's stored ones
    (the findings of a record checked before it is written, each in its status on the
    decision's day)."""
    problems: list[RuleViolation] = []
    if findings is None:
        findings = list(assessment.findings.all())
    majors = [f for f in findings if f.grade == FindingGrade.MAJOR]
    if initial_six_month_rule and majors:
        rules = scheme_rules(assessment.application.scheme)  # type: ignore[union-attr]
        months = rules.initial_major_verification_months
        limit = add_months(assessment.end_date, months)
        late = [
            f
            for f in majors
            if (f.closed_on is None and decided_on > limit)
            or (f.closed_on is not None and f.closed_on > limit)
        ]
        if late:
            problems.append(
                RuleViolation(
                    f"{nonconformities(len(late), 'was', 'were')} not "
                    f"verified within {months} months of the initial assessment's last day "
                    f"({format_date(assessment.end_date)}, limit {format_date(limit)}): the "
                    "initial assessment must be repeated.",
                    code=DECISION_INITIAL_ASSESSMENT_EXPIRED,
                    params={"limit": limit.isoformat(), "findings": [f.pk for f in late]},
                )
            )
    open_majors = [f for f in majors if f.status != FindingStatus.CLOSED]
    if open_majors:
        problems.append(
            RuleViolation(
                f"{nonconformities(len(open_majors), 'is', 'are')} still open"
                ": each must be corrected and verified before a grant.",
                code=DECISION_OPEN_MAJOR,
                params={"findings": [f.pk for f in open_majors]},
            )
        )
    minors = [
        f
        for f in findings
        if f.grade == FindingGrade.MINOR
        and f.status not in (FindingStatus.PLAN_ACCEPTED, FindingStatus.CLOSED)
    ]
    if minors:
        problems.append(
            RuleViolation(
                f"{nonconformities(len(minors), 'has', 'have', 'minor')} no "
                "accepted corrective action plan yet.",
                code=DECISION_MINOR_WITHOUT_PLAN,
                params={"findings": [f.pk for f in minors]},
            )
        )
    return problems


def report_problems(*, assessment: Assessment, decided_on: dt.date) -> list[RuleViolation]:
    if assessment.status not in ("report_issued", "closed") or assessment.report_issued_on is None:
        return [
            RuleViolation(
                "The assessment report has not been issued yet.", code=DECISION_REPORT_NOT_ISSUED
            )
        ]
    if decided_on < assessment.report_issued_on:
        report_on = assessment.report_issued_on
        return [
            RuleViolation(
                f"A decision cannot be dated {format_date(decided_on)}, before the report it "
                f"rests on (issued on {format_date(report_on)}). Date the decision on or after "
                "the report; if the report's date is wrong, its lead assessor corrects it "
                "first.",
                code=DECISION_BEFORE_REPORT,
                field="decided_on",
                params={"decided_on": decided_on, "report_issued_on": report_on},
            )
        ]
    return []


def decision_date_problems(*, decided_on: dt.date) -> list[RuleViolation]:
    """A decision is dated today or earlier: it records what was decided. Every decision
    service asks this, through the check common to decisions on a certificate or through
    the grant's and refusal's rules."""
    day = today()
    if decided_on > day:
        return [
            RuleViolation(
                f"A decision cannot be dated {format_date(decided_on)}, after today "
                f"({format_date(day)}).",
                code=DECISION_IN_FUTURE,
                field="decided_on",
                params={"decided_on": decided_on, "today": day},
            )
        ]
    return []


def decision_subject_problems(
    *, application: Application, assessment: Assessment
) -> list[RuleViolation]:
    """A first decision on an application: it is accepted, not yet decided, and its
    assessment has not already supported another decision."""
    problems: list[RuleViolation] = []
    if application.status != "accepted":
        problems.append(
            RuleViolation(
                f"The application is {application.status}; only an accepted application can be "
                "decided on.",
                code=DECISION_APPLICATION_NOT_ACCEPTED,
            )
        )
    if application.certificates.exists():
        problems.append(
            RuleViolation(
                "This application has already been granted.", code=DECISION_ALREADY_GRANTED
            )
        )
    elif Decision.objects.filter(assessment=assessment).exists():
        problems.append(
            RuleViolation(
                "This assessment has already supported a decision; a new application and "
                "assessment are needed.",
                code=DECISION_ASSESSMENT_ALREADY_USED,
            )
        )
    return problems


def grant_problems(
    *, application: Application, assessment: Assessment, decided_by: User, decided_on: dt.date
) -> list[RuleViolation]:
    """Every rule that stops a grant now, in order."""
    problems: list[RuleViolation] = []
    if assessment.application_id != application.pk or assessment.kind != AssessmentKind.INITIAL:
        problems.append(
            RuleViolation(
                "A grant rests on the initial assessment of this application.",
                code=DECISION_WRONG_ASSESSMENT,
            )
        )
        return problems
    problems += decision_subject_problems(application=application, assessment=assessment)
    problems += decision_maker_problems(assessment=assessment, decided_by=decided_by)
    problems += decision_date_problems(decided_on=decided_on)
    problems += report_problems(assessment=assessment, decided_on=decided_on)
    problems += findings_problems(
        assessment=assessment, decided_on=decided_on, initial_six_month_rule=True
    )
    problems += grant_scope_problems(application=application, decided_on=decided_on)
    return problems


def grant_scope_problems(*, application: Application, decided_on: dt.date) -> list[RuleViolation]:
    """The grant's rules on the application's scope: inside the CB's acceptance, and every
    declared standard current and accepted on the decision's day."""
    problems: list[RuleViolation] = []
    lines = list(
        application.scope_lines.select_related("category", "site").prefetch_related("standards")
    )
    problems += acceptance_problems(
        cb_id=application.cb_id,
        programme_ids=list(application.programmes.values_list("pk", flat=True)),
        scope_lines=lines,
        on=decided_on,
        code_prefix="decision",
    )
    for line in lines:
        for std in line.standards.all():
            problem = standard_problem(std, decided_on)
            if problem is not None:
                problem.code = "decision.standard_not_current"
                problems.append(problem)
    return problems


# --- decisions that follow a visit ----------------------------------------


def certificate_last_issue(certificate: Certificate) -> CertificateIssue | None:
    """The certificate's issue in force: the one with the highest number."""
    return certificate.issues.order_by("-issue_number").first()


def scope_keys(scope_lines: list[dict[str, Any]]) -> set[tuple[str, int]]:
    """The (process category code, site id) pairs of snapshot scope lines."""
    return {(line["category"], line["site_id"]) for line in scope_lines}


def followup_assessment_problems(
    *,
    certificate: Certificate,
    assessment: Assessment,
    kind: str,
    cb_id: int,
    decided_by: User,
    decided_on: dt.date,
) -> list[RuleViolation]:
    """Every rule a decision on a certificate that rests on a visit must meet: the assessment
    is of the right kind, of this certificate, by the deciding CB, and has not supported
    another decision; the decision maker was not on its team; its report is issued and the
    decision does not precede it; no major is open and every minor has an accepted plan."""
    if (
        assessment.certificate_id != certificate.pk
        or assessment.kind != kind
        or assessment.cb_id != cb_id
    ):
        return [
            RuleViolation(
                f"This decision rests on a {AssessmentKind(kind).label} of {certificate.number} "
                "carried out by the deciding certification body.",
                code=DECISION_WRONG_ASSESSMENT,
                params={"kind": kind},
            )
        ]
    problems: list[RuleViolation] = []
    if Decision.objects.filter(assessment=assessment).exists():
        problems.append(
            RuleViolation(
                "This assessment has already supported a decision; a new decision needs a new "
                "assessment.",
                code=DECISION_ASSESSMENT_ALREADY_USED,
            )
        )
    problems += decision_maker_problems(assessment=assessment, decided_by=decided_by)
    problems += report_problems(assessment=assessment, decided_on=decided_on)
    problems += findings_problems(
        assessment=assessment, decided_on=decided_on, initial_six_month_rule=False
    )
    return problems


def new_scope_problems(
    *,
    cb_id: int,
    programme_ids: list[int],
    scope_lines: list[ScopeLine],
    standards: list[Standard],
    on: dt.date,
) -> list[RuleViolation]:
    """Scope lines to be added to a certificate: inside the CB's acceptance, and every
    declared standard current on the decision date (the grant rules)."""
    problems = acceptance_problems(
        cb_id=cb_id,
        programme_ids=programme_ids,
        scope_lines=scope_lines,
        on=on,
        code_prefix="decision",
    )
    for std in standards:
        problem = standard_problem(std, on)
        if problem is not None:
            problem.code = "decision.standard_not_current"
            problems.append(problem)
    return problems


def certificates_for_cb_staff(actor: User) -> QuerySet[Certificate]:
    """The certificates of the CBs where ``actor`` is active staff, in any role (the back
    office's CB section); the Secretariat sees all. Holders see theirs elsewhere."""
    from apcert.bodies.selectors import staff_cb_ids

    qs = Certificate.objects.select_related("cb", "organization", "scheme")
    if is_secretariat(actor):
        return qs
    if not actor.is_active:
        return qs.none()
    return qs.filter(cb_id__in=staff_cb_ids(actor))


def grant_blockers(
    *, actor: User, application: Application, assessment: Assessment, on: dt.date
) -> list[DomainError]:
    """Everything that stops ``actor`` granting certification on ``assessment`` on ``on``:
    what ``certificate_grant`` checks, every failing rule rather than the first, each with
    its code and message. The actor's role comes first (only a decision maker of the CB
    decides), then :func:`grant_problems`. Empty when the grant may be taken."""
    from apcert.bodies.permissions import require_cb_role

    blockers: list[DomainError] = []
    try:
        require_cb_role(actor, application.cb, "decision_maker")
    except DomainError as exc:
        blockers.append(exc)
    blockers += grant_problems(
        application=application, assessment=assessment, decided_by=actor, decided_on=on
    )
    return blockers


def assessments_awaiting_decision_by(actor: User) -> QuerySet[Assessment]:
    """The assessments on which ``actor`` may take the certification decision now: the
    report issued and no decision taken on it yet, at a CB where ``actor`` is an active
    decision maker (or administrator), and ``actor`` not on its team (the decision is taken
    by someone who was not on the assessment team)."""
    from django.db.models import Exists, OuterRef

    from apcert.assessments.choices import AssessmentStatus
    from apcert.assessments.selectors import assessments_for_cb_staff
    from apcert.bodies.choices import CBRole
    from apcert.bodies.models import CBStaff

    deciding = CBStaff.objects.filter(
        user=actor, active=True, role__in=(CBRole.DECISION_MAKER, CBRole.ADMIN)
    ).values("cb_id")
    return (
        assessments_for_cb_staff(actor)
        .filter(status=AssessmentStatus.REPORT_ISSUED, cb_id__in=deciding)
        .exclude(Exists(TeamMember.objects.filter(assessment=OuterRef("pk"), user=actor)))
        .exclude(Exists(Decision.objects.filter(assessment=OuterRef("pk"))))
    )


def certificates_for_organization_users(actor: User) -> QuerySet[Certificate]:
    """The certificates held by the organizations whose users include ``actor`` (the back
    office's organization section); the Secretariat sees all."""
    from apcert.organizations.models import OrganizationMember

    qs = Certificate.objects.select_related("cb", "organization", "scheme")
    if is_secretariat(actor):
        return qs
    if not actor.is_active:
        return qs.none()
    return qs.filter(
        organization_id__in=OrganizationMember.objects.filter(user=actor).values("organization_id")
    )


def application_decided(application: Application) -> bool:
    """Whether a certification decision has been taken on the application (it can then no
    longer be withdrawn: ``application_withdraw``)."""
    return Decision.objects.filter(application=application).exists()


def publication_reviews_for_secretariat(actor: User) -> QuerySet[PublicationReview]:
    """Every review of a new certificate before publication, with the certificate, its CB
    and holder; only the Secretariat reviews (anyone else gets none)."""
    qs = PublicationReview.objects.select_related(
        "certificate__cb", "certificate__organization", "certificate__scheme", "submitted_by"
    )
    return qs if is_secretariat(actor) and actor.is_active else qs.none()


def publication_reviews_of(certificate: Certificate) -> list[PublicationReview]:
    """The publication reviews of ``certificate``, the latest first (empty when its scheme
    did not ask for one)."""
    return list(
        certificate.publication_reviews.select_related("submitted_by", "reviewed_by").order_by(
            "-submitted_at", "-id"
        )
    )


# --- the status on a day -------------------------------------------------------------------


def status_facts(certificate: Certificate, rules: SchemeRules) -> StatusFacts:
    """The stored facts that the date-driven rules read (kept in step by the services)."""
    return StatusFacts(
        status=certificate.status,
        status_since=certificate.status_since,
        expires_on=certificate.expires_on,
        surveillance_due_by=certificate.surveillance_due_by,
        max_suspension_months=rules.max_suspension_months,
        suspension_end_action=rules.suspension_end_action,
    )


def certificate_status_on(certificate: Certificate, day: dt.date | None = None) -> StatusOnDay:
    """The certificate's status on ``day`` (today by default), whether or not the sweep has
    recorded what the calendar did to it. Every read that shows a status asks this."""
    return certificate_statuses_on([certificate], day)[certificate.pk]


def certificate_statuses_on(
    certificates: Iterable[Certificate], day: dt.date | None = None
) -> dict[int, StatusOnDay]:
    """:func:`certificate_status_on` for many certificates: one query for the rules of their
    schemes, none at all when every stored status still holds on ``day``."""
    day = day or timezone.localdate()
    certificates = list(certificates)
    rules: dict[int, SchemeRules] = {}
    wanted = {c.scheme_id for c in certificates if c.lapses_on is not None and c.lapses_on <= day}
    if wanted:
        rules = {r.scheme_id: r for r in SchemeRules.objects.filter(scheme_id__in=wanted)}
    out: dict[int, StatusOnDay] = {}
    for cert in certificates:
        scheme_rules_of = rules.get(cert.scheme_id)
        if scheme_rules_of is None or cert.lapses_on is None or cert.lapses_on > day:
            out[cert.pk] = StatusOnDay(day, cert.status, cert.status_since, None, ())
        else:
            out[cert.pk] = status_on(status_facts(cert, scheme_rules_of), day)
    return out


def calendar_suspension(cert: Certificate, day: dt.date) -> DatedChange | None:
    """The suspension that the scheme's calendar made on or before ``day`` (a surveillance
    window that closed without a visit) and that nobody has recorded yet, if any. None too
    when the calendar has ended the certificate by ``day`` (expired, or withdrawn once the
    suspension ran out): a decision then has nothing left to decide on, which the checks of
    the decision's date say."""
    if cert.status != CertificateStatus.CURRENT or cert.lapses_on is None or cert.lapses_on > day:
        return None
    changes = status_on(status_facts(cert, scheme_rules(cert.scheme)), day).unrecorded
    if any(c.to_status in TERMINAL for c in changes):
        return None
    return next((c for c in changes if c.action == SUSPEND), None)


def certificate_on(cert: Certificate, day: dt.date) -> Certificate:
    """``cert`` as it stands on ``day`` once the calendar's suspension is counted: an
    unsaved copy that says suspended since the day after the missed window, or ``cert``
    itself when the stored status still holds. For checks that read the status."""
    change = calendar_suspension(cert, day)
    if change is None:
        return cert
    on_day = copy.copy(cert)
    on_day.status = CertificateStatus.SUSPENDED
    on_day.status_since = change.effective_on
    return on_day


@dataclass(frozen=True)
class RecordedChange:
    """A change that the records show and the certificate's last issue does not yet: the
    holder or a certified site renamed, a site moved, a declared edition superseded in the
    catalogue. Each is what one re-issue service announces."""

    kind: str  # holder_renamed, site_renamed, site_moved or standard_updated
    label: str
    site: Site | None = None
    standard: Standard | None = None

    @property
    def key(self) -> str:
        target = self.site or self.standard
        return self.kind if target is None else f"{self.kind}:{target.pk}"


def certificate_recorded_changes(certificate: Certificate) -> list[RecordedChange]:
    """What the certificate could be re-issued for today, read from the holder's records
    and the standards catalogue against its last issue."""
    last = certificate_last_issue(certificate)
    if last is None:
        return []
    out = []
    name = certificate.organization.legal_name
    if last.holder.get("name") != name:
        out.append(
            RecordedChange(
                "holder_renamed", f"Holder renamed: '{last.holder.get('name')}' to '{name}'"
            )
        )
    listed = {site["id"]: site for site in last.sites}
    for site in Site.objects.filter(pk__in=listed).order_by("pk"):
        was = listed[site.pk]
        if was["name"] != site.name:
            label = f"Site renamed: '{was['name']}' to '{site.name}'"
            out.append(RecordedChange("site_renamed", label, site=site))
        if (was.get("address"), was.get("city"), was.get("country")) != (
            site.address,
            site.city,
            site.country,
        ):
            label = f"Site moved: {site.name} to {place(site_snapshot(site))}"
            out.append(RecordedChange("site_moved", label, site=site))
    refs = sorted({ref for line in last.scope_lines for ref in line["standards"]})
    for ref in refs:
        designation, _, edition = ref.rpartition(":")
        declared = Standard.objects.filter(designation=designation, edition=edition).first()
        current = None if declared is None else standard_current_edition(declared)
        if declared is not None and current is not None and current.pk != declared.pk:
            label = f"Standard updated: {ref} to :{current.edition}"
            out.append(RecordedChange("standard_updated", label, standard=declared))
    return out


def certificates_under_publication_review(actor: User) -> QuerySet[Certificate]:
    """The certificates submitted for review before publication, with CB, holder and
    scheme; only the Secretariat reviews (anyone else gets none)."""
    reviews = publication_reviews_for_secretariat(actor)
    return Certificate.objects.select_related("cb", "organization", "scheme").filter(
        pk__in=reviews.values("certificate_id")
    )


# --- the certificate's history ----------------------------------------------------------------

#: How the actions on a certificate read in its history (the status changes read as the
#: audit trail's generic wording makes them: "certificate.suspend" is "Certificate
#: suspended"). Every issue and status change is audited on the certificate itself.
CERTIFICATE_HISTORY_WORDS = {
    "certificate.grant": "Certificate granted",
    "certificate.publish": "Certificate published after the publication review",
    "certificate.publication_return": "Returned by the publication review",
    "certificate.publication_resubmit": "Resubmitted to the publication review",
    "certificate.maintain": "Certification maintained",
    "certificate.renew": "Certificate renewed",
    "certificate.reissue": "Certificate re-issued",
    "certificate.extend_scope": "Scope extended",
    "certificate.reduce_scope": "Scope reduced",
    "certificate.site_add": "Site added",
    "certificate.site_remove": "Site removed",
    "certificate.holder_renamed": "Re-issued: holder renamed",
    "certificate.site_renamed": "Re-issued: site renamed",
    "certificate.site_moved": "Re-issued: site moved",
    "certificate.standard_update": "Re-issued: standard edition updated",
    "certificate.transfer": "Certificate transferred",
}


def certificate_history(certificate: Certificate) -> list[HistoryEntry]:
    """Every audited change of ``certificate`` (its decisions, issues and status changes,
    all audited on the certificate), newest first, for a viewer the caller has already let
    see it: one query."""
    return record_history(
        records={Certificate._meta.label_lower: [certificate.pk]},
        words=CERTIFICATE_HISTORY_WORDS,
    )


def certificate_basis(certificate: Certificate) -> Assessment | None:
    """The assessment the certificate was granted on (none for one taken over by a
    transfer), with its team: run in apcert, or recorded from the CB's own software."""
    return (
        Assessment.objects.filter(
            decision__certificate=certificate, decision__kind=DecisionKind.GRANT
        )
        .prefetch_related(
            Prefetch("team", queryset=TeamMember.objects.select_related("user").order_by("id"))
        )
        .first()
    )
