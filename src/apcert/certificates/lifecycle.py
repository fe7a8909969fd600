"""Certificate statuses and the actions that move between them (the scheme's certificate
lifecycle).

``draft`` is the certificate between the decision and its publication: never public.
``reissue`` makes a new issue (scope or site change, holder renamed) and keeps the status;
``renew`` makes a new issue with a new expiry. ``expire`` is driven by time (a later sweep).
Withdrawn, cancelled and expired are terminal: the holder starts again.

When the scheme turns on the Secretariat's review before publication
(``SchemeRules.publication_review``), a granted certificate stays ``draft`` until the
Secretariat approves its ``PublicationReview``; a review that is returned stays on record,
and the certification body submits a new one once it has answered.

Every change of a certificate's status is applied by
``certificates.services.transition.certificate_transition``.
"""

from apcert.certificates.choices import CertificateStatus, PublicationReviewStatus
from apcert.core.lifecycle import TransitionTable

_S = CertificateStatus

TERMINAL = (_S.WITHDRAWN, _S.CANCELLED, _S.EXPIRED)

CERTIFICATE = TransitionTable(
    entity="certificate",
    states=tuple(_S.values),
    actions=("grant", "suspend", "restore", "withdraw", "cancel", "expire", "reissue", "renew"),
    transitions={
        (_S.DRAFT, "grant"): _S.CURRENT,
        (_S.CURRENT, "suspend"): _S.SUSPENDED,
        (_S.CURRENT, "withdraw"): _S.WITHDRAWN,
        (_S.CURRENT, "cancel"): _S.CANCELLED,
        (_S.CURRENT, "expire"): _S.EXPIRED,
        (_S.CURRENT, "reissue"): _S.CURRENT,
        (_S.CURRENT, "renew"): _S.CURRENT,
        (_S.SUSPENDED, "restore"): _S.CURRENT,
        (_S.SUSPENDED, "withdraw"): _S.WITHDRAWN,
        (_S.SUSPENDED, "cancel"): _S.CANCELLED,
        (_S.SUSPENDED, "expire"): _S.EXPIRED,
        # A suspended certificate may have its scope reduced (the scheme's alternative to
        # withdrawal when the suspension runs out); it stays suspended.
        (_S.SUSPENDED, "reissue"): _S.SUSPENDED,
    },
)

_R = PublicationReviewStatus

# Applied by ``certificates.services.publication.publication_review_transition``.
PUBLICATION_REVIEW = TransitionTable(
    entity="publication_review",
    states=tuple(_R.values),
    actions=("approve", "return"),
    transitions={
        (_R.PENDING, "approve"): _R.APPROVED,
        (_R.PENDING, "return"): _R.RETURNED,
    },
)
