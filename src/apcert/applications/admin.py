"""Applications in the Secretariat's admin. Browse only: ``applications.services`` writes."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apcert.applications.models import Application, ScopeLine
from apcert.core.admin import ReadOnlyAdmin, ReadOnlyInline


@admin.display(description="standards")
def _standards(scope_line: ScopeLine) -> str:
    # Iterates .all() so that a prefetch_related("standards") answers it.
    return ", ".join(str(standard) for standard in scope_line.standards.all())


class ScopeLineInline(ReadOnlyInline):
    model = ScopeLine
    fields = ("category", "site", "wording", "standard_list")
    readonly_fields = ("standard_list",)
    select_related = ("category", "site")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("standards")

    @admin.display(description="standards")
    def standard_list(self, obj: ScopeLine) -> str:
        return _standards(obj)


@admin.register(Application)
class ApplicationAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "organization",
        "cb",
        "scheme",
        "status",
        "design_claimed",
        "submitted_at",
        "created_at",
    )
    list_filter = ("status", "scheme", "design_claimed", "cb")
    list_select_related = ("organization", "cb", "scheme")
    search_fields = (
        "organization__legal_name",
        "organization__registration_number",
        "cb__code",
        "cb__name",
    )
    date_hierarchy = "created_at"
    inlines = (ScopeLineInline,)


@admin.register(ScopeLine)
class ScopeLineAdmin(ReadOnlyAdmin):
    list_display = ("id", "application", "category", "site", "wording", "standard_list")
    list_filter = ("category",)
    list_select_related = ("application__organization", "application__cb", "category", "site")
    search_fields = (
        "wording",
        "category__code",
        "site__name",
        "application__organization__legal_name",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScopeLine]:
        return super().get_queryset(request).prefetch_related("standards")

    @admin.display(description="standards")
    def standard_list(self, obj: ScopeLine) -> str:
        return _standards(obj)
