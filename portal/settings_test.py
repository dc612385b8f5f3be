"""Test settings: the real settings, isolated from a developer's data and sped up.

The database still comes from DATABASE_URL, so the same suite runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="portal-tests-"))
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")  # the test client speaks plain HTTP
# The suite runs on the embedded SQLite unless DATABASE_URL names another database.
os.environ.setdefault("DATABASE_URL", f"sqlite:///{os.environ['DATA_DIR']}/portal.sqlite3")

from portal.settings import *

CELERY_BROKER_URL = ""
CELERY_TASK_ALWAYS_EAGER = True
CELERY_RESULT_BACKEND = None
# No collectstatic before the tests: static files are served from the source folders.
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
