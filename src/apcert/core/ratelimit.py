"""Rate limits per client address, counted in memory: the bucket and the client's key.

The register is public and needs no account, so the only thing a limit can key on is the
address a request comes from. A :class:`RateLimiter` gives each key a bucket of ``limit``
requests that refills at ``limit`` per ``window`` seconds: a client may ask that many at once,
then keep asking at that rate. A request that finds its bucket empty is told how many seconds
until one request's worth has refilled (for ``Retry-After``).

Nothing is kept about who asks beyond what the count needs. For each key the limiter holds one
number, the moment its bucket will be full again; once that moment passes the key is
forgotten. Addresses are never written to a log or to the database. An IPv6 address counts
with its /64 network, which is what one subscriber is given; an IPv4-mapped IPv6 address counts
as its IPv4 address.

Counts live in the memory of one server process and are shared by its threads under a lock.
A server running several worker processes keeps separate counts in each, so a client may get
up to that many times the limit before every worker refuses it. Behind a reverse proxy every
request comes from the proxy's address: ``TRUSTED_PROXY_HEADER`` names the header in which the
proxy passes the client's address (the last address of ``X-Forwarded-For``: the one the proxy
itself added).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

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
