"""Assessment and finding statuses and the actions that move between them."""

from apcert.core.lifecycle import TransitionTable

ASSESSMENT = TransitionTable(
    entity="assessment",
    states=("planned", "in_progress", "report_issued", "closed", "cancelled"),
    actions=("start", "issue_report", "close", "cancel"),
    transitions={
        ("planned", "start"): "in_progress",
        ("planned", "cancel"): "cancelled",
        ("in_progress", "issue_report"): "report_issued",
        ("in_progress", "cancel"): "cancelled",
        ("report_issued", "close"): "closed",
    },
)

# A nonconformity is answered by the organization with a corrective action; the assessor
# rejects it (back to open), accepts the plan (a minor may then be granted on), or verifies
# it as effective (closed).
# A plan once accepted is next verified on evidence. Observations need no answer and are
# recorded closed.
FINDING = TransitionTable(
    entity="finding",
    states=("open", "answered", "plan_accepted", "closed"),
    actions=("answer", "reject", "accept_plan", "verify"),
    transitions={
        ("open", "answer"): "answered",
        ("answered", "reject"): "open",
        ("answered", "accept_plan"): "plan_accepted",
        ("answered", "verify"): "closed",
        ("plan_accepted", "verify"): "closed",
    },
)
