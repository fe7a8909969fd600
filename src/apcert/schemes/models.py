"""Reference data of the IECQ schemes: kept in data files, loaded by ``apcert load-reference``."""

from __future__ import annotations

from typing import Any

from django.db import models

from apcert.schemes.choices import StandardStatus, SuspensionEndAction


class Scheme(models.Model):
    """An IECQ certification scheme (AP, AC, HSPM, ITL) and its rules of procedure."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    rules_document = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    supported = models.BooleanField(
        default=False, help_text="apcert's workflows target this scheme (AP today)."
    )

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"IECQ {self.code}"


class SchemeRules(models.Model):
    """The figures of a scheme's rules, as data. ``defaults`` names those that are common
    certification-body practice (ISO/IEC 17021-1, 17065) rather than confirmed IECQ figures."""

    scheme = models.OneToOneField(Scheme, on_delete=models.PROTECT, related_name="rules")
    certificate_letter = models.CharField(max_length=2)
    number_format = models.CharField(max_length=100)
    validity_months = models.PositiveSmallIntegerField()
    first_surveillance_months = models.PositiveSmallIntegerField()
    surveillance_interval_months = models.PositiveSmallIntegerField()
    surveillance_window_days = models.PositiveSmallIntegerField()
    nonconformity_due_days = models.PositiveSmallIntegerField()
    initial_major_verification_months = models.PositiveSmallIntegerField()
    max_suspension_months = models.PositiveSmallIntegerField()
    suspension_end_action = models.CharField(
        max_length=20, choices=SuspensionEndAction.choices, default=SuspensionEndAction.WITHDRAW
    )
    defaults = models.JSONField(default=list, blank=True)
    sources = models.JSONField(default=dict, blank=True)
    #: The Secretariat reviews each new certificate of this scheme before it is published
    #:. Turned on and off by the Secretariat in the back office;
    #: the reference files set it only when they name it.
    publication_review = models.BooleanField(default=False)

    class Meta:
        verbose_name_plural = "scheme rules"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(suspension_end_action__in=SuspensionEndAction.values),
                name="scheme_rules_suspension_end_action_valid",
            )
        ]

    def __str__(self) -> str:
        return f"rules of {self.scheme}"


class Programme(models.Model):
    """A programme within a scheme, e.g. AP-CAP (counterfeit avoidance) within AP."""

    scheme = models.ForeignKey(Scheme, on_delete=models.PROTECT, related_name="programmes")
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    key_standards: models.ManyToManyField[Standard, Any]
    key_standards = models.ManyToManyField("Standard", blank=True, related_name="programmes")

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code}: {self.name}"


class ProcessCategory(models.Model):
    """A node of the coded tree of processes and services that AP certifies."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    is_design = models.BooleanField(
        default=False, help_text="A scope line in this category claims design."
    )
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]
        verbose_name_plural = "process categories"

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Standard(models.Model):
    """One edition of a standard or specification in the catalogue."""

    designation = models.CharField(max_length=100)
    edition = models.CharField(max_length=20)
    title = models.CharField(max_length=400)
    status = models.CharField(
        max_length=20, choices=StandardStatus.choices, default=StandardStatus.CURRENT
    )
    superseded_by = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="supersedes"
    )
    withdrawn_on = models.DateField(null=True, blank=True)
    accepted_for_iecq = models.BooleanField(default=True)

    class Meta:
        ordering = ["designation", "edition"]
        constraints = [
            models.UniqueConstraint(
                fields=["designation", "edition"], name="standard_designation_edition_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=StandardStatus.values), name="standard_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.designation}:{self.edition}"

    @property
    def reference(self) -> str:
        return f"{self.designation}:{self.edition}"


class ReferenceDataFile(models.Model):
    """Which version of each reference data file is loaded, by content hash."""

    name = models.CharField(max_length=100, unique=True)
    version = models.CharField(max_length=40)
    sha256 = models.CharField(max_length=64)
    loaded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
