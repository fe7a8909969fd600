"""Organizations that apply for and hold certificates, and their sites."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from apcert.organizations.choices import OrganizationRole


class Organization(models.Model):
    """A legal entity that applies to a CB; identified by its registration number."""

    legal_name = models.CharField(max_length=300)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2")
    registration_number = models.CharField(max_length=100, blank=True)
    registration_authority = models.CharField(max_length=200, blank=True)
    address = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["legal_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["country", "registration_number"],
                condition=~models.Q(registration_number=""),
                name="organization_registration_unique",
            )
        ]
        # The Secretariat's list reads a page along it in its order (by name).
        indexes = [models.Index(fields=["legal_name", "id"], name="organization_name")]

    def __str__(self) -> str:
        return self.legal_name


class Site(models.Model):
    """A place where the organization runs certified processes.

    Only sites with ``published`` set appear in the public register.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="sites")
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True)
    city = models.CharField(max_length=120)
    country = models.CharField(max_length=2)
    published = models.BooleanField(default=True)

    class Meta:
        ordering = ["organization", "name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="site_name_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name}, {self.city} ({self.country})"


class OrganizationMember(models.Model):
    """A person who acts for an organization."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="organization_roles"
    )
    role = models.CharField(
        max_length=20, choices=OrganizationRole.choices, default=OrganizationRole.MEMBER
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="org_member_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=OrganizationRole.values), name="org_member_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} at {self.organization}"
