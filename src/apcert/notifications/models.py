"""The record of every notification e-mail: what was sent, to whom, about what."""

from __future__ import annotations

from django.db import models

from apcert.notifications.choices import DeliveryStatus, NotificationKind


class NotificationSent(models.Model):
    """One e-mail about one event to one recipient: the outbox and its history.

    The row is written and committed before the mail is sent, and the database allows one
    row per (kind, subject_key, recipient), so the same event never reaches a person twice.
    ``subject_key`` names the event, for example ``status_change:123``
    or ``expiry:cert 45:until 2029-03-24:horizon 90``. Private.
    """

    kind = models.CharField(max_length=20, choices=NotificationKind.choices)
    subject_key = models.CharField(max_length=200)
    recipient = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "notification sent"
        verbose_name_plural = "notifications sent"
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject_key", "recipient"], name="notification_once"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=NotificationKind.values),
                name="notification_kind_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="notification_status_valid",
            ),
        ]
        # The unique constraint's index also serves lookups by (kind, subject_key).
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_key} to {self.recipient} ({self.status})"

    @property
    def failed(self) -> bool:
        return self.status == DeliveryStatus.FAILED
