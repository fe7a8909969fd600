"""Accounts: invitations by which a CB or an organization adds colleagues with a role.

A CB's administrator invites the CB's staff, an organization's administrator the
organization's users, and the Secretariat anyone. The invitation goes
by e-mail with a link holding a random token; whoever opens the link chooses a username and a
password, and gets an account with the role the invitation names. Accounts are made this way
or by the Secretariat in the admin; nobody signs themselves up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from typing import TYPE_CHECKING, NamedTuple

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from apcert.accounts.errors import (
    ACCOUNT_USERNAME_TAKEN,
    CALENDAR_FEED_NOT_ACTIVE,
    CALENDAR_FEED_NOT_FOUND,
    INVITATION_CB_ADMIN_REQUIRED,
    INVITATION_EXPIRED,
    INVITATION_INVITER_NOT_ALLOWED,
    INVITATION_NOT_FOUND,
    INVITATION_ONE_TARGET,
    INVITATION_ORGANIZATION_ADMIN_REQUIRED,
    INVITATION_TARGET_REQUIRED,
    INVITATION_USED,
)
from apcert.accounts.models import CalendarFeed, Invitation, User
from apcert.audit.services import audit_record
from apcert.bodies.choices import CBRole
from apcert.bodies.models import CBStaff
from apcert.bodies.permissions import cb_roles
from apcert.core.errors import (
    INVALID_CHOICE,
    INVALID_EMAIL,
    INVALID_PASSWORD,
    INVALID_REQUIRED,
    INVALID_TOO_LONG,
    INVALID_USERNAME,
    PERMISSION_NOT_SIGNED_IN,
    NotFound,
    PermissionDenied,
    RuleViolation,
    ValidationFailed,
)
from apcert.core.permissions import is_secretariat
from apcert.organizations.choices import OrganizationRole
from apcert.organizations.models import OrganizationMember

if TYPE_CHECKING:
    from apcert.bodies.models import CertificationBody
    from apcert.organizations.models import Organization

logger = logging.getLogger(__name__)

#: Random bytes in an invitation token (before URL-safe base64).
TOKEN_BYTES = 32


class NewInvitation(NamedTuple):
    """What :func:`invitation_create` made: the invitation, its token (never stored) and the
    link that was mailed."""

    invitation: Invitation
    token: str
    url: str


def token_hash(token: str) -> str:
    """How an invitation's token is stored: its SHA-256, in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


# --- who may invite -----------------------------------------------------------------------------


def may_invite_to_cb(actor: User | None, cb: CertificationBody) -> bool:
    """The Secretariat, or an active administrator of the CB."""
    return is_secretariat(actor) or "admin" in cb_roles(actor, cb)


def may_invite_to_organization(actor: User | None, organization: Organization) -> bool:
    """The Secretariat, or an administrator of the organization."""
    if is_secretariat(actor):
        return True
    if actor is None or not actor.is_active:
        return False
    return OrganizationMember.objects.filter(
        organization=organization, user=actor, role=OrganizationRole.ADMIN
    ).exists()


def _require_may_invite(
    actor: User | None, cb: CertificationBody | None, organization: Organization | None
) -> None:
    if actor is None or not actor.is_active:
        raise PermissionDenied(
            "You need to be signed in with an active account to do this.",
            code=PERMISSION_NOT_SIGNED_IN,
        )
    # The refusals do not name the place: the caller may not know that it exists.
    if cb is not None and not may_invite_to_cb(actor, cb):
        raise PermissionDenied(
            "Only the Secretariat or an administrator of this certification body may invite "
            "colleagues to it.",
            code=INVITATION_CB_ADMIN_REQUIRED,
            params={"cb": cb.code},
        )
    if organization is not None and not may_invite_to_organization(actor, organization):
        raise PermissionDenied(
            "Only the Secretariat or an administrator of this organization may invite "
            "colleagues to it.",
            code=INVITATION_ORGANIZATION_ADMIN_REQUIRED,
            params={"organization": organization.pk},
        )


# --- invitation_create --------------------------------------------------------------------------


def _target(
    cb: CertificationBody | None,
    cb_role: str | None,
    organization: Organization | None,
    org_role: str | None,
) -> tuple[str, str]:
    """Check that the invitation names one target and a role there; return (cb_role, org_role)."""
    if cb is not None and organization is not None:
        raise ValidationFailed(
            "An invitation is to a CB or to an organization, not to both.",
            code=INVITATION_ONE_TARGET,
        )
    if cb is None and organization is None:
        raise ValidationFailed(
            "Say which CB or organization the colleague is invited to.",
            code=INVITATION_TARGET_REQUIRED,
        )
    if cb is not None:
        if org_role:
            raise ValidationFailed(
                "An organization role does not apply at a CB.",
                code=INVITATION_ONE_TARGET,
                field="org_role",
            )
        if cb_role not in CBRole.values:
            raise ValidationFailed(
                f"Choose the role at the CB ({', '.join(CBRole.values)}).",
                code=INVALID_CHOICE,
                field="cb_role",
            )
        return str(cb_role), ""
    if cb_role:
        raise ValidationFailed(
            "A CB role does not apply at an organization.",
            code=INVITATION_ONE_TARGET,
            field="cb_role",
        )
    if org_role not in OrganizationRole.values:
        raise ValidationFailed(
            f"Choose the role at the organization ({', '.join(OrganizationRole.values)}).",
            code=INVALID_CHOICE,
            field="org_role",
        )
    return "", str(org_role)


def _email(value: str) -> str:
    email = User.objects.normalize_email((value or "").strip())
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationFailed(
            f"'{value}' is not an e-mail address.", code=INVALID_EMAIL, field="email"
        ) from None
    return email


def _invitation_mail(invitation: Invitation, url: str) -> EmailMessage:
    inviter = invitation.invited_by
    expires = timezone.localtime(invitation.expires_at).strftime("%d %B %Y, %H:%M %Z")
    body = (
        f"Hello,\n\n"
        f"{inviter.full_name or inviter.username} invites you to apcert, where the IECQ "
        f"Approved Process scheme is run, as {invitation.role_label} at "
        f"{invitation.target_label}.\n\n"
        f"To accept, open this link, choose a username and a password:\n\n{url}\n\n"
        f"The link works once, until {expires}. If you did not expect this invitation, "
        f"ignore this e-mail: nothing happens unless the link is opened and the form sent.\n"
    )
    return EmailMessage(
        subject=f"Invitation to apcert: {invitation.role_label} at {invitation.target_label}",
        body=body,
        to=[invitation.email],
    )


def _send_invitation_mail(invitation: Invitation, url: str) -> None:
    try:
        _invitation_mail(invitation, url).send(fail_silently=False)
    except Exception:
        # The invitation stands; the inviter sees it pending and can invite again.
        logger.exception("the invitation e-mail to %s could not be sent", invitation.email)


def invitation_create(
    *,
    actor: User,
    email: str,
    cb: CertificationBody | None = None,
    cb_role: str | None = None,
    organization: Organization | None = None,
    org_role: str | None = None,
    site_url: str | None = None,
) -> NewInvitation:
    """Invite a person, by e-mail, to a role at a CB or at an organization.

    Only the Secretariat, an active administrator of the CB or an administrator of the
    organization may invite. The e-mail, with the acceptance link, is sent once the
    invitation is committed. ``site_url`` is the address apcert was reached at (a page passes
    its own); without it ``settings.SITE_URL``.
    """
    cb_role, org_role = _target(cb, cb_role, organization, org_role)
    _require_may_invite(actor, cb, organization)
    address = _email(email)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    base = (site_url or settings.SITE_URL).rstrip("/")
    url = base + reverse("web:invitation-accept", kwargs={"token": token})
    now = timezone.now()
    with transaction.atomic():
        invitation = Invitation.objects.create(
            email=address,
            invited_by=actor,
            cb=cb,
            cb_role=cb_role,
            organization=organization,
            org_role=org_role,
            token_hash=token_hash(token),
            created_at=now,
            expires_at=now + dt.timedelta(days=settings.INVITATION_DAYS),
        )
        audit_record(
            actor=actor,
            action="invitation.create",
            obj=invitation,
            after={
                "email": address,
                "cb": cb.code if cb is not None else None,
                "cb_role": cb_role or None,
                "organization": organization.pk if organization is not None else None,
                "org_role": org_role or None,
                "expires_at": invitation.expires_at,
            },
        )
        transaction.on_commit(lambda: _send_invitation_mail(invitation, url))
    return NewInvitation(invitation, token, url)


# --- invitation_accept --------------------------------------------------------------------------


def _open_invitation(invitation: Invitation | None, now: dt.datetime) -> Invitation:
    """The invitation, if it may still be accepted; else the refusal."""
    if invitation is None:
        raise NotFound(
            "This invitation link is not valid. Check that the whole link was copied, or ask "
            "for a new invitation.",
            code=INVITATION_NOT_FOUND,
        )
    if invitation.accepted_at is not None:
        raise RuleViolation(
            "This invitation has already been used. Sign in with the account made with it, "
            "or ask for a new invitation.",
            code=INVITATION_USED,
        )
    if invitation.is_expired(now):
        raise RuleViolation(
            "This invitation has expired. Ask the person who invited you for a new one.",
            code=INVITATION_EXPIRED,
            params={"expired_at": invitation.expires_at.isoformat()},
        )
    inviter = invitation.invited_by
    allowed = (
        may_invite_to_cb(inviter, invitation.cb)
        if invitation.cb is not None
        else invitation.organization is not None
        and may_invite_to_organization(inviter, invitation.organization)
    )
    if not allowed:
        # The inviter has since lost the right to add colleagues there: so has the invitation.
        raise PermissionDenied(
            "The person who invited you may no longer add colleagues there. Ask an "
            "administrator for a new invitation.",
            code=INVITATION_INVITER_NOT_ALLOWED,
        )
    return invitation


def invitation_check(*, token: str) -> Invitation:
    """The invitation a token opens, if it may still be accepted (else the refusal)."""
    invitation = (
        Invitation.objects.select_related("invited_by", "cb", "organization")
        .filter(token_hash=token_hash(token or ""))
        .first()
    )
    return _open_invitation(invitation, timezone.now())


def _username(value: str) -> str:
    username = User.normalize_username((value or "").strip())
    if not username:
        raise ValidationFailed("Choose a username.", code=INVALID_REQUIRED, field="username")
    max_length = User._meta.get_field("username").max_length or 150
    try:
        UnicodeUsernameValidator()(username)
    except ValidationError:
        raise ValidationFailed(
            "A username holds letters, digits and @ . + - _ only.",
            code=INVALID_USERNAME,
            field="username",
        ) from None
    if len(username) > max_length:
        raise ValidationFailed(
            f"A username has at most {max_length} characters.",
            code=INVALID_USERNAME,
            field="username",
        )
    return username


def _username_taken(username: str) -> RuleViolation:
    return RuleViolation(
        f"The username {username} is taken: choose another.",
        code=ACCOUNT_USERNAME_TAKEN,
        field="username",
    )


def invitation_accept(*, token: str, username: str, full_name: str, password: str) -> User:
    """Accept an invitation: make the invited person's account and give it the role.

    The token must open an invitation that is neither used nor expired, and whose inviter may
    still invite there. The username must be free; the password must pass the password
    validators (AUTH_PASSWORD_VALIDATORS). The account, the membership and the acceptance are
    written together, with one audit event whose actor is the new user.
    """
    invitation = invitation_check(token=token)
    username = _username(username)
    full_name = (full_name or "").strip()
    if not full_name:
        raise ValidationFailed("Give your full name.", code=INVALID_REQUIRED, field="full_name")
    max_name = User._meta.get_field("full_name").max_length or 200
    if len(full_name) > max_name:
        raise ValidationFailed(
            f"A name has at most {max_name} characters.", code=INVALID_TOO_LONG, field="full_name"
        )
    if User.objects.filter(username__iexact=username).exists():
        raise _username_taken(username)
    candidate = User(username=username, email=invitation.email, full_name=full_name)
    try:
        validate_password(password, user=candidate)
    except ValidationError as exc:
        raise ValidationFailed(
            " ".join(exc.messages),
            code=INVALID_PASSWORD,
            field="password",
            params={"problems": list(exc.messages)},
        ) from None
    hashed = make_password(password)  # slow on purpose: done before any lock is taken

    with transaction.atomic():
        now = timezone.now()
        locked = (
            Invitation.objects.select_for_update(of=("self",))
            .select_related("invited_by", "cb", "organization")
            .filter(pk=invitation.pk)
            .first()
        )
        invitation = _open_invitation(locked, now)  # again: another request may have won
        if User.objects.filter(username__iexact=username).exists():
            raise _username_taken(username)
        try:
            with transaction.atomic():
                user = User.objects.create(
                    username=username,
                    email=invitation.email,
                    full_name=full_name,
                    password=hashed,
                )
        except IntegrityError:
            raise _username_taken(username) from None
        if invitation.cb is not None:
            CBStaff.objects.create(cb=invitation.cb, user=user, role=invitation.cb_role)
        else:
            assert invitation.organization is not None  # the check constraint says so
            OrganizationMember.objects.create(
                organization=invitation.organization, user=user, role=invitation.org_role
            )
        invitation.accepted_at = now
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
        audit_record(
            actor=user,
            action="invitation.accept",
            obj=invitation,
            after={
                "user": username,
                "email": invitation.email,
                "invited_by": invitation.invited_by.username,
                "cb": invitation.cb.code if invitation.cb is not None else None,
                "cb_role": invitation.cb_role or None,
                "organization": invitation.organization_id,
                "org_role": invitation.org_role or None,
            },
        )
    return user


# --- calendar feeds -----------------------------------------------------------------------------

#: How often the last use of a feed is written: calendars poll every few minutes, and the
#: hour is all a person needs to see whether their address is still read.
FEED_USE_RESOLUTION = dt.timedelta(hours=1)


class NewCalendarFeed(NamedTuple):
    """What :func:`calendar_feed_create` made: the feed and its token (never stored)."""

    feed: CalendarFeed
    token: str


def _require_signed_in(actor: User | None) -> User:
    if actor is None or not actor.is_authenticated or not actor.is_active:
        raise PermissionDenied(
            "You need to be signed in with an active account to do this.",
            code=PERMISSION_NOT_SIGNED_IN,
        )
    return actor


def calendar_feed_create(*, actor: User) -> NewCalendarFeed:
    """Make a new secret address for ``actor``'s calendar feed; the address they had, if
    any, stops working in the same transaction (a person has one active feed). The token is
    returned once and only its SHA-256 kept. One audit event, which names the revoked feed."""
    user = _require_signed_in(actor)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with transaction.atomic():
        # The person's row first: two requests at once make one feed after the other.
        User.objects.select_for_update().filter(pk=user.pk).first()
        now = timezone.now()
        old = list(
            CalendarFeed.objects.filter(user=user, revoked_at__isnull=True).values_list(
                "pk", flat=True
            )
        )
        CalendarFeed.objects.filter(pk__in=old).update(revoked_at=now)
        feed = CalendarFeed.objects.create(user=user, token_hash=token_hash(token), created_at=now)
        audit_record(
            actor=user,
            action="calendar_feed.create",
            obj=feed,
            before={"active_feed": old[0] if old else None},
            after={"user": user.username, "created_at": now},
        )
    return NewCalendarFeed(feed, token)


def calendar_feed_revoke(*, actor: User) -> CalendarFeed:
    """Stop ``actor``'s calendar feed: its address answers 404 from now on. Refused when
    they have no active feed. One audit event."""
    user = _require_signed_in(actor)
    with transaction.atomic():
        feed = (
            CalendarFeed.objects.select_for_update()
            .filter(user=user, revoked_at__isnull=True)
            .first()
        )
        if feed is None:
            raise RuleViolation("You have no calendar feed to stop.", code=CALENDAR_FEED_NOT_ACTIVE)
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
        audit_record(
            actor=user,
            action="calendar_feed.revoke",
            obj=feed,
            after={"revoked_at": feed.revoked_at},
        )
    return feed


def calendar_feed_open(*, token: str) -> User:
    """The person whose active feed ``token`` opens, noting when it was read (to the hour;
    not an audited change). An unknown or revoked token, or a person no longer active,
    is :class:`NotFound`: an address that stopped working says nothing about why."""
    feed = (
        CalendarFeed.objects.select_related("user")
        .filter(token_hash=token_hash(token or ""), revoked_at__isnull=True)
        .first()
    )
    if feed is None or not feed.user.is_active:
        raise NotFound("No calendar feed has this address.", code=CALENDAR_FEED_NOT_FOUND)
    now = timezone.now()
    if feed.last_used_at is None or now - feed.last_used_at >= FEED_USE_RESOLUTION:
        CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=now)
    return feed.user
