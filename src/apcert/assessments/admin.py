"""Assessments in the Secretariat's admin. Browse only: ``assessments.services`` writes."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from apcert.assessments.models import (
    Assessment,
    CorrectiveAction,
    EvidenceChunk,
    EvidenceFile,
    Finding,
    TeamMember,
)
from apcert.core.admin import ReadOnlyAdmin, ReadOnlyInline


class TeamMemberInline(ReadOnlyInline):
    model = TeamMember
    fields = ("user", "role")
    select_related = ("user",)


class FindingInline(ReadOnlyInline):
    model = Finding
    fields = (
        "number",
        "grade",
        "requirement_kind",
        "requirement_ref",
        "standard",
        "status",
        "raised_on",
        "due_date",
        "closed_on",
    )
    select_related = ("standard",)


class CorrectiveActionInline(ReadOnlyInline):
    model = CorrectiveAction
    fields = ("submitted_on", "submitted_by", "status", "reviewed_on", "reviewed_by")
    select_related = ("submitted_by", "reviewed_by")


@admin.register(Assessment)
class AssessmentAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "cb",
        "subject",
        "start_date",
        "end_date",
        "report_issued_on",
    )
    list_filter = ("kind", "status", "stage1_document_review", "cb")
    list_select_related = (
        "cb",
        "application__organization",
        "application__cb",
        "certificate",
    )
    search_fields = (
        "cb__code",
        "certificate__number",
        "application__organization__legal_name",
        "certificate__organization__legal_name",
    )
    date_hierarchy = "start_date"
    inlines = (TeamMemberInline, FindingInline)

    @admin.display(description="concerns")
    def subject(self, obj: Assessment) -> str:
        # An initial assessment concerns an application, the others a certificate.
        if obj.certificate is not None:
            return f"certificate {obj.certificate.number}"
        return str(obj.application)


@admin.register(TeamMember)
class TeamMemberAdmin(ReadOnlyAdmin):
    list_display = ("user", "role", "assessment")
    list_filter = ("role",)
    list_select_related = ("user", "assessment__cb")
    search_fields = ("user__username", "user__full_name", "assessment__cb__code")


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "number",
        "grade",
        "requirement_ref",
        "status",
        "assessment",
        "raised_on",
        "due_date",
        "closed_on",
    )
    list_filter = ("grade", "status", "requirement_kind")
    list_select_related = ("assessment__cb",)
    search_fields = ("requirement_ref", "description", "assessment__cb__code")
    date_hierarchy = "raised_on"
    inlines = (CorrectiveActionInline,)


@admin.register(CorrectiveAction)
class CorrectiveActionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "finding",
        "status",
        "submitted_by",
        "submitted_on",
        "reviewed_by",
        "reviewed_on",
    )
    list_filter = ("status",)
    list_select_related = ("finding", "submitted_by", "reviewed_by")
    search_fields = ("correction", "root_cause", "action", "finding__requirement_ref")
    date_hierarchy = "submitted_on"


@admin.register(EvidenceFile)
class EvidenceFileAdmin(ReadOnlyAdmin):
    # The record only: the file itself is served by views_evidence, to those who may see it.
    list_display = (
        "id",
        "name",
        "content_type",
        "size",
        "corrective_action",
        "uploaded_by",
        "uploaded_at",
        "removed_at",
    )
    list_filter = ("content_type",)
    list_select_related = ("corrective_action", "uploaded_by")
    search_fields = ("name", "sha256")
    date_hierarchy = "uploaded_at"


@admin.register(EvidenceChunk)
class EvidenceChunkAdmin(ReadOnlyAdmin):
    # Which pieces a file's content is kept in, never the content: that is served by
    # views_evidence, to those who may see it.
    list_display = ("id", "evidence", "index")
    fields = ("evidence", "index")
    list_select_related = ("evidence",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[EvidenceChunk]:
        # A page of 50 chunks would otherwise read 50 MiB of content it never shows.
        return super().get_queryset(request).defer("data")
