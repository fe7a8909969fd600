"""Admin base classes. Regulated objects are read-only in the admin: services change them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browse and search only. Every change to regulated data goes through a service, which
    checks the scheme's rules and writes the audit event; the admin would skip both."""

    list_per_page = 50
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        return bool(
            user.is_active and (user.is_superuser or getattr(user, "is_secretariat", False))
        )

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


def _may_browse(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and (user.is_superuser or getattr(user, "is_secretariat", False)))


class ReadOnlyInline(admin.TabularInline):
    """Read-only rows under a parent page, shown to the same people as ReadOnlyAdmin
    (Django's model permissions would hide them from the Secretariat, who hold none), with
    the joins its rows need in ``select_related``."""

    extra = 0
    can_delete = False
    show_change_link = True
    select_related: tuple[str, ...] = ()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _may_browse(request)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related(*self.select_related)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
