"""Limits per client address on the public pages that cost the server most.

A search, a certificate asked for a past day, a certificate PDF, a whole-register export, a
document checked on ``/verify`` and a signed receipt each cost far more than a certificate
page, so a few clients asking for them without pause could slow the register for everyone.
Each kind has its own bucket per client address (:class:`apcert.core.ratelimit.RateLimiter`,
the algorithm of the public API's limit), sized by ``PAGE_RATE_LIMITS``: a person never meets
the limit, a script that loops is told to wait. The count and the refusal happen in front of
Django (:class:`apcert.api.fastpath.PublicApiLayer` calls :func:`refusal`), so that a client
that keeps asking costs next to nothing: a refused request is answered 429 with
``Retry-After``, in the form its page answers (a short HTML page, plain text for a file,
problem JSON for a receipt asked for as JSON), and does nothing else.

Work that stays costly once let through is also capped per process, whoever asks: the
exports sent at once, and (in :mod:`apcert.documents.pdf_store`) the PDFs drawn at once;
beyond the cap the answer is 503 with ``Retry-After``. An export is built once per format
and register version, apart from the web process and at a lower CPU priority
(:mod:`apcert.register.kept_exports`; one build at a time per export across the server's
processes, by a lock), so sending one costs file reads, not the register's reading: the cap
on exports counts the sends, each of which holds a thread for as long as its client takes
to download, so that downloads cannot take every thread from the other pages.
"""

from __future__ import annotations

import html
import json
import math
import threading
from collections.abc import Iterator, Mapping
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import parse_qs

from django.conf import settings
from django.core.signals import setting_changed
from django.http import HttpRequest, HttpResponse

from apcert.core.ratelimit import RateLimiter, client_key

Kind = Literal["search", "as-of", "pdf", "export", "verify", "receipt"]

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


def seconds_to_wait(environ: Mapping[str, Any], kind: Kind) -> int:
    """Count one request of ``kind`` from its client: 0 when it may go ahead, else the whole
    seconds to wait (at least 1)."""
    limiter = _limiter(kind)
    if limiter is None:
        return 0
    wait = limiter.hit(client_key(environ, settings.TRUSTED_PROXY_HEADER))
    return math.ceil(wait) if wait > 0 else 0


def kind_of(environ: Mapping[str, Any]) -> Kind | None:
    """Which limit a request counts against, if any, from its method, path and query."""
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "")
    if method == "POST":
        return "verify" if path == "/verify" else None
    if method != "GET":
        return None  # HEAD gets the headers alone; other methods are refused by the views
    if path == "/":
        return "search"
    if path.startswith("/certificates/"):
        if path.endswith(".pdf") and "/issues/" in path:
            return "pdf"
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        return "as-of" if "on" in query else None
    if path in EXPORT_PATHS:
        return "export"
    if path == "/verify/receipt":
        return "receipt"
    return None


#: The whole-register exports.
EXPORT_PATHS = frozenset({"/register/export.csv", "/register/export.jsonl"})
#: How each kind is refused: a page, plain text (for files), or whichever of a page and
#: problem JSON the request prefers.
_ANSWER: dict[str, str] = {
    "search": "html",
    "as-of": "html",
    "verify": "html",
    "pdf": "text",
    "export": "text",
    "receipt": "negotiate",
}


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


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Too many requests - IECQ AP register</title></head>
<body><h1>Too many requests</h1>
<p>{message}</p>
<p><a href="/">The register</a></p></body>
</html>
"""


def refusal(environ: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """Count the request against its kind's limit: ``None`` when it may go ahead (or counts
    against none), else the 429 answer (status, headers, body). Answered before the
    application sees the request, so that a client that keeps asking costs next to nothing."""
    kind = kind_of(environ)
    if kind is None:
        return None
    wait = seconds_to_wait(environ, kind)
    if not wait:
        return None
    text = message(kind, wait)
    answer = _ANSWER[kind]
    headers = [("Retry-After", str(wait)), ("Cache-Control", "no-store")]
    if answer == "negotiate":
        headers.append(("Vary", "Accept"))
        answer = "html" if _prefers_html(environ.get("HTTP_ACCEPT", "")) else "problem"
    if answer == "html":
        body = _PAGE.format(message=html.escape(text)).encode()
        headers.append(("Content-Type", "text/html; charset=utf-8"))
    elif answer == "problem":
        body = json.dumps({"code": "rate_limited", "message": text}).encode()
        headers.append(("Content-Type", "application/problem+json"))
    else:
        body = (text + "\n").encode()
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
    headers.append(("Content-Length", str(len(body))))
    return "429 Too Many Requests", headers, body


def _prefers_html(accept: str) -> bool:
    """Whether ``Accept`` ranks text/html above JSON (a browser's does; an API client's, or
    none at all, does not)."""
    request = HttpRequest()
    request.META["HTTP_ACCEPT"] = accept or "application/json"
    return request.get_preferred_type(["application/json", "text/html"]) == "text/html"


# --- exports sent at once --------------------------------------------------------------------

#: What a client that finds every export slot taken is told to wait, in seconds.
EXPORT_RETRY_SECONDS = 30
#: What a client is told to wait when the build of its export has not started writing in
#: time (the server is starting builders faster than they run).
EXPORT_PREPARING_SECONDS = 10
#: The same for a certificate PDF that finds every drawing slot taken.
PDF_RETRY_SECONDS = 2


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


def busy(message: str, retry_after: int) -> HttpResponse:
    """The 503 answer of a request for costly work this process is already doing as much of
    as it does at once."""
    response = HttpResponse(
        f"{message} Try again in {_duration(retry_after)}.\n",
        content_type="text/plain; charset=utf-8",
        status=503,
    )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def export_slot(request: HttpRequest) -> HttpResponse | None:
    """``None`` when an export may start (the slot is taken: hand it to :func:`sent_with_slot`),
    else the 503 answer: this process sends at most ``EXPORTS_AT_ONCE`` exports at a time,
    whoever asks, so that downloads cannot take every thread from the other pages."""
    slots = _exports()
    if slots is None or slots.take():
        return None
    return busy(
        f"The register is already sending {slots.size} export{'' if slots.size == 1 else 's'},"
        " the most it sends at once.",
        EXPORT_RETRY_SECONDS,
    )


def give_back_export_slot() -> None:
    """Give back the slot taken by :func:`export_slot` for an export that is not sent."""
    slots = _exports()
    if slots is not None:
        slots.give_back()


def sent_with_slot(chunks: Iterator[_Chunk]) -> Iterator[_Chunk]:
    """``chunks``, holding the export slot taken by :func:`export_slot` while they are sent."""
    slots = _exports()
    return chunks if slots is None else _HeldWhileSent(chunks, slots)
