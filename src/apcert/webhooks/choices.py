"""The values of the webhooks' fields, each spelled once."""

from django.db import models


class SubscriptionOwner(models.TextChoices):
    """Who a subscription is for, which decides the events it may receive."""

    CB = "cb", "certification body"
    ORGANIZATION = "organization", "organization"
    PUBLIC = "public", "public (no account)"


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", "awaiting confirmation"
    ACTIVE = "active", "active"
    PAUSED = "paused", "paused"


class DeliveryState(models.TextChoices):
    PENDING = "pending", "to be sent"
    DELIVERED = "delivered", "delivered"


class EventType(models.TextChoices):
    """The events a subscription may choose. Certificate events are public (what they carry
    is in the public register); application and assessment events are the CB's own."""

    CERTIFICATE_GRANTED = "certificate.granted", "certificate granted"
    CERTIFICATE_REISSUED = "certificate.reissued", "certificate re-issued"
    CERTIFICATE_SUSPENDED = "certificate.suspended", "certificate suspended"
    CERTIFICATE_RESTORED = "certificate.restored", "certificate restored"
    CERTIFICATE_WITHDRAWN = "certificate.withdrawn", "certificate withdrawn"
    CERTIFICATE_CANCELLED = "certificate.cancelled", "certificate cancelled"
    CERTIFICATE_EXPIRED = "certificate.expired", "certificate expired"
    CERTIFICATE_TRANSFERRED = "certificate.transferred", "certificate transferred"
    APPLICATION_SUBMITTED = "application.submitted", "application submitted"
    APPLICATION_ACCEPTED = "application.accepted", "application accepted"
    APPLICATION_REJECTED = "application.rejected", "application rejected"
    APPLICATION_WITHDRAWN = "application.withdrawn", "application withdrawn"
    ASSESSMENT_PLANNED = "assessment.planned", "assessment planned"
    ASSESSMENT_RESCHEDULED = "assessment.rescheduled", "assessment rescheduled"
    ASSESSMENT_STARTED = "assessment.started", "assessment started"
    ASSESSMENT_REPORT_ISSUED = "assessment.report_issued", "assessment report issued"
    ASSESSMENT_REPORT_CORRECTED = "assessment.report_corrected", "assessment report corrected"
    ASSESSMENT_CLOSED = "assessment.closed", "assessment closed"
    ASSESSMENT_CANCELLED = "assessment.cancelled", "assessment cancelled"


#: The events anyone may receive: what they carry is public in the register.
PUBLIC_EVENTS = tuple(e for e in EventType.values if e.startswith("certificate."))
#: The events of a certification body's own work, for that certification body only.
CB_EVENTS = tuple(EventType.values)
