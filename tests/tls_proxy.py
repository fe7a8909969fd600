"""A TLS-terminating reverse proxy on the loopback, for tests: what Caddy or nginx does in
front of ``apcert serve`` in production, in a few lines.

It ends TLS with a self-signed certificate made on the spot for 127.0.0.1, passes each
request to the plain-HTTP server behind it with ``X-Forwarded-Proto: https`` (replacing
any ``X-Forwarded-Proto`` or ``X-Forwarded-For`` the client sent, as a proxy must) and
relays the answer back. One request per connection: it asks for ``Connection: close`` both
ways, so an answer ends where the server closes.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import socketserver
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOP_BY_HOP = {b"connection", b"keep-alive", b"x-forwarded-proto", b"x-forwarded-for"}
MAX_HEAD = 64 * 1024


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, valid for a day, written under ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "proxy.crt", folder / "proxy.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _read_head(conn: socket.socket) -> tuple[bytes, bytes]:
    """The request's head (up to the blank line) and whatever of its body came with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_HEAD:
            raise ValueError("request head too large")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _rewritten(head: bytes, client: str) -> tuple[bytes, int]:
    lines = head.split(b"\r\n")
    kept = [lines[0]]
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lowered = name.strip().lower()
        if lowered in HOP_BY_HOP:
            continue
        if lowered == b"content-length":
            length = int(value.strip())
        kept.append(line)
    kept += [
        b"X-Forwarded-Proto: https",
        b"X-Forwarded-For: " + client.encode(),
        b"Connection: close",
    ]
    return b"\r\n".join(kept) + b"\r\n\r\n", length


class _Handler(socketserver.BaseRequestHandler):
    server: TlsProxy

    def handle(self) -> None:
        try:
            conn = self.server.tls.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # a client that gave up on the certificate
        with conn:
            try:
                head, body = _read_head(conn)
                if not head:
                    return
                head, length = _rewritten(head, self.client_address[0])
                while len(body) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    body += chunk
                with socket.create_connection(self.server.upstream, timeout=60) as up:
                    up.sendall(head + body)
                    while chunk := up.recv(65536):
                        conn.sendall(chunk)
                self.server.requests += 1
            except (OSError, ValueError):
                return


class TlsProxy(socketserver.ThreadingTCPServer):
    """``https://127.0.0.1:<port>`` in front of ``http://127.0.0.1:<upstream port>``."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int, folder: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        cert, key = self_signed_certificate(folder)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.upstream = ("127.0.0.1", upstream_port)
        self.requests = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> TlsProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=10)
