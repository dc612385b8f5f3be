"""What an index build does when it starts, before any work: `manage.py build_search_index`
checks the database has the portal's tables, and `build_index` removes the folders of builds
that were killed."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from search.engine.build import build_index
from search.engine.index import SearchIndex
from tests.conftest import REPO
from tests.engine.test_index_artifact import SMALL, signature_folder, small_source

# A build that gets stuck reading its signatures, after its build folder exists.
STUCK_BUILD = """
import sys, time
from pathlib import Path
from search.engine.build import build_index
from tests.engine.test_index_artifact import SMALL, small_source
source = small_source(60)
source.read = lambda positions: time.sleep(600)
build_index(source, Path(sys.argv[1]), SMALL)
"""


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


def _killed_build(directory: Path) -> Path:
    """The build folder of a build killed with SIGKILL in the middle of its work."""
    build = subprocess.Popen([sys.executable, "-c", STUCK_BUILD, str(directory)], cwd=REPO)
    try:
        for _ in range(1200):  # until its folder appears (at most a minute)
            folders = list(directory.glob(".build-*"))
            if folders or build.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        build.send_signal(signal.SIGKILL)
        build.wait()
    assert len(folders) == 1, "the build never started"
    return folders[0]


def test_a_build_removes_the_folder_of_a_killed_build_and_no_other(tmp_path: Path) -> None:
    directory = tmp_path / "index"
    killed = _killed_build(directory)
    assert killed.name.startswith(f".build-{socket.gethostname()}-")
    dead_pid = killed.name.split("-")[-2]
    older = directory / f".build-{dead_pid}-1700000000"  # the name before the host was in it
    live = directory / f".build-{socket.gethostname()}-{os.getpid()}-1700000000"
    elsewhere = directory / f".build-another-host-{dead_pid}-1700000000"
    for folder in (older, live, elsewhere):
        folder.mkdir()
        (folder / "ranks.npy").write_bytes(b"partial")
    build_index(small_source(60), directory, SMALL)
    assert not killed.exists()
    assert not older.exists()
    assert live.exists()  # a build still running here: this process
    assert elsewhere.exists()  # another host's: whether it runs cannot be told from here
    assert SearchIndex.open(directory).n_signatures == 60
