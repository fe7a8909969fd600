"""Reference data in the Secretariat's admin: browse only, ``apcert load-reference`` writes."""

from __future__ import annotations

from django.contrib import admin

from apcert.core.admin import ReadOnlyAdmin
from apcert.schemes.models import (
    ProcessCategory,
    Programme,
    ReferenceDataFile,
    Scheme,
    SchemeRules,
    Standard,
)


@admin.register(Scheme)
class SchemeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "rules_document", "supported")
    list_filter = ("supported",)
    search_fields = ("code", "name")


@admin.register(SchemeRules)
class SchemeRulesAdmin(ReadOnlyAdmin):
    list_display = (
        "scheme",
        "certificate_letter",
        "validity_months",
        "first_surveillance_months",
        "surveillance_interval_months",
        "nonconformity_due_days",
        "max_suspension_months",
        "suspension_end_action",
    )
    list_select_related = ("scheme",)
    search_fields = ("scheme__code", "scheme__name")


@admin.register(Programme)
class ProgrammeAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "scheme")
    list_filter = ("scheme",)
    list_select_related = ("scheme",)
    search_fields = ("code", "name")


@admin.register(ProcessCategory)
class ProcessCategoryAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "parent", "is_design")
    list_filter = ("is_design",)
    list_select_related = ("parent",)
    search_fields = ("code", "name")


@admin.register(Standard)
class StandardAdmin(ReadOnlyAdmin):
    list_display = (
        "designation",
        "edition",
        "title",
        "status",
        "accepted_for_iecq",
        "superseded_by",
        "withdrawn_on",
    )
    list_filter = ("status", "accepted_for_iecq")
    list_select_related = ("superseded_by",)
    search_fields = ("designation", "title")


@admin.register(ReferenceDataFile)
class ReferenceDataFileAdmin(ReadOnlyAdmin):
    list_display = ("name", "version", "sha256", "loaded_at")
    search_fields = ("name", "sha256")
    date_hierarchy = "loaded_at"
