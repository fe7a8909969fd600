"""Which receivers a webhook may be sent to.

A receiver's address is chosen by whoever subscribes (a buyer without an account too), so
unless the server is set to allow it (``WEBHOOK_PRIVATE_ADDRESSES``), apcert never calls an
address on a loopback, private, link-local, shared or reserved network: the services beside
the server (its database, a cloud's metadata service) are not reachable through a webhook.
The address is checked when the subscription is made and again on each connection, on the
address actually connected to, so a name that resolves elsewhere later gains nothing.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from typing import Any

from django.conf import settings


class PrivateAddress(OSError):
    """A connection refused because its address is not a public one."""


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP address) is one of the public internet."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def private_allowed() -> bool:
    return bool(settings.WEBHOOK_PRIVATE_ADDRESSES)


def host_private(host: str) -> str | None:
    """The first address of ``host`` that is not public, or None when every address it
    resolves to is public (or the name does not resolve now: the connection checks it)."""
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return None
    for *_, sockaddr in found:
        address = str(sockaddr[0])
        if not is_public(address):
            return address
    return None


def _guarded_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
    sock = socket.create_connection(address, *args, **kwargs)
    if not private_allowed():
        peer = str(sock.getpeername()[0])
        if not is_public(peer):
            sock.close()
            raise PrivateAddress(
                f"{address[0]} is at {peer}, not a public address: webhooks are not sent there"
            )
    return sock


class _HTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class _HTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded_connection


class GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_HTTPConnection, req)


class GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_HTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


__all__ = [
    "GuardedHTTPHandler",
    "GuardedHTTPSHandler",
    "PrivateAddress",
    "host_private",
    "is_public",
    "private_allowed",
]
