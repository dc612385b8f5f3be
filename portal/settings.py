"""Settings of the portal, read from environment variables alone.

The embedded default (nothing set): SQLite under DATA_DIR, Celery tasks run eagerly in process.
Production sets DEBUG=0, SECRET_KEY, DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from portal.env import (
    env_bool,
    env_choice,
    env_int,
    env_list,
    env_path,
    env_required,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_required(
    "SECRET_KEY", unless=DEBUG, fallback="insecure-development-key-never-used-in-production"
)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])

# Where the portal keeps its files: the embedded database, signatures, search indexes, downloads.
DATA_DIR = env_path("DATA_DIR", BASE_DIR / "var")
SEARCH_INDEX_DIR = env_path("SEARCH_INDEX_DIR", DATA_DIR / "index")
BATCHES_DIR = env_path("BATCHES_DIR", DATA_DIR / "batches")  # batch search results
DOWNLOADS_DIR = env_path("DOWNLOADS_DIR", DATA_DIR / "downloads")  # the files the portal offers
# Behind a proxy (docker/nginx.conf): the proxy's internal location serving DOWNLOADS_DIR, e.g.
# /_protected_downloads/. The portal then checks the name and answers with X-Accel-Redirect, and
# the proxy sends the bytes (ranges, validators). Empty: the portal streams the file itself.
DOWNLOADS_ACCEL_REDIRECT = env_str("DOWNLOADS_ACCEL_REDIRECT", "")
GENE_REFERENCE_DIR = env_path("GENE_REFERENCE_DIR", BASE_DIR / "search" / "reference" / "genes")
# How the portal's searches score: auto (exact, or fast on a large index), exact, fast, or gpu
# (a process on a GPU host: the rank matrix in device memory, search/engine/backends/torch_gpu.py;
# same results).
SEARCH_PATH = env_choice("SEARCH_PATH", "auto", ("auto", "exact", "fast", "gpu"))
# An index in shards (search/engine/shards/, docs/operations.md "Shards"): a web process with
# SEARCH_SHARDS = K > 0 asks K shard queues (shard-0 ... shard-K-1, one or more workers each) for
# the rank score's searches and merges their answers, waiting SEARCH_SHARD_TIMEOUT_S at most (then
# 503 with the reason); a shard worker serves the shard index in SEARCH_SHARD_DIR. A call a shard
# has not answered after SEARCH_SHARD_ATTEMPT_S is sent again, for another replica (a worker
# killed mid-query never answers). SEARCH_INDEX_DIR may be the split's head (the index without its
# matrices), whose gene and signature pages then read from the shards too.
SEARCH_SHARDS = env_int("SEARCH_SHARDS", 0)
SEARCH_SHARD_TIMEOUT_S = env_int("SEARCH_SHARD_TIMEOUT_S", 30)
SEARCH_SHARD_ATTEMPT_S = env_int("SEARCH_SHARD_ATTEMPT_S", 5)
SEARCH_SHARD_DIR = env_path("SEARCH_SHARD_DIR", DATA_DIR / "shard")
SEARCH_SHARD_QUEUE = env_str("SEARCH_SHARD_QUEUE", "shard-{}")  # shard n's queue: .format(n)

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # the API documentation's script, served from our static files
    "corsheaders",
    "search",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "portal.middleware.BodySizeLimitMiddleware",
    "portal.middleware.DatabaseOutageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
]

# Content-Security-Policy (django-csp): scripts, styles, fonts and data from this site only.
# Styles may be inline (plotly and redoc set them on elements); redoc searches in a blob: worker.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Permissions-Policy (django-permissions-policy): the pages use no device or sensor.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
}

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "search.pages.context.served_data",  # a demo index says so on every page
            ]
        },
    }
]

# The embedded default (DEBUG only): one SQLite file in the data folder.
DATABASE_URL = env_required(
    "DATABASE_URL", unless=DEBUG, fallback=f"sqlite:///{DATA_DIR / 'portal.sqlite3'}"
)
if DATABASE_URL.startswith("sqlite"):
    DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Several gunicorn workers write stored searches: readers never wait for the writer (WAL),
    # and a writer waits for the lock (up to 20 s) instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Celery: no broker configured means every task runs eagerly, in process.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", CELERY_BROKER_URL) or None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# How long the result backend keeps a task's result (Celery's default, a day). Shard workers:
# a little over SEARCH_SHARD_TIMEOUT_S, for the web process deletes each answer it reads and an
# answer that comes after its call has ended is read by no one (docs/operations.md).
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES", 86_400)
# Seconds before a batch search whose files could not be written (a full or unavailable disk)
# is tried again; the task gives up after a few tries (search/tasks.py).
BATCH_RETRY_DELAY_SECONDS = env_int("BATCH_RETRY_DELAY_SECONDS", 5)
# Batch searches of more than one block (256 queries) split into this many tasks, a chord whose
# callback assembles the TSV: set it to the number of workers that take batches.
BATCH_WORKERS = env_int("BATCH_WORKERS", 1)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["portal.parsers.JSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "portal.exceptions.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_THROTTLE_RATES": {
        "search": env_str("THROTTLE_SEARCH", "120/min"),
        "batch": env_str("THROTTLE_BATCH", "20/hour"),
        # the reads that cost like a search: a gene's signatures (up to 1,000 rows a side and
        # type), resolving up to 5,000 identifiers
        "lookup": env_str("THROTTLE_LOOKUP", "300/min"),
    },
    "NUM_PROXIES": env_int(
        "NUM_PROXIES", 0
    ),  # proxies in front (for the client address)  # ?format= names export formats (tsv, csv)
}
SPECTACULAR_SETTINGS = {
    "TITLE": "LINCS RNA-seq-like portal API",
    "DESCRIPTION": "Signature search, gene-centric reverse search, signatures and downloads.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "REDOC_DIST": "SIDECAR",  # redoc from drf-spectacular-sidecar's static files, not a CDN
}

# Other web tools may call the public API from their pages: it takes no credentials (no cookies,
# no sessions), so any origin may read it and send searches. Pages are not opened to them.
CORS_ALLOW_ALL_ORIGINS = True
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False

# Rate limits count in the cache: Redis when CACHE_URL is set (shared by all web processes),
# else this process's memory.
CACHE_URL = env_str("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# Request bodies above this many bytes are refused (413) before they are parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 5 * 1024 * 1024)

# HTTPS hardening outside DEBUG (a TLS-terminating proxy sets X-Forwarded-Proto).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REDIRECT_EXEMPT = [r"^api/health$"]  # the orchestrator's probe speaks plain HTTP
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
X_FRAME_OPTIONS = "DENY"

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env_path("STATIC_ROOT", DATA_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
