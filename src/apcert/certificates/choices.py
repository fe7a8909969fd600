from django.db import models


class CertificateStatus(models.TextChoices):
    DRAFT = "draft", "draft (not public)"
    CURRENT = "current", "current"
    SUSPENDED = "suspended", "suspended"
    WITHDRAWN = "withdrawn", "withdrawn"
    CANCELLED = "cancelled", "cancelled"
    EXPIRED = "expired", "expired"


#: Every status but draft: a draft is never public.
PUBLIC_STATUSES: tuple[str, ...] = (
    CertificateStatus.CURRENT,
    CertificateStatus.SUSPENDED,
    CertificateStatus.WITHDRAWN,
    CertificateStatus.CANCELLED,
    CertificateStatus.EXPIRED,
)


class PublicationReviewStatus(models.TextChoices):
    """Where a new certificate stands in the Secretariat's review before publication."""

    PENDING = "pending", "awaiting the Secretariat's review"
    APPROVED = "approved", "approved and published"
    RETURNED = "returned", "returned to the certification body"


class DecisionKind(models.TextChoices):
    GRANT = "grant", "grant"
    REFUSE = "refuse", "refuse"
    MAINTAIN = "maintain", "maintain"
    RENEW = "renew", "renew"
    EXTEND_SCOPE = "extend_scope", "extend scope"
    REDUCE_SCOPE = "reduce_scope", "reduce scope"
    SUSPEND = "suspend", "suspend"
    RESTORE = "restore", "restore"
    WITHDRAW = "withdraw", "withdraw"
    CANCEL = "cancel", "cancel at the holder's request"
    REISSUE = "reissue", "re-issue"


class StatusReason(models.TextChoices):
    """Public reason categories of a status change."""

    GRANTED = "granted", "certification granted"
    MISSED_SURVEILLANCE = "missed_surveillance", "surveillance not carried out in time"
    CORRECTIVE_ACTION_LATE = "corrective_action_late", "corrective action late"
    MISUSE = "misuse", "misuse of the certificate or mark"
    HOLDER_REQUEST = "holder_request", "at the holder's request"
    COMPLAINT = "complaint", "complaint"
    UNPAID_FEES = "unpaid_fees", "unpaid fees"
    NONCONFORMITY = "nonconformity", "unresolved nonconformity"
    SUSPENSION_EXCEEDED = "suspension_exceeded", "suspended longer than allowed"
    TRANSFERRED = "transferred", "transferred to another certification body"
    RESOLVED = "resolved", "cause of suspension resolved"
    VALIDITY_ENDED = "validity_ended", "validity ended"
    OTHER = "other", "other"


class IssueReason(models.TextChoices):
    """Why a certificate issue was made (public)."""

    INITIAL = "initial", "initial certification"
    RENEWAL = "renewal", "renewal"
    SCOPE_EXTENSION = "scope_extension", "scope extended"
    SCOPE_REDUCTION = "scope_reduction", "scope reduced"
    SITE_CHANGE = "site_change", "sites changed"
    HOLDER_RENAMED = "holder_renamed", "holder renamed"
    STANDARD_UPDATED = "standard_updated", "standard edition updated"
    #: No service makes a correction issue any more (an issue announces only what changed,
    #: read from the snapshots); the value stays for issues made before.
    CORRECTION = "correction", "correction of an error"
    TRANSFER = "transfer", "transferred from another certification body"
