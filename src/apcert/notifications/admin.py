from django.contrib import admin

from apcert.core.admin import ReadOnlyAdmin
from apcert.notifications.models import (
    Message,
    NotificationPreference,
    NotificationSent,
    NotificationsStart,
    WorkerHeartbeat,
)


@admin.register(NotificationSent)
class NotificationSentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "recipient", "subject", "status", "attempts")
    list_filter = ("kind", "status")
    search_fields = ("recipient", "subject", "subject_key")
    date_hierarchy = "created_at"


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "user", "subject", "read_at", "mail", "mail_skipped")
    list_filter = ("kind", "group", "mail")
    search_fields = ("subject", "user__username")
    list_select_related = ("user",)
    date_hierarchy = "created_at"


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    list_display = ("user", "group", "mail", "updated_at")
    list_filter = ("group", "mail")
    search_fields = ("user__username",)
    list_select_related = ("user",)


@admin.register(NotificationsStart)
class NotificationsStartAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "started_on", "finding_floor")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("worker_id", "hostname", "pid", "started_at", "beat_at")
    search_fields = ("hostname", "worker_id")
