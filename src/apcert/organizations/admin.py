"""Organizations in the Secretariat's admin. Browse only: ``organizations.services`` writes."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apcert.core.admin import ReadOnlyAdmin, ReadOnlyInline
from apcert.organizations.models import Organization, OrganizationMember, Site


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


class SiteInline(_Inline):
    model = Site
    fields = ("name", "city", "country", "published")


class OrganizationMemberInline(_Inline):
    model = OrganizationMember
    fields = ("user", "role")
    select_related = ("organization", "user")


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = (
        "legal_name",
        "country",
        "registration_number",
        "registration_authority",
        "created_at",
    )
    list_filter = ("country",)
    search_fields = ("legal_name", "registration_number")
    date_hierarchy = "created_at"
    inlines = (SiteInline, OrganizationMemberInline)


@admin.register(Site)
class SiteAdmin(ReadOnlyAdmin):
    list_display = ("name", "organization", "city", "country", "published")
    list_filter = ("published", "country")
    list_select_related = ("organization",)
    search_fields = ("name", "city", "organization__legal_name")


@admin.register(OrganizationMember)
class OrganizationMemberAdmin(ReadOnlyAdmin):
    list_display = ("user", "organization", "role")
    list_filter = ("role",)
    list_select_related = ("user", "organization")
    search_fields = (
        "user__username",
        "user__full_name",
        "user__email",
        "organization__legal_name",
    )
