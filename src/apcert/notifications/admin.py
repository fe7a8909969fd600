from django.contrib import admin

from apcert.core.admin import ReadOnlyAdmin
from apcert.notifications.models import NotificationSent


@admin.register(NotificationSent)
class NotificationSentAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "recipient", "subject", "status", "attempts")
    list_filter = ("kind", "status")
    search_fields = ("recipient", "subject", "subject_key")
    date_hierarchy = "created_at"
