"""Django settings for apcert. Values from the environment come from :mod:`apcert.env`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from csp.constants import NONE, SELF

from apcert import env

#: The documents package is no app (its package imports the models it renders, which an
#: app's package must not): its printable pages' templates, template filters and
#: stylesheets are named here instead.
DOCUMENTS_DIR = Path(__file__).resolve().parent / "documents"

BASE_DIR = env.VAR_DIR.parent
DEBUG = env.DEBUG
SECRET_KEY = env.secret_key()
ALLOWED_HOSTS = env.ALLOWED_HOSTS

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # django-ninja's own copy of Swagger UI for /api/public/docs (no third-party CDN).
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "apcert.core",
    "apcert.accounts",
    "apcert.audit",
    "apcert.schemes",
    "apcert.bodies",
    "apcert.organizations",
    "apcert.applications",
    "apcert.assessments",
    "apcert.certificates",
    "apcert.cycle",
    "apcert.notifications",
    "apcert.register",
    "apcert.credentials",
    "apcert.statuslists",
    "apcert.webhooks",
    "apcert.imports",
    "apcert.demo",
    "apcert.api",
    "apcert.web",
    "apcert.backups",
    # Counts failed sign-ins and locks them for a while (AXES_* below).
    "axes",
    # The Content-Security-Policy header (CONTENT_SECURITY_POLICY below) and its checks.
    "csp",
]

MIDDLEWARE = [
    # Names the URL pattern that answers, for the access log and the metrics
    # (apcert.core.observe): first, so that a refusal by a later middleware is named too.
    "apcert.core.observe.RouteMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Early, so that every answer of the middlewares below carries the policy too.
    "csp.middleware.CSPMiddleware",
    "apcert.core.middleware.RefuseNulMiddleware",
    # Before anything reads a body (the CSRF check reads the whole form): a request larger
    # than any accepted upload is refused on its declared length.
    "apcert.core.middleware.RefuseOversizedBodyMiddleware",
    # Public register pages read from a replica (when there are any), before any view or
    # middleware below reads the database; a browser that wrote is marked to read its write.
    "apcert.core.db.replicas.ReplicaReadsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a signed-in user except those in PUBLIC_PATH_PREFIXES and the views
    # marked login_not_required (sign-in, password reset, invitation acceptance).
    "apcert.web.middleware.BackOfficeLoginMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "apcert.urls"
WSGI_APPLICATION = "apcert.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [DOCUMENTS_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apcert.web.section.section_context",
            ],
            "builtins": ["apcert.core.templatetags.dates"],
        },
    },
]

DATABASES = env.databases()
# Streaming replicas (DATABASE_REPLICA_URLS: aliases replica1, replica2...) serve the public
# register's reads; the back office, writes and migrations use the primary
# (apcert.core.db.replicas). A replica more than REPLICA_MAX_LAG_SECONDS behind is skipped,
# checked at most every REPLICA_CHECK_SECONDS by each process. A browser that wrote reads
# the register from the primary for READ_YOUR_WRITES_SECONDS (a signed cookie of that name).
DATABASE_ROUTERS = ["apcert.core.db.replicas.ReplicaRouter"]
REPLICA_MAX_LAG_SECONDS = env.REPLICA_MAX_LAG_SECONDS
REPLICA_CHECK_SECONDS = env.REPLICA_CHECK_SECONDS
READ_YOUR_WRITES_SECONDS = env.READ_YOUR_WRITES_SECONDS
READ_YOUR_WRITES_COOKIE = "apcert_wrote"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.STATIC_ROOT
STATICFILES_DIRS = [DOCUMENTS_DIR / "static"]

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# A form sent with an expired or missing token: a page that says to reload the form.
CSRF_FAILURE_VIEW = "apcert.web.views_errors.csrf_failure"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- HTTPS through a TLS-terminating reverse proxy (apcert.env) ------------------------------
# The proxy says a request came over HTTPS with X-Forwarded-Proto; Django then counts it as
# secure, so that the CSRF check compares a form's Origin with https://<host>, the redirect
# to HTTPS is not repeated and HSTS is sent. Off, the header means nothing: a client could
# send it itself.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env.BEHIND_TLS_PROXY else None
SECURE_SSL_REDIRECT = env.SSL_REDIRECT
# A monitor or load balancer asks the server itself, over plain HTTP: it gets its answer,
# not a redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.HSTS_SECONDS
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.HSTS_INCLUDE_SUBDOMAINS
SECURE_HSTS_PRELOAD = env.HSTS_PRELOAD
SESSION_COOKIE_SECURE = env.SECURE_COOKIES
CSRF_COOKIE_SECURE = env.SECURE_COOKIES
CSRF_TRUSTED_ORIGINS = env.CSRF_TRUSTED_ORIGINS
# Asking for the browsers' HSTS preload lists is a promise for the whole domain that takes
# months to undo: the operator opts in with APCERT_HSTS_PRELOAD, and its absence is a choice,
# not a warning of `check --deploy`.
SILENCED_SYSTEM_CHECKS = [] if env.HSTS_PRELOAD else ["security.W021"]

# --- Content-Security-Policy (django-csp) ----------------------------------------------------
# Every page's scripts and styles are files served from here: no inline script, style or
# event handler attribute runs. Images may be data: URIs, which Swagger UI's stylesheet
# (/api/public/docs) draws its icons with. No plugin, no <base>, no framing by another site,
# and forms post to this site only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}

# Background tasks (the daily cycle sweep): django-tasks with its database backend, run by
# ``apcert worker`` (or ``apcert db_worker`` alone). Tests use the immediate backend.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

# Webhooks (apcert.webhooks): each try waits this long for the receiver's answer; a worker
# holds a delivery it is sending this long before another may take it (a worker killed
# mid-send); a failed try is retried after each delay in turn (seconds; together more than a
# day), then the subscription is paused and its owner mailed.
WEBHOOK_TIMEOUT_SECONDS: float = env.WEBHOOK_TIMEOUT_SECONDS
WEBHOOK_LEASE_SECONDS = env.WEBHOOK_LEASE_SECONDS
WEBHOOK_PRIVATE_ADDRESSES = env.WEBHOOK_PRIVATE_ADDRESSES
WEBHOOK_RETRY_DELAYS = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800, 28800]

EMAIL_BACKEND = env.EMAIL_URL_BACKEND or "django.core.mail.backends.console.EmailBackend"

# The public API's rate limit per client address (apcert.api.ratelimit): API_RATE_LIMIT
# requests per API_RATE_WINDOW seconds, counted in memory by each server process; 0 turns it
# off. TRUSTED_PROXY_HEADER names the header a reverse proxy puts the client address in.
API_RATE_LIMIT = env.API_RATE_LIMIT
API_RATE_WINDOW = env.API_RATE_WINDOW
# The API for integrators' rate limit per API token (apcert.api.integrations), the same way.
API_TOKEN_RATE_LIMIT = env.API_TOKEN_RATE_LIMIT
API_TOKEN_RATE_WINDOW = env.API_TOKEN_RATE_WINDOW
TRUSTED_PROXY_HEADER = env.TRUSTED_PROXY_HEADER
# Limits per client address on the public pages that cost the most (apcert.register.limits):
# kind -> (requests, seconds), (0, 0) for none.
PAGE_RATE_LIMITS = env.PAGE_RATE_LIMITS
# Whole-register exports one server process sends at a time (0: no cap).
EXPORTS_AT_ONCE = env.EXPORTS_AT_ONCE
# Where the whole-register exports are kept, built apart (apcert.register.kept_exports); each
# app server keeps its own. None: each export is read from the register in its request.
KEPT_EXPORTS_DIR = env.VAR_DIR / "cache" / "exports" if env.KEPT_EXPORTS else None
# Certificate PDFs one server process draws at a time (0: no cap).
PDF_DRAWS_AT_ONCE = env.PDF_DRAWS_AT_ONCE
# Drawn in a pool of niced processes of their own (apcert.documents.drawing), each drawing
# waited for at most PDF_DRAW_TIMEOUT seconds; otherwise in the request's thread.
PDF_DRAW_PROCESS = env.PDF_DRAW_PROCESS
PDF_DRAW_TIMEOUT = env.PDF_DRAW_TIMEOUT

# --- accounts and sign-in ------------------------------------------------------------------
# Paths that need no account (apcert.web.middleware): the public register, its data and API,
# and static files, by prefix, and the register's search page. Requests to them never read the
# session. Anything else needs a signed-in user, except the Django admin, which has its own
# sign-in page, and the views marked login_not_required (sign-in, password reset, invitations).
PUBLIC_PATH_PREFIXES = (
    "/certificates/",
    "/organizations/",
    "/bodies/",
    "/register/",
    "/verify",
    # Each CB's DID document and JWKS (did:web resolves did:web:<host>:cbs:<code> to
    # /cbs/<code>/did.json) and the credentials' JSON-LD context.
    "/cbs/",
    "/ns/",
    # The register's own DID document (did:web:<host>), whose keys sign verification receipts.
    "/.well-known/did.json",
    "/api/public/",
    "/" + STATIC_URL.lstrip("/"),
)
# The health check answers monitors, which have no account and keep no cookie.
PUBLIC_PATHS = ("/", "/healthz", "/metrics")
# Public paths that read from the primary all the same: the health check and the metrics
# tell how the primary answers.
PRIMARY_ONLY_PATHS = ("/healthz", "/metrics")
# The Django admin has its own sign-in page; the API for integrators takes API tokens.
OWN_SIGN_IN_PATH_PREFIXES = ("/admin/", "/api/v1/")
LOGIN_URL = "web:sign-in"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:sign-in"
# django-axes checks every sign-in first (it needs the request), then Django's own backend.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lock signing in after AXES_FAILURE_LIMIT failures of one username from one address; the lock
# lifts by itself AXES_COOLOFF_TIME after the failure that set it (a failure while locked does
# not prolong it). A successful sign-in starts the count again.
AXES_FAILURE_LIMIT = env.LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_TEMPLATE = "web/account/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "apcert.web.access.client_address"
AXES_HTTP_RESPONSE_CODE = 429
# A session ends SESSION_COOKIE_AGE seconds after the last back-office request: each one
# renews it (apcert.web.middleware). Public pages neither read nor renew it, so they set no
# cookie.
SESSION_COOKIE_AGE = env.SESSION_AGE_SECONDS
SESSION_SAVE_EVERY_REQUEST = False
INVITATION_DAYS = env.INVITATION_DAYS
SITE_URL = env.SITE_URL
NOTIFICATION_RECENT_DAYS = env.NOTIFICATION_RECENT_DAYS
# The certificate PDF's font, made once from the variable font in its wheel and kept here
# (apcert.documents.fonts.regular_face).
DOCUMENT_FONT_DIR = env.VAR_DIR / "fonts"
DEFAULT_FROM_EMAIL = env.DEFAULT_FROM_EMAIL

# Every record carries the id of the request it was written for (apcert.core.observe), in
# text or, with APCERT_LOG_FORMAT=json, one JSON object a line; the access log writes one
# line a request at INFO (APCERT_ACCESS_LOG).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "apcert.core.observe.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "apcert.core.observe.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": env.LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {"apcert.access": {"level": "INFO"}},
}
ACCESS_LOG = env.ACCESS_LOG
# A request's id is taken from the proxy's X-Request-ID only behind the TLS proxy, which
# writes it; a client reaching apcert directly could write anything there.
REQUEST_ID_FROM_PROXY = env.BEHIND_TLS_PROXY

# --- health and metrics (apcert.web.views_health, apcert.web.views_metrics) -----------------
# The directories whose free space /healthz and /metrics report: VAR_DIR and EVIDENCE_DIR.
VAR_DIR = env.VAR_DIR
WORKER_LATE_SECONDS = env.WORKER_LATE_SECONDS
DISK_LOW_MIB = env.DISK_LOW_MIB
METRICS_ALLOW = env.METRICS_ALLOW
METRICS_TOKEN = env.METRICS_TOKEN
METRICS_DIR = env.METRICS_DIR

# --- evidence files (apcert.assessments.evidence) -------------------------------------------
# Files an organization attaches to a corrective action, kept in the database. Received in
# EVIDENCE_DIR, which must lie outside STATIC_ROOT and any other served path (checked before
# each upload); served only by apcert.assessments.views_evidence to those who may see them.
# Each file at most
# EVIDENCE_MAX_BYTES; EVIDENCE_TYPES the kinds accepted, each checked by its content as well
# as its name (the kinds are listed in apcert.assessments.evidence.EVIDENCE_KINDS).
EVIDENCE_DIR = env.EVIDENCE_DIR
EVIDENCE_MAX_BYTES = env.EVIDENCE_MAX_BYTES
EVIDENCE_TYPES = ("pdf", "png", "jpeg", "txt", "csv", "docx", "xlsx")

# --- signing keys and verifiable credentials (apcert.credentials) ------------------------------
# Each CB's private Ed25519 keys, one file a key (0600, directories 0700); never in the database.
KEY_DIR = env.KEY_DIR

# --- the audit chain head published outside the database (apcert.audit.published) -------------
AUDIT_HEAD_FILE = env.AUDIT_HEAD_FILE
