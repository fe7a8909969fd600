from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apcert.accounts.models import CalendarFeed, Invitation, User
from apcert.core.admin import ReadOnlyAdmin


@admin.register(User)
class ApcertUserAdmin(UserAdmin):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("apcert", {"fields": ("full_name", "is_secretariat")}),
    )
    list_display = ("username", "full_name", "email", "is_secretariat", "is_active")
    list_filter = ("is_secretariat", "is_active", "is_staff")


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    """Invitations are made and accepted through the back office (and its audit events)."""

    list_display = (
        "email",
        "cb",
        "cb_role",
        "organization",
        "org_role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
    )
    list_filter = ("cb_role", "org_role")
    search_fields = ("email",)
    list_select_related = ("cb", "organization", "invited_by")
    exclude = ("token_hash",)


@admin.register(CalendarFeed)
class CalendarFeedAdmin(ReadOnlyAdmin):
    """Feeds are made and stopped by their owner in the back office (and its audit events)."""

    list_display = ("user", "created_at", "last_used_at", "revoked_at")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    exclude = ("token_hash",)
