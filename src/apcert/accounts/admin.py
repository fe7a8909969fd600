from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from apcert.accounts.models import User


@admin.register(User)
class ApcertUserAdmin(UserAdmin):
    fieldsets = (
        *(UserAdmin.fieldsets or ()),
        ("apcert", {"fields": ("full_name", "is_secretariat")}),
    )
    list_display = ("username", "full_name", "email", "is_secretariat", "is_active")
    list_filter = ("is_secretariat", "is_active", "is_staff")
