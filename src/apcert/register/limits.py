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
from collections.abc import Callable, Iterator
from typing import Any, Generic, Literal, TypeVar, cast

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

_SETTINGS = frozenset({"PAGE_RATE_LIMITS", "TRUSTED_PROXY_HEADER", "EXPORTS_AT_ONCE"})
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
    global _export_slots
    with _lock:
        _limiters.clear()
        _export_slots = None


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


# --- exports sent at once --------------------------------------------------------------------

#: What a client that finds every export slot taken is told to wait, in seconds.
EXPORT_RETRY_SECONDS = 30


class _Slots:
    """At most ``size`` of something at once in this process, taken without waiting."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._taken = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._taken >= self.size:
                return False
            self._taken += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._taken -= 1

    @property
    def taken(self) -> int:
        with self._lock:
            return self._taken


_Chunk = TypeVar("_Chunk", str, bytes)


class _HeldWhileSent(Generic[_Chunk]):
    """The chunks of an answer, holding a slot until the last is sent or the answer is closed
    (the client went away), whichever comes first; the slot is given back once."""

    def __init__(self, chunks: Iterator[_Chunk], slots: _Slots) -> None:
        self._chunks: Iterator[_Chunk] = chunks
        self._slots: _Slots | None = slots

    def __iter__(self) -> _HeldWhileSent[_Chunk]:
        return self

    def __next__(self) -> _Chunk:
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        slots, self._slots = self._slots, None
        if slots is not None:
            slots.give_back()
            closing = getattr(self._chunks, "close", None)
            if closing is not None:
                closing()


_export_slots: _Slots | None = None


def _exports() -> _Slots | None:
    global _export_slots
    size = settings.EXPORTS_AT_ONCE
    with _lock:
        if size and (_export_slots is None or _export_slots.size != size):
            _export_slots = _Slots(size)
        return _export_slots if size else None


def export_slot(request: HttpRequest) -> HttpResponse | None:
    """``None`` when an export may start (the slot is taken: hand it to :func:`sent_with_slot`),
    else the 503 answer: this process sends at most ``EXPORTS_AT_ONCE`` exports at a time,
    whoever asks, so that exports cannot take every thread from the other pages."""
    slots = _exports()
    if slots is None or slots.take():
        return None
    response = HttpResponse(
        f"The register is already sending {slots.size} export{'' if slots.size == 1 else 's'},"
        f" the most it sends at once. Try again in {EXPORT_RETRY_SECONDS} seconds.\n",
        content_type="text/plain; charset=utf-8",
        status=503,
    )
    response["Retry-After"] = str(EXPORT_RETRY_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def sent_with_slot(chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """``chunks``, holding the export slot taken by :func:`export_slot` while they are sent."""
    slots = _exports()
    return chunks if slots is None else _HeldWhileSent(chunks, slots)
