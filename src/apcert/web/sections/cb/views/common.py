"""What every page of the certification body's section shares: its door, the user's
roles at a CB, and how a service's refusal is shown."""

from __future__ import annotations

from collections.abc import Mapping

from django import forms
from django.http import HttpRequest, HttpResponse

from apcert.accounts.models import User
from apcert.bodies.models import CertificationBody
from apcert.bodies.permissions import cb_roles
from apcert.bodies.selectors import is_active_cb_staff
from apcert.core.errors import PERMISSION_CB_STAFF_REQUIRED, DomainError, PermissionDenied
from apcert.core.permissions import is_secretariat
from apcert.web.errors import add_form_error, error_page
from apcert.web.section import section

SECTION = "cb"


NOT_CB_STAFF = PermissionDenied(
    "This section is for the staff of a certification body accepted in IECQ. Ask your "
    "CB's administrator to invite you.",
    code=PERMISSION_CB_STAFF_REQUIRED,
)


def _may_use_cb_section(user: User) -> bool:
    return is_secretariat(user) or is_active_cb_staff(user)


#: The CB's lists are refused, with the reason (403), to anyone who is neither active staff of
#: a CB nor the Secretariat (the selectors would otherwise show them an empty list); a record
#: of a CB the user is not staff of is a 404, from the selectors.
cb_section = section(
    "cb", allowed=_may_use_cb_section, refusal=NOT_CB_STAFF, title="Certification body"
)
cb_page = section("cb")


def roles_at(user: User, cb: CertificationBody) -> set[str]:
    """The user's roles at ``cb``; an administrator of the CB holds them all (as
    bodies.permissions.require_cb_role has it)."""
    held = cb_roles(user, cb)
    return held | {"scheme_manager", "assessor", "decision_maker"} if "admin" in held else held


def show_refusal(
    request: HttpRequest,
    exc: DomainError,
    form: forms.Form,
    fields: Mapping[str, str] | None,
    *,
    offered: bool = True,
) -> HttpResponse | None:
    """A refusal on its own page, with its HTTP status, when the user lacks the role
    (PermissionDenied, 403) or the page does not offer the action in the object's present
    state (so a form error would not be seen); else None, the reason put on the form."""
    if isinstance(exc, PermissionDenied) or not offered:
        return error_page(request, exc)
    add_form_error(form, exc, fields)
    return None
