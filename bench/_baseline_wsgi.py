"""The same-run baseline of the register benchmarks: a raw WSGI JSON endpoint.

Served on granian, one worker, with the options ``apcert serve`` uses
(``_servers.granian_wsgi_baseline_argv``). No framework and no database: what the WSGI
server and the interpreter cost a request.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, unquote

PREFIX = "/api/public/certificates/"


def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    if path.startswith(PREFIX):
        body = json.dumps({"number": unquote(path[len(PREFIX) :]), "status": "current"})
    elif path == "/api/public/search":
        q = parse_qs(environ.get("QUERY_STRING", "")).get("q", [""])[0]
        body = json.dumps({"q": q, "results": []})
    else:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"code": "not_found"}']
    data = body.encode()
    start_response(
        "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))]
    )
    return [data]
