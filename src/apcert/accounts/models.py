"""People who sign in to apcert."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone

from apcert.bodies.choices import CBRole
from apcert.organizations.choices import OrganizationRole


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


class Invitation(models.Model):
    """An invitation to a person, by e-mail, to join a CB or an organization with a role.

    A CB's administrator invites its staff, an organization's administrator its users, and
    the Secretariat anyone. The e-mail carries a random token; only its SHA-256 is stored, so
    the table cannot be used to accept anyone's invitation. Accepting creates the person's
    account and the membership (``bodies.CBStaff`` or ``organizations.OrganizationMember``);
    an invitation is accepted once, before ``expires_at``, or never.
    """

    email = models.EmailField()
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invitations_sent"
    )
    cb = models.ForeignKey(
        "bodies.CertificationBody",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invitations",
    )
    cb_role = models.CharField(max_length=20, choices=CBRole.choices, blank=True)
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invitations",
    )
    org_role = models.CharField(max_length=20, choices=OrganizationRole.choices, blank=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="invitation_accepted",
    )

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["expires_at"], name="invitation_expires_idx")]
        constraints = [
            # Exactly one target: a role at a CB, or a role at an organization.
            models.CheckConstraint(
                condition=(
                    models.Q(cb__isnull=False, organization__isnull=True, org_role="")
                    & models.Q(cb_role__in=CBRole.values)
                )
                | (
                    models.Q(cb__isnull=True, organization__isnull=False, cb_role="")
                    & models.Q(org_role__in=OrganizationRole.values)
                ),
                name="invitation_one_target",
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True, accepted_user__isnull=True)
                | models.Q(accepted_at__isnull=False, accepted_user__isnull=False),
                name="invitation_accepted_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} as {self.role_label} at {self.target_label}"

    @property
    def role_label(self) -> str:
        return self.get_cb_role_display() if self.cb_id else self.get_org_role_display()

    @property
    def target_label(self) -> str:
        if self.cb_id is not None and self.cb is not None:
            return f"{self.cb.code} {self.cb.name}"
        return str(self.organization)

    def is_expired(self, at: dt.datetime | None = None) -> bool:
        return (at or timezone.now()) >= self.expires_at

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and not self.is_expired()


class CalendarFeed(models.Model):
    """The secret address of a person's calendar feed (``/office/calendar/<token>.ics``):
    their assessments and, for a scheme manager, their CB's visits due, which a calendar
    application reads without signing in.

    Only the SHA-256 of the token is stored, so the table cannot be used to read anyone's
    feed; the address is shown once, when it is made. A person has at most one active feed:
    making a new address revokes the old one, and a revoked address answers 404.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="calendar_feeds"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    #: When a calendar last read the feed (kept to the hour: a feed is polled often).
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(revoked_at__isnull=True),
                name="calendar_feed_one_active",
            ),
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "active"
        return f"Calendar feed of {self.user} ({state})"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class ApiTokenScope(models.TextChoices):
    """What an API token may do: read, or read and write."""

    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A secret that a CB's, an organization's or the Secretariat's own system sends to the
    API (``Authorization: Bearer apcert_...``) to act for that place without a person signing
    in.

    It is issued by an administrator of the place it is for (a CB, an organization) or by
    the Secretariat (for the Secretariat), and acts with the rights its issuer holds there and
    nowhere else, as long as the issuer holds them: a token never reaches further than the
    person who issued it, nor beyond its place. Its scope is read, or read and write. It
    ends at ``expires_at`` or when revoked. The secret is shown once, when it is issued;
    only its SHA-256 is stored, and its first characters (``hint``) so that a person can
    tell their tokens apart. Every change made with a token is audited under the issuer's
    name with the token's id."""

    name = models.CharField(max_length=100, help_text="What the token is for, in a few words.")
    #: The place the token acts for: a CB, an organization, or neither (the Secretariat).
    cb = models.ForeignKey(
        "bodies.CertificationBody",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_tokens",
    )
    organization = models.ForeignKey(
        "organizations.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_tokens",
    )
    scope = models.CharField(max_length=10, choices=ApiTokenScope.choices)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens_issued"
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    #: The start of the secret (its fixed prefix and a few random characters): not enough
    #: to use it, enough to recognise it in a list or a log.
    hint = models.CharField(max_length=20, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    #: When and from where the token was last used (to the minute: a busy system calls
    #: many times a minute).
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="api_tokens_revoked",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cb__isnull=True) | models.Q(organization__isnull=True),
                name="api_token_one_place",
            ),
            models.CheckConstraint(
                condition=models.Q(scope__in=ApiTokenScope.values), name="api_token_scope_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | models.Q(revoked_at__isnull=False, revoked_by__isnull=False),
                name="api_token_revoked_by_someone",
            ),
        ]

    def __str__(self) -> str:
        return f"API token {self.hint}… ({self.name}) for {self.place_label}"

    @property
    def place_label(self) -> str:
        if self.cb_id is not None and self.cb is not None:
            return f"{self.cb.code} {self.cb.name}"
        if self.organization_id is not None and self.organization is not None:
            return str(self.organization)
        return "the Secretariat"

    def is_expired(self, at: dt.datetime | None = None) -> bool:
        return (at or timezone.now()) >= self.expires_at

    @property
    def active(self) -> bool:
        return self.revoked_at is None and not self.is_expired()
