"""Settings, all read from the environment (see `.env.example` for every variable)."""

import datetime
import sys
from pathlib import Path

import environ
from kombu import Queue

from alignment_service.api import schema_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Required by whatever serves requests (`alignment_service.wsgi` refuses to start without it);
# management commands that sign nothing (migrations, checks, the schema) run without it.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# --- CORS: browser clients on other origins (closed unless listed) -------------------------------
CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False  # browsers send `Authorization: Bearer`, not cookies
CORS_ALLOW_HEADERS = ["accept", "authorization", "content-type", "idempotency-key", "if-match", "if-none-match",
                      "x-request-id"]  # fmt: skip
CORS_EXPOSE_HEADERS = ["etag", "retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset",
                       "x-request-id", "idempotent-replayed"]  # fmt: skip
CORS_PREFLIGHT_MAX_AGE = 3600

INSTALLED_APPS = [
    "alignment_service.admin_site.AlignmentAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "drf_standardized_errors",
    "alignment_service.outbox",
    "alignment_service.idempotency",
    "alignment_service.activity",
    "alignment_service.notifications",
    "teams",
    "goals",
    "feedback",
]

MIDDLEWARE = [
    "alignment_service.api.middleware.RequestIDMiddleware",
    # Preflights are answered here, before authentication, sessions or CSRF.
    "corsheaders.middleware.CorsMiddleware",
    "alignment_service.api.throttling.RateLimitHeadersMiddleware",
    "alignment_service.api.middleware.NotModifiedMiddleware",
    "alignment_service.api.middleware.BodySizeLimitMiddleware",
    "alignment_service.api.middleware.RequestTextMiddleware",
    "alignment_service.api.middleware.TransientRetryMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "alignment_service.urls"
WSGI_APPLICATION = "alignment_service.wsgi.application"
AUTH_USER_MODEL = "teams.User"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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

# --- Database -------------------------------------------------------------------------------
# Without DATABASE_URL the embedded default is SQLite, shared by the web and worker processes:
# WAL lets readers run beside the writer, IMMEDIATE takes the write lock at BEGIN so two
# writers queue on the busy timeout instead of failing with "database is locked".
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASE_LOCK_TIMEOUT_MS = env.int("DATABASE_LOCK_TIMEOUT_MS", default=2000)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    # Persistent connections are safe only where the threads are a fixed pool (gunicorn's
    # gthread workers, Celery's processes): each thread keeps one. Django's `runserver` starts
    # a thread per request and never closes a dead thread's connection, so it gets none.
    RUNSERVER = len(sys.argv) > 1 and sys.argv[1] == "runserver"
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if RUNSERVER else env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # No statement waits long for a lock: a write that would is refused (55P03) and retried.
    # No JIT compilation: it costs about a second per plan the planner thinks is large (a batch's
    # metric refresh, the engine's loads) and these statements finish in milliseconds without it.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c lock_timeout={DATABASE_LOCK_TIMEOUT_MS}"
        f" -c jit={'on' if env.bool('DATABASE_JIT', default=False) else 'off'}"
    )
# How long a write waits its turn for its organization's advisory lock (writes that change
# derived values run one at a time per organization; see alignment_service/db.py).
ORG_LOCK_TIMEOUT_MS = env.int("ORG_LOCK_TIMEOUT_MS", default=15000)
# A write that lost a race in the database (deadlock, serialization failure, lock timeout)
# runs again this many times before it answers 503 with Retry-After.
TRANSIENT_RETRIES = env.int("TRANSIENT_RETRIES", default=3)

# --- Redis: broker and cache ------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
BROKER_TIMEOUT_SECONDS = env.float("BROKER_TIMEOUT_SECONDS", default=2.0)
# The cache holds only rate-limit counters, which fail open: a request never waits long for it.
# One attempt per operation (redis-py would otherwise retry with backoff, seconds in all), and
# after a failure the throttles skip the cache for `THROTTLE_BREAKER_SECONDS` (a circuit breaker).
CACHE_TIMEOUT_SECONDS = env.float("CACHE_TIMEOUT_SECONDS", default=0.25)
THROTTLE_BREAKER_SECONDS = env.float("THROTTLE_BREAKER_SECONDS", default=5.0)

if REDIS_URL:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": CACHE_TIMEOUT_SECONDS,
                "socket_timeout": CACHE_TIMEOUT_SECONDS,
                "retry": Retry(NoBackoff(), 0),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

BROKER_FOLDER = VAR_DIR / "broker"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = (
    {
        "data_folder_in": str(BROKER_FOLDER / "queue"),
        "data_folder_out": str(BROKER_FOLDER / "queue"),
        "processed_folder": str(BROKER_FOLDER / "processed"),
        "control_folder": str(BROKER_FOLDER / "control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {
        "socket_connect_timeout": BROKER_TIMEOUT_SECONDS,
        "socket_timeout": BROKER_TIMEOUT_SECONDS,
        "visibility_timeout": 900,
    }
)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_TIMEOUT_SECONDS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# Webhook deliveries wait on other people's servers: they have their own queue and workers, so
# a slow receiver never holds up scoring, the outbox drain or email (docs/webhooks.md).
CELERY_WEBHOOK_QUEUE = env.str("CELERY_WEBHOOK_QUEUE", default="webhooks")
# The outbox's own jobs have a queue of their own, so a backlog of owed work never delays the
# drain that publishes it; the scoring workers consume it beside the default queue.
CELERY_OUTBOX_QUEUE = env.str("CELERY_OUTBOX_QUEUE", default="outbox")
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(CELERY_OUTBOX_QUEUE), Queue(CELERY_WEBHOOK_QUEUE))
CELERY_TASK_ROUTES = {
    "webhooks.deliver_due": {"queue": CELERY_WEBHOOK_QUEUE},
    "outbox.*": {"queue": CELERY_OUTBOX_QUEUE},
}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

OUTBOX_DRAIN_INTERVAL_SECONDS = env.float("OUTBOX_DRAIN_INTERVAL_SECONDS", default=10.0)
RESCORE_INTERVAL_SECONDS = env.float("RESCORE_INTERVAL_SECONDS", default=900.0)
# A full rescore that finds every input as the last full one left it, less than this long
# after it, does nothing: what time alone moves meanwhile waits for the next periodic rescore.
RESCORE_UNCHANGED_SECONDS = env.float("RESCORE_UNCHANGED_SECONDS", default=60.0)
OUTBOX_RETENTION_DAYS = env.int("OUTBOX_RETENTION_DAYS", default=7)
OUTBOX_BROKER_BACKOFF_SECONDS = env.float("OUTBOX_BROKER_BACKOFF_SECONDS", default=5.0)
# Publish owed work from a background thread of each process, never in the request that owed it.
OUTBOX_KICK_IN_BACKGROUND = env.bool("OUTBOX_KICK_IN_BACKGROUND", default=True)
# Owed work published but not reported done within this long (doubling per attempt) is
# published again: the broker lost it, or the worker running it died.
OUTBOX_LEASE_SECONDS = env.float("OUTBOX_LEASE_SECONDS", default=30.0)
TASK_MAX_RETRIES = env.int("TASK_MAX_RETRIES", default=8)

# --- Accounts ---------------------------------------------------------------------------------
SIGNUP_ENABLED = env.bool("SIGNUP_ENABLED", default=True)
AUTH_TOKEN_TTL_HOURS = env.int("AUTH_TOKEN_TTL_HOURS", default=24 * 7)
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=14)
INVITATION_RETENTION_DAYS = env.int("INVITATION_RETENTION_DAYS", default=30)
API_KEY_LAST_USED_RESOLUTION_SECONDS = 60
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "pages:orgs"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- API --------------------------------------------------------------------------------------
# Batch ingest bodies may be up to 8 MiB; larger bodies answer 413 before they are read.
MAX_REQUEST_BODY_BYTES = env.int("MAX_REQUEST_BODY_BYTES", default=8 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
SCHEMA_REQUIRES_AUTH = env.bool("SCHEMA_REQUIRES_AUTH", default=False)
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
IDEMPOTENCY_STALE_SECONDS = env.int("IDEMPOTENCY_STALE_SECONDS", default=600)
ACTIVITY_RETENTION_DAYS = env.int("ACTIVITY_RETENTION_DAYS", default=365)
NOTIFICATION_RETENTION_DAYS = env.int("NOTIFICATION_RETENTION_DAYS", default=90)
READING_MAX_FUTURE_SECONDS = 300
BATCH_MAX_READINGS = 10_000
BATCH_MAX_ERRORS = 1_000
# Bounds on hostile input (docs/security.md): JSON nesting, the goal cascade's depth, ids in one
# list of related objects, the magnitude of numbers (metric bounds and readings) and the
# calendar dates that goals, metrics and cycles may use.
JSON_MAX_DEPTH = 32
GOAL_MAX_DEPTH = 32
RELATED_IDS_MAX = 1_000
NUMBER_MAX_MAGNITUDE = 1e15
DATE_MIN = datetime.date(1900, 1, 1)
DATE_MAX = datetime.date(2999, 12, 31)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "teams.authentication.BearerAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["alignment_service.api.parsers.SafeJSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "alignment_service.api.filters.FilterBackend",
        "alignment_service.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "alignment_service.api.pagination.LimitOffsetPagination",
    "DEFAULT_METADATA_CLASS": "alignment_service.api.metadata.SchemaPointerMetadata",
    "DEFAULT_THROTTLE_CLASSES": [
        "alignment_service.api.throttling.UserRateThrottle",
        "alignment_service.api.throttling.ApiKeyRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("THROTTLE_USER_RATE", default="1000/min"),
        "api_key": env.str("THROTTLE_API_KEY_RATE", default="6000/min"),
        "credentials": env.str("THROTTLE_CREDENTIALS_RATE", default="10/min"),
    },
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_SCHEMA_CLASS": "alignment_service.api.openapi.AutoSchema",
    # drf-standardized-errors' own handler (its AutoSchema documents errors only then); it runs
    # the project's `EXCEPTION_HANDLER_CLASS` below.
    "EXCEPTION_HANDLER": "drf_standardized_errors.handler.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

DRF_STANDARDIZED_ERRORS = {
    "EXCEPTION_HANDLER_CLASS": "alignment_service.api.exceptions.ErrorHandler",
    "EXCEPTION_FORMATTER_CLASS": "alignment_service.api.exceptions.ErrorFormatter",
    "ENABLE_IN_DEBUG_FOR_UNHANDLED_EXCEPTIONS": True,
    "ALLOWED_ERROR_STATUS_CODES": ["400", "401", "403", "404", "405", "409", "412", "413", "415", "422", "429", "503"],
    "ERROR_SCHEMAS": "alignment_service.api.openapi.ERROR_SCHEMAS",
}

SPECTACULAR_SETTINGS = schema_settings.SPECTACULAR_SETTINGS

# --- Webhooks ---------------------------------------------------------------------------------
# Deliveries to private, loopback and link-local addresses are refused unless this is true
# (`make run` sets it so that local receivers work).
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10.0)
WEBHOOK_DELIVER_INTERVAL_SECONDS = env.float("WEBHOOK_DELIVER_INTERVAL_SECONDS", default=10.0)
WEBHOOK_DELIVERY_RETENTION_DAYS = 30
WEBHOOK_DELIVERY_BATCH_SIZE = 20
# Attempts running at once in one `webhooks.deliver_due` run (threads; each waits on the network),
# and per endpoint across every worker, so that one slow receiver cannot take every slot.
WEBHOOK_DELIVERY_CONCURRENCY = env.int("WEBHOOK_DELIVERY_CONCURRENCY", default=32)
WEBHOOK_DELIVERY_PER_ENDPOINT = env.int("WEBHOOK_DELIVERY_PER_ENDPOINT", default=2)
# How long one `webhooks.deliver_due` run keeps claiming new work; then it hands on to a fresh
# run (another worker process) and finishes the attempts it started.
WEBHOOK_DISPATCH_MAX_SECONDS = env.float("WEBHOOK_DISPATCH_MAX_SECONDS", default=60.0)

# --- Email --------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://" if DEBUG else "smtp://localhost:25")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="alignment@localhost")

# --- Static files, i18n ------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Under DEBUG (`make run`, served by gunicorn) WhiteNoise also finds files in the apps and
# picks up changes, so nothing waits for collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Security (production unless DEBUG) ---------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Logging --------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "alignment_service.api.middleware.RequestIDLogFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.server": {"level": "WARNING"}},
}

ORG_ACCESS_RESOLVER = "teams.access.resolve_access"
