"""What every back-office section shares: the signed-in user, and the door of a section.

A section (the certification body's, the organization's, the Secretariat's, the account's)
is a package under :mod:`apcert.web.sections` with its ``views``, ``forms`` and ``urls``; its
templates live under ``web/templates/web/<section>/``. Each view of a section is wrapped by
:func:`section`, which refuses the whole section, with the reason, to those it is not for,
before the view reads anything; the selectors and services check again for each object.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.http import HttpRequest, HttpResponse, HttpResponseBase

from apcert.accounts.models import User
from apcert.core.errors import DomainError
from apcert.web.errors import error_page

View = Callable[..., HttpResponse]
#: A view of any response: a page, or a file streamed or served (an export).
AnyView = TypeVar("AnyView", bound=Callable[..., HttpResponseBase])


def current_user(request: HttpRequest) -> User:
    """The signed-in user of a back-office request (the sign-in middleware lets no one else
    through)."""
    user = request.user
    assert isinstance(user, User)
    return user


def section(
    name: str,
    *,
    allowed: Callable[[User], bool] | None = None,
    refusal: DomainError | None = None,
    title: str = "",
) -> Callable[[AnyView], AnyView]:
    """Mark a view as a page of section ``name`` (the navigation highlights it) and, when
    ``allowed`` says the user is not one the section is for, answer ``refusal`` (a 403 page
    with the reason, headed ``title``) instead of the page."""

    def decorate(view: AnyView) -> AnyView:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            request.office_section = name  # type: ignore[attr-defined]
            if allowed is not None and not allowed(current_user(request)):
                assert refusal is not None
                return error_page(request, refusal, title=title, to_section=False)
            return view(request, *args, **kwargs)

        wrapped.office_section = name  # type: ignore[attr-defined]
        return cast(AnyView, wrapped)

    return decorate


def section_context(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the section the page belongs to, for the navigation."""
    return {"section": getattr(request, "office_section", "")}
