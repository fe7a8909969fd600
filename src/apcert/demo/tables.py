"""The tables demo data writes, each with its columns in row order."""

from __future__ import annotations

import itertools
from typing import Any

from apcert.accounts.models import User
from apcert.applications.models import Application, ScopeLine
from apcert.assessments.models import Assessment, CorrectiveAction, Finding, TeamMember
from apcert.audit.models import AuditEvent
from apcert.certificates.models import (
    Certificate,
    CertificateIssue,
    CertificateStatusChange,
    Decision,
)
from apcert.demo.bulk import Table, next_id
from apcert.organizations.models import Organization, OrganizationMember, Site


def _through(model: type[Any], name: str) -> Any:
    return model._meta.get_field(name).remote_field.through


class Tables:
    """Every table, parents before children, and the next free id of those whose ids
    link rows before they are written."""

    def __init__(self) -> None:
        self.user = Table(
            User,
            (
                "id", "password", "last_login", "is_superuser", "username", "first_name",
                "last_name", "email", "is_staff", "is_active", "date_joined", "full_name",
                "is_secretariat",
            ),
        )  # fmt: skip
        self.org = Table(
            Organization,
            (
                "id", "legal_name", "country", "registration_number", "registration_authority",
                "address", "created_at",
            ),
        )  # fmt: skip
        self.site = Table(
            Site, ("id", "organization", "name", "address", "city", "country", "published")
        )
        self.member = Table(OrganizationMember, ("organization", "user", "role"))
        self.app = Table(
            Application,
            (
                "id", "organization", "cb", "scheme", "status", "design_claimed",
                "requests_component_qualification", "submitted_at", "closed_at",
                "status_reason", "created_at",
            ),
        )  # fmt: skip
        self.app_programme = Table(
            _through(Application, "programmes"), ("application", "programme")
        )
        self.line = Table(ScopeLine, ("id", "application", "category", "site", "wording"))
        self.line_standard = Table(_through(ScopeLine, "standards"), ("scopeline", "standard"))
        self.cert = Table(
            Certificate,
            (
                "id", "number", "number_year", "number_serial", "cb", "scheme", "organization",
                "application", "status", "status_since", "first_issued_on",
                "initial_decision_on", "expires_on", "current_issue_number", "transferred_from",
                # The date facts are filled by the visit schedule's rebuild, which follows.
                "surveillance_due_by", "lapses_on",
            ),
        )  # fmt: skip
        self.assessment = Table(
            Assessment,
            (
                "id", "cb", "application", "certificate", "kind", "status",
                "stage1_document_review", "start_date", "end_date", "report_issued_on",
                "summary", "created_at", "origin",
            ),
        )  # fmt: skip
        self.team = Table(TeamMember, ("assessment", "user", "name", "role"))
        self.finding = Table(
            Finding,
            (
                "id", "assessment", "number", "grade", "requirement_kind", "requirement_ref",
                "standard", "description", "status", "raised_on", "due_date", "closed_on",
            ),
        )  # fmt: skip
        self.action = Table(
            CorrectiveAction,
            (
                "finding", "correction", "root_cause", "action", "evidence", "submitted_by",
                "submitted_on", "status", "reviewed_by", "reviewed_on", "review_comment",
            ),
        )  # fmt: skip
        self.decision = Table(
            Decision,
            (
                "id", "cb", "kind", "application", "assessment", "certificate", "decided_by",
                "decided_on", "rationale", "created_at",
            ),
        )  # fmt: skip
        self.issue = Table(
            CertificateIssue,
            (
                "id", "certificate", "issue_number", "issued_on", "valid_from", "valid_until",
                "reason", "change_summary", "decision", "holder", "sites", "programmes",
                "scope_lines", "standards", "created_at",
            ),
        )  # fmt: skip
        self.status = Table(
            CertificateStatusChange,
            (
                "certificate", "from_status", "to_status", "effective_on", "reason_category",
                "reason", "decision", "recorded_at",
            ),
        )  # fmt: skip
        self.event = Table(
            AuditEvent,
            (
                "seq", "occurred_at", "actor_id", "actor_label", "action", "object_type",
                "object_id", "object_repr", "before", "after", "reason", "prev_hash", "hash",
            ),
        )  # fmt: skip
        self.all = [
            self.user, self.org, self.site, self.member, self.app, self.app_programme,
            self.line, self.line_standard, self.cert, self.assessment, self.team,
            self.finding, self.action, self.decision, self.issue, self.status, self.event,
        ]  # fmt: skip
        counters = {t.model: itertools.count(next_id(t.model)) for t in self.all if t.explicit_pk}
        self.next_user = counters[User].__next__
        self.next_org = counters[Organization].__next__
        self.next_site = counters[Site].__next__
        self.next_app = counters[Application].__next__
        self.next_line = counters[ScopeLine].__next__
        self.next_cert = counters[Certificate].__next__
        self.next_assessment = counters[Assessment].__next__
        self.next_finding = counters[Finding].__next__
        self.next_decision = counters[Decision].__next__
        self.next_issue = counters[CertificateIssue].__next__
