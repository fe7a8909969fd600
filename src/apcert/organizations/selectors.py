"""Reading organizations and their sites, limited to who may see them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from apcert.core.permissions import is_secretariat
from apcert.organizations.models import Organization, OrganizationMember, Site

if TYPE_CHECKING:
    from apcert.accounts.models import User


def organizations_for_organization_users(actor: User) -> QuerySet[Organization]:
    """The organizations whose back-office section ``actor`` may open: the Secretariat all;
    an organization's users their own. CB staff see their clients in the CB section."""
    qs = Organization.objects.all()
    if is_secretariat(actor):
        return qs
    if not actor.is_active:
        return qs.none()
    return qs.filter(pk__in=OrganizationMember.objects.filter(user=actor).values("organization_id"))


def sites_of(organization: Organization) -> QuerySet[Site]:
    """An organization's sites (the caller has the organization from a selector above)."""
    return Site.objects.filter(organization=organization)


def is_organization_user(user: User | None) -> bool:
    """Whether ``user`` is a member of any organization (the organization section is theirs)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return OrganizationMember.objects.filter(user=user).exists()
