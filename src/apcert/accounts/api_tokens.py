"""API tokens: issued in the back office, sent by a CB's, an organization's or the
Secretariat's own system, each acting for one place with its issuer's rights there.

A token reads ``apcert_`` followed by 40 letters and digits and a 6-character checksum of
them (CRC-32, in the same letters and digits), so that a secret scanner recognises a leaked
one by its shape and can check it without asking apcert, and a mistyped one is refused
without a query. Only the SHA-256 of a token is stored (the token is random enough that a
slow hash adds nothing), with its first characters as a hint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import string
import zlib
from dataclasses import dataclass
from typing import NamedTuple

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from apcert.accounts.errors import (
    API_TOKEN_ALREADY_REVOKED,
    API_TOKEN_EXPIRY_INVALID,
    API_TOKEN_INVALID,
    API_TOKEN_NAME_REQUIRED,
    API_TOKEN_NOT_ALLOWED,
    API_TOKEN_NOT_FOUND,
    API_TOKEN_SCOPE_INVALID,
)
from apcert.accounts.models import ApiToken, ApiTokenScope, User
from apcert.audit.services import audit_record
from apcert.bodies.choices import CBRole
from apcert.bodies.models import CBStaff, CertificationBody
from apcert.core.errors import NotFound, PermissionDenied, ValidationFailed
from apcert.organizations.choices import OrganizationRole
from apcert.organizations.models import Organization, OrganizationMember

#: What every token begins with: the shape secret scanners look for.
TOKEN_PREFIX = "apcert_"  # noqa: S105 - a prefix, not a secret
_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 40  # 238 bits
_CHECK_LENGTH = 6
TOKEN_LENGTH = len(TOKEN_PREFIX) + _RANDOM_LENGTH + _CHECK_LENGTH
#: How many characters of a token are kept and shown to tell tokens apart.
HINT_LENGTH = len(TOKEN_PREFIX) + 6
#: Lifetimes a person may choose, in days; the form offers 90 first.
EXPIRY_DAYS_DEFAULT = 90
EXPIRY_DAYS_MAX = 366
#: How often the last use of a token is written: a system may call many times a minute.
USE_RESOLUTION = dt.timedelta(minutes=1)


def _checksum(random_part: str) -> str:
    value = zlib.crc32(random_part.encode())
    out = []
    for _ in range(_CHECK_LENGTH):
        value, digit = divmod(value, len(_ALPHABET))
        out.append(_ALPHABET[digit])
    return "".join(out)


def new_token_secret() -> str:
    """A fresh token: the prefix, 40 random letters and digits, and their checksum."""
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return TOKEN_PREFIX + random_part + _checksum(random_part)


def well_formed(secret: str) -> bool:
    """Whether ``secret`` has the shape of a token and its checksum holds."""
    if len(secret) != TOKEN_LENGTH or not secret.startswith(TOKEN_PREFIX):
        return False
    body = secret[len(TOKEN_PREFIX) :]
    if any(c not in _ALPHABET for c in body):
        return False
    return _checksum(body[:_RANDOM_LENGTH]) == body[_RANDOM_LENGTH:]


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- who may issue a token for a place -----------------------------------------------------


def may_issue_for(actor: User, place: CertificationBody | Organization | None) -> bool:
    """An administrator of the CB or organization; for the Secretariat (``None``), a member
    of the Secretariat. Only active people."""
    if not actor.is_active:
        return False
    if place is None:
        return bool(actor.is_secretariat)
    if isinstance(place, CertificationBody):
        return CBStaff.objects.filter(cb=place, user=actor, role=CBRole.ADMIN, active=True).exists()
    return OrganizationMember.objects.filter(
        organization=place, user=actor, role=OrganizationRole.ADMIN
    ).exists()


def _place_of(token: ApiToken) -> CertificationBody | Organization | None:
    return token.cb or token.organization


def places_to_issue_for(actor: User) -> list[CertificationBody | Organization | None]:
    """The places ``actor`` may issue a token for: the Secretariat (``None``) first, then
    the CBs, then the organizations they administer."""
    if not actor.is_active:
        return []
    places: list[CertificationBody | Organization | None] = [None] if actor.is_secretariat else []
    places.extend(
        CertificationBody.objects.filter(
            staff__user=actor, staff__role=CBRole.ADMIN, staff__active=True
        )
        .distinct()
        .order_by("code")
    )
    places.extend(
        Organization.objects.filter(
            members__user=actor, members__role=OrganizationRole.ADMIN
        ).order_by("legal_name")
    )
    return places


# --- issue and revoke ------------------------------------------------------------------------


class NewApiToken(NamedTuple):
    """What :func:`api_token_issue` made: the token and its secret (never stored)."""

    token: ApiToken
    secret: str


def api_token_issue(
    *,
    actor: User,
    name: str,
    place: CertificationBody | Organization | None,
    scope: str,
    expires_in_days: int = EXPIRY_DAYS_DEFAULT,
) -> NewApiToken:
    """Issue a token for ``place`` (a CB, an organization, or ``None`` for the Secretariat)
    that ``actor`` administers. The secret is returned once and only its SHA-256 kept. One
    audit event (which never holds the secret)."""
    name = " ".join((name or "").split())
    if not name:
        raise ValidationFailed(
            "Say in a few words what the token is for.", code=API_TOKEN_NAME_REQUIRED, field="name"
        )
    if len(name) > 100:
        raise ValidationFailed(
            "At most 100 characters.", code=API_TOKEN_NAME_REQUIRED, field="name"
        )
    if scope not in ApiTokenScope.values:
        raise ValidationFailed(
            "The scope is read, or read and write.", code=API_TOKEN_SCOPE_INVALID, field="scope"
        )
    if not 1 <= expires_in_days <= EXPIRY_DAYS_MAX:
        raise ValidationFailed(
            f"A token lasts from 1 to {EXPIRY_DAYS_MAX} days.",
            code=API_TOKEN_EXPIRY_INVALID,
            field="expires_in_days",
        )
    if not may_issue_for(actor, place):
        where = "the Secretariat" if place is None else str(place)
        raise PermissionDenied(
            f"Only an administrator of {where} may issue its API tokens.",
            code=API_TOKEN_NOT_ALLOWED,
        )
    secret = new_token_secret()
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            name=name,
            cb=place if isinstance(place, CertificationBody) else None,
            organization=place if isinstance(place, Organization) else None,
            scope=scope,
            issued_by=actor,
            token_hash=secret_hash(secret),
            hint=secret[:HINT_LENGTH],
            created_at=now,
            expires_at=now + dt.timedelta(days=expires_in_days),
        )
        audit_record(
            actor=actor,
            action="api_token.issue",
            obj=token,
            after={
                "name": token.name,
                "place": token.place_label,
                "scope": token.scope,
                "hint": token.hint,
                "expires_at": token.expires_at,
            },
        )
    return NewApiToken(token, secret)


def may_revoke(actor: User, token: ApiToken) -> bool:
    """Its issuer, an administrator of its place, or the Secretariat."""
    if not actor.is_active:
        return False
    return (
        token.issued_by_id == actor.pk
        or bool(actor.is_secretariat)
        or may_issue_for(actor, _place_of(token))
    )


def api_token_revoke(*, actor: User, token: ApiToken) -> ApiToken:
    """End a token now: the next request that sends it is refused. One audit event."""
    if not may_revoke(actor, token):
        raise NotFound("No API token of yours has this number.", code=API_TOKEN_NOT_FOUND)
    with transaction.atomic():
        locked = ApiToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            raise ValidationFailed(
                "This token was revoked already.", code=API_TOKEN_ALREADY_REVOKED
            )
        locked.revoked_at = timezone.now()
        locked.revoked_by = actor
        locked.save(update_fields=["revoked_at", "revoked_by"])
        audit_record(
            actor=actor,
            action="api_token.revoke",
            obj=locked,
            after={"revoked_at": locked.revoked_at, "hint": locked.hint},
        )
    return locked


# --- using a token ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApiCaller:
    """Who calls the API with a token: the person who issued it, acting for its place
    only, within its scope."""

    token: ApiToken
    user: User
    cb: CertificationBody | None
    organization: Organization | None

    @property
    def secretariat(self) -> bool:
        return self.cb is None and self.organization is None

    @property
    def may_write(self) -> bool:
        return self.token.scope == ApiTokenScope.WRITE

    @property
    def through(self) -> str:
        """What the audit trail adds to the issuer's name for a change made with it."""
        return f"with API token {self.token.pk} ({self.token.hint}…)"


INVALID_MESSAGE = (
    "The API token is unknown, expired or revoked, or the person who issued it no longer "
    "administers its place. Send a valid token as 'Authorization: Bearer apcert_...'."
)


def api_token_open(*, secret: str, address: str | None = None) -> ApiCaller:
    """The caller a token stands for, noting when and from where it was used (to the
    minute; not an audited change). Every reason to refuse gives the same
    :class:`PermissionDenied` (code ``api_token.invalid``), which says nothing of which
    tokens exist."""
    secret = (secret or "").strip()
    if not well_formed(secret):
        raise PermissionDenied(INVALID_MESSAGE, code=API_TOKEN_INVALID)
    token = (
        ApiToken.objects.select_related("issued_by", "cb", "organization")
        .filter(token_hash=secret_hash(secret), revoked_at__isnull=True)
        .first()
    )
    now = timezone.now()
    if (
        token is None
        or token.is_expired(now)
        or not may_issue_for(token.issued_by, _place_of(token))
    ):
        raise PermissionDenied(INVALID_MESSAGE, code=API_TOKEN_INVALID)
    if (
        token.last_used_at is None
        or now - token.last_used_at >= USE_RESOLUTION
        or token.last_used_ip != address
    ):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=address)
        token.last_used_at, token.last_used_ip = now, address
    return ApiCaller(
        token=token, user=token.issued_by, cb=token.cb, organization=token.organization
    )


# --- reading tokens --------------------------------------------------------------------------


def api_tokens_visible_to(actor: User) -> QuerySet[ApiToken]:
    """The tokens a person may see in the back office (never their secrets): those they
    issued, those of the places they administer, and for the Secretariat every token."""
    tokens = ApiToken.objects.select_related("cb", "organization", "issued_by", "revoked_by")
    if not actor.is_active:
        return tokens.none()
    if actor.is_secretariat:
        return tokens.all()
    cbs = CBStaff.objects.filter(user=actor, role=CBRole.ADMIN, active=True).values("cb")
    organizations = OrganizationMember.objects.filter(
        user=actor, role=OrganizationRole.ADMIN
    ).values("organization")
    return tokens.filter(
        Q(issued_by=actor) | Q(cb__in=cbs) | Q(organization__in=organizations)
    ).distinct()


__all__ = [
    "EXPIRY_DAYS_DEFAULT",
    "EXPIRY_DAYS_MAX",
    "TOKEN_PREFIX",
    "ApiCaller",
    "NewApiToken",
    "api_token_issue",
    "api_token_open",
    "api_token_revoke",
    "api_tokens_visible_to",
    "may_issue_for",
    "may_revoke",
    "new_token_secret",
    "places_to_issue_for",
    "well_formed",
]
