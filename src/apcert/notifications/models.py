"""The record of every notification e-mail (what was sent, to whom, about what), the in-app
messages, each person's e-mail preferences and the day notifications started."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apcert.notifications.choices import (
    DeliveryStatus,
    MailSkipped,
    MailState,
    MessageGroup,
    MessageKind,
    MessageTarget,
    NotificationKind,
)


class NotificationSent(models.Model):
    """One e-mail about one event to one recipient: the outbox and its history.

    The row is written and committed before the mail is sent, and the database allows one
    row per (kind, subject_key, recipient), so the same event never reaches a person twice.
    ``subject_key`` names the event, for example ``status_change:123``,
    ``expiry:cert 45:until 2029-03-24:horizon 90`` or, for the e-mail of an in-app message,
    ``message:event 812`` (the audit event it tells). Private.
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


class Message(models.Model):
    """One in-app message to one person: a workflow step they act on next.

    Written by the notifications' audit listener in the transaction of the change it tells
    about, one per person and event (``audit_seq`` is the event's place in the audit trail).
    It names what it is about by ``target_type`` and ``target_id``; the screens make the link.
    In-app messages are kept whatever the person's e-mail preferences; ``mail`` says whether
    the dispatch has mailed it (once, through :class:`NotificationSent`) or why not. Private:
    only its addressee sees it.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages"
    )
    kind = models.CharField(max_length=40, choices=MessageKind.choices)
    group = models.CharField(max_length=20, choices=MessageGroup.choices)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    target_type = models.CharField(max_length=20, choices=MessageTarget.choices)
    target_id = models.PositiveBigIntegerField()
    audit_seq = models.PositiveBigIntegerField(help_text="The audit event the message tells.")
    event_on = models.DateField(help_text="The day the event holds from (a decision's date).")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    mail = models.CharField(max_length=10, choices=MailState.choices, default=MailState.DUE)
    mail_skipped = models.CharField(max_length=20, choices=MailSkipped.choices, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["audit_seq", "user"], name="message_once"),
            models.CheckConstraint(
                condition=models.Q(kind__in=MessageKind.values), name="message_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(group__in=MessageGroup.values), name="message_group_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(target_type__in=MessageTarget.values),
                name="message_target_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(mail__in=MailState.values), name="message_mail_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="message_user_newest"),
            models.Index(
                fields=["id"], condition=models.Q(mail=MailState.DUE), name="message_mail_due"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.user_id}: {self.subject}"

    @property
    def target(self) -> str:
        """``<object type>:<id>``, e.g. ``assessment:12``."""
        return f"{self.target_type}:{self.target_id}"

    @property
    def unread(self) -> bool:
        return self.read_at is None


class NotificationPreference(models.Model):
    """Whether a person gets the e-mails of one group. No row means yes: every group is on
    until the person turns it off. The in-app messages are kept either way. Private."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    group = models.CharField(max_length=20, choices=MessageGroup.choices)
    mail = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["user", "group"]
        constraints = [
            models.UniqueConstraint(fields=["user", "group"], name="notification_preference_once"),
            models.CheckConstraint(
                condition=models.Q(group__in=MessageGroup.values),
                name="notification_preference_group_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.group}: {'on' if self.mail else 'off'}"


class NotificationsStart(models.Model):
    """When notifications were first enabled: one row. Nothing recorded before it is mailed.

    Written by the migration that brought the in-app messages, or by the first dispatch when
    the row is missing: the first e-mail of the outbox if a dispatcher ran before (what it has
    not told yet is still told), else that moment (a database that already held years of
    history mails none of it). Status changes recorded before ``started_at``, messages
    written before it and nonconformities recorded before it (id up to ``finding_floor``)
    that were already late on ``started_on`` are history, not news.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    started_at = models.DateTimeField()
    started_on = models.DateField()
    finding_floor = models.PositiveBigIntegerField(
        default=0, help_text="The highest finding id when notifications started."
    )

    class Meta:
        verbose_name = "notifications start"
        verbose_name_plural = "notifications start"
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="notifications_start_single_row")
        ]

    def __str__(self) -> str:
        return f"notifications enabled on {self.started_at:%Y-%m-%d %H:%M}"


class WorkerHeartbeat(models.Model):
    """One background worker (``apcert worker``) and when it last said it was alive.

    The worker writes its row every few seconds, so that ``/healthz`` and ``/metrics`` on any
    server, which share only the database with it, can tell a worker that stopped. A record
    of running the app, not of the scheme: the row of a worker silent for a day is deleted
    by the next beat of any worker.
    """

    worker_id = models.CharField(max_length=64, unique=True)
    hostname = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "worker heartbeat"

    def __str__(self) -> str:
        return f"worker {self.hostname}:{self.pid}, last beat {self.beat_at:%Y-%m-%d %H:%M:%S}"
