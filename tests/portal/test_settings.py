"""Settings come from the environment alone; production refuses to start half-configured."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

from tests.conftest import REPO

PROBE = (
    "import django, json; from django.conf import settings; django.setup(); "
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'], "
    "'name': str(settings.DATABASES['default']['NAME']), "
    "'eager': settings.CELERY_TASK_ALWAYS_EAGER, 'debug': settings.DEBUG}))"
)


def _settings(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "SECRET_KEY", "DEBUG"}
    }
    clean.update(DJANGO_SETTINGS_MODULE="portal.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_without_a_secret_key_fails_loudly(tmp_path) -> None:
    result = _settings(DEBUG="0", DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_the_embedded_default_is_sqlite_in_the_data_folder_with_eager_tasks(tmp_path) -> None:
    result = _settings(DEBUG="1", DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "portal.sqlite3")
    assert values["eager"] is True


def test_database_and_broker_urls_switch_to_postgresql_and_a_real_queue(tmp_path) -> None:
    result = _settings(
        SECRET_KEY="x" * 50,
        DATA_DIR=str(tmp_path),
        DATABASE_URL="postgresql://portal@db.example:5432/portal",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout)
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["name"] == "portal"
    assert values["eager"] is False
    assert values["debug"] is False


def test_a_malformed_boolean_is_refused_by_name(tmp_path) -> None:
    result = _settings(DEBUG="maybe", DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_production_without_a_database_url_fails_loudly(tmp_path) -> None:
    result = _settings(DEBUG="0", SECRET_KEY="x" * 50, DATA_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "DATABASE_URL must be set when DEBUG is off" in result.stderr


def test_production_settings_pass_the_deploy_checks(tmp_path) -> None:
    unset = {"DATABASE_URL", "DEBUG", "SECURE_SSL_REDIRECT"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        DJANGO_SETTINGS_MODULE="portal.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="portal.example.org",
        DATA_DIR=str(tmp_path),
        DATABASE_URL="postgresql://portal@127.0.0.1:5432/portal",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_search_path_that_does_not_exist_is_refused_naming_the_choices(tmp_path) -> None:
    result = _settings(DEBUG="1", DATA_DIR=str(tmp_path), SEARCH_PATH="quantum")
    assert result.returncode != 0
    assert "SEARCH_PATH='quantum' is not one of auto, exact, fast, gpu" in result.stderr
