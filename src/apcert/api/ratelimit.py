"""The public API's rate limit: so many requests per client address, counted in memory.

The register is public and needs no account, so the only thing a limit can key on is the
address a request comes from. Each address has a bucket of ``API_RATE_LIMIT`` requests that
refills at ``API_RATE_LIMIT`` per ``API_RATE_WINDOW`` seconds: a client may ask that many at
once, then keep asking at that rate. A request that finds the bucket empty is refused with
429 and the seconds until one request's worth has refilled (``Retry-After``).

Nothing is kept about who asks beyond what the count needs. For each address the limiter
holds one number, the moment its bucket will be full again; once that moment passes the
address is forgotten. Addresses are never written to a log or to the database. An IPv6
address counts with its /64 network, which is what one subscriber is given; an IPv4-mapped
IPv6 address counts as its IPv4 address.

Counts live in the memory of one server process and are shared by its threads under a lock.
A server running several worker processes (``granian --workers N``) keeps N separate counts,
so a client may get up to N times the limit before every worker refuses it; set the limit
with that in mind, or put a shared limit in the reverse proxy. Restarting the server forgets
every count.

Behind a reverse proxy every request comes from the proxy's address. Set
``APCERT_TRUSTED_PROXY_HEADER`` to the header in which the proxy passes the client's address
(``X-Real-IP``, or ``X-Forwarded-For``, of which the last address is used: the one the proxy
itself added). Clients can send any header they like, so set it only when apcert can be
reached through that proxy alone. A header that holds no valid address counts as the proxy's
own address.

Why not a library: django-ratelimit answers 403 without ``Retry-After``, and django-ninja's
throttles read and write a list of timestamps through the cache without a lock (two threads
can both pass the last free slot) and only guard ninja's own views, not the WSGI fast path
(:mod:`apcert.api.fastpath`) that this limit must also cover.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from apcert.core.ratelimit import (
    MAX_ADDRESSES,
    UNKNOWN,
    RateLimiter,
    address_key,
    client_key,
)

__all__ = [
    "MAX_ADDRESSES",
    "PREFIX",
    "UNKNOWN",
    "RateLimiter",
    "address_key",
    "client_key",
    "current_limiter",
    "problem",
    "reset",
    "seconds_to_wait",
]

#: Every path the limit applies to.
PREFIX = "/api/public/"


_SETTINGS = frozenset({"API_RATE_LIMIT", "API_RATE_WINDOW", "TRUSTED_PROXY_HEADER"})
#: The process's limiter (None when the limit is off) and trusted header, from the settings.
_state: tuple[RateLimiter | None, str] | None = None
_state_lock = threading.Lock()


def _current() -> tuple[RateLimiter | None, str]:
    global _state
    state = _state
    if state is None:
        with _state_lock:
            state = _state
            if state is None:
                limit, window = settings.API_RATE_LIMIT, settings.API_RATE_WINDOW
                limiter = RateLimiter(limit, window) if limit and window else None
                state = _state = (limiter, settings.TRUSTED_PROXY_HEADER)
    return state


def current_limiter() -> RateLimiter | None:
    """The process's limiter, or ``None`` when the limit is off."""
    return _current()[0]


def reset() -> None:
    """Forget every count, and read the settings again at the next request."""
    global _state
    with _state_lock:
        _state = None


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    # override_settings in tests; a changed limit starts with fresh counts
    if setting in _SETTINGS:
        reset()


setting_changed.connect(_settings_changed, dispatch_uid="apcert.api.ratelimit")


def seconds_to_wait(environ: Mapping[str, Any]) -> int:
    """Count a request to the public API: 0 when it may go ahead, else the whole seconds
    its client should wait (at least 1), for ``Retry-After``."""
    limiter, proxy_header = _current()
    if limiter is None:
        return 0
    wait = limiter.hit(client_key(environ, proxy_header))
    return math.ceil(wait) if wait > 0 else 0


def problem(wait: int) -> dict[str, str]:
    """The problem JSON of a refused request."""
    return {
        "code": "rate_limited",
        "message": (
            f"Too many requests from one address: the public API answers "
            f"{settings.API_RATE_LIMIT} every {settings.API_RATE_WINDOW} seconds. "
            f"Try again in {wait} second{'' if wait == 1 else 's'}."
        ),
    }
