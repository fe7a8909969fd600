"""Decisions, certificates, their issues and status history, and number allocation."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apcert.certificates.choices import (
    CertificateStatus,
    DecisionKind,
    IssueReason,
    PublicationReviewStatus,
    StatusReason,
)


class Decision(models.Model):
    """A certification decision, taken by a CB decision maker who was not on the team.

    Private. Its effect on a certificate is public through the status history and issues.
    """

    cb = models.ForeignKey(
        "bodies.CertificationBody", on_delete=models.PROTECT, related_name="decisions"
    )
    kind = models.CharField(max_length=20, choices=DecisionKind.choices)
    application = models.ForeignKey(
        "applications.Application", on_delete=models.PROTECT, null=True, blank=True
    )
    assessment = models.ForeignKey(
        "assessments.Assessment", on_delete=models.PROTECT, null=True, blank=True
    )
    certificate = models.ForeignKey(
        "Certificate", on_delete=models.PROTECT, null=True, blank=True, related_name="decisions"
    )
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    decided_on = models.DateField()
    rationale = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-decided_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind__in=DecisionKind.values), name="decision_kind_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} decision of {self.decided_on}"


class Certificate(models.Model):
    """An IECQ certificate: ``IECQ-<letter> <CB code> <YY>.<NNNN>``, never reused.

    The number stays the same through renewals and re-issues; each issue is an immutable
    snapshot (:class:`CertificateIssue`). ``status`` changes only through the services in
    ``certificates.services``, following ``certificates.lifecycle.CERTIFICATE``.
    """

    number = models.CharField(max_length=40, unique=True)
    number_year = models.PositiveSmallIntegerField()
    number_serial = models.PositiveIntegerField()
    cb = models.ForeignKey(
        "bodies.CertificationBody", on_delete=models.PROTECT, related_name="certificates"
    )
    scheme = models.ForeignKey("schemes.Scheme", on_delete=models.PROTECT)
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="certificates"
    )
    application = models.ForeignKey(
        "applications.Application", on_delete=models.PROTECT, related_name="certificates"
    )
    status = models.CharField(
        max_length=20, choices=CertificateStatus.choices, default=CertificateStatus.DRAFT
    )
    status_since = models.DateField()
    first_issued_on = models.DateField()
    initial_decision_on = models.DateField()
    expires_on = models.DateField()
    current_issue_number = models.PositiveIntegerField(default=0)
    transferred_from = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="transferred_to"
    )
    #: The last day of the tolerance window of the earliest surveillance not yet carried out
    #: that can still suspend the certificate; kept by the visit schedule with its programme.
    surveillance_due_by = models.DateField(null=True, blank=True)
    #: The first day on which ``status`` stops being true by dates alone (expiry, a missed
    #: surveillance window, the end of the maximum suspension): computed from the facts above
    #: by ``certificates.timeline.lapses_on`` whenever they change. Reads compare it with
    #: today to know whether the stored status still holds; the sweep finds its work by it.
    lapses_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CertificateStatus.values),
                name="certificate_status_valid",
            ),
            models.UniqueConstraint(
                fields=["cb", "number_year", "number_serial"], name="certificate_serial_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["cb", "status"]),
            # A CB's list reads a page along it in its order (by number).
            models.Index(fields=["cb", "number"], name="certificate_cb_number"),
            models.Index(fields=["status", "expires_on"]),
            # The dashboards' certificates expiring soon, in their order (end date, then
            # number): the first few read in order, and the counts from an index alone.
            models.Index(fields=["expires_on", "number", "status"], name="certificate_expiry"),
            models.Index(
                fields=["cb", "expires_on", "number", "status"], name="certificate_cb_expiry"
            ),
            models.Index(fields=["lapses_on"], name="certificate_lapses_on"),
            # A CB's dashboard: its certificates whose stored status no longer holds.
            models.Index(fields=["cb", "lapses_on"], name="certificate_cb_lapses_on"),
        ]

    def __str__(self) -> str:
        return self.number


class CertificateIssue(models.Model):
    """One issue of a certificate: an immutable snapshot of holder, sites, scope lines,
    standards and dates. Issue 1 at grant, +1 on every re-issue. The database refuses
    UPDATE and DELETE on this table, like the audit trail."""

    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="issues")
    issue_number = models.PositiveIntegerField()
    issued_on = models.DateField()
    valid_from = models.DateField()
    valid_until = models.DateField()
    reason = models.CharField(max_length=30, choices=IssueReason.choices)
    change_summary = models.TextField(blank=True)
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, null=True, blank=True)
    holder = models.JSONField()
    sites = models.JSONField()
    programmes = models.JSONField()
    scope_lines = models.JSONField()
    standards = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["certificate", "issue_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["certificate", "issue_number"], name="certificate_issue_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(issue_number__gte=1), name="certificate_issue_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.certificate.number} issue {self.issue_number}"


class CertificateStatusChange(models.Model):
    """A change of a certificate's status. The date and reason category are public; the
    free-text reason is private."""

    certificate = models.ForeignKey(
        Certificate, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(max_length=20, choices=CertificateStatus.choices)
    to_status = models.CharField(max_length=20, choices=CertificateStatus.choices)
    effective_on = models.DateField()
    reason_category = models.CharField(max_length=30, choices=StatusReason.choices)
    reason = models.TextField(blank=True)
    decision = models.ForeignKey(Decision, on_delete=models.PROTECT, null=True, blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["certificate", "effective_on", "id"]
        indexes = [
            # The dashboards count the changes of a window of days by the pair of statuses:
            # the index alone answers it (the old index on the date is its prefix).
            models.Index(
                fields=["effective_on", "to_status", "from_status"], name="status_change_window"
            )
        ]

    def __str__(self) -> str:
        return f"{self.certificate_id}: {self.from_status} -> {self.to_status}"


class StatusCount(models.Model):
    """How many of a CB's certificates are in each status now: kept by the transition
    service with every change, so a dashboard reads a few rows, not every certificate."""

    cb = models.ForeignKey("bodies.CertificationBody", on_delete=models.PROTECT)
    status = models.CharField(max_length=20, choices=CertificateStatus.choices)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["cb", "status"], name="status_count_unique")]

    def __str__(self) -> str:
        return f"{self.cb_id} {self.status}: {self.n}"


class StatusTally(models.Model):
    """How many of a CB's certificates changed from one status to another in a month (by
    the change's effective day): kept by the transition service with every change, so the
    dashboards' history of 24 months reads a few hundred rows, however many changes."""

    cb = models.ForeignKey("bodies.CertificationBody", on_delete=models.PROTECT)
    #: The first day of the month.
    month = models.DateField()
    from_status = models.CharField(max_length=20, choices=CertificateStatus.choices)
    to_status = models.CharField(max_length=20, choices=CertificateStatus.choices)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cb", "month", "from_status", "to_status"], name="status_tally_unique"
            )
        ]
        indexes = [models.Index(fields=["month"], name="status_tally_month")]

    def __str__(self) -> str:
        return f"{self.cb_id} {self.month}: {self.from_status} -> {self.to_status} x{self.n}"


class CertificateNumberSequence(models.Model):
    """The last serial committed by a CB in a year. Locked row by row when a number is
    taken and only ever incremented, so a number that was ever committed is never given
    again; the increment of a grant that rolls back is rolled back with it."""

    cb = models.ForeignKey("bodies.CertificationBody", on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField()
    last_serial = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cb", "year"], name="number_sequence_unique")
        ]

    def __str__(self) -> str:
        return f"{self.cb_id}/{self.year}: {self.last_serial}"


class PublicationReview(models.Model):
    """The Secretariat's review of a new certificate before it is published, when the
    scheme turns the review on (``SchemeRules.publication_review``). Private: the register
    shows the certificate only once a review is approved. A returned review stays on
    record with the Secretariat's reason; the CB answers by submitting a new one."""

    certificate = models.ForeignKey(
        Certificate, on_delete=models.PROTECT, related_name="publication_reviews"
    )
    status = models.CharField(
        max_length=20,
        choices=PublicationReviewStatus.choices,
        default=PublicationReviewStatus.PENDING,
    )
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField()
    #: What the CB says with the submission (after a return: what it changed or why not).
    submission_note = models.TextField(blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    #: The Secretariat's reason for a return, or its remark on an approval.
    review_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-submitted_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PublicationReviewStatus.values),
                name="publication_review_status_valid",
            ),
            models.UniqueConstraint(
                fields=["certificate"],
                condition=models.Q(status="pending"),
                name="publication_review_one_pending",
            ),
        ]
        indexes = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return f"review of {self.certificate_id}: {self.status}"


class DecisionDeferral(models.Model):
    """A certification decision put off: the decision maker has read the file of a reported
    assessment and records why the decision waits, and until when (e.g. for an answer the
    holder owes, or a technical opinion). Private. The assessment keeps its status; the
    decision is taken later like any other. Rows are written by
    ``certificates.services.assessment_decision_defer`` and never changed."""

    assessment = models.ForeignKey(
        "assessments.Assessment", on_delete=models.PROTECT, related_name="decision_deferrals"
    )
    deferred_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    deferred_on = models.DateField()
    until = models.DateField()
    reason = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-deferred_on", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(until__gte=models.F("deferred_on")),
                name="decision_deferral_until_after",
            ),
        ]

    def __str__(self) -> str:
        return f"decision on assessment {self.assessment_id} deferred until {self.until}"
