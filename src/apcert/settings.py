"""Django settings for apcert. Values from the environment come from :mod:`apcert.env`."""

from __future__ import annotations

from apcert import env

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
    "apcert.demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "apcert.core.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "apcert.urls"
WSGI_APPLICATION = "apcert.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = env.databases()
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
STATIC_ROOT = env.VAR_DIR / "static"

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Background tasks (the daily cycle sweep): django-tasks with its database backend, run by
# ``apcert worker`` (or ``apcert db_worker`` alone). Tests use the immediate backend.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

EMAIL_BACKEND = env.EMAIL_URL_BACKEND or "django.core.mail.backends.console.EmailBackend"

# The public API's rate limit per client address (apcert.api.ratelimit): API_RATE_LIMIT
# requests per API_RATE_WINDOW seconds, counted in memory by each server process; 0 turns it
# off. TRUSTED_PROXY_HEADER names the header a reverse proxy puts the client address in.
API_RATE_LIMIT = env.API_RATE_LIMIT
API_RATE_WINDOW = env.API_RATE_WINDOW
TRUSTED_PROXY_HEADER = env.TRUSTED_PROXY_HEADER

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
