"""Certificates in the Secretariat's admin. Browse only: ``certificates.services`` writes,
and the database itself refuses changes to issues."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.utils.html import format_html
from django.utils.safestring import SafeString

from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateNumberSequence,
    CertificateStatusChange,
    Decision,
    DecisionDeferral,
    PublicationReview,
    StatusCount,
    StatusTally,
)
from apcert.core.admin import ReadOnlyAdmin, ReadOnlyInline


def _pretty_json(value: Any) -> SafeString:
    """A snapshot as indented JSON; format_html escapes it. Its layout is the class's, in
    certificates/admin.css: the pages' Content-Security-Policy runs no inline style."""
    text = json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
    return format_html('<pre class="snapshot-json">{}</pre>', text)


class CertificateIssueInline(ReadOnlyInline):
    model = CertificateIssue
    fields = ("issue_number", "issued_on", "valid_from", "valid_until", "reason", "decision")
    select_related = ("certificate", "decision")


class CertificateStatusChangeInline(ReadOnlyInline):
    model = CertificateStatusChange
    fields = (
        "effective_on",
        "from_status",
        "to_status",
        "reason_category",
        "reason",
        "decision",
    )
    select_related = ("decision",)


class DecisionInline(ReadOnlyInline):
    model = Decision
    fields = ("decided_on", "kind", "decided_by", "rationale")
    select_related = ("decided_by",)


@admin.register(Decision)
class DecisionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "decided_on",
        "kind",
        "cb",
        "certificate",
        "application",
        "decided_by",
    )
    list_filter = ("kind", "cb")
    list_select_related = (
        "cb",
        "certificate",
        "application__organization",
        "application__cb",
        "decided_by",
    )
    search_fields = (
        "certificate__number",
        "application__organization__legal_name",
        "decided_by__username",
        "decided_by__full_name",
        "rationale",
    )
    date_hierarchy = "decided_on"


@admin.register(Certificate)
class CertificateAdmin(ReadOnlyAdmin):
    list_display = (
        "number",
        "organization",
        "cb",
        "scheme",
        "status",
        "status_since",
        "first_issued_on",
        "expires_on",
        "current_issue_number",
    )
    list_filter = ("status", "scheme", "cb")
    list_select_related = ("organization", "cb", "scheme")
    search_fields = (
        "number",
        "organization__legal_name",
        "organization__registration_number",
    )
    date_hierarchy = "first_issued_on"
    inlines = (CertificateIssueInline, CertificateStatusChangeInline, DecisionInline)


@admin.register(CertificateIssue)
class CertificateIssueAdmin(ReadOnlyAdmin):
    class Media:
        css = {"all": ("certificates/admin.css",)}

    list_display = (
        "certificate",
        "issue_number",
        "issued_on",
        "valid_from",
        "valid_until",
        "reason",
    )
    list_filter = ("reason",)
    list_select_related = ("certificate",)
    search_fields = ("certificate__number", "change_summary")
    date_hierarchy = "issued_on"
    # The snapshot fields are shown through the formatters below, not as raw JSON.
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "certificate",
                    "issue_number",
                    "issued_on",
                    "valid_from",
                    "valid_until",
                    "reason",
                    "change_summary",
                    "decision",
                    "created_at",
                )
            },
        ),
        (
            "snapshot",
            {
                "fields": (
                    "holder_snapshot",
                    "sites_snapshot",
                    "programmes_snapshot",
                    "scope_lines_snapshot",
                    "standards_snapshot",
                )
            },
        ),
    )
    readonly_fields = (
        "created_at",
        "holder_snapshot",
        "sites_snapshot",
        "programmes_snapshot",
        "scope_lines_snapshot",
        "standards_snapshot",
    )

    @admin.display(description="holder")
    def holder_snapshot(self, obj: CertificateIssue) -> SafeString:
        return _pretty_json(obj.holder)

    @admin.display(description="sites")
    def sites_snapshot(self, obj: CertificateIssue) -> SafeString:
        return _pretty_json(obj.sites)

    @admin.display(description="programmes")
    def programmes_snapshot(self, obj: CertificateIssue) -> SafeString:
        return _pretty_json(obj.programmes)

    @admin.display(description="scope lines")
    def scope_lines_snapshot(self, obj: CertificateIssue) -> SafeString:
        return _pretty_json(obj.scope_lines)

    @admin.display(description="standards")
    def standards_snapshot(self, obj: CertificateIssue) -> SafeString:
        return _pretty_json(obj.standards)


@admin.register(CertificateStatusChange)
class CertificateStatusChangeAdmin(ReadOnlyAdmin):
    list_display = (
        "certificate",
        "from_status",
        "to_status",
        "effective_on",
        "reason_category",
        "decision",
        "recorded_at",
    )
    list_filter = ("to_status", "reason_category")
    list_select_related = ("certificate", "decision")
    search_fields = ("certificate__number", "reason")
    date_hierarchy = "effective_on"


@admin.register(CertificateNumberSequence)
class CertificateNumberSequenceAdmin(ReadOnlyAdmin):
    list_display = ("cb", "year", "last_serial")
    list_filter = ("year",)
    list_select_related = ("cb",)
    search_fields = ("cb__code", "cb__name")


@admin.register(PublicationReview)
class PublicationReviewAdmin(ReadOnlyAdmin):
    list_display = ("certificate", "status", "submitted_at", "reviewed_at")
    list_filter = ("status",)
    list_select_related = ("certificate",)
    search_fields = ("certificate__number", "submission_note", "review_note")


@admin.register(DecisionDeferral)
class DecisionDeferralAdmin(ReadOnlyAdmin):
    list_display = ("assessment", "deferred_on", "until", "deferred_by")
    list_select_related = ("assessment__cb", "deferred_by")
    search_fields = ("reason", "deferred_by__username", "deferred_by__full_name")
    date_hierarchy = "deferred_on"


@admin.register(StatusCount)
class StatusCountAdmin(ReadOnlyAdmin):
    list_display = ("cb", "status", "n")
    list_filter = ("status",)
    list_select_related = ("cb",)
    search_fields = ("cb__code",)


@admin.register(StatusTally)
class StatusTallyAdmin(ReadOnlyAdmin):
    list_display = ("cb", "month", "from_status", "to_status", "n")
    list_filter = ("to_status", "from_status")
    list_select_related = ("cb",)
    search_fields = ("cb__code",)
    date_hierarchy = "month"
