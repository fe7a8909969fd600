"""Limits per client address on the public pages that cost the server most.

A search, a certificate asked for a past day, a certificate PDF, a whole-register export, a
document checked on ``/verify`` and a signed receipt each cost far more than a certificate
page, so a few clients asking for them without pause could slow the register for everyone.
Each kind has its own bucket per client address (:class:`apcert.core.ratelimit.RateLimiter`,
the algorithm of the public API's limit), sized by ``PAGE_RATE_LIMITS``: a person never meets
the limit, a script that loops is told to wait. A refused request is answered 429 with
``Retry-After``, in the form its page answers (an HTML page, plain text for a file, problem
JSON for a receipt), and does nothing else.
"""

from __future__ import annotations

import functools
import json
import math
import threading
from collections.abc import Callable
from typing import Any, Literal, TypeVar, cast

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from apcert.core.ratelimit import RateLimiter, client_key

Kind = Literal["search", "as-of", "pdf", "export", "verify", "receipt"]
#: What a refusal looks like: a page, plain text (for files), problem JSON, or whichever of
#: a page and problem JSON the request prefers (``Accept``).
Answer = Literal["html", "text", "problem", "negotiate"]

#: What each kind is called in a refusal.
_WHAT = {
    "search": "searches",
    "as-of": "certificates asked for a past day",
    "pdf": "certificate PDFs",
    "export": "exports of the register",
    "verify": "documents checked",
    "receipt": "verification receipts",
}

_SETTINGS = frozenset({"PAGE_RATE_LIMITS", "TRUSTED_PROXY_HEADER"})
_limiters: dict[str, RateLimiter | None] = {}
_lock = threading.Lock()


def _limiter(kind: str) -> RateLimiter | None:
    try:
        return _limiters[kind]
    except KeyError:
        pass
    with _lock:
        if kind not in _limiters:
            limit, window = settings.PAGE_RATE_LIMITS.get(kind, (0, 0))
            _limiters[kind] = RateLimiter(limit, window) if limit and window else None
        return _limiters[kind]


def reset() -> None:
    """Forget every count, and read the settings again at the next request."""
    with _lock:
        _limiters.clear()


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _SETTINGS:
        reset()


setting_changed.connect(_settings_changed, dispatch_uid="apcert.register.limits")


def seconds_to_wait(request: HttpRequest, kind: Kind) -> int:
    """Count one request of ``kind`` from its client: 0 when it may go ahead, else the whole
    seconds to wait (at least 1)."""
    limiter = _limiter(kind)
    if limiter is None:
        return 0
    wait = limiter.hit(client_key(request.META, settings.TRUSTED_PROXY_HEADER))
    return math.ceil(wait) if wait > 0 else 0


def message(kind: Kind, wait: int) -> str:
    limit, window = settings.PAGE_RATE_LIMITS[kind]
    return (
        f"Too many {_WHAT[kind]} from one address: the register answers {limit} every "
        f"{_duration(window)}. Try again in {_duration(wait)}."
    )


def _duration(seconds: int) -> str:
    if seconds % 60 == 0 and seconds >= 120:
        return f"{seconds // 60} minutes"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def refusal(request: HttpRequest, kind: Kind, wait: int, answer: Answer) -> HttpResponse:
    """The 429 answer of a refused request."""
    text = message(kind, wait)
    response: HttpResponse
    if answer == "negotiate":
        preferred = request.get_preferred_type(["application/json", "text/html"])
        answer = "html" if preferred == "text/html" else "problem"
    if answer == "html":
        response = render(
            request,
            "register/not_found.html",
            {"title": "Too many requests", "message": text},
            status=429,
        )
    elif answer == "problem":
        response = HttpResponse(
            json.dumps({"code": "rate_limited", "message": text}),
            content_type="application/problem+json",
            status=429,
        )
    else:
        response = HttpResponse(text + "\n", content_type="text/plain; charset=utf-8", status=429)
    response["Retry-After"] = str(wait)
    response["Cache-Control"] = "no-store"
    patch_vary_headers(response, ["Accept"])
    return response


_View = TypeVar("_View", bound=Callable[..., HttpResponseBase])


def limited(
    kind: Kind, answer: Answer = "html", counts: Callable[[HttpRequest], bool] | None = None
) -> Callable[[_View], _View]:
    """A view whose requests count against ``kind``'s limit (those for which ``counts`` is
    true, when given); a request over it is refused before the view runs."""

    def decorate(view: _View) -> _View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if counts is None or counts(request):
                wait = seconds_to_wait(request, kind)
                if wait:
                    return refusal(request, kind, wait, answer)
            return view(request, *args, **kwargs)

        return cast(_View, wrapped)

    return decorate
