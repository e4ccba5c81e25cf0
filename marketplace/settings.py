"""One settings module; every knob comes from the environment (12-factor).

Unset component URLs select the embedded defaults of DESIGN.md, so the
marketplace runs on a bare machine:

| variable                  | unset (embedded)               | set (production)            |
|---------------------------|--------------------------------|-----------------------------|
| DATABASE_URL              | SQLite file in var/            | PostgreSQL                  |
| REDIS_URL                 | in-memory channel layer/cache, | channels-redis, Redis cache,|
|                           | Celery tasks run in-process    | Celery broker               |
| ELASTICSEARCH_URL         | osmem-server child process     | Elasticsearch / OpenSearch  |
| AWS_STORAGE_BUCKET_NAME   | local media folder             | S3 through boto3            |
| EMAIL_URL                 | console                        | SMTP                        |

Every variable is listed in the README with its default.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"
TESTING = env.bool("MARKETPLACE_TESTING", default=False)

_INSECURE_DEV_KEY = "dev-only-insecure-key-change-me-0123456789abcdefghijklmnopqrstuvwxyz"
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=_INSECURE_DEV_KEY)
DEBUG = env.bool("DJANGO_DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS",
    default=[] if PRODUCTION else ["127.0.0.1", "localhost", "[::1]", "testserver"],
)
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

if PRODUCTION:
    # Refuse to start with the development key or without a real database:
    # a production process that silently fell back to SQLite would lose data.
    if SECRET_KEY == _INSECURE_DEV_KEY or len(SECRET_KEY) < 50:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs DJANGO_SECRET_KEY (50+ random characters)."
        )
    if not env.str("DATABASE_URL", default=""):
        raise ImproperlyConfigured("DJANGO_ENV=production needs DATABASE_URL (PostgreSQL).")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("DJANGO_ENV=production needs DJANGO_ALLOWED_HOSTS.")

VAR_DIR = Path(env.str("MARKETPLACE_VAR_DIR", default=str(BASE_DIR / "var")))

# --- applications -----------------------------------------------------------

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "storages",
    "marketplace.apps.MarketplaceConfig",
    "marketplace.accounts",
    "marketplace.outbox",
    "marketplace.notifications",
    "marketplace.analytics",
    "listings",
    "search",
    "chat",
    "trust",
    "moderation",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "marketplace.accounts.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "marketplace.urls"
WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -----------------------------------------------------------------

DATABASE_URL = env.str("DATABASE_URL", default="")
if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "marketplace.sqlite3",
            # A busy timeout keeps the single-process embedded mode from
            # failing writes while a background task holds the lock.
            "OPTIONS": {"timeout": 20},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- accounts -----------------------------------------------------------------

AUTH_USER_MODEL = "accounts.User"
# ModelBackend behind the failed-login throttle (covers the admin login too).
AUTHENTICATION_BACKENDS = [
    "marketplace.accounts.backends.ThrottledModelBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "frontend:login"
LOGIN_REDIRECT_URL = "frontend:home"
LOGOUT_REDIRECT_URL = "frontend:home"
if TESTING:
    # Hashing dominates test time; the tests prove behaviour, not PBKDF2.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- i18n ---------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- static and media -----------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="us-east-1")
# Path-style addressing works with every S3-compatible server (MinIO, moto).
AWS_S3_ADDRESSING_STYLE = env.str("AWS_S3_ADDRESSING_STYLE", default="path")
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_S3_FILE_OVERWRITE = False
AWS_QUERYSTRING_AUTH = env.bool("AWS_QUERYSTRING_AUTH", default=True)
AWS_DEFAULT_ACL = None

if AWS_STORAGE_BUCKET_NAME:
    _media_storage = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {}}
else:
    _media_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
# In embedded mode Daphne serves media itself (see urls.py); WhiteNoise serves static.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=not AWS_STORAGE_BUCKET_NAME)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# --- Redis: cache, channel layer, Celery broker --------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="mkt"),
            "OPTIONS": {
                # A cache outage must not become a 500: throttling and caches
                # degrade to "miss" while Redis is away.
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 1,
                "SOCKET_TIMEOUT": 1,
            },
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # chat.layers: channels-redis' pub/sub layer (one PUBLISH per group
            # send) that closes chat sockets when Redis is lost; set
            # channels_redis.core.RedisChannelLayer to go back to the default.
            "BACKEND": env.str(
                "CHANNEL_LAYER_BACKEND", default="chat.layers.ChatPubSubChannelLayer"
            ),
            "CONFIG": {
                # socket_timeout above channels-redis' 5 s blocking read: redis-py's
                # 5 s default made idle reads time out and close sockets (1011).
                "hosts": [{"address": REDIS_URL, "max_connections": 1000, "socket_timeout": 10}],
                "prefix": env.str("CHANNELS_PREFIX", default="asgi"),
                "capacity": 1500,
                "expiry": 30,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = False

# --- Celery -----------------------------------------------------------------------

CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_RESULT_BACKEND = None
# Without a broker the embedded default runs tasks in-process.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_TIMEOUT = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": 1,
    "socket_timeout": 2,
    "visibility_timeout": 3600,
}
# Publishing must fail fast when Redis is down: the outbox keeps the event and
# the periodic dispatcher retries, so the request never waits on the broker.
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BEAT_SCHEDULE = {
    "accounts-anonymise-due": {
        "task": "marketplace.accounts.tasks.anonymise_due_accounts",
        "schedule": 3600.0,
    },
    "accounts-purge-data-exports": {
        "task": "marketplace.accounts.tasks.purge_data_exports",
        "schedule": 3600.0,
    },
    "outbox-dispatch-pending": {
        "task": "marketplace.outbox.tasks.dispatch_pending",
        "schedule": env.float("OUTBOX_DISPATCH_INTERVAL", default=5.0),
    },
    "search-saved-search-alerts": {
        "task": "search.tasks.run_saved_search_alerts",
        "schedule": env.float("SAVED_SEARCH_ALERT_INTERVAL", default=300.0),
    },
    "search-repair-index": {
        "task": "search.tasks.repair_index",
        "schedule": 24 * 3600.0,
    },
    "trust-order-timers": {
        "task": "trust.tasks.run_order_timers",
        "schedule": 60.0,
    },
    "trust-reveal-reviews": {
        "task": "trust.tasks.reveal_reviews",
        "schedule": 300.0,
    },
    "chat-expire-offers": {
        "task": "chat.tasks.expire_offers",
        "schedule": 60.0,
    },
    "listings-backfill-photo-variants": {
        "task": "listings.tasks.backfill_photo_variants",
        "schedule": 600.0,
    },
    "listings-expire-stale": {
        "task": "listings.tasks.expire_listings",
        "schedule": 3600.0,
    },
    "listings-flush-view-counts": {
        "task": "listings.tasks.flush_view_counts",
        "schedule": env.float("LISTINGS_VIEW_FLUSH_SECONDS", default=10.0),
    },
    "moderation-refresh-queue": {
        "task": "moderation.tasks.refresh_queue",
        "schedule": 600.0,
    },
}

# --- search -------------------------------------------------------------------------

ELASTICSEARCH_URL = env.str("ELASTICSEARCH_URL", default="")
ELASTICSEARCH_INDEX_PREFIX = env.str("ELASTICSEARCH_INDEX_PREFIX", default="marketplace")
ELASTICSEARCH_TIMEOUT = env.float("ELASTICSEARCH_TIMEOUT", default=5.0)
# Make each write visible to searches at once (tests, demos); production leaves
# it to the index's refresh interval (1 s) for throughput.
SEARCH_REFRESH_ON_WRITE = env.bool("SEARCH_REFRESH_ON_WRITE", default=False)
# search_reindex sends bulk chunks from this many threads (1: one stream).
SEARCH_BULK_THREADS = env.int("SEARCH_BULK_THREADS", default=2)

# --- email --------------------------------------------------------------------------

EMAIL_URL = env.str("EMAIL_URL", default="consolemail://")
vars().update(env.email_url_config(EMAIL_URL))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Marketplace <noreply@localhost>")
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")

# --- REST API -------------------------------------------------------------------------

API_THROTTLING = env.str("API_THROTTLING", default="on").lower() not in {"off", "0", "false"}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Per-device tokens (accounts); plain authtoken tokens still accepted.
        "marketplace.accounts.authentication.SessionTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "marketplace.api.ResultsPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "marketplace.api.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + ([] if PRODUCTION else ["rest_framework.renderers.BrowsableAPIRenderer"]),
    "DEFAULT_THROTTLE_CLASSES": (
        [
            "rest_framework.throttling.AnonRateThrottle",
            "rest_framework.throttling.UserRateThrottle",
            "rest_framework.throttling.ScopedRateThrottle",
        ]
        if API_THROTTLING
        else []
    ),
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="300/min"),
        "user": env.str("API_THROTTLE_USER", default="1200/min"),
        "auth": env.str("API_THROTTLE_AUTH", default="20/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Marketplace API",
    "DESCRIPTION": "Public API of the second-hand marketplace (see API.md).",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI served from our own static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ListingStatusEnum": "listings.models.ListingStatus",
        "OrderStatusEnum": "trust.models.OrderStatus",
        "NotificationFrequencyEnum": "marketplace.notifications.kinds.FREQUENCIES",
        "CaseStatusEnum": "moderation.models.CaseStatus",
        "AppealStatusEnum": "moderation.models.AppealStatus",
        "CaseTargetTypeEnum": "moderation.models.TargetType",
        "ReportTargetTypeEnum": ["listing", "user", "message"],
        "ReviewRoleEnum": "trust.reputation_models.ReviewRole",
    },
}

# --- security -------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_REFERRER_POLICY = "same-origin"
    # /healthz is probed over plain HTTP by load balancers.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- account security and privacy (marketplace/accounts) -----------------------------

# Fernet keys for personal data at rest, comma-separated (first encrypts, all
# decrypt: rotate by prepending). Production must set it; development and tests
# derive one from SECRET_KEY so the embedded mode runs without setup.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEY", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if PRODUCTION:
        raise ImproperlyConfigured(
            "DJANGO_ENV=production needs FIELD_ENCRYPTION_KEY (a Fernet key: "
            "python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key())')."
        )
    import base64 as _b64
    import hashlib as _hashlib

    FIELD_ENCRYPTION_KEYS = [
        _b64.urlsafe_b64encode(
            _hashlib.sha256(f"field-encryption:{SECRET_KEY}".encode()).digest()
        ).decode()
    ]
# Failed logins: sliding-window counts per account and per IP; a lockout doubles
# from BASE up to MAX seconds, so an attacker can never lock a victim out for long.
LOGIN_FAILURE_WINDOW = env.int("LOGIN_FAILURE_WINDOW", default=900)
LOGIN_FAILURES_PER_ACCOUNT = env.int("LOGIN_FAILURES_PER_ACCOUNT", default=5)
LOGIN_FAILURES_PER_IP = env.int("LOGIN_FAILURES_PER_IP", default=30)
LOGIN_LOCKOUT_BASE = env.int("LOGIN_LOCKOUT_BASE", default=30)
LOGIN_LOCKOUT_MAX = env.int("LOGIN_LOCKOUT_MAX", default=900)
TWO_FACTOR_ISSUER = env.str("TWO_FACTOR_ISSUER", default="Marketplace")
TWO_FACTOR_REQUIRED_GROUPS = env.list("TWO_FACTOR_REQUIRED_GROUPS", default=["moderators"])
STEP_UP_MINUTES = env.int("STEP_UP_MINUTES", default=10)
SMS_PROVIDER = env.str("SMS_PROVIDER", default="marketplace.accounts.providers.SandboxSms")
IDENTITY_PROVIDER = env.str(
    "IDENTITY_PROVIDER", default="marketplace.accounts.providers.SandboxIdentity"
)
# Payouts above this amount (minor units) need a verified identity.
PAYOUT_IDENTITY_THRESHOLD_MINOR = env.int("PAYOUT_IDENTITY_THRESHOLD_MINOR", default=200_000)
ACCOUNT_DELETION_GRACE_DAYS = env.int("ACCOUNT_DELETION_GRACE_DAYS", default=14)
DATA_EXPORT_LINK_MAX_AGE = env.int("DATA_EXPORT_LINK_MAX_AGE", default=7 * 24 * 3600)

# --- logging ------------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Masks passwords, tokens, secrets and phone numbers (marketplace/logredact.py).
    "filters": {"redact": {"()": "marketplace.logredact.RedactingFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        "elastic_transport": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        # In-process tasks (the embedded default) would print a "Task ...
        # succeeded" line for every outbox hand-over and e-mail: noise there.
        # Workers keep Celery's own INFO lines.
        "celery.app.trace": {"level": "WARNING" if CELERY_TASK_ALWAYS_EAGER else "INFO"},
    },
}

# --- marketplace domain knobs ------------------------------------------------------------

MARKETPLACE_CURRENCY = env.str("MARKETPLACE_CURRENCY", default="CNY")
EMAIL_VERIFICATION_MAX_AGE = env.int("EMAIL_VERIFICATION_MAX_AGE", default=3 * 24 * 3600)
LISTING_EXPIRY_DAYS = env.int("LISTING_EXPIRY_DAYS", default=60)
LISTING_MAX_PHOTOS = env.int("LISTING_MAX_PHOTOS", default=12)
PHOTO_MAX_BYTES = env.int("PHOTO_MAX_BYTES", default=15 * 1024 * 1024)
PHOTO_MAX_PIXELS = env.int("PHOTO_MAX_PIXELS", default=40_000_000)
# The listing detail read is one prepared statement on PostgreSQL; turn off
# behind a transaction-mode pooler (pgbouncer before 1.21).
LISTINGS_PREPARED_STATEMENTS = env.bool("LISTINGS_PREPARED_STATEMENTS", default=True)
# With Redis, listing views are buffered there and flushed by a beat task
# (listings/viewcounts.py): the detail read then commits nothing.
LISTINGS_VIEW_BUFFER = env.bool("LISTINGS_VIEW_BUFFER", default=True)
FRAUD_HOLD_THRESHOLD = env.float("FRAUD_HOLD_THRESHOLD", default=0.8)
# --- fraud ---
FRAUD_MODEL_PATH = env.str("FRAUD_MODEL_PATH", default=str(VAR_DIR / "models"))
FRAUD_MESSAGE_WARN_THRESHOLD = env.float("FRAUD_MESSAGE_WARN_THRESHOLD", default=0.7)
# Without a trained model file, a web process may train a small model in a
# background thread on first use; off means rules only until `fraud_train` ran.
FRAUD_TRAIN_IN_BACKGROUND = env.bool("FRAUD_TRAIN_IN_BACKGROUND", default=True)
# --- reputation ---
REVIEW_WINDOW_DAYS = env.int("REVIEW_WINDOW_DAYS", default=14)
REPUTATION_PRIOR_MEAN = env.float("REPUTATION_PRIOR_MEAN", default=4.0)
REPUTATION_PRIOR_WEIGHT = env.float("REPUTATION_PRIOR_WEIGHT", default=10.0)
REPUTATION_HALF_LIFE_DAYS = env.float("REPUTATION_HALF_LIFE_DAYS", default=365.0)
REPUTATION_VALUE_REFERENCE_MINOR = env.int("REPUTATION_VALUE_REFERENCE_MINOR", default=10_000)
# --- escrow ---
PAYMENT_GATEWAY = env.str("PAYMENT_GATEWAY", default="trust.payments.SandboxGateway")
PAYMENT_WEBHOOK_SECRET = env.str("PAYMENT_WEBHOOK_SECRET", default="sandbox-webhook-secret")
CARRIER_WEBHOOK_SECRET = env.str("CARRIER_WEBHOOK_SECRET", default="sandbox-carrier-secret")
PAYMENT_WEBHOOK_TOLERANCE = env.int("PAYMENT_WEBHOOK_TOLERANCE", default=300)
# The seller's fee: basis points of the price with a minimum (minor units).
ESCROW_FEE_BASIS_POINTS = env.int("ESCROW_FEE_BASIS_POINTS", default=500)
ESCROW_FEE_MINIMUM_MINOR = env.int("ESCROW_FEE_MINIMUM_MINOR", default=100)
ESCROW_PAY_WITHIN_MINUTES = env.int("ESCROW_PAY_WITHIN_MINUTES", default=30)
ESCROW_SHIP_WITHIN_BUSINESS_DAYS = env.int("ESCROW_SHIP_WITHIN_BUSINESS_DAYS", default=3)
ESCROW_CONFIRM_WINDOW_HOURS = env.float("ESCROW_CONFIRM_WINDOW_HOURS", default=48.0)
ESCROW_DISPUTE_RESPONSE_HOURS = env.float("ESCROW_DISPUTE_RESPONSE_HOURS", default=72.0)
# Photos each party may attach to one dispute (POST /api/orders/{id}/dispute/evidence).
ESCROW_DISPUTE_EVIDENCE_MAX_PHOTOS = env.int("ESCROW_DISPUTE_EVIDENCE_MAX_PHOTOS", default=6)
CHAT_OFFER_TTL_HOURS = env.float("CHAT_OFFER_TTL_HOURS", default=24.0)
CHAT_MAX_OFFERS_PER_LISTING = env.int("CHAT_MAX_OFFERS_PER_LISTING", default=5)
# (messages, seconds) per user across all conversations.
CHAT_MESSAGE_RATE = tuple(env.list("CHAT_MESSAGE_RATE", cast=int, default=[30, 10]))
# Threads (each with a DB connection) that store chat messages in one Daphne process:
# concurrent commits share the WAL flush (one thread capped a process near 200 msg/s).
CHAT_DB_THREADS = env.int("CHAT_DB_THREADS", default=8)
# --- moderation ---
# Banned words (matched case-insensitively, whole words for Latin scripts,
# substrings for CJK) and category slugs; a hit puts a listing in the queue.
MODERATION_PROHIBITED_KEYWORDS = env.list("MODERATION_PROHIBITED_KEYWORDS", default=[
    # English
    "counterfeit", "replica", "fake id", "firearm", "handgun", "ammunition", "cocaine",
    "heroin", "elephant ivory", "rhino horn", "stolen goods",
    # Chinese
    "高仿", "仿冒", "假货", "枪支", "弹药", "毒品", "象牙", "犀牛角", "假证",
    # German
    "Fälschung", "Schusswaffe", "Munition", "Elfenbein", "gestohlen",
    # French
    "contrefaçon", "arme à feu", "munitions", "ivoire d'éléphant",
])
MODERATION_PROHIBITED_CATEGORIES = env.list("MODERATION_PROHIBITED_CATEGORIES", default=[])
# Two photos whose 64-bit perceptual hashes differ in at most this many bits
# are "the same picture" (re-encoded, resized, lightly edited).
MODERATION_PHOTO_HASH_DISTANCE = env.int("MODERATION_PHOTO_HASH_DISTANCE", default=6)
# Hours to a decision: severe cases (scam, prohibited, disputes) and the rest.
MODERATION_SLA_HOURS_SEVERE = env.float("MODERATION_SLA_HOURS_SEVERE", default=24.0)
MODERATION_SLA_HOURS_NORMAL = env.float("MODERATION_SLA_HOURS_NORMAL", default=72.0)
MODERATION_APPEAL_WINDOW_DAYS = env.int("MODERATION_APPEAL_WINDOW_DAYS", default=183)
# --- notifications ---
# E-mail retries when the mail server fails: at most N, backoff base seconds doubled per try.
NOTIFICATIONS_EMAIL_MAX_RETRIES = env.int("NOTIFICATIONS_EMAIL_MAX_RETRIES", default=5)
NOTIFICATIONS_EMAIL_RETRY_BACKOFF = env.float("NOTIFICATIONS_EMAIL_RETRY_BACKOFF", default=30.0)
# One e-mail per (recipient, group) in this many seconds: a chat burst gives one e-mail.
NOTIFICATIONS_EMAIL_GROUP_WINDOW = env.int("NOTIFICATIONS_EMAIL_GROUP_WINDOW", default=900)
# A pending e-mail older than this is handed to Celery again (broker outage, lost task).
NOTIFICATIONS_EMAIL_STALE_AFTER = env.int("NOTIFICATIONS_EMAIL_STALE_AFTER", default=600)
NOTIFICATIONS_DIGEST_HOUR = env.int("NOTIFICATIONS_DIGEST_HOUR", default=8)  # in TIME_ZONE
NOTIFICATIONS_DIGEST_MAX_AGE_DAYS = env.int("NOTIFICATIONS_DIGEST_MAX_AGE_DAYS", default=7)


def _notification_beat() -> dict:
    from celery.schedules import crontab

    return {
        "notifications-daily-digest": {
            "task": "marketplace.notifications.tasks.send_daily_digests",
            "schedule": crontab(hour=NOTIFICATIONS_DIGEST_HOUR, minute=0),
        },
        "notifications-sweep-stale-emails": {
            "task": "marketplace.notifications.tasks.sweep_stale_emails",
            "schedule": 300.0,
        },
    }


CELERY_BEAT_SCHEDULE.update(_notification_beat())


# --- analytics and discovery (marketplace/analytics, search/feed.py) ---
# Events wait in Redis (or in process) and are written in bulk this often.
ANALYTICS_FLUSH_SECONDS = env.float("ANALYTICS_FLUSH_SECONDS", default=5.0)
# Each process ships its events to Redis in one RPUSH every ANALYTICS_PUSH_BATCH
# events or within ANALYTICS_PUSH_SECONDS, so a request never waits on Redis.
ANALYTICS_PUSH_BATCH = env.int("ANALYTICS_PUSH_BATCH", default=50)
ANALYTICS_PUSH_SECONDS = env.float("ANALYTICS_PUSH_SECONDS", default=1.0)
# Events older than this are deleted by a daily beat task.
ANALYTICS_RETENTION_DAYS = env.int("ANALYTICS_RETENTION_DAYS", default=400)
# Salt of the daily anonymous-visitor hash (defaults to SECRET_KEY).
ANALYTICS_SALT = env.str("ANALYTICS_SALT", default="")
# How often the item-item co-occurrence table behind GET /api/feed is rebuilt.
RECOMMEND_REFRESH_SECONDS = env.float("RECOMMEND_REFRESH_SECONDS", default=3600.0)
# The feed's popularity ranking (an aggregate over the event log) is cached this long.
FEED_POPULAR_CACHE_SECONDS = env.int("FEED_POPULAR_CACHE_SECONDS", default=60)
CELERY_BEAT_SCHEDULE.update({
    "analytics-flush-events": {
        "task": "marketplace.analytics.tasks.flush_events",
        "schedule": ANALYTICS_FLUSH_SECONDS,
    },
    "analytics-purge-events": {
        "task": "marketplace.analytics.tasks.purge_events",
        "schedule": 24 * 3600.0,
    },
    "search-refresh-recommendations": {
        "task": "search.tasks.refresh_recommendations",
        "schedule": RECOMMEND_REFRESH_SECONDS,
    },
})
