"""Signing keys and stored credentials, browsed only: keys change through the key commands."""

from __future__ import annotations

from django.contrib import admin

from apcert.core.admin import ReadOnlyAdmin
from apcert.credentials.models import IssueCredential, SigningKey


@admin.register(SigningKey)
class SigningKeyAdmin(ReadOnlyAdmin):
    list_display = ("key_id", "cb", "active_from", "retired_at", "compromised_from")
    list_filter = ("cb",)
    search_fields = ("key_id", "public_key_multibase", "cb__code")
    list_select_related = ("cb",)


@admin.register(IssueCredential)
class IssueCredentialAdmin(ReadOnlyAdmin):
    list_display = ("issue", "signing_key", "created_at")
    list_select_related = ("issue__certificate", "signing_key")
    raw_id_fields = ("issue", "signing_key")
