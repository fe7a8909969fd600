"""Webhook subscriptions, the outbox of what is to be sent to them, and the log of each try."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from apcert.webhooks.choices import DeliveryState, SubscriptionOwner, SubscriptionStatus


class WebhookSubscription(models.Model):
    """A receiver's address that is told, by a signed HTTP POST, when an event it chose
    happens to a certificate (and, for a certification body, to its applications and
    assessments).

    It belongs to a certification body or an organization (made by one of its
    administrators), or to nobody with an account (a buyer, confirmed by a mailed link, who
    receives only the public certificate events). Its filters narrow the events to a CB, a
    holder, a country or a process category; an empty filter lets every value through. The
    signing secret is kept as issued, because every delivery is signed with it (Standard
    Webhooks' symmetric signature): it is shown once, when the subscription is made.
    """

    owner_kind = models.CharField(max_length=20, choices=SubscriptionOwner.choices)
    cb = models.ForeignKey(
        "bodies.CertificationBody",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_subscriptions",
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_subscriptions",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="webhook_subscriptions",
    )
    #: Where a pause is told: the creator's address, or the buyer's own.
    owner_email = models.EmailField()
    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, editable=False)
    event_types = models.JSONField(default=list)
    filter_cb = models.ForeignKey(
        "bodies.CertificationBody",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    filter_organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    filter_country = models.CharField(max_length=2, blank=True)
    filter_category = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=SubscriptionStatus.choices)
    status_reason = models.TextField(blank=True)
    #: Failed attempts since the last delivered one.
    failures = models.PositiveIntegerField(default=0)
    #: The digest of the confirmation link mailed to a buyer (its token is not kept).
    confirm_hash = models.CharField(max_length=64, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(owner_kind=SubscriptionOwner.CB, cb__isnull=False)
                    & models.Q(organization__isnull=True)
                )
                | (
                    models.Q(owner_kind=SubscriptionOwner.ORGANIZATION, cb__isnull=True)
                    & models.Q(organization__isnull=False)
                )
                | models.Q(
                    owner_kind=SubscriptionOwner.PUBLIC, cb__isnull=True, organization__isnull=True
                ),
                name="webhook_subscription_owner",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=SubscriptionStatus.values),
                name="webhook_subscription_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        return f"{self.name} -> {self.url}"

    @property
    def owner_label(self) -> str:
        if self.cb_id is not None and self.cb is not None:
            return f"{self.cb.name} ({self.cb.code})"
        if self.organization is not None:
            return self.organization.legal_name
        return self.owner_email


class WebhookDelivery(models.Model):
    """One event to be sent to one subscription: the outbox row, written in the transaction
    of the change, and its state until the receiver has answered 2xx.

    ``body`` is the JSON sent, fixed when the event happens, so that every try (and a replay)
    sends the same bytes under the same ``message_id`` (the ``webhook-id`` header by which a
    receiver drops a repeat). ``subject`` names what the event is about (a certificate, an
    application, an assessment): a subscription's events about one subject are sent in the
    order they happened, each after the one before it has been delivered. A row is due at
    ``next_attempt_at``; a worker claims it until ``claimed_until``, and a row whose claim has
    run out (the worker died) is due again.
    """

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    message_id = models.CharField(max_length=60, unique=True, editable=False)
    event_type = models.CharField(max_length=40)
    audit_seq = models.PositiveBigIntegerField()
    subject = models.CharField(max_length=60)
    body = models.TextField(editable=False)
    state = models.CharField(
        max_length=20, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    #: Tries since the row was last (re)scheduled: the retry delays are counted from it.
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim = models.CharField(max_length=32, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=DeliveryState.values),
                name="webhook_delivery_state_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(state=DeliveryState.PENDING),
            ),
            models.Index(fields=["subscription", "subject", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.event_type} ({self.state})"


class WebhookAttempt(models.Model):
    """One POST of a delivery and what came back: the delivery log."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="tries")
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    #: The start of the receiver's answer, as text.
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=300, blank=True)
    #: Sent again on a person's request, after it had been delivered.
    replay = models.BooleanField(default=False)

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} at {self.started_at}: {self.status_code or self.error}"

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300
