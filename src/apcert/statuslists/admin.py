"""Status lists, browsed only: their bits change with the certificates' statuses."""

from __future__ import annotations

from django.contrib import admin

from apcert.core.admin import ReadOnlyAdmin
from apcert.statuslists.models import StatusList, StatusListEntry


@admin.register(StatusList)
class StatusListAdmin(ReadOnlyAdmin):
    list_display = ("cb", "purpose", "version", "updated_at")
    list_filter = ("purpose",)
    list_select_related = ("cb",)
    search_fields = ("cb__code",)
    exclude = ("bits",)


@admin.register(StatusListEntry)
class StatusListEntryAdmin(ReadOnlyAdmin):
    list_display = ("certificate", "cb", "index")
    list_select_related = ("certificate", "cb")
    search_fields = ("certificate__number", "cb__code")
    raw_id_fields = ("certificate",)
