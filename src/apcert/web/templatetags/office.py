"""Template tags of the back office: what the navigation offers the signed-in user.

Each answer is read once per request, through the selectors, and kept on the request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import template

from apcert.accounts.selectors import may_invite_anywhere
from apcert.bodies.selectors import cb_codes_of_staff, is_active_cb_staff
from apcert.core.permissions import is_secretariat
from apcert.notifications.selectors import unread_count
from apcert.organizations.selectors import is_organization_user

register = template.Library()


def _per_request(context: template.Context, key: str, read: Callable[[Any], bool]) -> bool:
    request: Any = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    cache: dict[str, bool] = request.__dict__.setdefault("_apcert_office_nav", {})
    if key not in cache:
        cache[key] = bool(read(user))
    return cache[key]


@register.simple_tag(takes_context=True)
def may_invite(context: template.Context) -> bool:
    """Whether the signed-in user may invite colleagues anywhere."""
    return _per_request(context, "invite", may_invite_anywhere)


@register.simple_tag(takes_context=True)
def is_cb_staff(context: template.Context) -> bool:
    """Whether the signed-in user is active staff of a CB."""
    return _per_request(context, "cb", is_active_cb_staff)


@register.simple_tag(takes_context=True)
def acts_for_an_organization(context: template.Context) -> bool:
    """Whether the signed-in user is a user of any organization."""
    return _per_request(context, "org", is_organization_user)


@register.simple_tag(takes_context=True)
def unread_messages(context: template.Context) -> int:
    """How many of the signed-in user's messages are unread (0 for no one)."""
    request: Any = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return 0
    cache: dict[str, int] = request.__dict__.setdefault("_apcert_office_counts", {})
    if "unread" not in cache:
        cache["unread"] = unread_count(user)
    return cache["unread"]


@register.simple_tag(takes_context=True)
def cb_scope(context: template.Context) -> str:
    """Whose records the CB section shows the signed-in user, for its headings
    ("Applications to ..."): every CB for the Secretariat, else the CB the user is staff of
    by its code, or "your certification bodies" with their codes."""
    request: Any = context.get("request")
    user = getattr(request, "user", None)
    if is_secretariat(user):
        return "every certification body"
    codes = cb_codes_of_staff(user if user is not None and user.is_authenticated else None)
    if len(codes) == 1:
        return codes[0]
    if codes:
        return f"your certification bodies ({', '.join(codes)})"
    return "your certification body"


@register.simple_tag(takes_context=True)
def certificate_followups(context: template.Context, cert: Any) -> Any:
    """The assessments part of the CB's certificate page for the signed-in user: the visit
    programme, the CB's assessments of it, what may be planned, a transfer in or out."""
    # Read by the CB section's views module, which this module may not import at load time
    # (the views import the forms, which import the services).
    from apcert.web.sections.cb.views.visits import certificate_followups as read

    return read(context["request"], cert)
