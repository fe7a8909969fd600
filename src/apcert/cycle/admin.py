from django.contrib import admin

from apcert.core.admin import ReadOnlyAdmin
from apcert.cycle.models import FindingLateFlag, ScheduledVisit, SweepRun


@admin.register(FindingLateFlag)
class FindingLateFlagAdmin(ReadOnlyAdmin):
    list_display = ("finding", "due_date", "flagged_on", "rule")
    list_select_related = ("finding",)
    date_hierarchy = "flagged_on"


@admin.register(SweepRun)
class SweepRunAdmin(ReadOnlyAdmin):
    list_display = ("as_of", "enqueued_at", "finished_at")
    date_hierarchy = "as_of"


@admin.register(ScheduledVisit)
class ScheduledVisitAdmin(ReadOnlyAdmin):
    list_display = ("certificate", "kind", "sequence", "due_date", "window_start", "window_end")
    list_filter = ("kind",)
    list_select_related = ("certificate",)
    search_fields = ("certificate__number",)
    date_hierarchy = "due_date"
