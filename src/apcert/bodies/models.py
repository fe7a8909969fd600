"""Certification bodies: the tenancy unit of apcert."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper

from apcert.bodies.choices import AcceptanceStatus, CBRole


class CertificationBody(models.Model):
    """An IECQ-accepted certification body (CB). Its code appears in certificate numbers.

    A CB sees only its own clients' private data; every selector filters on it.
    """

    code = models.CharField(max_length=8, unique=True, help_text="Given by the Secretariat.")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    website = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        verbose_name = "certification body"
        verbose_name_plural = "certification bodies"
        constraints = [
            models.UniqueConstraint(Upper("code"), name="cb_code_unique_ci"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class CBAcceptance(models.Model):
    """The Secretariat's acceptance of a CB for one scheme programme, with its dates.

    ``categories`` limits the acceptance to part of the process tree; empty means the whole
    programme. A grant needs an acceptance that is active on the decision date.
    """

    cb = models.ForeignKey(CertificationBody, on_delete=models.PROTECT, related_name="acceptances")
    scheme = models.ForeignKey("schemes.Scheme", on_delete=models.PROTECT)
    programme = models.ForeignKey("schemes.Programme", on_delete=models.PROTECT)
    categories = models.ManyToManyField("schemes.ProcessCategory", blank=True)
    status = models.CharField(
        max_length=20, choices=AcceptanceStatus.choices, default=AcceptanceStatus.ACTIVE
    )
    accepted_on = models.DateField()
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["cb", "programme"]
        constraints = [
            models.UniqueConstraint(fields=["cb", "programme"], name="cb_acceptance_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=AcceptanceStatus.values),
                name="cb_acceptance_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cb.code} accepted for {self.programme.code} ({self.status})"

    def is_current_on(self, day: dt.date) -> bool:
        return (
            self.status == AcceptanceStatus.ACTIVE
            and self.accepted_on <= day
            and (self.valid_until is None or day <= self.valid_until)
        )


class CBStaff(models.Model):
    """A person's role at a CB. One person may hold several roles at one CB."""

    cb = models.ForeignKey(CertificationBody, on_delete=models.PROTECT, related_name="staff")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cb_roles"
    )
    role = models.CharField(max_length=20, choices=CBRole.choices)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = "CB staff role"
        constraints = [
            models.UniqueConstraint(fields=["cb", "user", "role"], name="cb_staff_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=CBRole.values), name="cb_staff_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} - {self.get_role_display()} at {self.cb.code}"
