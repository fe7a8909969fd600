"""Delivery states of one notification e-mail to one recipient.

A row is claimed as ``pending`` (committed before anything is sent), then marked ``sent``
or ``failed``; a later dispatch moves a ``failed`` row back to ``pending`` to retry it.
A row left ``pending`` by a crashed dispatcher is not retried automatically: the mail may
already have left, and the scheme's rule is "never twice" (see ``services``).
"""

from apcert.core.lifecycle import TransitionTable

PENDING, SENT, FAILED = "pending", "sent", "failed"

DELIVERY = TransitionTable(
    entity="notification",
    states=(PENDING, SENT, FAILED),
    actions=("deliver", "fail", "retry"),
    transitions={
        (PENDING, "deliver"): SENT,
        (PENDING, "fail"): FAILED,
        (FAILED, "retry"): PENDING,
    },
)
