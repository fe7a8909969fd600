"""Who may do what: the checks every service and selector shares.

Services call these before they change anything; each refusal is a PermissionDenied with
a stable code, so the API, the web pages and the tests see the same answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apcert.core.errors import PermissionDenied

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.bodies.models import CertificationBody
    from apcert.organizations.models import Organization


def _active(actor: User | None) -> User:
    if actor is None or not actor.is_active:
        raise PermissionDenied(
            "You need to be signed in with an active account to do this.",
            code="permission.not_signed_in",
        )
    return actor


def is_secretariat(actor: User | None) -> bool:
    return bool(actor is not None and actor.is_active and actor.is_secretariat)


def require_secretariat(actor: User | None) -> User:
    user = _active(actor)
    if not user.is_secretariat:
        raise PermissionDenied(
            "Only the IECQ Secretariat may do this.", code="permission.secretariat_required"
        )
    return user


def cb_roles(actor: User | None, cb: CertificationBody) -> set[str]:
    if actor is None or not actor.is_active:
        return set()
    from apcert.bodies.models import CBStaff

    return set(
        CBStaff.objects.filter(cb=cb, user=actor, active=True).values_list("role", flat=True)
    )


def require_cb_role(actor: User | None, cb: CertificationBody, *roles: str) -> User:
    """The actor must hold one of ``roles`` at ``cb`` (an admin of the CB holds them all)."""
    user = _active(actor)
    held = cb_roles(user, cb)
    if not held or not (held & (set(roles) | {"admin"})):
        wanted = " or ".join(r.replace("_", " ") for r in roles)
        raise PermissionDenied(
            f"Only a {wanted} of {cb.code} may do this.",
            code="permission.cb_role_required",
            params={"cb": cb.code, "roles": list(roles)},
        )
    return user


def is_org_member(actor: User | None, organization: Organization) -> bool:
    if actor is None or not actor.is_active:
        return False
    from apcert.organizations.models import OrganizationMember

    return OrganizationMember.objects.filter(organization=organization, user=actor).exists()


def require_org_member(
    actor: User | None, organization: Organization, *, admin: bool = False
) -> User:
    user = _active(actor)
    from apcert.organizations.models import OrganizationMember

    qs = OrganizationMember.objects.filter(organization=organization, user=user)
    if admin:
        qs = qs.filter(role="admin")
    if not qs.exists():
        raise PermissionDenied(
            f"Only {'an administrator' if admin else 'a user'} of {organization} may do this.",
            code="permission.organization_member_required",
        )
    return user
