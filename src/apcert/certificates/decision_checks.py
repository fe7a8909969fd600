"""The rule check of a decision screen: for each decision an assessment supports, every rule
its service checks, in words, each passed or failed.

The problems are found by the very functions the decision services call (the lifecycle
table's check, the date, subject, team, report and findings rules, the CB's acceptance), so
that the screen and the service never disagree; this module only sorts them under the rules
they break, and keeps every one that fits no rule under "other rules" rather than hide it.
The service still decides: it checks again under its locks and refuses with the first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Prefetch

from apcert.applications.errors import DECISION_CB_NOT_ACCEPTED, DECISION_SCOPE_OUTSIDE_ACCEPTANCE
from apcert.applications.models import ScopeLine
from apcert.applications.selectors import acceptance_problems
from apcert.assessments.choices import AssessmentKind
from apcert.assessments.models import Assessment, CorrectiveAction, Finding
from apcert.bodies.permissions import require_cb_role
from apcert.certificates.errors import (
    CERTIFICATE_ENDED_BY_CALENDAR,
    CERTIFICATE_NOT_CURRENT,
    CERTIFICATE_RENEWAL_TOO_LATE,
    CERTIFICATE_TRANSFER_NOT_CURRENT,
    CERTIFICATE_TRANSFER_SAME_CB,
    CERTIFICATE_TRANSITION_NOT_ALLOWED,
    CERTIFICATE_VALIDITY_ENDED,
    DECISION_ALREADY_GRANTED,
    DECISION_APPLICATION_NOT_ACCEPTED,
    DECISION_ASSESSMENT_ALREADY_USED,
    DECISION_BEFORE_REPORT,
    DECISION_DATE_BEFORE_LAST_CHANGE,
    DECISION_IN_FUTURE,
    DECISION_INITIAL_ASSESSMENT_EXPIRED,
    DECISION_MAKER_ON_TEAM,
    DECISION_MINOR_WITHOUT_PLAN,
    DECISION_OPEN_MAJOR,
    DECISION_REPORT_NOT_ISSUED,
    DECISION_WRONG_ASSESSMENT,
)
from apcert.certificates.models import Certificate, Decision, DecisionDeferral
from apcert.certificates.selectors import (
    certificate_on,
    decision_date_problems,
    decision_maker_problems,
    decision_subject_problems,
    followup_assessment_problems,
    grant_blockers,
    report_problems,
)
from apcert.certificates.services._common import (
    _check_decision_date,
    _last_issue,
    _programme_ids,
    _require_current,
)
from apcert.certificates.services.transfer import transfer_subject_problems
from apcert.certificates.services.transition import certificate_transition_check
from apcert.core.errors import DomainError, PermissionDenied, RuleViolation
from apcert.schemes.models import ProcessCategory

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.bodies.models import CertificationBody

_K = AssessmentKind

#: The decisions each kind of assessment supports, in the order a screen offers them. A
#: special visit supports none by itself: it informs a decision on the certificate's status
#: (suspend, restore, withdraw), taken on the certificate's page.
DECISIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    _K.INITIAL: ("grant", "refuse"),
    _K.SURVEILLANCE: ("maintain",),
    _K.REASSESSMENT: ("renew",),
    _K.SCOPE_EXTENSION: ("extend_scope", "site_add"),
    _K.TRANSFER_REVIEW: ("transfer",),
    _K.SPECIAL: (),
}

DECISION_LABELS = {
    "grant": "Grant certification",
    "refuse": "Refuse certification",
    "maintain": "Maintain certification",
    "renew": "Renew the certificate",
    "extend_scope": "Extend the scope",
    "site_add": "Add a site",
    "transfer": "Transfer the certificate",
}


@dataclass(frozen=True)
class RuleSpec:
    key: str
    label: str
    codes: frozenset[str]


_RULES = {
    spec.key: spec
    for spec in (
        RuleSpec("role", "Taken by a decision maker of the certification body", frozenset()),
        RuleSpec(
            "subject",
            "The decision rests on this assessment, and no decision rests on it yet",
            frozenset(
                {
                    DECISION_WRONG_ASSESSMENT,
                    DECISION_APPLICATION_NOT_ACCEPTED,
                    DECISION_ALREADY_GRANTED,
                    DECISION_ASSESSMENT_ALREADY_USED,
                }
            ),
        ),
        RuleSpec(
            "status",
            "The certificate's status allows the decision",
            frozenset(
                {
                    CERTIFICATE_NOT_CURRENT,
                    CERTIFICATE_TRANSITION_NOT_ALLOWED,
                    CERTIFICATE_TRANSFER_NOT_CURRENT,
                    CERTIFICATE_TRANSFER_SAME_CB,
                }
            ),
        ),
        RuleSpec(
            "independence",
            "Independence: the decision maker was not on the assessment team",
            frozenset({DECISION_MAKER_ON_TEAM}),
        ),
        RuleSpec(
            "report",
            "The report is issued, and the decision is dated neither before it nor after today",
            frozenset({DECISION_REPORT_NOT_ISSUED, DECISION_BEFORE_REPORT, DECISION_IN_FUTURE}),
        ),
        RuleSpec(
            "dates",
            "The decision falls within the certificate's validity, after its last change",
            frozenset(
                {
                    DECISION_DATE_BEFORE_LAST_CHANGE,
                    CERTIFICATE_VALIDITY_ENDED,
                    CERTIFICATE_ENDED_BY_CALENDAR,
                    CERTIFICATE_RENEWAL_TOO_LATE,
                }
            ),
        ),
        RuleSpec("majors", "No major nonconformity is open", frozenset({DECISION_OPEN_MAJOR})),
        RuleSpec(
            "minors",
            "Every minor nonconformity has an accepted corrective action plan",
            frozenset({DECISION_MINOR_WITHOUT_PLAN}),
        ),
        RuleSpec(
            "initial_majors",
            "The majors of the initial assessment were verified within the scheme's months "
            "of its last day",
            frozenset({DECISION_INITIAL_ASSESSMENT_EXPIRED}),
        ),
        RuleSpec(
            "acceptance",
            "The scope is inside the certification body's IECQ acceptance",
            frozenset({DECISION_CB_NOT_ACCEPTED, DECISION_SCOPE_OUTSIDE_ACCEPTANCE}),
        ),
        RuleSpec(
            "standards",
            "Every declared standard is current and accepted for IECQ",
            frozenset({"decision.standard_not_current"}),
        ),
    )
}

_FOLLOWUP = ("role", "status", "dates", "subject", "independence", "report", "majors", "minors")

#: The rules each decision's service checks, in the order the screen lists them.
RULES_BY_DECISION: dict[str, tuple[str, ...]] = {
    "grant": (
        "role",
        "subject",
        "independence",
        "report",
        "majors",
        "minors",
        "initial_majors",
        "acceptance",
        "standards",
    ),
    "refuse": ("role", "subject", "independence", "report"),
    "maintain": _FOLLOWUP,
    "renew": _FOLLOWUP,
    "extend_scope": (*_FOLLOWUP, "acceptance", "standards"),
    "site_add": (*_FOLLOWUP, "acceptance", "standards"),
    "transfer": (*_FOLLOWUP, "acceptance"),
}

#: Rules checked on what the form gives (the scope lines to add), when it is submitted.
ON_SUBMIT: dict[str, frozenset[str]] = {
    "extend_scope": frozenset({"acceptance", "standards"}),
    "site_add": frozenset({"acceptance", "standards"}),
}


@dataclass(frozen=True)
class Rule:
    """One rule of a decision: passed, failed with its problems, or checked on submission
    (on what the form gives)."""

    key: str
    label: str
    problems: tuple[DomainError, ...] = ()
    on_submit: bool = False

    @property
    def passed(self) -> bool:
        return not self.problems and not self.on_submit


@dataclass(frozen=True)
class RuleCheck:
    """Every rule of ``decision`` on an assessment, on the day ``on``."""

    decision: str
    on: dt.date
    rules: tuple[Rule, ...]

    @property
    def label(self) -> str:
        return DECISION_LABELS[self.decision]

    @property
    def blockers(self) -> list[DomainError]:
        return [p for rule in self.rules for p in rule.problems]

    @property
    def codes(self) -> list[str]:
        return [p.code for p in self.blockers]


def _raised(check: Callable[[], object]) -> list[DomainError]:
    """The refusal a service's check function raises, as a list (empty when it passes)."""
    try:
        check()
    except DomainError as exc:
        return [exc]
    return []


def _role(actor: User, cb: CertificationBody) -> list[DomainError]:
    return _raised(lambda: require_cb_role(actor, cb, "decision_maker"))


def _certificate_rules(
    actor: User, a: Assessment, cert: Certificate, *, action: str | None, kind: str, on: dt.date
) -> list[DomainError]:
    """What a decision on a certificate that rests on a visit checks, as its service does:
    the lifecycle's ``action`` (none for maintaining, which keeps the status), a current
    certificate (a renewal asks the lifecycle only), the date, the visit. The status is the
    one the calendar gives it on ``on``, which the service records first."""
    cert = certificate_on(cert, on)
    problems: list[DomainError] = [*_role(actor, cert.cb)]
    if action is not None:
        problems += _raised(lambda: certificate_transition_check(cert, action))
    if action != "renew":
        problems += _raised(lambda: _require_current(cert, "this decision is taken"))
    problems += _raised(lambda: _check_decision_date(cert, on))
    problems += followup_assessment_problems(
        certificate=cert, assessment=a, kind=kind, cb_id=cert.cb_id, decided_by=actor, decided_on=on
    )
    return problems


def _transfer_rules(
    actor: User, a: Assessment, cert: Certificate, on: dt.date
) -> list[DomainError]:
    """What ``certificate_transfer`` checks, every rule rather than the first."""
    cert = certificate_on(cert, on)
    problems: list[DomainError] = [*_role(actor, a.cb)]
    problems += transfer_subject_problems(cert, a)
    problems += _raised(lambda: certificate_transition_check(cert, "withdraw"))
    problems += _raised(lambda: _check_decision_date(cert, on))
    problems += followup_assessment_problems(
        certificate=cert,
        assessment=a,
        kind=_K.TRANSFER_REVIEW,
        cb_id=a.cb_id,
        decided_by=actor,
        decided_on=on,
    )
    last = _last_issue(cert)
    codes = sorted({line["category"] for line in last.scope_lines})
    categories = {c.code: c for c in ProcessCategory.objects.filter(code__in=codes)}
    problems += acceptance_problems(
        cb_id=a.cb_id,
        programme_ids=_programme_ids(last),
        scope_lines=[ScopeLine(category=categories[c]) for c in codes if c in categories],
        on=on,
        code_prefix="decision",
    )
    return problems


def _refusal_rules(actor: User, a: Assessment, on: dt.date) -> list[DomainError]:
    """What ``certificate_refuse`` checks, every rule rather than the first."""
    app = a.application
    assert app is not None
    problems: list[DomainError] = [*_role(actor, app.cb)]
    problems += decision_subject_problems(application=app, assessment=a)
    problems += decision_maker_problems(assessment=a, decided_by=actor)
    problems += decision_date_problems(decided_on=on)
    problems += report_problems(assessment=a, decided_on=on)
    return problems


def _problems(actor: User, a: Assessment, decision: str, on: dt.date) -> list[DomainError]:
    if decision in ("grant", "refuse"):
        if a.application is None:
            return [
                RuleViolation(
                    "A grant or refusal rests on the initial assessment of an application.",
                    code=DECISION_WRONG_ASSESSMENT,
                )
            ]
        if decision == "grant":
            return grant_blockers(actor=actor, application=a.application, assessment=a, on=on)
        return _refusal_rules(actor, a, on)
    cert = a.certificate
    if cert is None:
        return [
            RuleViolation(
                "This decision rests on an assessment of a certificate.",
                code=DECISION_WRONG_ASSESSMENT,
            )
        ]
    if decision == "transfer":
        return _transfer_rules(actor, a, cert, on)
    action, kind = {
        "maintain": (None, _K.SURVEILLANCE),
        "renew": ("renew", _K.REASSESSMENT),
        "extend_scope": ("reissue", _K.SCOPE_EXTENSION),
        "site_add": ("reissue", _K.SCOPE_EXTENSION),
    }[decision]
    return _certificate_rules(actor, a, cert, action=action, kind=kind, on=on)


def decision_check(*, actor: User, assessment: Assessment, decision: str, on: dt.date) -> RuleCheck:
    """Every rule of ``decision`` on ``assessment`` by ``actor`` on ``on``, each with the
    problems that break it (the problems no rule names go under "other rules")."""
    found = _problems(actor, assessment, decision, on)
    keys = RULES_BY_DECISION[decision]
    placed: dict[str, list[DomainError]] = {key: [] for key in keys}
    others: list[DomainError] = []
    for problem in found:
        if isinstance(problem, PermissionDenied) and "role" in placed:
            placed["role"].append(problem)
            continue
        key = next((k for k in keys if problem.code in _RULES[k].codes), None)
        (placed[key] if key is not None else others).append(problem)
    rules = [
        Rule(
            key,
            _RULES[key].label,
            tuple(placed[key]),
            on_submit=key in ON_SUBMIT.get(decision, ()) and not placed[key],
        )
        for key in keys
    ]
    if others:
        rules.append(Rule("other", "Other rules of the decision", tuple(others)))
    return RuleCheck(decision, on, tuple(rules))


def decision_checks(
    *, actor: User, assessment: Assessment, on: dt.date, decisions: Sequence[str] | None = None
) -> list[RuleCheck]:
    """The rule check of each decision the assessment's kind supports."""
    wanted = DECISIONS_BY_KIND.get(assessment.kind, ()) if decisions is None else decisions
    return [decision_check(actor=actor, assessment=assessment, decision=d, on=on) for d in wanted]


# --- the file a decision is taken on ------------------------------------------------------


def decisions_resting_on(assessment: Assessment) -> list[Decision]:
    """The decisions taken on ``assessment`` (a grant or refusal, a maintain, renewal, scope
    extension or transfer), with who took them and the certificate they concern."""
    return list(
        Decision.objects.filter(assessment=assessment)
        .select_related("decided_by", "certificate")
        .order_by("decided_on", "pk")
    )


def deferrals_of(assessment: Assessment) -> list[DecisionDeferral]:
    """The deferrals of the decision on ``assessment``, the latest first, with who deferred."""
    return list(
        DecisionDeferral.objects.filter(assessment=assessment)
        .select_related("deferred_by")
        .order_by("-deferred_on", "-pk")
    )


def findings_on_file(assessment: Assessment) -> list[Finding]:
    """The findings of ``assessment`` in the order they were raised, each with its
    requirement's standard and its corrective actions (oldest first) with who submitted and
    who reviewed them: the decision maker reads every answer and its review."""
    return list(
        Finding.objects.filter(assessment=assessment)
        .select_related("standard")
        .prefetch_related(
            Prefetch(
                "corrective_actions",
                queryset=CorrectiveAction.objects.select_related(
                    "submitted_by", "reviewed_by"
                ).order_by("id"),
            )
        )
        .order_by("id")
    )
