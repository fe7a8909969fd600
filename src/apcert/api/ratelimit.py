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
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

#: Every path the limit applies to.
PREFIX = "/api/public/"
#: At most this many addresses are remembered at once; beyond it the one seen least recently
#: is forgotten (and starts again with a full bucket). Some 20 MB at the limit.
MAX_ADDRESSES = 100_000
#: The key of requests that carry no usable address at all (they share one bucket).
UNKNOWN = "unknown"

_NS = 1_000_000_000


class RateLimiter:
    """Buckets of ``limit`` requests refilled at ``limit`` per ``window`` seconds, one per key.

    Each key's state is one integer: the moment (in units of 1/limit nanosecond, so that the
    arithmetic is exact) at which its bucket will be full again; a request takes one
    ``window / limit`` step out of the bucket by moving that moment forward. This is the
    generic cell rate algorithm. Keys sit in least-recently-seen order, so the ones whose
    moment has passed are dropped from the front as requests come in. Thread-safe.
    """

    def __init__(
        self,
        limit: int,
        window: float,
        *,
        max_keys: int = MAX_ADDRESSES,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs a limit of 1 or more and a positive window")
        self.limit = limit
        self.window = window
        self._step = round(window * _NS)  # one request, in units of 1/limit ns
        self._burst = self._step * limit  # a full bucket, in the same units
        self._max_keys = max_keys
        self._clock = clock
        self._full_at: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, key: str) -> float:
        """Count one request from ``key``: 0.0 when it may go ahead, else the seconds until
        it would (and then it is not counted)."""
        now = self._clock() * self.limit
        with self._lock:
            full_at = self._full_at
            while full_at:
                oldest = next(iter(full_at))
                if full_at[oldest] > now:
                    break
                del full_at[oldest]
            start = max(full_at.pop(key, now), now)
            end = start + self._step
            if end - now > self._burst:
                full_at[key] = start
                return (end - now - self._burst) / (self.limit * _NS)
            full_at[key] = end
            if len(full_at) > self._max_keys:
                full_at.popitem(last=False)
            return 0.0

    def __len__(self) -> int:
        """How many keys are remembered (expired ones may linger until the next request)."""
        with self._lock:
            return len(self._full_at)


def address_key(text: str) -> str | None:
    """The key an address counts under, or ``None`` when ``text`` is not an IP address."""
    # socket's C parsers: several times faster than the ipaddress module, on every request
    text = text.strip().strip("[]").split("%", 1)[0]  # (an IPv6 zone names no one)
    try:
        if ":" not in text:
            return socket.inet_ntop(socket.AF_INET, socket.inet_pton(socket.AF_INET, text))
        packed = socket.inet_pton(socket.AF_INET6, text)
    except (OSError, ValueError):
        return None
    if packed[:12] == _IPV4_MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed[:8] + bytes(8)) + "/64"


_IPV4_MAPPED = bytes(10) + b"\xff\xff"


def client_key(environ: Mapping[str, Any], proxy_header: str = "") -> str:
    """The key a request counts under: its client's address, from ``proxy_header`` when one
    is trusted and holds an address, else from the connection (``REMOTE_ADDR``)."""
    if proxy_header:
        raw = environ.get("HTTP_" + proxy_header.upper().replace("-", "_"))
        if isinstance(raw, str) and raw:
            key = address_key(raw.rsplit(",", 1)[-1])
            if key is not None:
                return key
    remote = environ.get("REMOTE_ADDR")
    if isinstance(remote, str):
        key = address_key(remote)
        if key is not None:
            return key
    return UNKNOWN


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
