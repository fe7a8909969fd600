"""Applications for certification and the scope lines they declare."""

from __future__ import annotations

from django.db import models

from apcert.applications.choices import ApplicationStatus


class Application(models.Model):
    """An organization's request to a CB for certification under one scheme.

    It declares the programmes, the scope lines (process category + site + standards +
    wording) and whether design is claimed. Private: never shown in the public register.
    """

    organization = models.ForeignKey(
        "organizations.Organization", on_delete=models.PROTECT, related_name="applications"
    )
    cb = models.ForeignKey(
        "bodies.CertificationBody", on_delete=models.PROTECT, related_name="applications"
    )
    scheme = models.ForeignKey("schemes.Scheme", on_delete=models.PROTECT)
    programmes = models.ManyToManyField("schemes.Programme", related_name="applications")
    status = models.CharField(
        max_length=20, choices=ApplicationStatus.choices, default=ApplicationStatus.DRAFT
    )
    design_claimed = models.BooleanField(default=False)
    requests_component_qualification = models.BooleanField(
        default=False,
        help_text="The organization wants finished components qualified (that is IECQ AC).",
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ApplicationStatus.values),
                name="application_status_valid",
            )
        ]
        indexes = [
            # A CB's list reads a page along these in its order (last submitted first), of
            # all its applications or of those in one status, instead of sorting them all.
            models.Index(fields=["cb", "submitted_at", "id"], name="application_cb_submitted"),
            models.Index(
                fields=["cb", "status", "submitted_at", "id"], name="application_cb_status_sub"
            ),
        ]

    def __str__(self) -> str:
        return f"application {self.pk} of {self.organization} to {self.cb.code}"


class ScopeLine(models.Model):
    """One line of the declared scope: a process category at a site, against standards."""

    application = models.ForeignKey(
        Application, on_delete=models.PROTECT, related_name="scope_lines"
    )
    category = models.ForeignKey("schemes.ProcessCategory", on_delete=models.PROTECT)
    site = models.ForeignKey("organizations.Site", on_delete=models.PROTECT)
    wording = models.TextField(help_text="The scope wording as it will read on the certificate.")
    standards = models.ManyToManyField("schemes.Standard", blank=True)

    class Meta:
        ordering = ["application", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "category", "site"], name="scope_line_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.category.code} at {self.site.name}"
