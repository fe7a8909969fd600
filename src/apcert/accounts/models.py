"""People who sign in to apcert."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person with an account: Secretariat staff, CB staff or an organization's user.

    What a user may do comes from memberships (``bodies.CBStaff``,
    ``organizations.OrganizationMember``) and from ``is_secretariat``; the public and
    buyers need no account at all.
    """

    full_name = models.CharField(max_length=200, blank=True)
    is_secretariat = models.BooleanField(
        default=False,
        help_text="Secretariat staff keep the reference data, accept CBs and see everything.",
    )

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.full_name or self.username

    @property
    def label(self) -> str:
        """How the audit trail names this person."""
        return f"{self.username} ({self.full_name})" if self.full_name else self.username
