"""What an operator sees of each request: its id, its line in the access log, its counts.

:class:`RequestLayer` is the outermost WSGI layer (:mod:`apcert.wsgi`), in front of the public
API's fast path and of Django, so that every request served by either is seen once:

- It gives the request an id: the ``X-Request-ID`` the TLS proxy sent when apcert is behind
  one (``APCERT_BEHIND_TLS_PROXY``; a client could write the header itself otherwise, so it
  is then ignored), if it is a plain token of at most 128 characters; else a new random
  one. The id is sent back in the answer's ``X-Request-ID`` and set on every log record
  written while the request is served (:class:`RequestIdFilter`, through a context
  variable), so that the lines of one request can be found together.
- When the answer is sent (its body read to the end, or the client gone), it writes one line
  at INFO to the ``apcert.access`` logger: method, route, status, duration in milliseconds
  and the id; and it counts the request in :mod:`apcert.core.metrics`.

The route is the name of the URL pattern that answered (``register:certificate``), never the
raw path: the log and the metrics then have as many routes as the app has pages, whatever
addresses clients make up. Django's view is named by :class:`RouteMiddleware`; the fast path
names its own answers; a request no view answered is ``unresolved``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apcert.core import metrics

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: The key, in the WSGI environ (Django's ``request.META``), of the route that answered.
ROUTE_KEY = "apcert.route"
#: The key, in the WSGI environ, of the request's id.
REQUEST_ID_KEY = "apcert.request_id"
#: The route of a request that no view answered (an unknown address, a redirect to HTTPS, a
#: refusal before the view).
UNRESOLVED = "unresolved"
HEADER = "X-Request-ID"
_INCOMING = "HTTP_X_REQUEST_ID"
_TOKEN = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

#: The id of the request this thread is serving; ``None`` outside a request.
current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "apcert_request_id", default=None
)

access_log = logging.getLogger("apcert.access")


def request_id_for(environ: WSGIEnvironment) -> str:
    """The id of the request: the proxy's when trusted and well formed, else a new one."""
    if settings.REQUEST_ID_FROM_PROXY:
        incoming = environ.get(_INCOMING, "")
        if isinstance(incoming, str) and _TOKEN.fullmatch(incoming):
            return incoming
    return uuid.uuid4().hex


class RequestLayer:
    """WSGI middleware around the whole application: see the module docstring."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        request_id = request_id_for(environ)
        environ[REQUEST_ID_KEY] = request_id
        current_request_id.set(request_id)
        status = ["500"]

        def start(status_line: str, headers: list[tuple[str, str]], *exc_info: Any) -> Any:
            status[0] = status_line[:3]
            headers = [h for h in headers if h[0].lower() != "x-request-id"]
            headers.append((HEADER, request_id))
            return start_response(status_line, headers, *exc_info)

        def finish() -> None:
            _served(environ, status[0], time.perf_counter() - started, request_id)
            current_request_id.set(None)

        try:
            body = self.app(environ, start)
        except BaseException:
            finish()
            raise
        return _Answer(body, finish)


class _Answer:
    """The application's answer, passed on as it is; ``finish`` runs once when the server
    closes it (after the last byte, or when the client went away)."""

    def __init__(self, body: Iterable[bytes], finish: Callable[[], None]) -> None:
        self.body = body
        self.finish: Callable[[], None] | None = finish

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            finish, self.finish = self.finish, None
            if finish is not None:
                finish()


def _served(environ: WSGIEnvironment, status: str, seconds: float, request_id: str) -> None:
    route = environ.get(ROUTE_KEY) or UNRESOLVED
    status_class = f"{status[0]}xx" if status[:1] in ("1", "2", "3", "4", "5") else "other"
    metrics.request_served(route=route, status_class=status_class, seconds=seconds)
    if settings.ACCESS_LOG and access_log.isEnabledFor(logging.INFO):
        method = environ.get("REQUEST_METHOD", "")
        method = method if method in _METHODS else "OTHER"
        duration_ms = round(seconds * 1000, 1)
        access_log.info(
            "%s %s %s %.1f ms",
            method,
            route,
            status,
            duration_ms,
            extra={
                "method": method,
                "route": route,
                "status": int(status) if status.isdigit() else status,
                "duration_ms": duration_ms,
            },
        )


class RouteMiddleware:
    """Names, for :class:`RequestLayer`, the URL pattern whose view answers the request: its
    name with its namespace (``web:home``), or the pattern itself when it has no name."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> None:
        match = request.resolver_match
        if match is not None:
            request.META[ROUTE_KEY] = match.view_name or match.route or UNRESOLVED


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id``: the id of the request being served, or ``-``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get() or "-"
        return True


#: The attributes of the access log's records that :class:`JsonFormatter` writes as fields.
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id``, the access log's fields when the record has them, and ``exception``."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id.get(),
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)
