"""Which requests need an account, and where a request comes from.

Every page needs a signed-in user except the public register (its pages, data and API),
static files, the Django admin (it has its own sign-in page) and the few back-office pages
marked ``login_not_required`` (sign-in, password reset, accepting an invitation, and a
person's calendar feed, which a calendar application reads by its secret address).
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def is_public_path(path: str) -> bool:
    """True for the paths anyone may read without an account (the public register)."""
    return path in settings.PUBLIC_PATHS or path.startswith(settings.PUBLIC_PATH_PREFIXES)


def has_own_sign_in(path: str) -> bool:
    """True for the paths with a sign-in page of their own (the Django admin)."""
    return path.startswith(settings.OWN_SIGN_IN_PATH_PREFIXES)


def _address(text: str) -> str | None:
    text = text.strip().strip("[]")
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The address a sign-in comes from, as django-axes counts failures by it.

    The same rule as the public API's rate limit (:mod:`apcert.api.ratelimit`): the last
    address in ``TRUSTED_PROXY_HEADER`` when a reverse proxy is trusted and the header holds
    one, else the peer of the connection.
    """
    header = settings.TRUSTED_PROXY_HEADER
    if header:
        raw = request.META.get("HTTP_" + header.upper().replace("-", "_"), "")
        if isinstance(raw, str) and raw:
            found = _address(raw.rsplit(",", 1)[-1])
            if found is not None:
                return found
    remote = request.META.get("REMOTE_ADDR")
    return _address(remote) if isinstance(remote, str) else None
