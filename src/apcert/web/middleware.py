"""The back office's sign-in requirement and its sliding session expiry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpRequest, HttpResponseBase

from apcert.web.access import has_own_sign_in, is_public_path


class BackOfficeLoginMiddleware(LoginRequiredMiddleware):
    """Send anyone without an account to the sign-in page, except on public paths.

    The public register (``settings.PUBLIC_PATHS`` and ``PUBLIC_PATH_PREFIXES``) is left
    alone before anything reads the session: its pages set no cookie and do not vary on one,
    signed in or not. The Django admin has its own sign-in page. Views marked
    ``login_not_required`` (sign-in, password reset, invitations, calendar feeds) are open,
    as Django's ``LoginRequiredMiddleware`` has them.

    Each request of a signed-in user outside the public register renews the session, so
    ``SESSION_COOKIE_AGE`` is the time a session survives without use.
    """

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponseBase | None:
        path = request.path_info
        if is_public_path(path):
            return None
        if has_own_sign_in(path):
            response = None
        else:
            response = super().process_view(request, view_func, view_args, view_kwargs)
        if response is None and request.user.is_authenticated:
            request.session.modified = True  # saved with a fresh expiry: an idle timeout
        return response
