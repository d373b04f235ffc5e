"""Firebreak settings. Everything an operator may change comes from the environment
(see README.md, "Configuration"); the defaults are the embedded mode of `make run`."""

import os
import secrets
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from servicedesk.env import env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FIREBREAK_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)
# The embedded mode of `make run` (DEBUG on): settings may make what a fresh checkout lacks
# (var/, its SQLite file's folder, the filesystem broker's folders, a secret key). Anywhere
# else importing the settings creates nothing: the operator provides SECRET_KEY and the
# folders (collectstatic makes STATIC_ROOT), so a read-only image or a stray
# `manage.py check` leaves no trace.
EMBEDDED = DEBUG


def _stored_secret_key(path):
    """Embedded mode without SECRET_KEY: a random key made once and kept in var/ (shared by
    the processes on this host)."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if not EMBEDDED:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set (a long random value) when DEBUG is off; only the embedded mode "
            "(DEBUG=true, as `make run` sets) makes one and keeps it in var/."
        )
    SECRET_KEY = _stored_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}).rstrip("/")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "servicedesk",
    "skills",
    "procedures",
    "incidents",
    "reporting",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "servicedesk.middleware.BodySizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "servicedesk.middleware.NoStoreMiddleware",
    "servicedesk.middleware.NulCharacterMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "servicedesk.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "servicedesk.middleware.HtmxLoginRedirectMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out login (skills.throttle)
]

ROOT_URLCONF = "servicedesk.urls"
WSGI_APPLICATION = "servicedesk.wsgi.application"
AUTH_USER_MODEL = "skills.Person"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "incidents:queue"
# Where reporters and stakeholders land after logging in: their own incidents.
REQUESTER_HOME_URL = "incidents:mine"
LOGOUT_REDIRECT_URL = "login"

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
                "incidents.context_processors.navigation",
            ],
        },
    },
]

# PostgreSQL's timeouts (seconds), see _bounded.
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5, minimum=1, maximum=60)
DB_STATEMENT_TIMEOUT = env_int("DB_STATEMENT_TIMEOUT", 15, minimum=0, maximum=86400)
# What a 503 for a database outage asks the client to wait before trying again (seconds).
DB_RETRY_AFTER = 10
# psycopg 3's options (PostgreSQL only; benchmarks/README.md, "Database options", says what
# each bought): Django's connection pool per process instead of one persistent connection,
# and server-side parameter binding, with which psycopg can prepare a statement on the
# server after DB_PREPARE_THRESHOLD executions on a connection (client-side binding, the
# default, never prepares).
DB_POOL = env_bool("DB_POOL", False)
DB_POOL_MAX = env_int("DB_POOL_MAX", 4, minimum=1, maximum=100)
DB_SERVER_SIDE_BINDING = env_bool("DB_SERVER_SIDE_BINDING", False)
_prepare_threshold = env_str("DB_PREPARE_THRESHOLD", "")
DB_PREPARE_THRESHOLD = None  # psycopg's None: never prepare (Django's default too)
if _prepare_threshold.lower() not in {"", "off", "none"}:
    DB_PREPARE_THRESHOLD = env_int("DB_PREPARE_THRESHOLD", None, minimum=0, maximum=1000)
    if not DB_SERVER_SIDE_BINDING:
        raise ImproperlyConfigured(
            "DB_PREPARE_THRESHOLD needs DB_SERVER_SIDE_BINDING=true: with client-side binding "
            "psycopg never prepares a statement."
        )
if DB_POOL and os.environ.get("DB_CONN_MAX_AGE", "").strip() not in {"", "0"}:
    raise ImproperlyConfigured(
        "DB_CONN_MAX_AGE must be 0 (or unset) with DB_POOL=true: the pool keeps the connections."
    )


def _bounded(database):
    """PostgreSQL with bounded waits: a connection is made within DB_CONNECT_TIMEOUT seconds,
    a statement runs at most DB_STATEMENT_TIMEOUT (0: no limit), and no answer is awaited
    longer than the two together (servicedesk.db), so a database that is down or silent
    costs a request seconds and a 503, never a hung worker."""
    database["ENGINE"] = "servicedesk.db"
    database["CONN_HEALTH_CHECKS"] = True
    options = database.setdefault("OPTIONS", {})
    options["connect_timeout"] = DB_CONNECT_TIMEOUT
    if DB_POOL:
        # Each process (gunicorn worker, Celery worker) has its own pool; a sync worker
        # uses one connection at a time, so one is kept open and up to DB_POOL_MAX made.
        # The pool replaces persistent connections (Django refuses both at once).
        database["CONN_MAX_AGE"] = 0
        options["pool"] = {"min_size": 1, "max_size": DB_POOL_MAX, "timeout": DB_CONNECT_TIMEOUT}
    if DB_SERVER_SIDE_BINDING:
        options["server_side_binding"] = True
        options["prepare_threshold"] = DB_PREPARE_THRESHOLD
    if DB_STATEMENT_TIMEOUT:
        options["options"] = f"{options.get('options', '')} -c statement_timeout={DB_STATEMENT_TIMEOUT * 1000}".strip()
        database["REPLY_TIMEOUT"] = DB_STATEMENT_TIMEOUT + DB_CONNECT_TIMEOUT
    return database


# Database: PostgreSQL in production and tests; a SQLite file under var/ when unset.
_default_db = f"sqlite:///{VAR_DIR / 'firebreak.sqlite3'}"
_db_url = env_url("DATABASE_URL", _default_db, schemes={"sqlite", "postgres", "postgresql"})
try:
    _db = dj_database_url.parse(_db_url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Firebreak understands: {exc}") from None
if _db["ENGINE"] == "django.db.backends.sqlite3":
    if DB_POOL or DB_SERVER_SIDE_BINDING:
        raise ImproperlyConfigured(
            "DB_POOL and DB_SERVER_SIDE_BINDING are PostgreSQL options; DATABASE_URL names SQLite."
        )
    if EMBEDDED:
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    _db["CONN_MAX_AGE"] = 0
    # Web, worker and beat share the file: wait for locks, and take the write lock at
    # BEGIN so two writers queue up instead of failing with "database is locked".
    _db["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    _bounded(_db)
DATABASES = {"default": _db}
# A read replica for the metrics and reports (servicedesk.routers): only the reporting
# reads go there. Tests mirror it onto the default database.
_reporting_url = env_str("REPORTING_DATABASE_URL", "")
if _reporting_url:
    env_url("REPORTING_DATABASE_URL", _reporting_url, schemes={"postgres", "postgresql"})
    try:
        DATABASES["reporting"] = dj_database_url.parse(_reporting_url, conn_max_age=_db.get("CONN_MAX_AGE", 0))
    except ValueError as exc:
        raise ImproperlyConfigured(f"REPORTING_DATABASE_URL is not a database URL Firebreak understands: {exc}") from None
    _bounded(DATABASES["reporting"])
    DATABASES["reporting"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["servicedesk.routers.ReportingRouter"]
# SQLite (embedded mode) builds the metrics' covering index without its INCLUDE columns:
# it still works, only slower, which the embedded desk's size never notices.
SILENCED_SYSTEM_CHECKS = ["models.W040"] if _db["ENGINE"] == "django.db.backends.sqlite3" else []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Login throttling (django-axes; skills.throttle): failed logins on /login/ and the admin's
# are counted per account and per client address in the cache (shared between web processes
# when CACHE_URL is set); at LOGIN_FAILURE_LIMIT the account, or the address, gets 429 for
# LOGIN_LOCKOUT_MINUTES, before any password is checked. An administrator unlocks with
# `manage.py axes_reset_username <username>` or `manage.py axes_reset_ip <address>`.
# skills.backends.PersonBackend is Django's ModelBackend reading the person's security
# clearance with them (one query a request fewer). Sessions made with ModelBackend's name
# (before it) end: their people sign in again once.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "skills.backends.PersonBackend"]
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1, maximum=1000)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1, maximum=24 * 60))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: the account, or the address
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "skills.throttle.locked_out"
AXES_CLIENT_IP_CALLABLE = "skills.throttle.client_address"
AXES_ENABLE_ADMIN = False  # the counts live in the cache; axes' tables stay empty
AXES_VERBOSE = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
if EMBEDDED:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Serve from the apps' folders too, so a missing `collectstatic` never breaks a page.
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS = [BASE_DIR / "static"]
# Uploaded files (attachments): local files under MEDIA_ROOT (var/media) by default, or an
# S3-compatible bucket when S3_BUCKET is set (needs the optional `s3` extra: django-storages
# and boto3). They are never served from MEDIA_ROOT or the bucket directly: every download
# goes through Firebreak, which checks who may see the incident.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"  # not routed: see above
_s3_bucket = env_str("S3_BUCKET", "")
if _s3_bucket:
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": _s3_bucket,
            "endpoint_url": env_url("S3_ENDPOINT_URL", "https://s3.amazonaws.com", schemes={"http", "https"}),
            "region_name": env_str("S3_REGION", "") or None,
            "access_key": env_str("S3_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("S3_SECRET_ACCESS_KEY", "") or None,
            "location": env_str("S3_PREFIX", ""),
            "default_acl": "private",
            "file_overwrite": False,
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": _default_storage,
    "staticfiles": {
        # Compressed, not hashed: a host that forgets `collectstatic` still serves pages.
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
    },
}

# Request bodies: JSON larger than this is answered 413 before it is parsed.
MAX_JSON_BODY_BYTES = env_int("MAX_JSON_BODY_BYTES", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_JSON_BODY_BYTES
# ...and JSON nested deeper than this (arrays and objects, the body itself the first level)
# is a 400: no request needs more, and the parser's recursion must never reach its limit.
MAX_JSON_DEPTH = 32

# Attachments (incidents.uploads): the one definition of their limits. A multipart body may
# be up to ATTACHMENT_MAX_BYTES plus the form around it (servicedesk.middleware).
ATTACHMENT_MAX_BYTES = env_int("ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
ATTACHMENT_MAX_INCIDENT_BYTES = env_int("ATTACHMENT_MAX_INCIDENT_BYTES", 100 * 1024 * 1024, minimum=1024)
# Archives are expanded (as a stream) to check them: refused past this many bytes or files.
ATTACHMENT_MAX_EXPANDED_BYTES = env_int("ATTACHMENT_MAX_EXPANDED_BYTES", 100 * 1024 * 1024, minimum=1024)
ATTACHMENT_MAX_ARCHIVE_MEMBERS = env_int("ATTACHMENT_MAX_ARCHIVE_MEMBERS", 1000, minimum=1)
# A virus scanner: the dotted path of a callable `scan(file, *, attachment)` that returns
# None for a clean file or a reason to reject it, and raises when it cannot tell (the
# attachment stays pending and is tried again). Empty: attachments are available at once.
ATTACHMENT_SCANNER = env_str("ATTACHMENT_SCANNER", "")

# Inbound alerts and events: the category when no label rule gives one, and the most
# alerts one webhook call may carry.
INBOUND_DEFAULT_CATEGORY = env_str("INBOUND_DEFAULT_CATEGORY", "hardware")
INBOUND_MAX_ALERTS = env_int("INBOUND_MAX_ALERTS", 1000, minimum=1)

# Email in (incidents.inbound.mail; docs/email-in.md): the largest message taken (the API
# answers 413 above it before reading the body), how many messages one sender may send a
# minute before the rest are ignored (a loop), the desk's own address (mail from it is a
# loop), the category new mail is registered in, and the IMAP mailbox fetch_mail polls
# (imaps://user:password@host[:port]/INBOX; empty: no polling) with its folders.
MAIL_MAX_BYTES = env_int("MAIL_MAX_BYTES", 25 * 1024 * 1024, minimum=1024)
MAIL_SENDER_RATE = env_int("MAIL_SENDER_RATE", 20, minimum=1)
MAIL_DESK_ADDRESS = env_str("MAIL_DESK_ADDRESS", "")
MAIL_CATEGORY = env_str("MAIL_CATEGORY", "") or INBOUND_DEFAULT_CATEGORY
MAIL_IMAP_URL = env_str("MAIL_IMAP_URL", "")
if MAIL_IMAP_URL:
    env_url("MAIL_IMAP_URL", "", schemes={"imap", "imaps"})
    _imap = urlsplit(MAIL_IMAP_URL)
    if not _imap.hostname or not _imap.username or _imap.password is None:
        raise ImproperlyConfigured(
            "MAIL_IMAP_URL must name the host, the user and the password: imaps://user:password@host[:port]/INBOX."
        )
MAIL_IMAP_PROCESSED_FOLDER = env_str("MAIL_IMAP_PROCESSED_FOLDER", "Processed")
MAIL_IMAP_FAILED_FOLDER = env_str("MAIL_IMAP_FAILED_FOLDER", "Failed")
MAIL_FETCH_SECONDS = env_int("MAIL_FETCH_SECONDS", 60, minimum=5, maximum=3600)

# Security. TLS is terminated by the proxy in front of gunicorn; see README.md.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", False) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every answer: scripts, styles and everything else from this
# site only; no inline script or style, no eval (htmx is told so in base.html's meta tag).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# Email. With no EMAIL_HOST (embedded mode) mail is kept in the database outbox, where
# level 4 and up can read it in the admin.
_email_host = env_str("EMAIL_HOST", "")
if _email_host:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": _email_host,
                "port": env_int("EMAIL_PORT", 25, minimum=1, maximum=65535),
                "username": env_str("EMAIL_HOST_USER", "") or None,
                "password": env_str("EMAIL_HOST_PASSWORD", "") or None,
                "use_tls": env_bool("EMAIL_USE_TLS", False),
                "timeout": env_int("EMAIL_TIMEOUT", 10, minimum=1),
            },
        }
    }
else:
    env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)  # still refuse a bad value
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Firebreak <firebreak@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery. The embedded default is kombu's filesystem transport: no server needed.
_default_broker = "filesystem://"
CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL", _default_broker, schemes={"redis", "rediss", "filesystem", "memory", "amqp"}
)
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Every folder of the filesystem broker under var/broker/, its exchange table
    # (`control_folder`, which kombu otherwise writes to ./control) included.
    _broker_dir = VAR_DIR / "broker"
    if EMBEDDED:
        for _sub in ("queue", "processed", "control"):
            (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Longer than any task may take, so a slow task is not handed out twice.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
SLA_SWEEP_SECONDS = env_int("SLA_SWEEP_SECONDS", 15, minimum=1, maximum=3600)
# How many due incidents a sweep claims, fires and writes per transaction (incidents.engine).
SLA_SWEEP_BATCH = env_int("SLA_SWEEP_BATCH", 500, minimum=1, maximum=5000)
# How long after a resolution its reporter may say "not fixed" and reopen it.
REOPEN_WINDOW_DAYS = env_int("REOPEN_WINDOW_DAYS", 7, minimum=0, maximum=365)
# How long a worker holds a claimed outbox message before another may try it.
OUTBOX_CLAIM_SECONDS = env_int("OUTBOX_CLAIM_SECONDS", 120, minimum=5, maximum=3600)
# How many messages a worker hands to SMTP between two marks (one UPDATE each time): the
# most a worker killed mid-batch can leave to be sent again (same Message-ID). 1: each
# message is marked as soon as the server took it, so only the one in flight can go twice.
OUTBOX_MARK_EVERY = env_int("OUTBOX_MARK_EVERY", 1, minimum=1, maximum=1000)
# How long a web process trusts an API token it found live (0: look it up on every request):
# the bound on how long a revoked token keeps working in other processes.
API_TOKEN_CACHE_SECONDS = env_int("API_TOKEN_CACHE_SECONDS", 10, minimum=0, maximum=300)
# Outbound webhooks may go to loopback, link-local and private addresses only when true
# (incidents.egress): a chat server on the desk's own network; the tests' local receivers.
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# How many recipients a worker adds to an announcement per transaction (incidents.fanout);
# a quarter of it, how many of the sweeps' notices it renders per transaction.
FANOUT_BATCH_SIZE = env_int("FANOUT_BATCH_SIZE", 1000, minimum=10, maximum=10000)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "skills.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "skills.permissions.TokenScope"],
    "DEFAULT_PARSER_CLASSES": ["servicedesk.api.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "servicedesk.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "servicedesk.api.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"user": env_str("API_THROTTLE_RATE", "6000/minute")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if env_str("API_THROTTLE_RATE", "") == "off":
    REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = []

SPECTACULAR_SETTINGS = {
    "TITLE": "Firebreak API",
    "DESCRIPTION": "Incident management service desk. See API.md for the contract.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "LevelEnum": "procedures.models.Level",
        "ChannelEnum": "procedures.models.Channel",
        "MessageStateEnum": "incidents.models.OutboundMessage.State",
        "VersionStateEnum": "procedures.models.ProcedureVersion.State",
        "ReviewStateEnum": "reporting.serializers.REVIEW_STATES",
    },
}

_cache_url = env_str("CACHE_URL", "")
if _cache_url:
    env_url("CACHE_URL", _cache_url, schemes={"redis", "rediss"})
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _cache_url}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Without CACHE_URL each web process counts failed logins on its own (axes says so):
    # documented in README.md ("Login throttling").
    SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "axes.W001"]

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, not {LOG_LEVEL!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "INFO"},
    },
}
