"""A webhook receiver on 127.0.0.1 for the tests: it answers each POST as it is told
(fail, wait past the sender's timeout, accept, or hold until released) and keeps what it
received."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int | None

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def payload(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.body)
        return result


@dataclass
class Receiver:
    """``script`` lists how to answer the next POSTs ("fail", "timeout", "accept", "hold");
    once it is used up, every POST is accepted."""

    script: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    timeout_wait: float = 2.0
    release: threading.Event = field(default_factory=threading.Event)
    holding: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.answered is not None and 200 <= r.answered < 300]


@contextmanager
def receiver(**kwargs: Any) -> Iterator[Receiver]:
    state = Receiver(**kwargs)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with state.lock:
                how = state.script.pop(0) if state.script else "accept"
            headers = {k.lower(): v for k, v in self.headers.items()}
            if how == "timeout":
                time.sleep(state.timeout_wait)
                state.received.append(Received(headers, body, None))
                return
            if how == "hold":
                state.received.append(Received(headers, body, None))
                state.holding.set()
                state.release.wait(30)
                return
            code = 500 if how == "fail" else 204 if how == "accept" else int(how)
            state.received.append(Received(headers, body, code))
            self.send_response(code)
            text = b"down for maintenance" if code >= 400 else b""
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.release.set()
        server.shutdown()
        server.server_close()
