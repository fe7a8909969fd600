"""Who may act for an organization: its members and administrators."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apcert.core.errors import PERMISSION_ORGANIZATION_MEMBER_REQUIRED, PermissionDenied
from apcert.core.permissions import require_active
from apcert.organizations.choices import OrganizationRole
from apcert.organizations.models import OrganizationMember

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.organizations.models import Organization


def is_org_member(actor: User | None, organization: Organization) -> bool:
    if actor is None or not actor.is_active:
        return False
    return OrganizationMember.objects.filter(organization=organization, user=actor).exists()


def require_org_member(
    actor: User | None, organization: Organization, *, admin: bool = False
) -> User:
    user = require_active(actor)
    qs = OrganizationMember.objects.filter(organization=organization, user=user)
    if admin:
        qs = qs.filter(role=OrganizationRole.ADMIN)
    if not qs.exists():
        raise PermissionDenied(
            f"Only {'an administrator' if admin else 'a user'} of {organization} may do this.",
            code=PERMISSION_ORGANIZATION_MEMBER_REQUIRED,
        )
    return user
