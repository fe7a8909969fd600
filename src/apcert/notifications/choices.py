from django.db import models


class NotificationKind(models.TextChoices):
    STATUS_CHANGE = "status_change", "certificate status changed"
    EXPIRY = "expiry", "certificate expiry approaching"
    FINDING_LATE = "finding_late", "nonconformity past its due date"
    SURVEILLANCE = "surveillance", "surveillance or re-assessment due"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "claimed, being sent"
    SENT = "sent", "sent"
    FAILED = "failed", "sending failed, to be retried"
