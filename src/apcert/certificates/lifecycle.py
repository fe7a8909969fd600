"""Certificate statuses and the actions that move between them (DOMAIN.md section 4).

``draft`` is the certificate between the decision and its publication: never public.
``reissue`` makes a new issue (scope or site change, holder renamed) and keeps the status;
``renew`` makes a new issue with a new expiry. ``expire`` is driven by time (a later sweep).
Withdrawn, cancelled and expired are terminal: the holder starts again.

When the scheme turns on the Secretariat's review before publication
(``SchemeRules.publication_review``), a granted certificate stays ``draft`` until the
Secretariat approves its ``PublicationReview``; a review that is returned stays on record,
and the certification body submits a new one once it has answered.
"""

from apcert.core.lifecycle import TransitionTable

DRAFT, CURRENT, SUSPENDED, WITHDRAWN, CANCELLED, EXPIRED = (
    "draft",
    "current",
    "suspended",
    "withdrawn",
    "cancelled",
    "expired",
)
TERMINAL = (WITHDRAWN, CANCELLED, EXPIRED)

CERTIFICATE = TransitionTable(
    entity="certificate",
    states=(DRAFT, CURRENT, SUSPENDED, WITHDRAWN, CANCELLED, EXPIRED),
    actions=("grant", "suspend", "restore", "withdraw", "cancel", "expire", "reissue", "renew"),
    transitions={
        (DRAFT, "grant"): CURRENT,
        (CURRENT, "suspend"): SUSPENDED,
        (CURRENT, "withdraw"): WITHDRAWN,
        (CURRENT, "cancel"): CANCELLED,
        (CURRENT, "expire"): EXPIRED,
        (CURRENT, "reissue"): CURRENT,
        (CURRENT, "renew"): CURRENT,
        (SUSPENDED, "restore"): CURRENT,
        (SUSPENDED, "withdraw"): WITHDRAWN,
        (SUSPENDED, "cancel"): CANCELLED,
        (SUSPENDED, "expire"): EXPIRED,
        # A suspended certificate may have its scope reduced (the scheme's alternative to
        # withdrawal when the suspension runs out); it stays suspended.
        (SUSPENDED, "reissue"): SUSPENDED,
    },
)

PENDING, APPROVED, RETURNED = "pending", "approved", "returned"

PUBLICATION_REVIEW = TransitionTable(
    entity="publication_review",
    states=(PENDING, APPROVED, RETURNED),
    actions=("approve", "return"),
    transitions={
        (PENDING, "approve"): APPROVED,
        (PENDING, "return"): RETURNED,
    },
)
