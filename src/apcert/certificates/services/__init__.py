"""Certification decisions and the certificate lifecycle.

Each public service takes a decision (or, for expiry, a date), writes the decision and,
where the content changes, a new immutable issue, and applies one transition of
``lifecycle.CERTIFICATE`` through ``certificate_transition`` (the status, its history, the
derived data and exactly one audit event), all in one transaction.
"""

from apcert.certificates.services.deferral import assessment_decision_defer
from apcert.certificates.services.grant import certificate_grant, certificate_refuse
from apcert.certificates.services.issues import (
    NewScopeLine,
    certificate_extend_scope,
    certificate_holder_renamed,
    certificate_maintain,
    certificate_reduce_scope,
    certificate_renew,
    certificate_site_add,
    certificate_site_moved,
    certificate_site_remove,
    certificate_site_renamed,
    certificate_standard_update,
)
from apcert.certificates.services.preview import (
    DECISION_ACTIONS,
    ChangePreview,
    certificate_action_blockers,
    certificate_change_confirm,
    certificate_change_preview,
)
from apcert.certificates.services.publication import (
    certificate_publication_approve,
    certificate_publication_resubmit,
    certificate_publication_return,
    publication_review_transition,
)
from apcert.certificates.services.recorded import (
    RecordedFinding,
    RecordedMember,
    RecordedOutcome,
    assessment_outcome_record,
)
from apcert.certificates.services.status import (
    STATUS_DECISIONS,
    SUSPEND_REASONS,
    WITHDRAW_REASONS,
    certificate_cancel,
    certificate_expire,
    certificate_restore,
    certificate_suspend,
    certificate_withdraw,
)
from apcert.certificates.services.transfer import certificate_transfer
from apcert.certificates.services.transition import (
    certificate_lock,
    certificate_state,
    certificate_transition,
    certificate_transition_check,
)

__all__ = [
    "DECISION_ACTIONS",
    "STATUS_DECISIONS",
    "SUSPEND_REASONS",
    "WITHDRAW_REASONS",
    "ChangePreview",
    "NewScopeLine",
    "RecordedFinding",
    "RecordedMember",
    "RecordedOutcome",
    "assessment_decision_defer",
    "assessment_outcome_record",
    "certificate_action_blockers",
    "certificate_cancel",
    "certificate_change_confirm",
    "certificate_change_preview",
    "certificate_expire",
    "certificate_extend_scope",
    "certificate_grant",
    "certificate_holder_renamed",
    "certificate_lock",
    "certificate_maintain",
    "certificate_publication_approve",
    "certificate_publication_resubmit",
    "certificate_publication_return",
    "certificate_reduce_scope",
    "certificate_refuse",
    "certificate_renew",
    "certificate_restore",
    "certificate_site_add",
    "certificate_site_moved",
    "certificate_site_remove",
    "certificate_site_renamed",
    "certificate_standard_update",
    "certificate_state",
    "certificate_suspend",
    "certificate_transfer",
    "certificate_transition",
    "certificate_transition_check",
    "certificate_withdraw",
    "publication_review_transition",
]
