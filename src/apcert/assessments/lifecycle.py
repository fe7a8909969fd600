"""Assessment, finding and corrective action statuses and the actions that move between them."""

from apcert.assessments.choices import AssessmentStatus, CorrectiveActionStatus, FindingStatus
from apcert.core.lifecycle import TransitionTable

_A = AssessmentStatus

# An action that keeps the status maps a status to itself: the table says in which status
# it is allowed, and screens offer it from the table like any other. Only a planned
# assessment is rescheduled (once started, its dates are what happened); only a report not
# yet closed by a decision is corrected (the service also refuses one that a refusal rests
# on, which leaves the assessment's status as it was).
ASSESSMENT = TransitionTable(
    entity="assessment",
    states=tuple(_A.values),
    actions=("start", "reschedule", "issue_report", "correct_report", "close", "cancel"),
    transitions={
        (_A.PLANNED, "start"): _A.IN_PROGRESS,
        (_A.PLANNED, "reschedule"): _A.PLANNED,
        (_A.PLANNED, "cancel"): _A.CANCELLED,
        (_A.IN_PROGRESS, "issue_report"): _A.REPORT_ISSUED,
        (_A.IN_PROGRESS, "cancel"): _A.CANCELLED,
        (_A.REPORT_ISSUED, "correct_report"): _A.REPORT_ISSUED,
        # Closed by the certification decision that rests on the report.
        (_A.REPORT_ISSUED, "close"): _A.CLOSED,
    },
)

_F = FindingStatus

# A nonconformity is answered by the organization with a corrective action; the assessor
# rejects it (back to open), accepts the plan (a minor may then be granted on), or verifies
# it as effective (closed).
# A plan once accepted is next verified on evidence. Observations need no answer and are
# recorded closed.
FINDING = TransitionTable(
    entity="finding",
    states=tuple(_F.values),
    actions=("answer", "reject", "accept_plan", "verify"),
    transitions={
        (_F.OPEN, "answer"): _F.ANSWERED,
        (_F.ANSWERED, "reject"): _F.OPEN,
        (_F.ANSWERED, "accept_plan"): _F.PLAN_ACCEPTED,
        (_F.ANSWERED, "verify"): _F.CLOSED,
        (_F.PLAN_ACCEPTED, "verify"): _F.CLOSED,
    },
)

_C = CorrectiveActionStatus

# The organization's answer to a nonconformity, reviewed by an assessor of the team with the
# same outcomes as its finding. An answer is reviewed once, except that a plan accepted is
# later verified as effective on evidence (it stays accepted). A rejected answer is final:
# the organization answers again with a new corrective action.
CORRECTIVE_ACTION = TransitionTable(
    entity="corrective_action",
    states=tuple(_C.values),
    actions=("accept_plan", "verify", "reject"),
    transitions={
        (_C.SUBMITTED, "accept_plan"): _C.ACCEPTED,
        (_C.SUBMITTED, "verify"): _C.ACCEPTED,
        (_C.SUBMITTED, "reject"): _C.REJECTED,
        (_C.ACCEPTED, "verify"): _C.ACCEPTED,
    },
)
