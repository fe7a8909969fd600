"""Calling a WSGI application in-process, as a server would, for tests of the layer in front
of Django (apcert.api.fastpath) that Django's test client goes around."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes
from wsgiref.util import setup_testing_defaults

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

WSGIApp = Callable[..., Any]


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@contextmanager
def connections_kept() -> Iterator[None]:
    """Keep the test's connection open across the request, as Django's test client does: in
    a test wrapped in a transaction, Django's ``close_old_connections`` would close it."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def wsgi_call(
    app: WSGIApp,
    path: str,
    *,
    method: str = "GET",
    query: str = "",
    remote: str = "192.0.2.10",
    host: str = "testserver",
    headers: dict[str, str] | None = None,
    keep_connection: bool = True,
) -> Answer:
    """Send one request to ``app``. ``path`` is as sent on the wire (percent-encoded)."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        # WSGI servers decode the path and hand its bytes over as latin-1 characters.
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "REMOTE_ADDR": remote,
        "HTTP_HOST": host,
        "wsgi.input": io.BytesIO(b""),
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    setup_testing_defaults(environ)
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info=None):  # type: ignore[no-untyped-def]
        started.append((status, response_headers))

    with connections_kept() if keep_connection else nullcontext():
        result = app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
    status, response_headers = started[0]
    return Answer(int(status.split()[0]), dict(response_headers), body)


@dataclass
class Recorder:
    """A stand-in for Django behind the layer: says it was reached, and how often."""

    calls: list[str] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        self.calls.append(environ["PATH_INFO"])
        start_response("299 Reached Django", [("Content-Type", "text/plain")])
        return [b"django"]
