"""Every value apcert takes from the environment is read here, and only here.

Other modules import the typed values below; none of them touches ``os.environ``.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return raw.strip().lower() in _TRUE


#: Where apcert keeps its own files (SQLite database, generated secret key, uploads).
VAR_DIR = Path(os.environ.get("APCERT_VAR_DIR", Path.cwd() / "var")).resolve()

DEBUG = _flag("DEBUG")

#: ``development`` (the default) may generate its own secret key; ``production`` may not.
ENVIRONMENT = os.environ.get("APCERT_ENV", "development").strip().lower()

DATABASE_URL = os.environ.get("DATABASE_URL", "").strip()

ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if h.strip()
]

EMAIL_URL_BACKEND = os.environ.get("EMAIL_BACKEND", "").strip()


class ConfigurationError(RuntimeError):
    """The environment does not describe a usable configuration."""


def _count(name: str, default: int) -> int:
    """A whole number, zero or more, from the environment (``default`` when unset or blank)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, not {raw!r}.") from None
    if value < 0:
        raise ConfigurationError(f"{name} must be zero or more, not {value}.")
    return value


def _header_name(name: str) -> str:
    """An HTTP header name from the environment, or ``""`` when unset."""
    raw = os.environ.get(name, "").strip()
    if raw and not re.fullmatch(r"[A-Za-z0-9]+(-[A-Za-z0-9]+)*", raw):
        raise ConfigurationError(
            f"{name} must be an HTTP header name such as X-Forwarded-For, not {raw!r}."
        )
    return raw


#: How many requests one client address may make to the public API (``/api/public/``) in
#: API_RATE_WINDOW seconds; 0 turns the limit off. Counted per server process.
API_RATE_LIMIT = _count("APCERT_API_RATE_LIMIT", 300)
#: The window of API_RATE_LIMIT, in seconds; 0 turns the limit off.
API_RATE_WINDOW = _count("APCERT_API_RATE_WINDOW", 60)
#: Requests one API token may make to the API for integrators (/api/v1/) per
#: API_TOKEN_RATE_WINDOW seconds; 0 turns the limit off. Counted per server process.
API_TOKEN_RATE_LIMIT = _count("APCERT_API_TOKEN_RATE_LIMIT", 600)
#: The window of API_TOKEN_RATE_LIMIT, in seconds; 0 turns the limit off.
API_TOKEN_RATE_WINDOW = _count("APCERT_API_TOKEN_RATE_WINDOW", 60)

#: The request header in which a trusted reverse proxy passes the client's address (e.g.
#: ``X-Forwarded-For``). Unset: the address is the peer of the connection (REMOTE_ADDR).
#: Set it only when apcert can be reached through that proxy alone: clients can write any
#: header they like.
TRUSTED_PROXY_HEADER = _header_name("APCERT_TRUSTED_PROXY_HEADER")


def _rate(name: str, default: tuple[int, int]) -> tuple[int, int]:
    """A rate limit from the environment as ``REQUESTS/SECONDS`` (``20/60``), or ``0`` for
    none, which is given as (0, 0); ``default`` when unset or blank."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw == "0":
        return (0, 0)
    match = re.fullmatch(r"(\d+)\s*/\s*(\d+)", raw)
    if not match or int(match[1]) < 1 or int(match[2]) < 1:
        raise ConfigurationError(
            f"{name} must be REQUESTS/SECONDS with both 1 or more (e.g. 20/60), or 0 for no "
            f"limit, not {raw!r}."
        )
    return (int(match[1]), int(match[2]))


#: The limits per client address on the public pages that cost the server most, each as
#: (requests, seconds); (0, 0) turns one off. Counted per server process, apart from the
#: public API's own limit.
PAGE_RATE_LIMITS: dict[str, tuple[int, int]] = {
    # the register's search page (any search, the first page of the register included)
    "search": _rate("APCERT_RATE_LIMIT_SEARCH", (120, 60)),
    # a certificate page asked for a past day (?on=...)
    "as-of": _rate("APCERT_RATE_LIMIT_AS_OF", (60, 60)),
    # the certificate PDFs
    "pdf": _rate("APCERT_RATE_LIMIT_PDF", (10, 60)),
    # the whole register as CSV or JSON lines
    "export": _rate("APCERT_RATE_LIMIT_EXPORT", (6, 600)),
    # a document sent to /verify to be checked (the page itself and checks by number are not
    # counted here: they are as cheap as a certificate page)
    "verify": _rate("APCERT_RATE_LIMIT_VERIFY", (30, 60)),
    # signed verification receipts
    "receipt": _rate("APCERT_RATE_LIMIT_RECEIPT", (30, 60)),
}

#: How many whole-register exports one server process sends at a time, whoever asks (each
#: holds a thread while it streams, though sending a kept export costs next to no CPU: the
#: builds run apart, see KEPT_EXPORTS); a request beyond is answered 503 with Retry-After.
#: 0: no such cap.
EXPORTS_AT_ONCE = _count("APCERT_EXPORTS_AT_ONCE", 2)
#: How many certificate PDFs one server process draws at a time (a kept PDF is not drawn);
#: a download that needs another is answered 503 with Retry-After. 0: no cap.
PDF_DRAWS_AT_ONCE = _count("APCERT_PDF_DRAWS_AT_ONCE", 1)

# --- accounts and sign-in (the back office) ---------------------------------------------------


def _positive(name: str, default: int) -> int:
    """A whole number, one or more, from the environment (``default`` when unset or blank)."""
    value = _count(name, default)
    if value < 1:
        raise ConfigurationError(f"{name} must be 1 or more, not {value}.")
    return value


#: Failed sign-ins, for one username from one client address, after which signing in is
#: locked (django-axes). The lock lifts by itself after LOGIN_COOLOFF_MINUTES.
LOGIN_FAILURE_LIMIT = _positive("APCERT_LOGIN_FAILURE_LIMIT", 5)
#: Minutes a locked sign-in stays locked, counted from the failure that locked it.
LOGIN_COOLOFF_MINUTES = _positive("APCERT_LOGIN_COOLOFF_MINUTES", 15)
#: Seconds without a back-office request after which a signed-in session ends (each
#: back-office request starts the count again).
SESSION_AGE_SECONDS = _positive("APCERT_SESSION_AGE", 8 * 60 * 60)
#: Days an invitation to join a CB or an organization may be accepted.
INVITATION_DAYS = _positive("APCERT_INVITATION_DAYS", 7)
#: The address people reach apcert at (``https://apcert.example.org``), for links in e-mails
#: sent outside a request. Pages that send mail use the address they were reached at.
SITE_URL = os.environ.get("APCERT_SITE_URL", "").strip().rstrip("/") or "http://127.0.0.1:8000"
#: Days back an event may lie (its effective date, a finding's due date, a decision's date)
#: and still be mailed as news; older ones are kept on record and in-app, not mailed.
NOTIFICATION_RECENT_DAYS = _count("APCERT_NOTIFICATION_RECENT_DAYS", 30)
#: The sender of apcert's e-mails (sign-in help, invitations).
DEFAULT_FROM_EMAIL = os.environ.get("APCERT_FROM_EMAIL", "").strip() or "apcert <noreply@localhost>"


def secret_key() -> str:
    """Return SECRET_KEY, generating and keeping one under VAR_DIR in development only."""
    value = os.environ.get("SECRET_KEY", "").strip()
    if value:
        return value
    if ENVIRONMENT != "development":
        raise ConfigurationError(
            "SECRET_KEY is not set. Outside development apcert will not invent one: "
            "set SECRET_KEY in the environment."
        )
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # Written with owner-only permissions; O_EXCL so two processes never write two keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def databases() -> dict[str, dict[str, object]]:
    """The DATABASES setting: SQLite under VAR_DIR unless DATABASE_URL names another."""
    if DATABASE_URL:
        config: dict[str, object] = dict(
            dj_database_url.parse(DATABASE_URL, conn_max_age=None, conn_health_checks=True)
        )
        if config["ENGINE"] == "django.db.backends.postgresql":
            # The same backend, its health check run at most every few seconds rather than
            # before every request (apcert.core.db.postgresql).
            config["ENGINE"] = "apcert.core.db.postgresql"
    else:
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        config = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "apcert.sqlite3")}
    engine = str(config["ENGINE"])
    options = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
    if engine.endswith("sqlite3"):
        # WAL lets the register read while a CB writes; IMMEDIATE write transactions take
        # the write lock up front, so two writers queue instead of failing on upgrade.
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault("timeout", 20)
        options.setdefault(
            "init_command",
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
        config["CONN_MAX_AGE"] = None
        config.setdefault("CONN_HEALTH_CHECKS", False)
    config["OPTIONS"] = options
    config.setdefault("ATOMIC_REQUESTS", False)
    test_name = os.environ.get("APCERT_TEST_DATABASE_NAME")
    if test_name:
        config["TEST"] = {"NAME": test_name}
    return {"default": config, **_replicas(config)}


# --- read replicas (apcert.core.db.replicas) -------------------------------------------------
#: PostgreSQL streaming replicas of the DATABASE_URL server, comma-separated URLs; each
#: becomes the database alias ``replica1``, ``replica2``... The public register reads from
#: them; the back office and every write use the primary.
DATABASE_REPLICA_URLS = [
    url.strip() for url in os.environ.get("DATABASE_REPLICA_URLS", "").split(",") if url.strip()
]
#: A replica whose replay is further behind the primary than this many seconds is skipped
#: until it has caught up (its public reads go to another replica or to the primary).
REPLICA_MAX_LAG_SECONDS = _count("APCERT_REPLICA_MAX_LAG_SECONDS", 30)
#: How often each server process checks a replica's reachability and lag, in seconds; between
#: checks it keeps the last answer.
REPLICA_CHECK_SECONDS = _count("APCERT_REPLICA_CHECK_SECONDS", 5)
#: For how many seconds after a write (a POST of the back office, the admin or a sign-in) the
#: same browser's public reads go to the primary, so that it sees its own change at once.
#: Keep it above the lag a replica is allowed.
READ_YOUR_WRITES_SECONDS = _count("APCERT_READ_YOUR_WRITES_SECONDS", 10)
#: Seconds to wait for a replica's connection before counting it unreachable (unless its URL
#: gives ``connect_timeout``).
REPLICA_CONNECT_TIMEOUT = 3


def _replicas(primary: dict[str, object]) -> dict[str, dict[str, object]]:
    """The replica aliases of the DATABASES setting, from DATABASE_REPLICA_URLS."""
    if not DATABASE_REPLICA_URLS:
        return {}
    if primary["ENGINE"] != "apcert.core.db.postgresql":
        raise ConfigurationError(
            "DATABASE_REPLICA_URLS needs DATABASE_URL to name a PostgreSQL server: replicas "
            "are PostgreSQL streaming replicas of it."
        )
    aliases: dict[str, dict[str, object]] = {}
    for n, url in enumerate(DATABASE_REPLICA_URLS, start=1):
        try:
            config: dict[str, object] = dict(
                dj_database_url.parse(url, conn_max_age=None, conn_health_checks=True)
            )
        except ValueError:
            config = {"ENGINE": ""}
        if config["ENGINE"] != "django.db.backends.postgresql":
            # The URL itself is not repeated: it may hold a password.
            raise ConfigurationError(
                f"DATABASE_REPLICA_URLS: entry {n} is not a PostgreSQL URL such as "
                "postgres://user:password@host:5432/apcert."
            )
        config["ENGINE"] = "apcert.core.db.postgresql"
        # The primary's options, unless the replica's URL gives its own.
        options = {**dict(primary["OPTIONS"]), **dict(config.get("OPTIONS") or {})}  # type: ignore[call-overload]
        options.setdefault("connect_timeout", REPLICA_CONNECT_TIMEOUT)
        config["OPTIONS"] = options
        config["ATOMIC_REQUESTS"] = False
        # Tests read the test database through the replica's alias: it is never created.
        config["TEST"] = {"MIRROR": "default"}
        aliases[f"replica{n}"] = config
    return aliases


#: Where ``collectstatic`` puts the static files and ``apcert serve`` serves them from. Apart
#: from VAR_DIR when the files belong to an installed release rather than to its data (a
#: container image collects them at build).
STATIC_ROOT = Path(os.environ.get("APCERT_STATIC_ROOT", "").strip() or VAR_DIR / "static").resolve()


# --- evidence files (corrective actions' uploads; apcert.assessments.evidence) ----------------
#: Where evidence files are kept. Never under STATIC_ROOT or any other path the web server
#: serves: evidence is private, and is served only through a view that checks who asks.
EVIDENCE_DIR = Path(
    os.environ.get("APCERT_EVIDENCE_DIR", "").strip() or VAR_DIR / "evidence"
).resolve()
#: The largest evidence file accepted, in bytes (20 MiB unless set).
EVIDENCE_MAX_BYTES = _count("APCERT_EVIDENCE_MAX_BYTES", 20 * 1024 * 1024)


# --- signing keys (apcert.credentials) ---------------------------------------------------------
#: Where each CB's private Ed25519 signing keys are kept, one file a key (mode 0600, in
#: directories of mode 0700). Never in the database, never under a path the web server serves;
#: back it up apart from the database.
KEY_DIR = Path(os.environ.get("APCERT_KEY_DIR", "").strip() or VAR_DIR / "keys").resolve()


# --- the published audit chain head (apcert.audit.published) ------------------------------------
#: A file outside the database where backups, restores and the worker publish the audit chain's
#: last event (seq and hash), so that restoring an older backup is seen as a rollback. Keep it
#: on other storage than the database (it is useless if a restore can overwrite it too).
AUDIT_HEAD_FILE = Path(
    os.environ.get("APCERT_AUDIT_HEAD_FILE", "").strip() or VAR_DIR / "audit-head.json"
).resolve()


# --- HTTPS: a TLS-terminating reverse proxy in front (settings.SECURE_*, cookies, CSRF) -------


def _switch(name: str, default: bool) -> bool:
    """On (1, true, yes, on) or off (0, false, no, off) from the environment; ``default``
    when unset or blank. Anything else is refused: a mistyped security setting must not
    quietly mean "off"."""
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ConfigurationError(
        f"{name} must be 1, true, yes or on, or 0, false, no or off, not {raw!r}."
    )


#: Whether the whole-register exports are kept on disk, one file per format, day and register
#: version, built by a process of their own at a lower CPU priority
#: (apcert.register.kept_exports); off, each export is read from the register in the request.
KEPT_EXPORTS = _switch("APCERT_KEPT_EXPORTS", True)


_ORIGIN_HOST = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
    r"|\[[0-9a-f:.]+\]"
)


def _https_origin(name: str, raw: str) -> str:
    """``raw`` as a browser's ``Origin`` header writes it: ``https://host`` or
    ``https://host:port``, lower case, with no path, query or user name."""
    value = raw.strip().rstrip("/")
    problem = f"{name}: {raw.strip()!r} is not an origin such as https://apcert.example.org"
    try:
        parts = urlsplit(value)
    except ValueError:  # an unclosed [ of an IPv6 address
        raise ConfigurationError(f"{problem}: it names no valid host.") from None
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme.lower() != "https":
        raise ConfigurationError(
            f"{problem}: it must begin with https://, the address browsers use through the "
            "TLS proxy."
        )
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigurationError(
            f"{problem}: give the scheme, the host and at most a port, with nothing after them."
        )
    if port is not None and not 1 <= port <= 65535:
        raise ConfigurationError(f"{problem}: its port must be a number from 1 to 65535.")
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    if not _ORIGIN_HOST.fullmatch(host):
        raise ConfigurationError(f"{problem}: it names no valid host.")
    return f"https://{host}" + (f":{port}" if port not in (None, 443) else "")


def _origins(name: str, default: list[str]) -> list[str]:
    """Comma-separated HTTPS origins from the environment (``default`` when unset or blank)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    return [_https_origin(name, item) for item in raw.split(",") if item.strip()]


#: Whether production defaults apply: secure cookies and HSTS on unless switched off.
PRODUCTION = ENVIRONMENT == "production"
_YEAR_SECONDS = 365 * 24 * 60 * 60

#: apcert is reached through a reverse proxy that ends TLS and tells apcert so with the
#: ``X-Forwarded-Proto: https`` header (settings.SECURE_PROXY_SSL_HEADER). Set it only when
#: apcert can be reached through that proxy alone, and the proxy replaces any
#: ``X-Forwarded-Proto`` the client sent: otherwise a client could claim HTTPS over plain HTTP.
BEHIND_TLS_PROXY = _switch("APCERT_BEHIND_TLS_PROXY", False)
#: Redirect a plain-HTTP request to HTTPS (``/healthz`` excepted, for monitors that ask the
#: server directly). On by default behind the TLS proxy.
SSL_REDIRECT = _switch("APCERT_SSL_REDIRECT", BEHIND_TLS_PROXY)
#: Send the session and CSRF cookies over HTTPS only. On by default in production.
SECURE_COOKIES = _switch("APCERT_SECURE_COOKIES", PRODUCTION)
#: How long browsers must keep to HTTPS for this host (Strict-Transport-Security), in seconds;
#: 0 sends no such header. A year by default in production, 0 otherwise. Sent on HTTPS answers
#: only.
HSTS_SECONDS = _count("APCERT_HSTS_SECONDS", _YEAR_SECONDS if PRODUCTION else 0)
#: The HSTS header covers the host's subdomains too (``includeSubDomains``).
HSTS_INCLUDE_SUBDOMAINS = _switch("APCERT_HSTS_INCLUDE_SUBDOMAINS", True)
#: The HSTS header asks to be on the browsers' preload lists (``preload``): a promise that is
#: slow to take back, so only on request.
HSTS_PRELOAD = _switch("APCERT_HSTS_PRELOAD", False)
#: Browsers' preload lists take a host only with a year of HSTS or more, over its subdomains.
HSTS_PRELOAD_MIN_SECONDS = _YEAR_SECONDS
if HSTS_PRELOAD and (HSTS_SECONDS < HSTS_PRELOAD_MIN_SECONDS or not HSTS_INCLUDE_SUBDOMAINS):
    raise ConfigurationError(
        "APCERT_HSTS_PRELOAD needs APCERT_HSTS_SECONDS of at least "
        f"{HSTS_PRELOAD_MIN_SECONDS} (a year) and APCERT_HSTS_INCLUDE_SUBDOMAINS on: the "
        f"browsers' preload lists take nothing less (now {HSTS_SECONDS} seconds, subdomains "
        f"{'on' if HSTS_INCLUDE_SUBDOMAINS else 'off'})."
    )


def _site_origin() -> list[str]:
    """SITE_URL's origin when it is an HTTPS address (the public address behind the proxy)."""
    if not SITE_URL.lower().startswith("https://"):
        return []
    authority = SITE_URL.split("/", 3)[2]  # https: / (empty) / host[:port] / path
    return [_https_origin("APCERT_SITE_URL", f"https://{authority}")]


#: The public HTTPS origins a form may be posted from (settings.CSRF_TRUSTED_ORIGINS), e.g.
#: ``https://apcert.example.org``: needed when the proxy hands apcert another ``Host`` than
#: the one the browser asked for. SITE_URL's origin by default when it is HTTPS.
CSRF_TRUSTED_ORIGINS = _origins("APCERT_CSRF_TRUSTED_ORIGINS", _site_origin())


# --- running it: health, metrics and logs (apcert.web.views_health, apcert.core.observe) -----
#: Seconds since the background worker's last heartbeat after which ``/healthz`` says the
#: worker is late (the worker beats every 30 seconds).
WORKER_LATE_SECONDS = _positive("APCERT_WORKER_LATE_SECONDS", 180)
#: Webhooks: seconds each try waits for the receiver's answer, and seconds a worker holds a
#: delivery it is sending before another may send it (the first worker died mid-send).
WEBHOOK_TIMEOUT_SECONDS = _positive("APCERT_WEBHOOK_TIMEOUT_SECONDS", 10)
WEBHOOK_LEASE_SECONDS = _positive("APCERT_WEBHOOK_LEASE_SECONDS", 60)
#: Webhooks may be sent to receivers on loopback, private, link-local or otherwise reserved
#: addresses (a receiver inside the server's own network). Off by default: anyone may
#: subscribe a receiver (buyers without an account too), and the server must not be made to
#: call the services beside it.
WEBHOOK_PRIVATE_ADDRESSES = _flag("APCERT_WEBHOOK_PRIVATE_ADDRESSES")
#: Free space, in MiB, under which ``/healthz`` says the disk of VAR_DIR or of EVIDENCE_DIR is
#: low; 0 never says it.
DISK_LOW_MIB = _count("APCERT_DISK_LOW_MIB", 1024)


def _networks(name: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or networks (``127.0.0.1,::1,10.0.0.0/8``); none when unset."""
    found = []
    for item in os.environ.get(name, "").split(","):
        if not item.strip():
            continue
        try:
            found.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ConfigurationError(
                f"{name}: {item.strip()!r} is not an IP address or network such as 127.0.0.1, "
                "::1 or 10.0.0.0/8."
            ) from None
    return tuple(found)


#: The client addresses (or networks) that may read ``/metrics``. None by default: the
#: metrics are not public.
METRICS_ALLOW = _networks("APCERT_METRICS_ALLOW")
#: A bearer token that also opens ``/metrics`` (``Authorization: Bearer <token>``), from any
#: address; unset: no token opens it.
METRICS_TOKEN = os.environ.get("APCERT_METRICS_TOKEN", "").strip()
#: A token short enough to guess is refused.
METRICS_TOKEN_MIN_LENGTH = 24
if METRICS_TOKEN and len(METRICS_TOKEN) < METRICS_TOKEN_MIN_LENGTH:
    raise ConfigurationError(
        f"APCERT_METRICS_TOKEN must be at least {METRICS_TOKEN_MIN_LENGTH} characters long "
        f"(it has {len(METRICS_TOKEN)}); make one with: python3 -c 'import secrets; "
        "print(secrets.token_urlsafe(32))'"
    )
#: The directory where each server process writes its request counts for ``/metrics``
#: (prometheus_client's own variable, which ``apcert serve`` sets to ``VAR_DIR/metrics``
#: unless given). Unset: each process counts in memory alone.
METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()

#: ``text`` (the default) or ``json``: one JSON object a line, for a log collector.
LOG_FORMAT = os.environ.get("APCERT_LOG_FORMAT", "").strip().lower() or "text"
if LOG_FORMAT not in ("text", "json"):
    raise ConfigurationError(f"APCERT_LOG_FORMAT must be text or json, not {LOG_FORMAT!r}.")
#: One line a request at INFO (method, route, status, duration, request id).
ACCESS_LOG = _switch("APCERT_ACCESS_LOG", True)

# --- drawing PDFs (apcert.documents.drawing) ---------------------------------------------------
#: Draw certificate PDFs in a pool of processes of their own, at a lower CPU priority, rather
#: than in the server's request threads. ``apcert serve`` turns it on unless set; any other
#: process (tests, the development server, commands) draws in its own process unless set.
PDF_DRAW_PROCESS = _switch("APCERT_PDF_DRAW_PROCESS", False)
#: Seconds a request waits for a drawing process before it is answered busy (the drawing
#: processes are then stopped and started again).
PDF_DRAW_TIMEOUT = _positive("APCERT_PDF_DRAW_TIMEOUT", 30)
