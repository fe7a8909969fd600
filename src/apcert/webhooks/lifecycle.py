"""A webhook subscription's statuses and the actions that move between them.

A subscription made without an account waits for its owner to confirm it from a mailed
link; an account holder's is active at once. Repeated failed deliveries pause it (the worker
does), and its owner resumes it from the back office; while paused, what is to be sent waits.
"""

from apcert.core.lifecycle import TransitionTable
from apcert.webhooks.choices import SubscriptionStatus

_S = SubscriptionStatus

SUBSCRIPTION = TransitionTable(
    entity="webhook_subscription",
    states=tuple(_S.values),
    actions=("confirm", "pause", "resume"),
    transitions={
        (_S.PENDING, "confirm"): _S.ACTIVE,
        (_S.ACTIVE, "pause"): _S.PAUSED,
        (_S.PAUSED, "resume"): _S.ACTIVE,
    },
)
