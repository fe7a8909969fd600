"""In-app messages for the workflow: each step tells the people who act next.

The audit trail hands every event it records to :func:`event_recorded` (registered in
``NotificationsConfig.ready`` through ``audit.listeners``), inside the transaction of the
change. For the actions in :data:`HANDLERS` it reads the object once, decides who is told
and writes one :class:`Message` per person; any other action returns at once. The person who
made the change is not told about it. The e-mail of a message goes later, after commit, from
the dispatch (``services.notifications_dispatch``), which honours each person's preferences.

Who is told:

========================================  ==================================================
application submitted, withdrawn          the CB's scheme managers
application accepted, rejected            the organization's users
assessment planned, cancelled             the assessment team and the organization's users
finding recorded, corrective action       the organization's users
reviewed, nonconformity late
corrective action submitted               the team's assessors (lead and members)
report issued                             the organization's users and the CB's decision
                                          makers who were not on the team
decision (grant, refusal, renewal,        the organization's users (a grant awaiting the
maintenance, scope and site changes,      Secretariat's review: the Secretariat too)
re-issue, transfer)
certificate suspended, restored,          the organization's users and the CB's scheme
withdrawn, cancelled, expired, published  managers and administrators
certificate returned by the Secretariat   the CB's scheme managers and decision makers
certificate submitted again               the Secretariat
========================================  ==================================================

A status change and a nonconformity gone late are mailed by the dispatcher's own notices
(to the same people): their messages are kept in-app and not mailed a second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from apcert.accounts.models import User
from apcert.applications.models import Application
from apcert.assessments.choices import AssessmentKind, FindingGrade, FindingStatus, TeamRole
from apcert.assessments.models import Assessment, CorrectiveAction, Finding
from apcert.audit.models import AuditEvent
from apcert.bodies.choices import CBRole
from apcert.certificates.choices import CertificateStatus, DecisionKind
from apcert.certificates.models import Certificate, Decision
from apcert.core.dates import format_date as _words
from apcert.notifications import messages
from apcert.notifications.choices import (
    MESSAGE_GROUP,
    MailSkipped,
    MailState,
    MessageKind,
    MessageTarget,
)
from apcert.notifications.models import Message
from apcert.notifications.selectors import CB_RECIPIENT_ROLES
from apcert.organizations.models import Organization


@dataclass(frozen=True)
class Tell:
    """One message to everyone in ``audience`` (active accounts, the actor left out)."""

    audience: Q
    kind: str
    subject: str
    body: str
    target: tuple[str, int]
    event_on: dt.date
    #: Mailed by a notice of the dispatcher (status change, late finding): in-app only.
    mailed_by_notice: bool = False


# --- who ------------------------------------------------------------------------------------


def organization_users(organization_id: int) -> Q:
    return Q(organization_roles__organization_id=organization_id)


def cb_staff(cb_id: int, *roles: str) -> Q:
    return Q(cb_roles__cb_id=cb_id, cb_roles__active=True, cb_roles__role__in=roles)


def assessment_team(assessment_id: int, *roles: str) -> Q:
    if roles:
        return Q(teammember__assessment_id=assessment_id, teammember__role__in=roles)
    return Q(teammember__assessment_id=assessment_id)


def secretariat() -> Q:
    return Q(is_secretariat=True)


def recipients(audience: Q, *, actor_id: int | None) -> list[int]:
    """The ids of the active users in ``audience``, without the actor, in one query."""
    users = User.objects.filter(audience, is_active=True)
    if actor_id is not None:
        users = users.exclude(pk=actor_id)
    return sorted(set(users.values_list("pk", flat=True)))


# --- the texts -------------------------------------------------------------------------------


def _day(event: AuditEvent) -> dt.date:
    return timezone.localdate(event.occurred_at)


def _body(*lines: str) -> str:
    return "\n".join(lines)


def _parties(organization: Organization, cb_name: str, cb_code: str) -> list[str]:
    return [
        f"Organization: {organization.legal_name} ({organization.country})",
        f"Certification body: {cb_name} ({cb_code})",
    ]


# --- applications ----------------------------------------------------------------------------


def _application(event: AuditEvent) -> list[Tell]:
    app = Application.objects.select_related("organization", "cb", "scheme").get(
        pk=int(event.object_id)
    )
    org, cb = app.organization, app.cb
    day = _day(event)
    head = [
        f"Application: {app.pk} ({app.scheme.code})",
        *_parties(org, cb.name, cb.code),
        "",
    ]
    target = (MessageTarget.APPLICATION, app.pk)
    action = event.action.removeprefix("application.")
    if action == "submit":
        return [
            Tell(
                cb_staff(cb.pk, CBRole.SCHEME_MANAGER),
                MessageKind.APPLICATION_SUBMITTED,
                f"Application {app.pk} from {org.legal_name} submitted",
                _body(
                    *head,
                    f"{org.legal_name} submitted its application on {_words(day)}.",
                    "",
                    "What to do: review the application and accept it (the assessment is "
                    "then planned) or reject it, saying why.",
                ),
                target,
                day,
            )
        ]
    if action == "withdraw":
        return [
            Tell(
                cb_staff(cb.pk, CBRole.SCHEME_MANAGER),
                MessageKind.APPLICATION_WITHDRAWN,
                f"Application {app.pk} from {org.legal_name} withdrawn",
                _body(
                    *head,
                    f"{org.legal_name} withdrew its application on {_words(day)}.",
                    "",
                    "What to do: nothing; cancel any assessment still planned for it.",
                ),
                target,
                day,
            )
        ]
    if action == "accept":
        kind = MessageKind.APPLICATION_ACCEPTED
        subject = f"Application {app.pk} accepted by {cb.code}"
        lines = [
            f"The certification body accepted the application on {_words(day)}.",
            "",
            "What happens next: the certification body plans the assessment and tells you "
            "its dates and team.",
        ]
    else:  # reject
        kind = MessageKind.APPLICATION_REJECTED
        subject = f"Application {app.pk} rejected by {cb.code}"
        lines = [
            f"The certification body rejected the application on {_words(day)}.",
            f"Reason: {app.status_reason}",
            "",
            "What to do: resolve the reason with the certification body; you may apply again.",
        ]
    return [Tell(organization_users(org.pk), kind, subject, _body(*head, *lines), target, day)]


# --- assessments and findings ----------------------------------------------------------------


def _organization_of(assessment: Assessment) -> Organization:
    subject = assessment.certificate or assessment.application
    assert subject is not None  # a check constraint: an assessment is of one or the other
    return subject.organization


def _assessment_head(a: Assessment, org: Organization) -> list[str]:
    lines = [f"Assessment: {a.get_kind_display()}, {_words(a.start_date)} to {_words(a.end_date)}"]
    if a.certificate is not None:
        lines.append(f"Certificate: {a.certificate.number}")
    return [*lines, *_parties(org, a.cb.name, a.cb.code), ""]


_ASSESSMENT_NAME: dict[str, str] = {
    AssessmentKind.INITIAL: "initial assessment",
    AssessmentKind.SURVEILLANCE: "surveillance visit",
    AssessmentKind.REASSESSMENT: "re-assessment",
    AssessmentKind.SCOPE_EXTENSION: "scope extension assessment",
    AssessmentKind.SPECIAL: "special assessment (short notice)",
    AssessmentKind.TRANSFER_REVIEW: "transfer review",
}


def _assessment(event: AuditEvent) -> list[Tell]:
    a = Assessment.objects.select_related(
        "cb", "application__organization", "certificate__organization"
    ).get(pk=int(event.object_id))
    org = _organization_of(a)
    head = _assessment_head(a, org)
    target = (MessageTarget.ASSESSMENT, a.pk)
    day = _day(event)
    action = event.action.removeprefix("assessment.")
    name = _ASSESSMENT_NAME.get(a.kind, str(a.get_kind_display()))
    if action == "plan":
        team = [
            f"{m.person} ({m.get_role_display()})"
            for m in a.team.select_related("user").order_by("role", "user__username")
        ]
        return [
            Tell(
                assessment_team(a.pk) | organization_users(org.pk),
                MessageKind.ASSESSMENT_PLANNED,
                f"{org.legal_name}: {name} planned for {_words(a.start_date)}",
                _body(
                    *head,
                    f"The {name} is planned from {_words(a.start_date)} to {_words(a.end_date)}.",
                    f"Team: {', '.join(team)}",
                    "",
                    "What to do: the team prepares the assessment; the organization makes its "
                    "sites, people and records available on those dates.",
                ),
                target,
                day,
            )
        ]
    if action == "cancel":
        return [
            Tell(
                assessment_team(a.pk) | organization_users(org.pk),
                MessageKind.ASSESSMENT_CANCELLED,
                f"{org.legal_name}: {name} of {_words(a.start_date)} cancelled",
                _body(
                    *head,
                    f"The certification body cancelled the {name} on {_words(day)}.",
                    f"Reason: {a.summary}",
                ),
                target,
                day,
            )
        ]
    # issue_report
    issued_on = a.report_issued_on or day
    open_ncs = a.findings.filter(
        grade__in=(FindingGrade.MAJOR, FindingGrade.MINOR),
        status__in=(FindingStatus.OPEN, FindingStatus.ANSWERED),
    ).count()
    deciders = cb_staff(a.cb_id, CBRole.DECISION_MAKER) & ~assessment_team(a.pk)
    return [
        Tell(
            organization_users(org.pk) | deciders,
            MessageKind.REPORT_ISSUED,
            f"{org.legal_name}: report of the {name} issued",
            _body(
                *head,
                f"The lead assessor issued the report on {_words(issued_on)}.",
                f"Nonconformities still to be answered or reviewed: {open_ncs}.",
                "",
                "What to do: the organization answers every open nonconformity by its due "
                "date; a decision maker of the certification body who was not on the "
                "assessment team takes the certification decision.",
            ),
            target,
            issued_on,
        )
    ]


_REVIEWED = {
    "accept_plan": (
        "accepted the corrective action plan",
        "What to do: carry the plan out and send the evidence; the assessor then verifies it.",
    ),
    "verify": (
        "verified the corrective action as effective: the finding is closed",
        "What to do: nothing.",
    ),
    "reject": (
        "rejected the corrective action",
        "What to do: submit a new corrective action that answers the assessor's comment.",
    ),
}


def _finding(event: AuditEvent) -> list[Tell]:
    f = Finding.objects.select_related(
        "assessment__cb",
        "assessment__application__organization",
        "assessment__certificate__organization",
    ).get(pk=int(event.object_id))
    a = f.assessment
    org = _organization_of(a)
    grade = f.get_grade_display()
    head = [
        *_assessment_head(a, org)[:-1],
        f"Requirement: {f.requirement_ref}",
        f"Finding: {f.description}",
        "",
    ]
    target = (MessageTarget.FINDING, f.pk)
    action = event.action.removeprefix("finding.")
    if action == "record":
        if f.grade == FindingGrade.OBSERVATION:
            todo = (
                "What to do: no answer is needed; an observation points to a possible improvement."
            )
        else:
            todo = (
                f"What to do: submit a corrective action (correction, root cause, action and "
                f"evidence) by {_words(f.due_date)}."
            )
        return [
            Tell(
                organization_users(org.pk),
                MessageKind.FINDING_RECORDED,
                f"{org.legal_name}: {grade} recorded ({f.requirement_ref})",
                _body(
                    *head,
                    f"A {grade} was recorded, raised on {_words(f.raised_on)}.",
                    "",
                    todo,
                ),
                target,
                f.raised_on,
            )
        ]
    if action == "flag_late":
        return [
            Tell(
                organization_users(org.pk) | cb_staff(a.cb_id, *CB_RECIPIENT_ROLES),
                MessageKind.FINDING_LATE,
                f"{org.legal_name}: {grade} past its due date {_words(f.due_date)}",
                _body(
                    *head,
                    f"The {grade} was due on {_words(f.due_date)} and is {f.get_status_display()}.",
                    "",
                    "What to do: the organization completes the corrective action; a corrective "
                    "action left late can lead to suspension of the certificate.",
                ),
                target,
                _day(event),
                mailed_by_notice=True,
            )
        ]
    return _answer_tells(event, f, org, head)


def _answer_tells(event: AuditEvent, f: Finding, org: Organization, head: list[str]) -> list[Tell]:
    """A corrective action submitted (to the assessors) or reviewed (to the organization)."""
    answer = CorrectiveAction.objects.get(pk=int((event.after or {})["corrective_action"]))
    grade = f.get_grade_display()
    target = (MessageTarget.FINDING, f.pk)
    action = event.action.removeprefix("finding.")
    if action == "answer":
        return [
            Tell(
                assessment_team(f.assessment_id, TeamRole.LEAD, TeamRole.MEMBER),
                MessageKind.CORRECTIVE_ACTION_SUBMITTED,
                f"{org.legal_name}: corrective action submitted for a {grade}",
                _body(
                    *head,
                    f"The organization answered the {grade} on {_words(answer.submitted_on)}.",
                    "",
                    "What to do: review the corrective action: accept the plan, verify it as "
                    "effective or reject it, saying why.",
                ),
                target,
                answer.submitted_on,
            )
        ]
    what, todo = _REVIEWED[action]
    reviewed_on = answer.reviewed_on or _day(event)
    comment = [f"Assessor's comment: {answer.review_comment}"] if answer.review_comment else []
    return [
        Tell(
            organization_users(org.pk),
            MessageKind.CORRECTIVE_ACTION_REVIEWED,
            f"{org.legal_name}: corrective action for a {grade} reviewed",
            _body(*head, f"On {_words(reviewed_on)} the assessor {what}.", *comment, "", todo),
            target,
            reviewed_on,
        )
    ]


# --- decisions and certificates --------------------------------------------------------------

_DECIDED = {
    DecisionKind.GRANT: "granted certification",
    DecisionKind.REFUSE: "refused certification",
    DecisionKind.MAINTAIN: "maintained certification after the surveillance assessment",
    DecisionKind.RENEW: "renewed the certificate",
    DecisionKind.EXTEND_SCOPE: "extended the certificate's scope",
    DecisionKind.REDUCE_SCOPE: "reduced the certificate's scope",
    DecisionKind.REISSUE: "re-issued the certificate",
}

#: Certificate actions whose status change the dispatcher's status notice mails.
STATUS_ACTIONS = ("suspend", "restore", "withdraw", "cancel", "expire", "publish")
#: Certificate actions that carry a certification decision for the holder.
DECISION_ACTIONS = (
    "grant",
    "transfer",
    "renew",
    "maintain",
    "extend_scope",
    "site_add",
    "reduce_scope",
    "site_remove",
    "holder_renamed",
    "site_renamed",
    "site_moved",
    "standard_update",
)


def _status_changed(event: AuditEvent) -> bool:
    """Whether the event's change moved the certificate's status (a new certificate comes
    from draft): then a status notice of the dispatcher mails it."""
    before = event.before if isinstance(event.before, dict) else {}
    after = event.after if isinstance(event.after, dict) else {}
    return bool((before.get("status") or CertificateStatus.DRAFT) != after.get("status"))


def _certificate_head(cert: Certificate) -> list[str]:
    return [
        f"Certificate: {cert.number}",
        *_parties(cert.organization, cert.cb.name, cert.cb.code),
        "",
    ]


def _decision_tells(event: AuditEvent, cert: Certificate) -> list[Tell]:
    decision = cert.decisions.order_by("-id").first()
    decided_on = decision.decided_on if decision else _day(event)
    kind = DecisionKind(decision.kind) if decision else DecisionKind.REISSUE
    what = _DECIDED.get(kind, f"decided to {kind.label}")
    if event.action == "certificate.transfer":
        what = f"took the certificate over (transfer), as {cert.number}"
    lines = [
        f"On {_words(decided_on)} the certification body {what}.",
        f"Issue: {cert.current_issue_number}; valid until {_words(cert.expires_on)}.",
    ]
    draft = cert.status == CertificateStatus.DRAFT
    if draft:
        lines.append(
            "The certificate enters the public IECQ register once the Secretariat has reviewed it."
        )
    tells = [
        Tell(
            organization_users(cert.organization_id),
            MessageKind.DECISION,
            f"{cert.number}: {kind.label} decided on {_words(decided_on)}",
            _body(*_certificate_head(cert), *lines),
            (MessageTarget.CERTIFICATE, cert.pk),
            decided_on,
            mailed_by_notice=_status_changed(event),
        )
    ]
    if draft and event.action == "certificate.grant":
        tells.append(_review_tell(cert, decided_on, again=False))
    return tells


def _review_tell(cert: Certificate, day: dt.date, *, again: bool) -> Tell:
    submitted = "submitted again" if again else "submitted"
    return Tell(
        secretariat(),
        MessageKind.PUBLICATION_REVIEW,
        f"{cert.number}: {submitted} for review before publication",
        _body(
            *_certificate_head(cert),
            f"{cert.cb.name} {submitted} the new certificate for the Secretariat's review on "
            f"{_words(day)}.",
            "",
            "What to do: review it, then approve its publication or return it, saying why.",
        ),
        (MessageTarget.CERTIFICATE, cert.pk),
        day,
    )


def _status_tell(cert: Certificate) -> Tell:
    change = cert.status_changes.order_by("-id").first()
    assert change is not None  # the status actions always write their history row
    change.certificate = cert
    subject, body = messages.status_change_message(change, footer=False)
    return Tell(
        organization_users(cert.organization_id) | cb_staff(cert.cb_id, *CB_RECIPIENT_ROLES),
        MessageKind.CERTIFICATE_STATUS,
        subject,
        body,
        (MessageTarget.CERTIFICATE, cert.pk),
        change.effective_on,
        mailed_by_notice=True,
    )


def _certificate(event: AuditEvent) -> list[Tell]:
    cert = Certificate.objects.select_related("organization", "cb").get(pk=int(event.object_id))
    action = event.action.removeprefix("certificate.")
    if action in STATUS_ACTIONS:
        return [_status_tell(cert)]
    if action in DECISION_ACTIONS:
        return _decision_tells(event, cert)
    day = _day(event)
    if action == "publication_resubmit":
        return [_review_tell(cert, day, again=True)]
    # publication_return
    return [
        Tell(
            cb_staff(cert.cb_id, CBRole.SCHEME_MANAGER, CBRole.DECISION_MAKER),
            MessageKind.PUBLICATION_REVIEW,
            f"{cert.number}: returned by the Secretariat",
            _body(
                *_certificate_head(cert),
                f"The Secretariat returned the new certificate on {_words(day)}.",
                f"Reason: {event.reason}",
                "",
                "What to do: resolve the reason, then a decision maker submits the "
                "certificate again, saying what was done.",
            ),
            (MessageTarget.CERTIFICATE, cert.pk),
            day,
        )
    ]


def _refusal(event: AuditEvent) -> list[Tell]:
    decision = Decision.objects.select_related("cb", "application__organization").get(
        pk=int(event.object_id)
    )
    app = decision.application
    assert app is not None  # a refusal rests on an application
    return [
        Tell(
            organization_users(app.organization_id),
            MessageKind.DECISION,
            f"Application {app.pk}: certification refused on {_words(decision.decided_on)}",
            _body(
                f"Application: {app.pk}",
                *_parties(app.organization, decision.cb.name, decision.cb.code),
                "",
                f"On {_words(decision.decided_on)} the certification body refused certification.",
                "",
                "What to do: the reasons are recorded with the decision; ask the "
                "certification body about them. You may apply again.",
            ),
            (MessageTarget.APPLICATION, app.pk),
            decision.decided_on,
        )
    ]


HANDLERS: dict[str, Callable[[AuditEvent], list[Tell]]] = {
    **{f"application.{a}": _application for a in ("submit", "accept", "reject", "withdraw")},
    **{f"assessment.{a}": _assessment for a in ("plan", "cancel", "issue_report")},
    **{
        f"finding.{a}": _finding
        for a in ("record", "answer", "accept_plan", "verify", "reject", "flag_late")
    },
    **{
        f"certificate.{a}": _certificate
        for a in (*STATUS_ACTIONS, *DECISION_ACTIONS, "publication_return", "publication_resubmit")
    },
    "decision.refuse": _refusal,
}


def messages_write(event: AuditEvent, tells: Sequence[Tell]) -> list[Message]:
    """One message per person told (the first tell that names a person wins), in one insert."""
    told: set[int] = set()
    rows: list[Message] = []
    for tell in tells:
        for user_id in recipients(tell.audience, actor_id=event.actor_id):
            if user_id in told:
                continue
            told.add(user_id)
            rows.append(
                Message(
                    user_id=user_id,
                    kind=tell.kind,
                    group=MESSAGE_GROUP[tell.kind],
                    subject=tell.subject[:300],
                    body=tell.body,
                    target_type=tell.target[0],
                    target_id=tell.target[1],
                    audit_seq=event.seq,
                    event_on=tell.event_on,
                    created_at=event.occurred_at,
                    mail=MailState.SKIPPED if tell.mailed_by_notice else MailState.DUE,
                    mail_skipped=MailSkipped.TOLD_BY_NOTICE if tell.mailed_by_notice else "",
                )
            )
    return Message.objects.bulk_create(rows) if rows else []


def event_recorded(event: AuditEvent) -> None:
    """The audit listener: write the messages of a workflow step, in its transaction."""
    handler = HANDLERS.get(event.action)
    if handler is None:
        return
    messages_write(event, handler(event))
