"""Django's PostgreSQL backend, with its health check run at most every few seconds.

With persistent connections and ``CONN_HEALTH_CHECKS``, Django checks a connection kept from
an earlier request with a ``SELECT 1`` before the request's first query: a second round trip
on every request, about a third of the time of the register's fastest answers. Here the
check runs only when the last one (or the connection itself) is older than
:data:`HEALTH_CHECK_EVERY` seconds, or when the server has said something to the connection
while it sat idle between requests.

That last test costs no round trip: a look at the connection's socket. A server that ends a
connection (``pg_terminate_backend``, a restart, a fail-over that stops it cleanly) sends its
reason and closes the socket, which then has something to read though no query is under
way. Such a connection is checked with the ``SELECT 1`` at once, found broken and replaced
before the request's first query, so the request is answered rather than failing on it. A
connection that broke silently within the time (a network cut) still does not serve a second
request: the query that meets the break fails, and Django checks (and closes) a connection
after any error before it is used again.
"""

from __future__ import annotations

import select
import time

from django.db.backends.postgresql import base

#: Seconds a health check (or a new connection) vouches for the connection.
HEALTH_CHECK_EVERY = 5.0


class DatabaseWrapper(base.DatabaseWrapper):
    # Set by Django's base wrapper (declared here for the type checker).
    health_check_enabled: bool
    health_check_done: bool
    _vouched_at = 0.0

    def connect(self) -> None:
        super().connect()
        self._vouched_at = time.monotonic()

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and time.monotonic() - self._vouched_at < HEALTH_CHECK_EVERY
            and not self._server_spoke()
        ):
            self.health_check_done = True
            return
        checking = not self.health_check_done
        super().close_if_health_check_failed()
        if checking and self.connection is not None:
            self._vouched_at = time.monotonic()

    def _server_spoke(self) -> bool:
        """Whether the idle connection's socket has something to read (the server ended it,
        most likely), without waiting and without a round trip; an unreadable socket counts
        as having spoken, so that the full check decides."""
        try:
            poller = select.poll()
            poller.register(self.connection.fileno(), select.POLLIN)
            return bool(poller.poll(0))
        except (OSError, ValueError, AttributeError):
            return True
