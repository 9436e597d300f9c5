"""Settings for minimax-web: one file, driven by environment variables (see README).

Zero configuration gives a working local instance: SQLite and generated secrets under DATA_DIR,
the in-memory channel layer, and the offline demo model when no DashScope key is set.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

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
    "django.contrib.humanize",
    "channels",
    "axes",
    "accounts",
    "chat",
    "usage",
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
    "accounts.middleware.PasswordChangeRequiredMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a login it refused into the lockout page.
    "axes.middleware.AxesMiddleware",
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
        # psycopg_pool's default is a fixed 4 connections; every database call runs in one of
        # the event loop's worker threads (chat/db.py), each of which may hold one at a time.
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": env_int("DATABASE_POOL_SIZE", 20, minimum=2),
            "timeout": 10,
        }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "db.sqlite3",
            # Persistent: opening a connection per call, and closing the last one (which
            # checkpoints the WAL and fsyncs), cost most of a send's setup time.
            "CONN_MAX_AGE": None,
            "CONN_HEALTH_CHECKS": True,
            # Tests use a file too: SQLite's shared in-memory database fails a second writer
            # at once ("table is locked") where a file in WAL mode makes it wait, as here.
            # One per test process, so two test runs never share one.
            "TEST": {"NAME": Path(tempfile.gettempdir()) / f"minimax-web-test-{os.getpid()}.db"},
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
BEHIND_TLS_PROXY = env_bool("DJANGO_BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# DJANGO_SECURE_SSL_REDIRECT / HSTS are usually done by the TLS proxy in front; silence the
# deploy checks for them only when the operator says so explicitly.
SILENCED_SYSTEM_CHECKS = env_list("DJANGO_SILENCED_SYSTEM_CHECKS")

# --- Accounts and single sign-on (README "Accounts and single sign-on") ----------------------
# The sign-up policy (closed / invite / approval) is set in admin; these are the deploy-time
# choices. LOCAL_PASSWORDS=false leaves single sign-on as the only way in.
LOCAL_PASSWORDS = env_bool("LOCAL_PASSWORDS", True)
OIDC_RP_CLIENT_ID = env_str("OIDC_RP_CLIENT_ID")
OIDC_ENABLED = bool(OIDC_RP_CLIENT_ID)
OIDC_RP_CLIENT_SECRET = env_str("OIDC_RP_CLIENT_SECRET")
OIDC_OP_AUTHORIZATION_ENDPOINT = env_str("OIDC_OP_AUTHORIZATION_ENDPOINT")
OIDC_OP_TOKEN_ENDPOINT = env_str("OIDC_OP_TOKEN_ENDPOINT")
OIDC_OP_USER_ENDPOINT = env_str("OIDC_OP_USER_ENDPOINT")
OIDC_OP_JWKS_ENDPOINT = env_str("OIDC_OP_JWKS_ENDPOINT")
OIDC_RP_SIGN_ALGO = env_str("OIDC_RP_SIGN_ALGO", "RS256")
OIDC_RP_SCOPES = env_str("OIDC_RP_SCOPES", "openid email profile")
OIDC_PROVIDER_NAME = env_str("OIDC_PROVIDER_NAME", "single sign-on")
OIDC_USE_PKCE = True
OIDC_TIMEOUT = env_float("OIDC_TIMEOUT", 10.0, minimum=1.0)
LOGIN_REDIRECT_URL_FAILURE = "/login/"
if OIDC_ENABLED:
    _missing = [
        name
        for name in (
            "OIDC_RP_CLIENT_SECRET",
            "OIDC_OP_AUTHORIZATION_ENDPOINT",
            "OIDC_OP_TOKEN_ENDPOINT",
            "OIDC_OP_USER_ENDPOINT",
        )
        if not globals()[name]
    ]
    if OIDC_RP_SIGN_ALGO.startswith("RS") and not OIDC_OP_JWKS_ENDPOINT:
        _missing.append("OIDC_OP_JWKS_ENDPOINT")
    if _missing:
        raise ImproperlyConfigured(f"OIDC_RP_CLIENT_ID is set; also set {', '.join(_missing)}")
# Off by default, and dangerous unless the proxy is the only way to reach the app (README).
TRUSTED_PROXY_USER_HEADER = env_str("TRUSTED_PROXY_USER_HEADER")
if TRUSTED_PROXY_USER_HEADER:
    # After the messages middleware: a refusal is told on the login page.
    _messages_at = MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware")
    MIDDLEWARE.insert(_messages_at + 1, "accounts.proxy_header.TrustedProxyHeaderMiddleware")
if not LOCAL_PASSWORDS and not (OIDC_ENABLED or TRUSTED_PROXY_USER_HEADER):
    raise ImproperlyConfigured(
        "LOCAL_PASSWORDS=false needs another way in: OIDC_RP_CLIENT_ID or TRUSTED_PROXY_USER_HEADER"
    )

# --- Login throttling (django-axes; docs/architecture.md "Login throttling") ----------------
# Axes' backend comes first: it refuses a locked-out login before the password is checked.
# It throttles password logins only (single sign-on is throttled by the identity provider).
AUTHENTICATION_BACKENDS = [
    "minimax_web.login_throttling.PasswordLoginThrottle",
    *(["django.contrib.auth.backends.ModelBackend"] if LOCAL_PASSWORDS else []),
    *(["accounts.oidc.PolicyOIDCBackend"] if OIDC_ENABLED else []),
    *(["accounts.proxy_header.ProxyHeaderBackend"] if TRUSTED_PROXY_USER_HEADER else []),
]
# Failures are counted per account (from any address: one account guessed from many addresses)
# and per client address (for any account: one address spraying many accounts).
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURES_PER_ACCOUNT", 5, minimum=1)
LOGIN_FAILURES_PER_ADDRESS = env_int("LOGIN_FAILURES_PER_ADDRESS", 20, minimum=1)
AXES_HANDLER = "minimax_web.login_throttling.AccountAndAddressHandler"
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
# Attempts while locked out are refused without being counted, so the time the lockout page
# names stays true even if the person tries again early.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_CLIENT_IP_CALLABLE = "minimax_web.login_throttling.client_address"
AXES_LOCKOUT_CALLABLE = "minimax_web.login_throttling.lockout_response"

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
# Seconds. Connect: opening the connection. First byte: from sending the request until the
# response headers and the first SSE event (a reasoning model can take a while to start).
# Idle: silence between two chunks once streaming (UPSTREAM_READ_TIMEOUT is its old name).
# Total: one whole answer, automatic retries and their waits included.
UPSTREAM_CONNECT_TIMEOUT = env_float("UPSTREAM_CONNECT_TIMEOUT", 10.0, minimum=0.1)
UPSTREAM_FIRST_BYTE_TIMEOUT = env_float("UPSTREAM_FIRST_BYTE_TIMEOUT", 60.0, minimum=0.1)
UPSTREAM_IDLE_TIMEOUT = env_float(
    "UPSTREAM_IDLE_TIMEOUT", env_float("UPSTREAM_READ_TIMEOUT", 60.0, minimum=0.1), minimum=0.1
)
UPSTREAM_TOTAL_TIMEOUT = env_float("UPSTREAM_TOTAL_TIMEOUT", 600.0, minimum=1.0)
# Automatic retries of a request that failed before the first token (429, 5xx, network):
# exponential backoff with full jitter from the base delay, each wait at most the max delay,
# no new attempt once the retry budget (seconds since the first attempt) is spent.
UPSTREAM_RETRY_MAX_ATTEMPTS = env_int("UPSTREAM_RETRY_MAX_ATTEMPTS", 4, minimum=1)
UPSTREAM_RETRY_BASE_DELAY = env_float("UPSTREAM_RETRY_BASE_DELAY", 1.0, minimum=0.0)
UPSTREAM_RETRY_MAX_DELAY = env_float("UPSTREAM_RETRY_MAX_DELAY", 20.0, minimum=0.0)
UPSTREAM_RETRY_BUDGET = env_float("UPSTREAM_RETRY_BUDGET", 60.0, minimum=0.0)
# Demo pacing: tokens per second of the offline demo model.
OFFLINE_DEMO_TPS = env_float("OFFLINE_DEMO_TPS", 40.0)

# --- Limits on what a client controls --------------------------------------------------------
MAX_MESSAGE_CHARS = env_int("MAX_MESSAGE_CHARS", 100_000, minimum=1)
MAX_WS_FRAME_BYTES = env_int("MAX_WS_FRAME_BYTES", 512 * 1024, minimum=1024)
# A socket whose client leaves more than this unread is closed (minimax_web/ws_output_bound.py).
# Above the largest frame Daphne sends (1 MiB) with room for a burst of deltas behind it.
MAX_WS_UNSENT_BYTES = env_int("MAX_WS_UNSENT_BYTES", 4 * 1024 * 1024, minimum=64 * 1024)
MAX_CONCURRENT_GENERATIONS_PER_USER = env_int("MAX_CONCURRENT_GENERATIONS_PER_USER", 3, minimum=1)
# Upstream requests (sends, retries) a user may start per minute.
MAX_MESSAGES_PER_MINUTE = env_int("MAX_MESSAGES_PER_MINUTE", 20, minimum=1)
# Conversation loads (subscribe, history) per socket: a burst, then a steady rate per second.
WS_SUBSCRIBE_BURST = env_int("WS_SUBSCRIBE_BURST", 10, minimum=1)
WS_SUBSCRIBE_RATE = env_float("WS_SUBSCRIBE_RATE", 1.0, minimum=0.01)
# A snapshot or history page holds at most this many messages and (beyond the newest two)
# this many characters of text; older messages are fetched page by page. Daphne refuses
# websocket messages over 1 MiB, so 200k characters (600 KB of CJK text) leave room.
SNAPSHOT_MAX_MESSAGES = env_int("SNAPSHOT_MAX_MESSAGES", 50, minimum=2)
SNAPSHOT_MAX_CHARS = env_int("SNAPSHOT_MAX_CHARS", 200_000, minimum=1000)

# --- Generation timing ----------------------------------------------------------------------
GENERATION_COALESCE_SECONDS = env_float("GENERATION_COALESCE_SECONDS", 0.05, minimum=0.0)
GENERATION_CHECKPOINT_SECONDS = env_float("GENERATION_CHECKPOINT_SECONDS", 1.0, minimum=0.05)
# A streaming row whose heartbeat is older than this and that no live task owns is shown as
# interrupted (the process that ran it died).
GENERATION_STALE_SECONDS = env_float("GENERATION_STALE_SECONDS", 15.0, minimum=1.0)
# On SIGTERM/SIGINT, how long running answers may go on before they end as interrupted
# (chat/streaming/shutdown.py). Keep the stop grace of the container (Docker: 10 s) at least
# 3 s above it: the final saves, the `end` frames and Daphne's own stop come after.
SHUTDOWN_DRAIN_SECONDS = env_float("SHUTDOWN_DRAIN_SECONDS", 7.0, minimum=0.0)

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
