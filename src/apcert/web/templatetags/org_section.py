"""Template tags of the back office's organization section."""

from __future__ import annotations

from typing import Any

from django import template

from apcert.organizations.models import OrganizationMember

register = template.Library()


@register.simple_tag(takes_context=True)
def acts_for_an_organization(context: template.Context) -> bool:
    """Whether the signed-in user is a user of any organization (for the navigation)."""
    request: Any = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    cached = getattr(request, "_apcert_acts_for_an_organization", None)
    if cached is None:
        cached = OrganizationMember.objects.filter(user=user).exists()
        request._apcert_acts_for_an_organization = cached
    return bool(cached)
