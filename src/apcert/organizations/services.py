"""Organizations, their sites and their users."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from apcert.audit.services import audit_record
from apcert.bodies.services import validate_country
from apcert.core.errors import INVALID_CHOICE, INVALID_REQUIRED, RuleViolation, ValidationFailed
from apcert.core.permissions import is_secretariat
from apcert.organizations.choices import OrganizationRole
from apcert.organizations.errors import (
    ORGANIZATION_DUPLICATE_REGISTRATION,
    ORGANIZATION_MEMBER_EXISTS,
    SITE_DUPLICATE_NAME,
    SITE_NOTHING_CHANGED,
)
from apcert.organizations.models import Organization, OrganizationMember, Site
from apcert.organizations.permissions import is_org_member, require_org_member

if TYPE_CHECKING:
    from apcert.accounts.models import User


def _required(value: str, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationFailed(f"{what} is required.", code=INVALID_REQUIRED, field=field)
    return value


def organization_create(
    *,
    actor: User,
    legal_name: str,
    country: str,
    registration_number: str = "",
    registration_authority: str = "",
    address: str = "",
) -> Organization:
    """Register an organization. Its creator becomes its administrator, unless the
    creator is the Secretariat or a CB registering a client."""
    legal_name = _required(legal_name, "legal_name", "The legal name")
    country = validate_country(country)
    registration_number = (registration_number or "").strip()
    with transaction.atomic():
        if (
            registration_number
            and Organization.objects.filter(
                country=country, registration_number=registration_number
            ).exists()
        ):
            raise RuleViolation(
                f"An organization with registration number {registration_number} in {country} "
                "is already registered.",
                code=ORGANIZATION_DUPLICATE_REGISTRATION,
                field="registration_number",
            )
        org = Organization.objects.create(
            legal_name=legal_name,
            country=country,
            registration_number=registration_number,
            registration_authority=registration_authority,
            address=address,
        )
        if not is_secretariat(actor) and not actor.cb_roles.filter(active=True).exists():
            OrganizationMember.objects.create(
                organization=org, user=actor, role=OrganizationRole.ADMIN
            )
        audit_record(
            actor=actor,
            action="organization.create",
            obj=org,
            after={
                "legal_name": legal_name,
                "country": country,
                "registration_number": registration_number,
            },
        )
    return org


def organization_rename(
    *, actor: User, organization: Organization, legal_name: str, reason: str = ""
) -> Organization:
    if not is_secretariat(actor):
        require_org_member(actor, organization, admin=True)
    legal_name = _required(legal_name, "legal_name", "The legal name")
    with transaction.atomic():
        org = Organization.objects.select_for_update().get(pk=organization.pk)
        before = org.legal_name
        org.legal_name = legal_name
        org.save(update_fields=["legal_name"])
        audit_record(
            actor=actor,
            action="organization.rename",
            obj=org,
            before={"legal_name": before},
            after={"legal_name": legal_name},
            reason=reason,
        )
    return org


def site_create(
    *,
    actor: User,
    organization: Organization,
    name: str,
    city: str,
    country: str,
    address: str = "",
    published: bool = True,
) -> Site:
    if not is_secretariat(actor):
        require_org_member(actor, organization)
    name = _required(name, "name", "The site name")
    city = _required(city, "city", "The city")
    country = validate_country(country)
    with transaction.atomic():
        if Site.objects.filter(organization=organization, name=name).exists():
            raise RuleViolation(
                f"{organization} already has a site called {name}.",
                code=SITE_DUPLICATE_NAME,
                field="name",
            )
        site = Site.objects.create(
            organization=organization,
            name=name,
            city=city,
            country=country,
            address=address,
            published=published,
        )
        audit_record(
            actor=actor,
            action="site.create",
            obj=site,
            after={
                "organization": organization.pk,
                "name": name,
                "city": city,
                "country": country,
                "published": published,
            },
        )
    return site


def site_rename(*, actor: User, site: Site, name: str, reason: str = "") -> Site:
    """Record a site's new name. A certificate that lists the site keeps the old name
    until its CB re-issues it (certificates.services.certificate_site_renamed)."""
    if not is_secretariat(actor):
        require_org_member(actor, site.organization)
    name = _required(name, "name", "The site name")
    with transaction.atomic():
        locked = Site.objects.select_for_update().get(pk=site.pk)
        before = locked.name
        if name == before:
            raise RuleViolation(
                f"The site is called {name} already.", code=SITE_NOTHING_CHANGED, field="name"
            )
        if (
            Site.objects.filter(organization_id=locked.organization_id, name=name)
            .exclude(pk=locked.pk)
            .exists()
        ):
            raise RuleViolation(
                f"{locked.organization} already has a site called {name}.",
                code=SITE_DUPLICATE_NAME,
                field="name",
            )
        locked.name = name
        locked.save(update_fields=["name"])
        audit_record(
            actor=actor,
            action="site.rename",
            obj=locked,
            before={"name": before},
            after={"name": name},
            reason=reason,
        )
    return locked


def site_move(
    *, actor: User, site: Site, address: str, city: str, country: str, reason: str = ""
) -> Site:
    """Record a site's new address. A certificate that lists the site keeps the old address
    until its CB re-issues it (certificates.services.certificate_site_moved)."""
    if not is_secretariat(actor):
        require_org_member(actor, site.organization)
    city = _required(city, "city", "The city")
    country = validate_country(country)
    address = (address or "").strip()
    with transaction.atomic():
        locked = Site.objects.select_for_update().get(pk=site.pk)
        before = {"address": locked.address, "city": locked.city, "country": locked.country}
        after = {"address": address, "city": city, "country": country}
        if after == before:
            raise RuleViolation(
                f"{locked.name} is at this address already.",
                code=SITE_NOTHING_CHANGED,
                field="address",
            )
        locked.address, locked.city, locked.country = address, city, country
        locked.save(update_fields=["address", "city", "country"])
        audit_record(
            actor=actor, action="site.move", obj=locked, before=before, after=after, reason=reason
        )
    return locked


def organization_member_add(
    *, actor: User, organization: Organization, user: User, role: str = OrganizationRole.MEMBER
) -> OrganizationMember:
    if not is_secretariat(actor):
        require_org_member(actor, organization, admin=True)
    if role not in OrganizationRole.values:
        raise ValidationFailed(f"Unknown role '{role}'.", code=INVALID_CHOICE, field="role")
    with transaction.atomic():
        if is_org_member(user, organization):
            raise RuleViolation(
                f"{user} is already a user of {organization}.", code=ORGANIZATION_MEMBER_EXISTS
            )
        member = OrganizationMember.objects.create(organization=organization, user=user, role=role)
        audit_record(
            actor=actor,
            action="organization.member_add",
            obj=member,
            after={"organization": organization.pk, "user": user.username, "role": role},
        )
    return member
