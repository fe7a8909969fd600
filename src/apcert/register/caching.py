"""Public answers made cacheable: the register's validator and the view decorator.

Every public answer (the register's pages, its open data, the certificate PDFs, the public
API, the status lists and the keys' documents) is a function of the register's records,
the day its statuses are told for, the application's version and the request's URL. So its
validator is made of exactly those, cheaply, before anything is read or drawn:

* the records: the latest event of the audit trail. Every change that reaches the register
  (a certificate, its issues and statuses, the standards catalogue, a site made public, a
  signing key) writes one event in its own transaction; its hash names the whole history,
  so the tag changes with any write, and a database restored to an older state never
  answers with a tag it gave before. One indexed read.
* the day: a status that follows from dates alone changes at midnight UTC without a write,
  so the tag of yesterday never matches today, and ``Last-Modified`` is never earlier than
  today's midnight.
* the version (a new release may word a page differently), the host (absolute links) and
  the path with its query.

A request whose ``If-None-Match`` or ``If-Modified-Since`` still matches is answered 304
from these alone: the view is not called. Anything else calls the view; a 200 gets the
validator and ``Cache-Control`` (short, and never past the next midnight UTC), and another
answer that says nothing of caching gets the same ``Cache-Control`` without a validator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils import timezone

from apcert import __version__
from apcert.audit.selectors import last_change
from apcert.core.http_cache import (
    WRITE_FRESH_SECONDS,
    Validator,
    cache_control,
    is_not_modified,
    not_modified,
    set_validator,
    start_of_day,
    tag_of,
)

View = TypeVar("View", bound=Callable[..., HttpResponseBase])


def register_validator(
    request: HttpRequest, now: dt.datetime | None = None, *, reads_register: bool = True
) -> Validator:
    """The weak validator of the public answer to ``request`` at ``now``: see the module.
    An answer that does not read the register (a document that changes only with a
    release) leaves its records out, and asks the database nothing."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    last = last_change() if reads_register else None
    tag = tag_of(
        (
            __version__,
            today.isoformat(),
            last.hash if last is not None else "",
            request.get_host(),
            request.get_full_path(),
        )
    )
    midnight = start_of_day(now)
    modified = midnight if last is None else max(midnight, last.occurred_at)
    # Never later than now: events dated ahead (demo data is dated to the end of its day)
    # would otherwise give a date that later writes, dated by the clock, fall before.
    return Validator(tag=tag, last_modified=min(modified, now))


def public_cache(
    *,
    fresh: int = WRITE_FRESH_SECONDS,
    until_midnight: bool = True,
    reads_register: bool = True,
) -> Callable[[View], View]:
    """Make a public view's GET and HEAD answers cacheable (see the module): a shared
    cache keeps them ``fresh`` seconds (a browser asks again each time), never past the
    next midnight UTC with ``until_midnight``. A conditional request that still matches is
    answered 304 without calling the view. A view that does not read the register says so
    (``reads_register=False``): its validator then asks nothing of it."""

    def decorate(view: View) -> View:
        @wraps(view)
        def answer(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if request.method not in ("GET", "HEAD"):
                return view(request, *args, **kwargs)
            now = timezone.now()
            control = cache_control(now, fresh=fresh, until_midnight=until_midnight)
            validator = register_validator(request, now, reads_register=reads_register)
            if is_not_modified(request, validator):
                return not_modified(validator, control)
            response = view(request, *args, **kwargs)
            if response.has_header("Cache-Control"):
                return response  # the view said how (a refusal, a page never to keep)
            if response.status_code == 200:
                set_validator(response, validator, control)
            else:
                response["Cache-Control"] = control
            return response

        return cast(View, answer)

    return decorate


__all__ = ["public_cache", "register_validator"]
