"""Webhook subscriptions, their outbox and log, browsed only: they change through the
services (the back office, the public link, the worker). The signing secret is not shown."""

from __future__ import annotations

from django.contrib import admin

from apcert.core.admin import ReadOnlyAdmin
from apcert.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("name", "owner_kind", "cb", "organization", "url", "status", "created_at")
    list_filter = ("owner_kind", "status")
    list_select_related = ("cb", "organization")
    search_fields = ("name", "url", "cb__code", "organization__legal_name")
    exclude = ("secret", "confirm_hash")


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ("message_id", "event_type", "subject", "state", "attempts", "next_attempt_at")
    list_filter = ("state", "event_type")
    search_fields = ("message_id", "subject")
    raw_id_fields = ("subscription",)
    exclude = ("claim",)


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    list_display = ("delivery", "started_at", "status_code", "error", "duration_ms", "replay")
    list_filter = ("replay",)
    raw_id_fields = ("delivery",)
