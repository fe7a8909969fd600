"""HTTP caching of public answers: validators, conditional GETs and freshness.

An answer that anyone may fetch carries an ``ETag`` (and a ``Last-Modified`` where a sound
date exists) so that a browser or a CDN can ask again cheaply: a request whose
``If-None-Match`` (or, without one, ``If-Modified-Since``) still matches is answered
``304 Not Modified`` from the validator alone, before the answer is made. The validator is
computed from what the answer depends on (the application's version, the day the statuses
are told for, the register's latest change, the request's path and query), never from the
answer's bytes, except where those bytes are already at hand.

How long a copy stays fresh is bounded by when the answer could change:

* a write can change it at any moment, so shared caches keep it a short while
  (:data:`WRITE_FRESH_SECONDS`), and browsers ask again each time;
* a status that follows from dates alone changes at midnight UTC without any write, so no
  copy stays fresh past the next midnight UTC, whatever the short while would allow.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.http import http_date, parse_etags, parse_http_date_safe

#: How long shared caches keep an answer that a write can change.
WRITE_FRESH_SECONDS = 60


@dataclass(frozen=True)
class Validator:
    """What identifies one version of an answer: its entity tag (``strong`` when the
    bytes are the same for the same tag), and when it last changed, if known."""

    tag: str
    strong: bool = False
    last_modified: dt.datetime | None = None

    @property
    def etag(self) -> str:
        quoted = f'"{self.tag}"'
        return quoted if self.strong else f"W/{quoted}"


def tag_of(parts: Iterable[object]) -> str:
    """A short, opaque entity tag made of ``parts`` (in order)."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode())
    return digest.hexdigest()[:32]


def seconds_to_midnight(now: dt.datetime) -> int:
    """Whole seconds from ``now`` to the next midnight UTC (at least 1 before it)."""
    now = now.astimezone(dt.UTC)
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return max(0, int((midnight - now).total_seconds()))


def start_of_day(now: dt.datetime) -> dt.datetime:
    """The last midnight UTC at or before ``now``."""
    return dt.datetime.combine(now.astimezone(dt.UTC).date(), dt.time(), tzinfo=dt.UTC)


def cache_control(
    now: dt.datetime, *, fresh: int = WRITE_FRESH_SECONDS, until_midnight: bool = True
) -> str:
    """``public, max-age=0, s-maxage=...``: a shared cache (a CDN) keeps the answer ``fresh``
    seconds; with ``until_midnight`` (an answer telling a status for today) never past the
    next midnight UTC. A browser keeps it too but asks again each time (a cheap ``304``
    while it holds): a person who has just saved a change must see it on the next page, not
    a copy their own browser kept from before. No ``stale-while-revalidate``: a browser
    would show the copy from before once more. ``no-cache`` (store, but ask every time) in
    the last second before midnight."""
    if until_midnight:
        fresh = min(fresh, seconds_to_midnight(now))
    if fresh <= 0:
        return "public, no-cache"
    return f"public, max-age=0, s-maxage={fresh}"


def _tag_matches(header: str, validator: Validator) -> bool:
    """``If-None-Match`` compared weakly (RFC 9110 13.1.2): ``W/"x"`` matches ``"x"``."""
    if header.strip() == "*":
        return True
    ours = validator.etag.removeprefix("W/")
    return any(tag.removeprefix("W/") == ours for tag in parse_etags(header))


def is_not_modified(request: HttpRequest, validator: Validator) -> bool:
    """Whether the client's copy is still this version: a GET or HEAD whose
    ``If-None-Match`` matches, or, without one, whose ``If-Modified-Since`` is not older
    than ``last_modified``."""
    if request.method not in ("GET", "HEAD"):
        return False
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        return _tag_matches(if_none_match, validator)
    since = request.headers.get("If-Modified-Since")
    if since is None or validator.last_modified is None:
        return False
    since_seconds = parse_http_date_safe(since)
    # HTTP dates are whole seconds: a change at 12:00:00.4 is not older than 12:00:00, and
    # only a copy dated 12:00:01 or later is known to hold it.
    changed = math.ceil(validator.last_modified.timestamp())
    return since_seconds is not None and changed <= since_seconds


def set_validator(response: HttpResponseBase, validator: Validator, control: str) -> None:
    """Put the validator's headers and ``Cache-Control`` on ``response``."""
    response["ETag"] = validator.etag
    if validator.last_modified is not None:
        # The change's second rounded up (see is_not_modified), unless that is still to
        # come: then rounded down, which the next request will not find recent enough.
        changed = validator.last_modified.timestamp()
        seconds = math.ceil(changed)
        if seconds > time.time():
            seconds = math.floor(changed)
        response["Last-Modified"] = http_date(seconds)
    response["Cache-Control"] = control


def not_modified(validator: Validator, control: str) -> HttpResponse:
    """The 304 answer: no body, the validator and the freshness of the full answer."""
    response = HttpResponse(status=304)
    set_validator(response, validator, control)
    # An empty 304 has no content type of its own to announce.
    del response["Content-Type"]
    return response


__all__ = [
    "WRITE_FRESH_SECONDS",
    "Validator",
    "cache_control",
    "is_not_modified",
    "not_modified",
    "seconds_to_midnight",
    "set_validator",
    "start_of_day",
    "tag_of",
]
