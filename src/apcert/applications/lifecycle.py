"""Application statuses and the actions that move between them."""

from apcert.core.lifecycle import TransitionTable

S_DRAFT, S_SUBMITTED, S_ACCEPTED, S_REJECTED, S_WITHDRAWN = (
    "draft",
    "submitted",
    "accepted",
    "rejected",
    "withdrawn",
)

APPLICATION = TransitionTable(
    entity="application",
    states=(S_DRAFT, S_SUBMITTED, S_ACCEPTED, S_REJECTED, S_WITHDRAWN),
    actions=("submit", "accept", "reject", "withdraw"),
    transitions={
        (S_DRAFT, "submit"): S_SUBMITTED,
        (S_DRAFT, "withdraw"): S_WITHDRAWN,
        (S_SUBMITTED, "accept"): S_ACCEPTED,
        (S_SUBMITTED, "reject"): S_REJECTED,
        (S_SUBMITTED, "withdraw"): S_WITHDRAWN,
        # An accepted application may still be withdrawn by the organization until a decision.
        (S_ACCEPTED, "withdraw"): S_WITHDRAWN,
    },
)
