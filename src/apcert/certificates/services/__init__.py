"""Certification decisions and the certificate lifecycle.

Each public service takes a decision (or, for expiry, a date), applies one transition of
``lifecycle.CERTIFICATE``, writes the status history and, where the content changes, a new
immutable issue, and records exactly one audit event, all in one transaction.
"""

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
from apcert.certificates.services.publication import (
    certificate_publication_approve,
    certificate_publication_resubmit,
    certificate_publication_return,
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

__all__ = [
    "STATUS_DECISIONS",
    "SUSPEND_REASONS",
    "WITHDRAW_REASONS",
    "NewScopeLine",
    "certificate_cancel",
    "certificate_expire",
    "certificate_extend_scope",
    "certificate_grant",
    "certificate_holder_renamed",
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
    "certificate_suspend",
    "certificate_transfer",
    "certificate_withdraw",
]
