"""Delivery states of one notification e-mail to one recipient, and of an in-app message's
way to its e-mail.

A row of the outbox is claimed as ``pending`` (committed before anything is sent), then marked
``sent`` or ``failed``; a later dispatch moves a ``failed`` row back to ``pending`` to retry
it. A row left ``pending`` by a crashed dispatcher is not retried automatically: the mail may
already have left, and the scheme's rule is "never twice" (see ``services``).

An in-app message is written ``due``; the dispatch either hands it to the outbox (``outbox``,
once: the row of the outbox then carries its delivery) or decides it is not mailed
(``skipped``: the person turned the group off, has no address, the event is old news or
older than the notifications themselves, or a notice of the dispatcher tells it already).
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

DUE, OUTBOX, SKIPPED = "due", "outbox", "skipped"

MESSAGE_MAIL = TransitionTable(
    entity="message_mail",
    states=(DUE, OUTBOX, SKIPPED),
    actions=("claim", "skip"),
    transitions={
        (DUE, "claim"): OUTBOX,
        (DUE, "skip"): SKIPPED,
    },
)
