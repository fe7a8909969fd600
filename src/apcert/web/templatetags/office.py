"""Template tags of the back office."""

from __future__ import annotations

from typing import Any

from django import template

from apcert.accounts.selectors import may_invite_anywhere

register = template.Library()


@register.simple_tag(takes_context=True)
def may_invite(context: template.Context) -> bool:
    """Whether the signed-in user may invite colleagues anywhere (for the navigation)."""
    request: Any = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return False
    cached = getattr(request, "_apcert_may_invite", None)
    if cached is None:
        cached = may_invite_anywhere(user)
        request._apcert_may_invite = cached
    return bool(cached)
