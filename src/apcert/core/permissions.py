"""Who may do what: the checks every service and selector shares.

Services call these before they change anything; each refusal is a PermissionDenied with
a stable code, so the API, the web pages and the tests see the same answer. The checks that
read a CB's staff or an organization's members live with those apps
(``bodies.permissions``, ``organizations.permissions``): core reads no domain app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from apcert.core.errors import (
    PERMISSION_NOT_SIGNED_IN,
    PERMISSION_SECRETARIAT_REQUIRED,
    PermissionDenied,
)

if TYPE_CHECKING:
    from apcert.accounts.models import User


def require_active(actor: User | None) -> User:
    """The actor must be signed in with an active account."""
    if actor is None or not actor.is_active:
        raise PermissionDenied(
            "You need to be signed in with an active account to do this.",
            code=PERMISSION_NOT_SIGNED_IN,
        )
    return actor


def is_secretariat(actor: User | None) -> bool:
    return bool(actor is not None and actor.is_active and actor.is_secretariat)


def require_secretariat(actor: User | None) -> User:
    user = require_active(actor)
    if not user.is_secretariat:
        raise PermissionDenied(
            "Only the IECQ Secretariat may do this.", code=PERMISSION_SECRETARIAT_REQUIRED
        )
    return user
