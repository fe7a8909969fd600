"""Assessments, their teams, findings and corrective actions. All private."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apcert.assessments.choices import (
    REPORT_ISSUED_STATUSES,
    AssessmentKind,
    AssessmentOrigin,
    AssessmentStatus,
    CorrectiveActionStatus,
    FindingGrade,
    FindingStatus,
    RequirementKind,
    TeamRole,
)

#: The most days an assessment lasts, its first and last included. The visits of the scheme
#: last days, not weeks; the bound also lets a calendar read a month's assessments as a
#: range of first days (a few weeks before the month to its end) rather than every earlier one.
MAX_ASSESSMENT_DAYS = 31


class Assessment(models.Model):
    """A visit or review by a CB's team: initial, surveillance, re-assessment, scope
    extension, special or transfer review. It concerns an application (initial) or a
    certificate (the others).

    ``origin`` says whether it was run in apcert (planned, started, its findings recorded
    and answered here) or recorded: carried out in the CB's own software, whose outcome
    (dates, team, findings with their closure dates, report date) was recorded here at once
    with the decision that rests on it, after the same rules were checked against it."""

    cb = models.ForeignKey(
        "bodies.CertificationBody", on_delete=models.PROTECT, related_name="assessments"
    )
    application = models.ForeignKey(
        "applications.Application",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assessments",
    )
    certificate = models.ForeignKey(
        "certificates.Certificate",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="assessments",
    )
    kind = models.CharField(max_length=20, choices=AssessmentKind.choices)
    status = models.CharField(
        max_length=20, choices=AssessmentStatus.choices, default=AssessmentStatus.PLANNED
    )
    stage1_document_review = models.BooleanField(default=False)
    start_date = models.DateField()
    end_date = models.DateField()
    report_issued_on = models.DateField(null=True, blank=True)
    summary = models.TextField(blank=True)
    origin = models.CharField(
        max_length=10,
        choices=AssessmentOrigin.choices,
        default=AssessmentOrigin.RUN,
        db_default=AssessmentOrigin.RUN,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-start_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(origin__in=AssessmentOrigin.values),
                name="assessment_origin_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=AssessmentStatus.values),
                name="assessment_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=AssessmentKind.values), name="assessment_kind_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="assessment_dates_ordered",
            ),
            models.CheckConstraint(
                condition=models.Q(application__isnull=False) | models.Q(certificate__isnull=False),
                name="assessment_has_subject",
            ),
        ]
        indexes = [
            # A CB's lists read a page along these in their order (first day, then id), of
            # all its assessments or of those in one status, instead of sorting them all.
            # The first holds the last day and the status too: the calendar's read of a
            # month's dates is then answered from the index alone, without a visit to the
            # table for each of the thousands of assessments a large CB starts in a month.
            models.Index(
                fields=["cb", "start_date", "id", "end_date", "status"],
                name="assessment_cb_start",
            ),
            models.Index(
                fields=["cb", "status", "start_date", "id"], name="assessment_cb_status_start"
            ),
            # A certificate's assessments by a CB, in the same order (its page, its planning):
            # both equalities and the order, so no planner prefers the CB's whole list.
            models.Index(
                fields=["certificate", "cb", "start_date", "id"], name="assessment_cert_start"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start_date}..{self.end_date} ({self.cb.code})"

    @property
    def report_issued(self) -> bool:
        """Whether the report has been issued: the organization assessed has it from then."""
        return self.status in REPORT_ISSUED_STATUSES and self.report_issued_on is not None

    @property
    def recorded(self) -> bool:
        """Whether it was carried out in the CB's own software and only recorded here."""
        return self.origin == AssessmentOrigin.RECORDED


class TeamMember(models.Model):
    """A person on an assessment team. Exactly one lead per team (enforced in services).

    On a team run in apcert each member is a user. On a team recorded from the CB's own
    software a member is the ``name`` recorded, with the user it is when that person has an
    account here (else none): the people of another system need no account in apcert."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="team")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True
    )
    name = models.CharField(
        max_length=200,
        blank=True,
        default="",
        db_default="",
        help_text="The name recorded, for a team recorded from the CB's own software.",
    )
    role = models.CharField(max_length=20, choices=TeamRole.choices)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(user__isnull=False) | ~models.Q(name=""),
                name="team_member_named",
            ),
            models.UniqueConstraint(fields=["assessment", "user"], name="team_member_unique"),
            models.UniqueConstraint(
                fields=["assessment"], condition=models.Q(role="lead"), name="team_one_lead"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=TeamRole.values), name="team_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person} ({self.get_role_display()})"

    @property
    def person(self) -> str:
        """Who the member is, as pages and reports name them: the name recorded, else the
        user's."""
        return self.name or str(self.user)


class Finding(models.Model):
    """A major or minor nonconformity, or an observation, against one requirement.

    ``number`` is the finding's number within its assessment (1, 2, 3 ... in the order
    recorded), the way a report and the organization's answers refer to it."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="findings")
    number = models.PositiveIntegerField(
        help_text="1, 2, 3 ... within its assessment, in the order the findings were recorded."
    )
    grade = models.CharField(max_length=20, choices=FindingGrade.choices)
    requirement_kind = models.CharField(max_length=20, choices=RequirementKind.choices)
    requirement_ref = models.CharField(
        max_length=200, help_text="e.g. ISO 9001:2015 8.5.1, or IEC 61340-5-1:2016 5.2.4"
    )
    standard = models.ForeignKey(
        "schemes.Standard", on_delete=models.PROTECT, null=True, blank=True
    )
    description = models.TextField()
    status = models.CharField(
        max_length=20, choices=FindingStatus.choices, default=FindingStatus.OPEN
    )
    raised_on = models.DateField()
    due_date = models.DateField()
    closed_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["assessment", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=FindingStatus.values), name="finding_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(grade__in=FindingGrade.values), name="finding_grade_valid"
            ),
            models.UniqueConstraint(
                fields=["assessment", "number"], name="finding_number_unique_in_assessment"
            ),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="finding_number_from_1"),
        ]
        indexes = [models.Index(fields=["status", "due_date"])]

    def __str__(self) -> str:
        return (
            f"finding {self.number} of assessment {self.assessment_id}: "
            f"{self.get_grade_display()} against {self.requirement_ref}"
        )


class CorrectiveAction(models.Model):
    """The organization's answer to a nonconformity, and the assessor's review of it."""

    finding = models.ForeignKey(
        Finding, on_delete=models.PROTECT, related_name="corrective_actions"
    )
    correction = models.TextField()
    root_cause = models.TextField()
    action = models.TextField()
    evidence = models.TextField(blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    submitted_on = models.DateField()
    status = models.CharField(
        max_length=20,
        choices=CorrectiveActionStatus.choices,
        default=CorrectiveActionStatus.SUBMITTED,
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_on = models.DateField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["finding", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CorrectiveActionStatus.values),
                name="corrective_action_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"corrective action {self.pk} for finding {self.finding_id}"


class EvidenceFileQuerySet(models.QuerySet["EvidenceFile"]):
    def kept(self) -> EvidenceFileQuerySet:
        """The files still offered as evidence: not removed by their uploader."""
        return self.filter(removed_at__isnull=True)


class EvidenceFile(models.Model):
    """A file the organization attaches to a corrective action as evidence that it was
    carried out (a corrective action holds its evidence). The bytes live in the database,
    in the row's :class:`EvidenceChunk` rows, written in the same transaction as the row, so
    that every app server reads every file and no file outlives, or lacks, its row.
    ``storage_key`` is a name apcert generates, never the one the client sent, which is kept
    only as ``name`` for display and download (files received before the move to the
    database lay at that path under EVIDENCE_DIR). ``sha256`` is the content's digest, taken
    while it was received. Rows are written by ``evidence_attach``; each owns its own chunks,
    even when the same content was uploaded twice. The one change a row takes is its removal
    by its uploader (``evidence_remove``) while the corrective action awaits review: the row
    and its content are kept for the record, marked removed, and no longer offered as
    evidence."""

    corrective_action = models.ForeignKey(
        CorrectiveAction, on_delete=models.PROTECT, related_name="evidence_files"
    )
    name = models.CharField(
        max_length=200, help_text="The file name shown and offered on download."
    )
    content_type = models.CharField(max_length=100, help_text="As detected from the content.")
    size = models.PositiveBigIntegerField(help_text="In bytes.")
    sha256 = models.CharField(max_length=64, db_index=True, help_text="Hex digest of the content.")
    storage_key = models.CharField(
        max_length=64,
        unique=True,
        help_text="A name apcert made for the file (its path under EVIDENCE_DIR before the "
        "content moved to the database).",
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    removal_reason = models.TextField(blank=True)

    objects = EvidenceFileQuerySet.as_manager()

    class Meta:
        ordering = ["corrective_action", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(size__gt=0), name="evidence_file_not_empty"),
            models.CheckConstraint(
                condition=models.Q(removed_at__isnull=True, removed_by__isnull=True)
                | models.Q(removed_at__isnull=False, removed_by__isnull=False),
                name="evidence_file_removed_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.size} bytes) for corrective action {self.corrective_action_id}"

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


class EvidenceChunk(models.Model):
    """A piece of an evidence file's content, in order: the file is its chunks by ``index``,
    0, 1, 2 ..., each of ``EVIDENCE_CHUNK_BYTES`` bytes but the last. Kept in pieces so that
    neither receiving nor serving a file needs all of it in memory at once. Written only by
    ``evidence_attach``, with the file's row; never changed; gone only with the row."""

    evidence = models.ForeignKey(EvidenceFile, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["evidence", "index"], name="evidence_chunk_unique"),
        ]

    def __str__(self) -> str:
        return f"chunk {self.index} of evidence file {self.evidence_id}"
