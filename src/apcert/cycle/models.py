"""Records of the time-driven cycle: findings found late, and the daily sweep runs."""

from __future__ import annotations

from django.db import models


class FindingLateFlag(models.Model):
    """A nonconformity whose corrective action was not in by its due date (DOMAIN.md section
    4, "Due dates"), noticed by the sweep. Written once per finding, never updated: the flag
    stays as a fact of the finding's history even after the finding is closed."""

    finding = models.OneToOneField(
        "assessments.Finding", on_delete=models.PROTECT, related_name="late_flag"
    )
    flagged_on = models.DateField()
    due_date = models.DateField()
    rule = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["flagged_on", "id"]
        indexes = [models.Index(fields=["flagged_on"])]

    def __str__(self) -> str:
        return f"finding {self.finding_id} late since {self.due_date}"


class SweepRun(models.Model):
    """One scheduled daily sweep. The unique date is what stops the worker from enqueuing the
    same day's sweep twice after a restart or from two workers."""

    as_of = models.DateField(unique=True)
    enqueued_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"sweep of {self.as_of}"
