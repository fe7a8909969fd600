"""The imports of an existing register: each file checked or written, and each certificate
an import wrote, with what the file said of it (so that the same file again changes
nothing and a corrected file changes only what it corrects)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apcert.imports.choices import ImportBatchStatus


class ImportBatch(models.Model):
    """One file given to the import: by whom, for which CB (empty: every CB, by the
    Secretariat), its content's hash, the dry run's report and, once written, the counts.
    Private to the Secretariat and the CB. The file itself is kept until it is written, so
    that the screen's confirmation writes exactly the file that was checked."""

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    cb = models.ForeignKey(
        "bodies.CertificationBody", on_delete=models.PROTECT, null=True, blank=True
    )
    file_name = models.CharField(max_length=255)
    file_format = models.CharField(max_length=8)
    sha256 = models.CharField(max_length=64)
    content = models.BinaryField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=ImportBatchStatus.choices, default=ImportBatchStatus.CHECKED
    )
    rows = models.PositiveIntegerField(default=0)
    certificates = models.PositiveIntegerField(default=0)
    new = models.PositiveIntegerField(default=0)
    changed = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    #: The dry run's problems, each ``[row, column, code, message]``, at most REPORT_LIMIT.
    problems = models.JSONField(default=list, blank=True)
    problem_count = models.PositiveIntegerField(default=0)
    #: Why a commit failed (empty otherwise).
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ImportBatchStatus.values),
                name="import_batch_status_valid",
            )
        ]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.file_name} ({self.status})"


class ImportedCertificate(models.Model):
    """A certificate that an import wrote, and the import's normalized facts of it as last
    written (``facts``, with their hash ``fingerprint``). A file whose certificate has the
    same fingerprint leaves it alone; one with other facts changes what differs."""

    certificate = models.OneToOneField(
        "certificates.Certificate", on_delete=models.PROTECT, related_name="import_record"
    )
    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="+")
    fingerprint = models.CharField(max_length=64)
    facts = models.JSONField()

    class Meta:
        ordering = ["certificate"]

    def __str__(self) -> str:
        return f"imported certificate {self.certificate_id}"
