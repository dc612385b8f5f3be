"""What `manage.py build_search_index` checks when it starts, before any work: a database with
the portal's tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.engine.test_index_artifact import signature_folder, small_source


def test_a_database_never_migrated_is_refused_before_the_build(tmp_path: Path) -> None:
    """It used to build the whole index and fail at its end with 'no such table'."""
    signatures = signature_folder(tmp_path / "sigs", small_source(120))
    database = tmp_path / "never-migrated.sqlite3"
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATA_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{database}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    command = [sys.executable, "manage.py", "build_search_index"]
    command += ["--signatures", str(signatures), "--out", str(tmp_path / "index")]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert f"the database {database} lacks the portal's tables (" in result.stderr
    assert "run `python manage.py migrate` (make setup-db) first" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "index").exists()
