"""Settings for minimax-web: one file, driven by environment variables (see README).

Zero configuration gives a working local instance: SQLite and generated secrets under DATA_DIR,
the in-memory channel layer, and the offline demo model when no DashScope key is set.
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet

from minimax_web.env import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
    local_secret,
    make_secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data"))).resolve()

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_str("DJANGO_SECRET_KEY") or local_secret(DATA_DIR / "secret.key", make_secret_key)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "minimax_web.middleware.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "minimax_web.urls"
ASGI_APPLICATION = "minimax_web.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "chat.context_processors.upstream_mode",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = True
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # IMMEDIATE takes the write lock at BEGIN, so concurrent writers wait on `timeout`
            # instead of failing with "database is locked" halfway through a transaction.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels -----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "capacity": 300, "expiry": 30},
        }
    }
else:
    # One Daphne process only: the in-memory layer does not cross processes.
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 300}}
    }

# --- Auth, sessions, security headers -----------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat:home"
LOGOUT_REDIRECT_URL = "login"

SECURE_COOKIES = env_bool("DJANGO_SECURE_COOKIES", not DEBUG and bool(CSRF_TRUSTED_ORIGINS))
SESSION_COOKIE_SECURE = SECURE_COOKIES
CSRF_COOKIE_SECURE = SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# DJANGO_SECURE_SSL_REDIRECT / HSTS are usually done by the TLS proxy in front; silence the
# deploy checks for them only when the operator says so explicitly.
SILENCED_SYSTEM_CHECKS = env_list("DJANGO_SILENCED_SYSTEM_CHECKS")

# --- Static files -------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("DJANGO_PLAIN_STATIC", False)
            else "minimax_web.storage.ModuleManifestStaticFilesStorage"
        )
    },
}
# Without collectstatic (the zero-config run command), WhiteNoise serves from the finders.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Secrets at rest ----------------------------------------------------------------------
# Newest key first; older keys stay listed until `manage.py rotate_provider_keys` has run.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or [
    local_secret(DATA_DIR / "field-encryption.key", lambda: Fernet.generate_key().decode())
]

# --- Upstream (DashScope) ------------------------------------------------------------------
DASHSCOPE_API_KEY = env_str("DASHSCOPE_API_KEY")
DASHSCOPE_BASE_URL = env_str(
    "DASHSCOPE_BASE_URL", "https://dashscope.aliyuncs.com/compatible-mode/v1"
)
UPSTREAM_CONNECT_TIMEOUT = env_float("UPSTREAM_CONNECT_TIMEOUT", 10.0, minimum=0.1)
UPSTREAM_READ_TIMEOUT = env_float("UPSTREAM_READ_TIMEOUT", 120.0, minimum=0.1)
# Demo pacing: tokens per second of the offline demo model.
OFFLINE_DEMO_TPS = env_float("OFFLINE_DEMO_TPS", 40.0)

# --- Limits on what a client controls --------------------------------------------------------
MAX_MESSAGE_CHARS = env_int("MAX_MESSAGE_CHARS", 100_000, minimum=1)
MAX_WS_FRAME_BYTES = env_int("MAX_WS_FRAME_BYTES", 512 * 1024, minimum=1024)
MAX_CONCURRENT_GENERATIONS_PER_USER = env_int("MAX_CONCURRENT_GENERATIONS_PER_USER", 3, minimum=1)
MAX_MESSAGES_PER_MINUTE = env_int("MAX_MESSAGES_PER_MINUTE", 20, minimum=1)

# --- Generation timing ----------------------------------------------------------------------
GENERATION_COALESCE_SECONDS = env_float("GENERATION_COALESCE_SECONDS", 0.05, minimum=0.0)
GENERATION_CHECKPOINT_SECONDS = env_float("GENERATION_CHECKPOINT_SECONDS", 1.0, minimum=0.05)
# A streaming row whose heartbeat is older than this and that no live task owns is shown as
# interrupted (the process that ran it died).
GENERATION_STALE_SECONDS = env_float("GENERATION_STALE_SECONDS", 15.0, minimum=1.0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
# Without Redis there is exactly one process, so a streaming row that no local task owns is dead.
GENERATION_SINGLE_PROCESS = not REDIS_URL
