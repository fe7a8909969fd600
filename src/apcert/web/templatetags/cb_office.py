"""Template tags of the certification body's back-office pages."""

from __future__ import annotations

from typing import Any

from django import template

from apcert.bodies.models import CBStaff

register = template.Library()


@register.simple_tag(takes_context=True)
def is_cb_staff(context: template.Context) -> bool:
    """Whether the signed-in user is active staff of a CB (for the navigation)."""
    request: Any = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    cached = getattr(request, "_apcert_is_cb_staff", None)
    if cached is None:
        cached = CBStaff.objects.filter(user=user, active=True).exists()
        request._apcert_is_cb_staff = cached
    return bool(cached)
