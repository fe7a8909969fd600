"""Records of the time-driven cycle: findings found late, and the daily sweep runs."""

from __future__ import annotations

from django.db import models


class FindingLateFlag(models.Model):
    """A nonconformity whose corrective action was not in by its due date (the scheme's
    due dates), noticed by the sweep. Written once per finding, never updated: the flag
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
    """The daily sweep of one date: queued by the worker, or run by ``apcert sweep``. The
    unique date is what stops the worker from enqueuing the same day's sweep twice after a
    restart or from two workers. A run again for the same date (a replay, a catch-up) writes
    its times and outcome over the last. The latest date whose sweep finished tells how far
    behind the recorded statuses, the status lists and the signed credentials may be."""

    class Source(models.TextChoices):
        WORKER = "worker", "the worker"
        COMMAND = "command", "the apcert sweep command"

    as_of = models.DateField(unique=True)
    enqueued_at = models.DateTimeField(auto_now_add=True)
    #: When the last run for this date started; ``finished_at`` is empty while it runs, and
    #: stays empty if it failed.
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WORKER)
    #: What the run did: the certificates it expired, suspended and withdrew, the findings it
    #: flagged late, the certificates awaiting a decision.
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-as_of"]

    def __str__(self) -> str:
        return f"sweep of {self.as_of}"


class ScheduledVisit(models.Model):
    """One open visit of a live certificate's audit programme (the scheme's
    surveillance): a surveillance or the re-assessment not yet done by a reported assessment.

    Derived data, kept so that the dashboards read a few indexed rows instead of planning
    every certificate's programme on each request: the rows of a certificate are recomputed
    by :func:`apcert.cycle.schedule.visit_schedule_refresh` (the rules of
    :mod:`apcert.cycle.programme`) in the same transaction as every service that changes
    what the programme reads, and ``apcert visits-check`` compares them with a fresh plan.
    A certificate that is not current or suspended has no rows.
    """

    certificate = models.ForeignKey(
        "certificates.Certificate", on_delete=models.CASCADE, related_name="scheduled_visits"
    )
    # The certificate's CB and holder, copied so that a dashboard's tenancy filter and its
    # date range are one index range (the certificate's own never change: a transfer makes
    # a new certificate).
    cb = models.ForeignKey(
        "bodies.CertificationBody", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    # The certificate's number, copied too: the lists of visits are by due date, then
    # number, and an index in that order reads the first few of a day without a join or a
    # sort of the day's (or the month's) visits. A refresh writes it with the other columns.
    certificate_number = models.CharField(max_length=40)
    kind = models.CharField(max_length=20)
    sequence = models.PositiveSmallIntegerField()
    due_date = models.DateField()
    window_start = models.DateField()
    window_end = models.DateField()

    class Meta:
        ordering = ["due_date", "certificate_number", "kind", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["certificate", "kind", "sequence"], name="scheduled_visit_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=("surveillance", "reassessment")),
                name="scheduled_visit_kind_valid",
            ),
        ]
        indexes = [
            # The dashboards read due_date up to a month ahead (an overdue visit's window
            # closed, so it was due before too): everything, one CB's clients, or one
            # holder's certificates. The first two are in the order of the lists (due date,
            # number, kind, sequence), so that a list's first rows, and a calendar day's,
            # are read in order with a LIMIT; and they end on window_end, so that the
            # dashboard's counts are read from the index alone.
            models.Index(
                fields=["due_date", "certificate_number", "kind", "sequence", "window_end"],
                name="scheduled_visit_day",
            ),
            models.Index(
                fields=["cb", "due_date", "certificate_number", "kind", "sequence", "window_end"],
                name="scheduled_visit_cb_day",
            ),
            models.Index(fields=["organization", "due_date"], name="scheduled_visit_org_due"),
        ]

    def __str__(self) -> str:
        return f"{self.label} of certificate {self.certificate_id} due {self.due_date}"

    @property
    def label(self) -> str:
        """As :attr:`apcert.cycle.programme.PlannedVisit.label`."""
        return f"{self.kind} {self.sequence}" if self.kind == "surveillance" else self.kind
