"""The WSGI layer in front of Django for the public API: its rate limit, and a fast path for
the hottest public read, one certificate by number. It also counts the requests for the
costly public pages against their limits (:mod:`apcert.register.limits`), refusing those
over a limit before Django sees them.

Every request under ``/api/public/`` first counts against the client address's rate limit
(:mod:`apcert.api.ratelimit`; refused with 429 problem JSON and ``Retry-After``). Then
``GET`` and ``HEAD /api/public/certificates/<number>`` (URL-encoded, nothing after it, the
query string ignored) are answered here, without Django's middleware, URL resolver or ORM:
one indexed ``SELECT`` of the certificate's public document from the search index
(``register_searchentry.document``, written by :mod:`apcert.register.index` in the same
transaction as every certificate change, from
:func:`apcert.register.documents.certificate_document_json`), sent as it is stored. The
ninja endpoint builds the same document from the certificate itself, so both answer the same
JSON. The stored document holds the recorded status; the same ``SELECT`` reads the
certificate's ``lapses_on`` by its primary key, and a certificate whose recorded status no
longer holds today (the calendar changed it and the daily sweep has not recorded it yet) is
left to Django, which answers its status today.

The answer carries a strong ``ETag`` made from the document's bytes and the day (the bytes
are already read: nothing is built for it) and the ``Cache-Control`` of every public answer
(:func:`apcert.core.http_cache.cache_control`: short, never past midnight UTC); a request
whose ``If-None-Match`` holds that tag is answered 304 without a body.

Anything else goes on to Django unchanged: other paths and methods, a number the index does
not hold (Django then answers the 404 problem, or the certificate if the index has not got
it yet), a ``Host`` outside ``ALLOWED_HOSTS``, a plain-HTTP request that
``SECURE_SSL_REDIRECT`` sends to HTTPS, and any error. The layer sends the headers Django's
middleware would add to the same answer: the security headers, ``Strict-Transport-Security``
on a request that came over HTTPS (as ``SECURE_PROXY_SSL_HEADER`` tells it behind a TLS
proxy), and the Content-Security-Policy.

The query reads where Django would read for the same request
(:func:`apcert.core.db.replicas.public_read_alias`): a usable replica when there are any,
the primary for a browser that has just written; a replica whose query fails is skipped until
its next check, and Django answers that request.

The query runs on the thread's own Django connection (granian's threads each have one), which
is looked after as Django's request cycle looks after it: before and after the query,
``close_if_unusable_or_obsolete()``, what Django's ``request_started`` and
``request_finished`` receivers call, so that ``CONN_MAX_AGE`` is honoured, a connection that
met an error is checked (and replaced when broken), and with ``CONN_HEALTH_CHECKS`` the
connection is checked before its first query of the request. The signals themselves are not
sent: their other receivers (query log, caches, URLconf) have nothing to do here, and sending
them would cost as much as the query. A connection inside a transaction is never closed (only
a test runs a request inside one).

On PostgreSQL the query is a prepared statement of the connection, run through psycopg's
libpq layer (``psycopg.pq``) rather than a cursor: it is prepared once a connection, its
parameters go as text, and the document comes back in binary format, which for a text
column is its UTF-8 bytes, the answer's body as it is. Django's cursor, its wrappers and
psycopg's cursor cost more than the query's round trip. What the cursor would do around the
query is done here: the health check when it is due, a connection opened when there is none,
and an error raised as Django's database error, which marks the connection to be checked
before it serves again. A connection that has lost the statement prepares it again at its
next request.

The settings the layer reads are read once and again whenever Django says a setting changed
(``override_settings``). Apart from them and the rate limiter's counts the layer keeps no
state, so each worker process (``granian --workers N``) simply has its own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from csp.constants import HEADER as CSP_HEADER
from csp.constants import HEADER_REPORT_ONLY as CSP_HEADER_REPORT_ONLY
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import parse_cookie
from django.http.request import split_domain_port, validate_host
from django.utils import timezone
from django.utils.http import parse_etags

from apcert import __version__
from apcert.api import ratelimit
from apcert.core import http_cache
from apcert.core.db import replicas
from apcert.core.observe import ROUTE_KEY
from apcert.register import limits

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from psycopg import Connection

logger = logging.getLogger(__name__)

CERTIFICATE_PREFIX = "/api/public/certificates/"
#: The routes this layer's own answers are counted under (apcert.core.observe): a certificate
#: read under the name of the API endpoint that gives the same answer, and every refusal for
#: a rate limit under one name.
CERTIFICATE_ROUTE = "public-api:certificate_detail"
RATE_LIMITED_ROUTE = "rate-limited"
JSON = "application/json; charset=utf-8"


class PublicApiLayer:
    """WSGI middleware around the Django application: see the module docstring."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(ratelimit.PREFIX):
            refused = limits.refusal(environ)
            if refused is None:
                return self.app(environ, start_response)
            status, headers, body = refused
            environ[ROUTE_KEY] = RATE_LIMITED_ROUTE
            # The headers Django's middleware would add (security headers, the policy, and
            # HSTS on HTTPS), as on every answer of this layer.
            hsts = _config().hsts
            headers = [*headers, *_config().headers]
            if hsts is not None and _is_secure(environ):
                headers.append(hsts)
            start_response(status, headers)
            return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]
        method = environ.get("REQUEST_METHOD")
        wait = ratelimit.seconds_to_wait(environ)
        if wait:
            environ[ROUTE_KEY] = RATE_LIMITED_ROUTE
            body = json.dumps(ratelimit.problem(wait)).encode()
            headers = [("Retry-After", str(wait)), ("Cache-Control", "no-store")]
            return _send(start_response, "429 Too Many Requests", body, method, headers)
        if (method == "GET" or method == "HEAD") and path.startswith(CERTIFICATE_PREFIX):
            now = dt.datetime.now(dt.UTC)
            today = now.astimezone(_config().zone).date()
            document = certificate_document(environ, path, today)
            if document is not None:
                environ[ROUTE_KEY] = CERTIFICATE_ROUTE
                hsts = _config().hsts
                extra = [hsts] if hsts is not None and _is_secure(environ) else []
                validator = document_validator(document, today)
                extra.append(("ETag", validator.etag))
                extra.append(("Cache-Control", http_cache.cache_control(now)))
                if _still_matches(environ, validator):
                    return _send_not_modified(start_response, extra)
                return _send(start_response, "200 OK", document, method, extra)
        return self.app(environ, start_response)


def document_validator(document: bytes, today: dt.date) -> http_cache.Validator:
    """The strong validator of a stored document sent on ``today``: the same bytes on the
    same day (the day is in it, as in every public answer's, though this layer answers only
    while the stored status holds). Made from the bytes, which the one ``SELECT`` has
    already read: nothing is built to answer a 304."""
    digest = hashlib.sha256(document).hexdigest()
    return http_cache.Validator(
        tag=http_cache.tag_of((__version__, today.isoformat(), digest)), strong=True
    )


def _still_matches(environ: WSGIEnvironment, validator: http_cache.Validator) -> bool:
    """``If-None-Match`` compared weakly, as for the answers Django makes."""
    header = environ.get("HTTP_IF_NONE_MATCH")
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(tag.removeprefix("W/") == validator.etag for tag in parse_etags(header))


def certificate_document(
    environ: WSGIEnvironment, path: str, today: dt.date | None = None
) -> bytes | None:
    """The stored document of the certificate ``path`` names, or ``None`` when this layer
    should leave the request to Django."""
    number = _number(path)
    if number is None or not _answers_like_django(environ):
        return None
    alias = DEFAULT_DB_ALIAS
    if replicas.replica_aliases():
        alias = replicas.public_read_alias(path, parse_cookie(environ.get("HTTP_COOKIE", "")))
    try:
        return _stored_document(number, today or _today(), alias)
    except Exception:
        if alias != DEFAULT_DB_ALIAS:
            # Skipped until its next check; Django answers from another replica or the primary.
            replicas.replica_failed(alias)
        # Django will answer instead (and log its own error if it meets the same one). The
        # record says what failed, never who asked.
        logger.warning("certificate fast path failed; Django answers instead", exc_info=True)
        return None


def _number(path: str) -> str | None:
    """The certificate number in ``/api/public/certificates/<number>``, or ``None`` when
    the path has more after it, or no number, or bytes that are not UTF-8 or NUL."""
    raw = path[len(CERTIFICATE_PREFIX) :]
    if not raw or "/" in raw or "\x00" in raw:  # (no number holds a NUL; Django refuses it)
        return None
    try:
        # WSGI servers hand the decoded path over as latin-1 characters, one per byte.
        return raw.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return None


def _answers_like_django(environ: WSGIEnvironment) -> bool:
    """Whether Django would answer this request with the ninja view's plain response: it
    would not redirect it to HTTPS, and the ``Host`` is allowed (checked as
    ``HttpRequest.get_host`` checks it)."""
    config = _config()
    if config.ssl_redirect and not _is_secure(environ):
        return False
    if config.use_x_forwarded_host and "HTTP_X_FORWARDED_HOST" in environ:
        host = environ["HTTP_X_FORWARDED_HOST"]
    else:
        host = environ.get("HTTP_HOST", "")
    domain, _port = split_domain_port(host)
    return bool(domain) and validate_host(domain, config.allowed_hosts)


def _is_secure(environ: WSGIEnvironment) -> bool:
    """Whether the request came over HTTPS, as ``HttpRequest.is_secure`` tells it: from the
    TLS proxy's header when ``SECURE_PROXY_SSL_HEADER`` names one and the request has it,
    else from the server's own scheme."""
    proxy_header = _config().proxy_ssl_header
    if proxy_header is not None:
        header, secure_value = proxy_header
        value = environ.get(header)
        if value is not None:
            return str(value).split(",", 1)[0].strip() == secure_value
    return environ.get("wsgi.url_scheme") == "https"


def _stored_document(number: str, today: dt.date, alias: str = DEFAULT_DB_ALIAS) -> bytes | None:
    connection = connections[alias]
    if not connection.in_atomic_block:
        connection.close_if_unusable_or_obsolete()
    try:
        if connection.vendor == "postgresql":
            return _prepared_select(connection, number, today)
        with connection.cursor() as cursor:
            cursor.execute(_config().select, [number, today])
            row = cursor.fetchone()
        return None if row is None else str(row[0]).encode()
    finally:
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()


#: The fast path's prepared statement, on each PostgreSQL connection that has run it
#: (psycopg names its own ``_pg3_<n>``).
STATEMENT = b"apcert_certificate_document"
#: The psycopg connections that hold the statement.
_prepared: weakref.WeakSet[Connection[Any]] = weakref.WeakSet()
#: PostgreSQL's code for a prepared statement the session does not hold.
_NO_SUCH_STATEMENT = "26000"


def _prepared_select(connection: BaseDatabaseWrapper, number: str, today: dt.date) -> bytes | None:
    """The stored document through the connection's prepared statement (PostgreSQL)."""
    from psycopg import errors, pq

    # What Django's cursor() does first: the health check when it is due, then a connection.
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    pgconn = raw.pgconn
    params = [number.encode(), today.isoformat().encode()]
    with connection.wrap_database_errors:
        if raw not in _prepared:
            done = pgconn.prepare(STATEMENT, _config().prepared)
            if done.status != pq.ExecStatus.COMMAND_OK:
                raise errors.error_from_result(done, encoding=raw.info.encoding)
            _prepared.add(raw)
        result = pgconn.exec_prepared(STATEMENT, params, result_format=pq.Format.BINARY)
        if result.status != pq.ExecStatus.TUPLES_OK:
            error = errors.error_from_result(result, encoding=raw.info.encoding)
            if error.sqlstate == _NO_SUCH_STATEMENT:
                _prepared.discard(raw)
            raise error
    if not result.ntuples:
        return None
    return result.get_value(0, 0)


def _today() -> dt.date:
    """Today in the default time zone: ``timezone.localdate()`` without its look-up of the
    thread's active zone, which only a middleware sets and this layer runs none."""
    return dt.datetime.now(_config().zone).date()


# --- settings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Config:
    #: SECURE_SSL_REDIRECT: a plain-HTTP request is Django's to redirect.
    ssl_redirect: bool
    #: SECURE_PROXY_SSL_HEADER: the WSGI name of the TLS proxy's header and its HTTPS value.
    proxy_ssl_header: tuple[str, str] | None
    use_x_forwarded_host: bool
    allowed_hosts: list[str]
    #: The headers Django's middleware adds to every JSON answer.
    headers: list[tuple[str, str]]
    #: The Strict-Transport-Security header SecurityMiddleware adds to an HTTPS answer.
    hsts: tuple[str, str] | None
    zone: dt.tzinfo
    select: str
    #: ``select`` with PostgreSQL's numbered parameters, for the prepared statement.
    prepared: bytes


_current: _Config | None = None


def _config() -> _Config:
    global _current
    config = _current
    if config is None:
        config = _current = _read_settings()
    return config


def _read_settings() -> _Config:
    from apcert.certificates.models import Certificate
    from apcert.register.models import SearchEntry

    allowed_hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = [".localhost", "127.0.0.1", "[::1]"]  # as HttpRequest.get_host
    headers = [("X-Frame-Options", getattr(settings, "X_FRAME_OPTIONS", "DENY").upper())]
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    policy = settings.SECURE_REFERRER_POLICY
    if policy:
        values = [v.strip() for v in policy.split(",")] if isinstance(policy, str) else policy
        headers.append(("Referrer-Policy", ",".join(values)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    if "csp.middleware.CSPMiddleware" in settings.MIDDLEWARE:
        # What django-csp's middleware writes on an answer of a view with no policy of its own.
        for header, report_only in ((CSP_HEADER, False), (CSP_HEADER_REPORT_ONLY, True)):
            value = build_policy(report_only=report_only)
            if value:
                headers.append((header, value))
    hsts = None
    if settings.SECURE_HSTS_SECONDS:
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        hsts = ("Strict-Transport-Security", value)
    proxy_ssl_header = None
    if settings.SECURE_PROXY_SSL_HEADER:
        header, secure_value = settings.SECURE_PROXY_SSL_HEADER
        proxy_ssl_header = (str(header), str(secure_value))
    select = (
        f"SELECT e.document FROM {SearchEntry._meta.db_table} e"
        f" JOIN {Certificate._meta.db_table} c ON c.id = e.certificate_id"
        " WHERE e.number = {} AND (c.lapses_on IS NULL OR c.lapses_on > {})"
    )
    return _Config(
        ssl_redirect=bool(settings.SECURE_SSL_REDIRECT),
        proxy_ssl_header=proxy_ssl_header,
        use_x_forwarded_host=settings.USE_X_FORWARDED_HOST,
        allowed_hosts=allowed_hosts,
        headers=headers,
        hsts=hsts,
        zone=timezone.get_default_timezone(),
        select=select.format("%s", "%s"),
        prepared=select.format("$1", "$2").encode(),
    )


def _settings_changed(**kwargs: Any) -> None:
    global _current
    _current = None


setting_changed.connect(_settings_changed, dispatch_uid="apcert.api.fastpath")


def _send_not_modified(start_response: StartResponse, extra: list[tuple[str, str]]) -> list[bytes]:
    """304: no body, the validator, the freshness and the headers Django's middleware adds."""
    start_response("304 Not Modified", [*_config().headers, *extra])
    return []


def _send(
    start_response: StartResponse,
    status: str,
    body: bytes,
    method: str | None,
    extra: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    headers = [("Content-Type", JSON), ("Content-Length", str(len(body))), *_config().headers]
    if extra:
        headers.extend(extra)
    start_response(status, headers)
    return [] if method == "HEAD" else [body]
