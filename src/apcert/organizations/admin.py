"""Organizations in the Secretariat's admin. Browse only: ``organizations.services`` writes."""

from __future__ import annotations

from django.contrib import admin

from apcert.core.admin import ReadOnlyAdmin, ReadOnlyInline
from apcert.organizations.models import Organization, OrganizationMember, Site


class SiteInline(ReadOnlyInline):
    model = Site
    fields = ("name", "city", "country", "published")


class OrganizationMemberInline(ReadOnlyInline):
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
