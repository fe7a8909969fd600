from django.contrib import admin

from apcert.audit.models import AuditEvent
from apcert.core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("seq", "occurred_at", "actor_label", "action", "object_type", "object_id")
    list_filter = ("action", "object_type")
    search_fields = ("object_id", "actor_label", "reason", "hash")
    date_hierarchy = "occurred_at"
