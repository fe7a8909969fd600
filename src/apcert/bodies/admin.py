"""Certification bodies in the Secretariat's admin. Browse only: ``bodies.services`` writes."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apcert.bodies.models import CBAcceptance, CBStaff, CertificationBody
from apcert.core.admin import ReadOnlyAdmin, ReadOnlyInline


class _Inline(ReadOnlyInline):
    """Shows to the same people as ReadOnlyAdmin (Django's model permissions would hide it
    from the Secretariat, who hold none), with the joins its rows need."""

    select_related: tuple[str, ...] = ()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        return bool(
            user.is_active and (user.is_superuser or getattr(user, "is_secretariat", False))
        )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related(*self.select_related)


class CBAcceptanceInline(_Inline):
    model = CBAcceptance
    fields = ("programme", "scheme", "status", "accepted_on", "valid_until")
    select_related = ("cb", "programme", "scheme")


class CBStaffInline(_Inline):
    model = CBStaff
    fields = ("user", "role", "active")
    select_related = ("cb", "user")


@admin.register(CertificationBody)
class CertificationBodyAdmin(ReadOnlyAdmin):
    list_display = ("code", "name", "country", "website", "created_at")
    list_filter = ("country",)
    search_fields = ("code", "name")
    date_hierarchy = "created_at"
    inlines = (CBAcceptanceInline, CBStaffInline)


@admin.register(CBAcceptance)
class CBAcceptanceAdmin(ReadOnlyAdmin):
    list_display = ("cb", "programme", "scheme", "status", "accepted_on", "valid_until")
    list_filter = ("status", "scheme", "programme")
    list_select_related = ("cb", "programme", "scheme")
    search_fields = ("cb__code", "cb__name", "programme__code")
    date_hierarchy = "accepted_on"


@admin.register(CBStaff)
class CBStaffAdmin(ReadOnlyAdmin):
    list_display = ("user", "cb", "role", "active")
    list_filter = ("role", "active")
    list_select_related = ("user", "cb")
    search_fields = (
        "user__username",
        "user__full_name",
        "user__email",
        "cb__code",
        "cb__name",
    )
