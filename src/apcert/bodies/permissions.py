"""Who may act for a certification body: the roles its staff hold there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from apcert.bodies.choices import CBRole
from apcert.bodies.models import CBStaff
from apcert.core.errors import PERMISSION_CB_ROLE_REQUIRED, PermissionDenied
from apcert.core.permissions import require_active

if TYPE_CHECKING:
    from apcert.accounts.models import User
    from apcert.bodies.models import CertificationBody


def cb_roles(actor: User | None, cb: CertificationBody) -> set[str]:
    if actor is None or not actor.is_active:
        return set()
    return set(
        CBStaff.objects.filter(cb=cb, user=actor, active=True).values_list("role", flat=True)
    )


def require_cb_role(actor: User | None, cb: CertificationBody, *roles: str) -> User:
    """The actor must hold one of ``roles`` at ``cb`` (an admin of the CB holds them all)."""
    user = require_active(actor)
    held = cb_roles(user, cb)
    if not held or not (held & (set(roles) | {CBRole.ADMIN})):
        wanted = " or ".join(r.replace("_", " ") for r in roles)
        raise PermissionDenied(
            f"Only a {wanted} of {cb.code} may do this.",
            code=PERMISSION_CB_ROLE_REQUIRED,
            params={"cb": cb.code, "roles": list(roles)},
        )
    return user
