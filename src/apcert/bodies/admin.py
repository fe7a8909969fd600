"""Certification bodies in the Secretariat's admin. Browse only: ``bodies.services`` writes."""

from __future__ import annotations

from django.contrib import admin
from django.db import models

from apcert.bodies.models import CBAcceptance, CBStaff, CertificationBody
from apcert.core.admin import ReadOnlyAdmin, ReadOnlyInline


class CBAcceptanceInline(ReadOnlyInline):
    model = CBAcceptance
    fields = ("programme", "scheme", "status", "accepted_on", "valid_until")
    select_related = ("cb", "programme", "scheme")


class CBStaffInline(ReadOnlyInline):
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
    # The view page still builds a form to list its fields: keep Django 5.2's URLField
    # deprecation warning out of it.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


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
